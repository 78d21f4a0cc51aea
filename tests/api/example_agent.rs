//! `examples/acp_agent.rs` end to end, as the README walks through it: it
//! registers itself, and two signed pull-request payloads arrive in one task.

use crate::delivery::{pr_event, send_pr, wait_for_status, SECRET};
use crate::helpers::*;
use crate::process::free_port;
use actix_web::http::Method;
use hookgate::verify::providers::github;
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

    // The README's route: one task per conversation, every event type on
    // one URL (what names no conversation is ignored).
    app.create_key("pr-agent", "octo/hello", "github", Some(SECRET))
        .await;
    let route = app
        .post_json(
            "/agent_routes",
            json!({"agent_name": "pr-agent", "path": "code_changes", "mode": "acp_event",
                   "task_key": "{conversation}", "missing_task_key": "ignore"}),
        )
        .await;
    assert_eq!(route.status, 200, "{}", route.text());
    let first = send_pr(&app, &pr_event(7, "opened"), "d-1").await.json();
    let second = send_pr(&app, &pr_event(7, "synchronize"), "d-2")
        .await
        .json();
    assert_eq!(first["task_id"], second["task_id"]);
    for accepted in [&first, &second] {
        wait_for_status(&app, accepted["event_id"].as_str().unwrap(), "delivered").await;
    }
    // GitHub's first call to a new webhook is answered by hookgate.
    let ping = json!({"zen": "Keep it logically awesome.", "hook_id": 1,
                      "repository": {"full_name": "octo/hello"}})
    .to_string();
    let signature = github::sign(SECRET.as_bytes(), ping.as_bytes());
    let headers = [
        ("x-hub-signature-256", signature.as_str()),
        ("x-github-event", "ping"),
        ("content-type", "application/json"),
    ];
    let pinged = app
        .forward(Method::POST, "pr-agent", "code_changes", &headers, ping)
        .await;
    assert_eq!(pinged.status, 200, "{}", pinged.text());
    assert_eq!(pinged.json()["handshake"], true);
    // The agent declared its bot account: its own comment never comes back.
    let agent = app.get("/agents/name/pr-agent").await.json();
    assert_eq!(agent["identities"], json!(["github:pr-agent[bot]"]));
    let mut own = serde_json::from_str::<serde_json::Value>(&pr_event(7, "edited")).unwrap();
    own["sender"] = json!({"login": "pr-agent[bot]"});
    let echo = send_pr(&app, &own.to_string(), "d-3").await;
    assert_eq!(echo.status, 200, "{}", echo.text());
    assert_eq!(echo.json()["ignored"], true);
    // A burst on a coalescing route arrives as one event/send.
    let route = app
        .post_json(
            "/agent_routes",
            json!({"agent_name": "pr-agent", "path": "bursts", "mode": "acp_event",
                   "task_key": "burst:{body.pull_request.number}",
                   "coalesce": {"window_ms": 1000, "max_wait_ms": 10000}}),
        )
        .await;
    assert_eq!(route.status, 200, "{}", route.text());
    let mut burst = Vec::new();
    for n in 1..=3 {
        let body = pr_event(8, &format!("push-{n}"));
        let signature = github::sign(SECRET.as_bytes(), body.as_bytes());
        let headers = [
            ("x-hub-signature-256", signature.as_str()),
            ("x-github-event", "pull_request"),
            ("content-type", "application/json"),
        ];
        let reply = app
            .forward(Method::POST, "pr-agent", "bursts", &headers, body)
            .await;
        assert_eq!(reply.status, 202, "{}", reply.text());
        burst.push(reply.json()["event_id"].as_str().unwrap().to_owned());
    }
    for id in &burst {
        wait_for_status(&app, id, "delivered").await;
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
    let created = printed.matches("name=\"github:octo/hello#7\"").count();
    assert_eq!(
        created, 1,
        "one task/create for the pull request: {printed}"
    );
    let task = "task=\"github:octo/hello#7\"";
    for sequence in [1, 2] {
        let line = format!("event/send   {task} sequence={sequence} from=github:octo/hello");
        assert!(printed.contains(&line), "{line} in {printed}");
    }
    assert!(!printed.contains("sequence=3"), "{printed}");
    let burst = "event/send   task=\"burst:8\" sequence=1 from=github:octo/hello batch=3";
    assert!(printed.contains(burst), "{burst} in {printed}");
    assert!(
        !printed.contains("task=\"burst:8\" sequence=2"),
        "{printed}"
    );
    assert!(
        printed.contains("refused a JSON-RPC call without the internal key"),
        "{printed}"
    );
}

db_tests!(the_a2a_example_gets_a_pull_request_as_one_context);

/// `examples/a2a_agent.py` as the README walks through it: it serves its
/// card, registers itself with a bearer token, and a pull request's events
/// arrive as messages of one context, in order.
async fn the_a2a_example_gets_a_pull_request_as_one_context(backend: Backend) {
    let app = spawn_app(backend).await;
    let port = free_port();
    let child = Command::new(crate::a2a_agent::python())
        .arg(crate::venv::project_file("examples/a2a_agent.py"))
        .env("HOOKGATE_URL", &app.address)
        .env("AGENT_NAME", "pr-agent")
        .env("AGENT_PORT", port.to_string())
        .env("AGENT_TOKEN", "example-bearer-token")
        .env_remove("HOOKGATE_ADMIN_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the A2A example starts");
    let mut registered = false;
    for _ in 0..600 {
        if app.get("/agents/name/pr-agent").await.status == 200 {
            registered = true;
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(registered, "the A2A example registered itself");
    app.create_key("pr-agent", "octo/hello", "github", Some(SECRET))
        .await;
    let route = json!({"agent_name": "pr-agent", "path": "code_changes", "mode": "acp_event",
                       "task_key": "{conversation}", "missing_task_key": "ignore"});
    let made = app.post_json("/agent_routes", route).await;
    assert_eq!(made.status, 200, "{}", made.text());
    for (action, id) in [("opened", "a-1"), ("synchronize", "a-2")] {
        let accepted = send_pr(&app, &pr_event(7, action), id).await.json();
        wait_for_status(&app, accepted["event_id"].as_str().unwrap(), "delivered").await;
    }
    let mut child = child;
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        printed.contains("registered pr-agent with hookgate: A2A 1.0"),
        "{printed}"
    );
    for (sequence, action) in [(1, "opened"), (2, "synchronize")] {
        let line = format!(
            "task=github:octo/hello#7 sequence={sequence} from=github:octo/hello pull_request {action}"
        );
        assert!(printed.contains(&line), "{line:?} in {printed}");
    }
}

#[test]
fn the_a2a_example_pins_the_sdk_the_tests_run() {
    let pins = |file: &str| -> Vec<String> {
        std::fs::read_to_string(crate::venv::project_file(file))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        pins("examples/a2a_agent.requirements.txt"),
        pins("tests/a2a/requirements.txt")
    );
}
