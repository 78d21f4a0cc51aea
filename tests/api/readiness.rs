//! `/readyz` at shutdown: it fails, saying why, while hookgate still
//! serves for the shutdown delay; a second signal ends the wait.

use crate::acp_agent::AcpAgent;
use crate::delivery::{acp_setup_at, pr_event, send_pr};
use crate::helpers::*;
use crate::process::{free_port, Process};

db_tests!(draining_fails_readyz_while_intake_still_accepts);

#[actix_rt::test]
async fn a_second_signal_ends_the_shutdown_delay() {
    let db = TestDb::new(&Backend::Sqlite);
    let mut process = Process::start_with(
        &db.url,
        free_port(),
        &[("HOOKGATE_SHUTDOWN_DELAY_SECS", "3600")],
    )
    .await;
    let app = process.app(db);
    process.sigterm();
    wait_until_draining(&app).await;
    process.sigterm();
    let status = process.exit_status().await;
    assert!(status.success(), "{status:?}");
}

async fn draining_fails_readyz_while_intake_still_accepts(backend: Backend) {
    let db = TestDb::new(&backend);
    let agent = AcpAgent::start().await;
    let mut process = Process::start_with(
        &db.url,
        free_port(),
        &[("HOOKGATE_SHUTDOWN_DELAY_SECS", "4")],
    )
    .await;
    let app = process.app(db);
    acp_setup_at(&app, &agent.url).await;
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.text());
    assert_eq!(ready.json()["status"], "ready");

    process.sigterm();
    let draining = wait_until_draining(&app).await;
    assert_eq!(draining["status"], "unavailable");
    assert_eq!(
        draining["problems"].as_array().unwrap().len(),
        1,
        "{draining}"
    );

    // Still serving: a webhook sent now is accepted and delivered.
    let accepted = send_pr(&app, &pr_event(7, "opened"), "d-drain").await;
    assert_eq!(accepted.status, 202, "{}", accepted.text());
    agent
        .wait_for("the event sent while draining", |_| {
            !agent.events().is_empty()
        })
        .await;
    let status = process.exit_status().await;
    assert!(status.success(), "{status:?}");
}

/// Polls `/readyz` (bounded) until it answers 503 for draining; its body.
async fn wait_until_draining(app: &TestApp) -> serde_json::Value {
    for _ in 0..200 {
        let reply = app.get("/readyz").await;
        if reply.status == 503 {
            let body = reply.json();
            let detail = body["detail"].as_str().unwrap_or_default();
            assert!(detail.starts_with("draining"), "{body}");
            return body;
        }
        assert_eq!(reply.status, 200, "{}", reply.text());
        actix_rt::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("/readyz never reported draining");
}
