//! `examples/acp_agent.rs` end to end, as the README walks through it: it
//! registers itself, and two signed pull-request payloads arrive in one task.

use crate::delivery::{github_route, pr_event, send_pr, wait_for_status};
use crate::helpers::*;
use crate::process::free_port;
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::Duration;

db_tests!(example_agent_receives_both_events_in_one_task);

fn example_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let debug_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    debug_dir.join("examples").join("acp_agent")
}

async fn example_agent_receives_both_events_in_one_task(backend: Backend) {
    let app = spawn_app(backend).await;
    let port = free_port();
    let child = Command::new(example_binary())
        .env("HOOKGATE_URL", &app.address)
        .env("AGENT_NAME", "pr-agent")
        .env("AGENT_BIND", format!("127.0.0.1:{port}"))
        .env_remove("HOOKGATE_ADMIN_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the example agent starts (cargo test builds examples)");
    let mut registered = false;
    for _ in 0..200 {
        let reply = app.get("/agents/name/pr-agent").await;
        if reply.status == 200
            && client()
                .get(format!("http://127.0.0.1:{port}/code_changes"))
                .send()
                .await
                .is_ok()
        {
            registered = true;
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(registered, "the example agent registered itself and serves");

    github_route(&app).await;
    let first = send_pr(&app, &pr_event(7, "opened"), "d-1").await.json();
    let second = send_pr(&app, &pr_event(7, "synchronize"), "d-2")
        .await
        .json();
    assert_eq!(first["task_id"], second["task_id"]);
    for accepted in [&first, &second] {
        wait_for_status(&app, accepted["event_id"].as_str().unwrap(), "delivered").await;
    }
    // It refuses JSON-RPC calls without its internal key.
    let unauthorised = client()
        .post(format!("http://127.0.0.1:{port}/api"))
        .send_json(&json!({"jsonrpc": "2.0", "id": 1, "method": "event/send", "params": {}}))
        .await
        .unwrap();
    assert_eq!(unauthorised.status(), 401);

    let mut child = child;
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert_eq!(printed.matches("task/create").count(), 1, "{printed}");
    let task = "task=\"github:octo/hello#7\"";
    assert!(
        printed.contains(&format!("event/send   {task} sequence=1")),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("event/send   {task} sequence=2")),
        "{printed}"
    );
    assert!(
        printed.contains("refused a JSON-RPC call without the internal key"),
        "{printed}"
    );
}
