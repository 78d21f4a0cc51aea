//! The dashboard in a real browser (issue 14): `ui/tests/dashboard.mjs`
//! drives Debian's chromium with playwright-core against a `hookgate serve`
//! child with an admin token, a real agent and real deliveries, and writes
//! a screenshot of each page under `target/ui-screenshots/`.
//!
//! Needs `node` and `chromium` (`.ci/run` installs chromium when missing);
//! `ui/node_modules` is installed here with `npm ci` when absent. A machine
//! without chromium skips the suite with a warning, unless
//! `HOOKGATE_BROWSER_TESTS=required` (as `.ci/run` sets).

use crate::acp_agent::AcpAgent;
use crate::delivery::{acp_setup, pr_event, send_pr_events, wait_for_status, SECRET};
use crate::helpers::*;
use crate::process::{free_port, Process};
use actix_web::http::Method;
use hookgate::verify::providers::github;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

db_tests!(the_dashboard_works_in_a_real_browser);

const TOKEN: &str = "browser-suite-admin-token-0123456789abcdef";
const CHROMIUM: &str = "/usr/bin/chromium";

fn ui_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("ui")
}

/// playwright-core in `ui/node_modules`, installed once per test process.
fn ensure_node_modules() {
    static INSTALL: Mutex<()> = Mutex::new(());
    let _once = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if ui_dir().join("node_modules/playwright-core").exists() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(ui_dir())
        .status()
        .expect("npm runs");
    assert!(status.success(), "npm ci in ui/ failed");
}

/// Whether the suite can run here; in CI it must.
fn browser_available() -> bool {
    if Path::new(CHROMIUM).exists() {
        return true;
    }
    assert!(
        std::env::var("HOOKGATE_BROWSER_TESTS").as_deref() != Ok("required"),
        "{CHROMIUM} is missing: .ci/run installs Debian's chromium"
    );
    eprintln!(
        "WARNING: {CHROMIUM} is missing: the browser suite did not run (apt-get install chromium)"
    );
    false
}

async fn the_dashboard_works_in_a_real_browser(backend: Backend) {
    if !browser_available() {
        return;
    }
    ensure_node_modules();
    let db = TestDb::new(&backend);
    let server =
        Process::start_with(&db.url, free_port(), &[("HOOKGATE_ADMIN_TOKEN", TOKEN)]).await;
    let mut app = server.app(db);
    app.admin_token = Some(TOKEN.to_owned());
    let agent = AcpAgent::start().await;
    let registered = acp_setup(&app, &agent).await;
    // Pull request 1 reaches the agent; every call about 9 is refused until
    // the script heals the agent, so its events fail and wait for a retry.
    agent.fail_tasks("#9", 400);
    for id in send_pr_events(&app, 1, 4).await {
        wait_for_status(&app, &id, "delivered").await;
    }
    for id in send_pr_events(&app, 9, 3).await {
        wait_for_status(&app, &id, "failed").await;
    }
    let internal_key = registered["agent_api_key"]
        .as_str()
        .expect("the internal key");

    let shots = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/ui-screenshots")
        .join(match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "postgres",
        });
    let output = Command::new("node")
        .arg("tests/dashboard.mjs")
        .current_dir(ui_dir())
        .env("HOOKGATE_URL", &app.address)
        .env("HOOKGATE_TOKEN", TOKEN)
        .env("GITHUB_SECRET", SECRET)
        .env("AGENT_URL", &agent.url)
        .env("SECRETS", [SECRET, internal_key].join(","))
        .env("SCREENSHOTS", &shots)
        .env("CHROMIUM", CHROMIUM)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the browser script failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: Value = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or_else(|| panic!("no RESULT line:\n{stdout}"));

    // What the browser did, read back over the API.
    for id in result["retried"].as_array().unwrap() {
        let delivery = app
            .get(&format!("/deliveries/{}", id.as_str().unwrap()))
            .await
            .json();
        assert_eq!(delivery["status"], "delivered", "{delivery}");
    }
    assert_eq!(
        app.get("/deliveries?status=failed").await.json(),
        serde_json::json!([])
    );
    let paused = app.get("/agents/name/pr-agent").await.json();
    assert_eq!(
        paused["deliveries_paused_at"],
        Value::Null,
        "resumed: {paused}"
    );
    // The secret the page showed once is the key's real value: a call
    // signed with it is verified.
    let secret = result["new_secret"].as_str().unwrap();
    // GitHub keys are named by repository: this call is octo/browser's.
    let body = pr_event(3, "opened").replace("octo/hello", "octo/browser");
    let signature = github::sign(secret.as_bytes(), body.as_bytes());
    let headers = [
        ("x-hub-signature-256", signature.as_str()),
        ("x-github-event", "pull_request"),
        ("x-github-delivery", "signed-with-the-shown-secret"),
        ("content-type", "application/json"),
    ];
    let reply = app
        .forward(Method::POST, "pr-agent", "code_changes", &headers, body)
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    for page in [
        "01-sign-in",
        "03-deliveries",
        "04-delivery",
        "07-key-created",
        "09-agents-paused",
    ] {
        let shot = shots.join(format!("{page}.png"));
        let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
        assert!(size > 1000, "{} was written", shot.display());
    }
    server.terminate().await;
}
