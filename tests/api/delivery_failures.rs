//! Contract §5 retry rules: 5xx retried, 4xx and JSON-RPC errors fail at
//! once, Retry-After honoured, attempts recorded, failed ones retried by hand.

use crate::acp_agent::{AcpAgent, Answer};
use crate::delivery::{acp_setup, pr_event, queue_app, send_pr, wait_for_status};
use crate::helpers::*;
use serde_json::Value;

db_tests!(
    an_agent_that_answers_503_twice_gets_the_event_once,
    client_errors_and_rpc_errors_fail_at_once_and_later_events_go_on,
    retry_after_is_honoured,
    attempts_stop_at_the_limit_and_failed_deliveries_can_be_retried,
);

fn outcomes(delivery: &Value) -> Vec<(String, Option<u64>)> {
    delivery["attempt_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["outcome"].as_str().unwrap().to_owned(),
                a["status_code"].as_u64(),
            )
        })
        .collect()
}

async fn an_agent_that_answers_503_twice_gets_the_event_once(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    acp_setup(&app, &agent).await;
    agent.script(&[Answer::Status(503), Answer::Status(503)]);
    let accepted = send_pr(&app, &pr_event(1, "opened"), "d-1").await.json();
    let done = wait_for_status(&app, accepted["event_id"].as_str().unwrap(), "delivered").await;
    assert_eq!(
        outcomes(&done),
        [
            ("retry".into(), Some(503)),
            ("retry".into(), Some(503)),
            ("delivered".into(), Some(200))
        ]
    );
    assert_eq!(done["attempts"], 3);
    assert!(done["attempt_log"][0]["error"]
        .as_str()
        .unwrap()
        .contains("503"));
    assert_eq!(agent.events().len(), 1, "the event arrived once");
}

async fn client_errors_and_rpc_errors_fail_at_once_and_later_events_go_on(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    acp_setup(&app, &agent).await;
    // task/create is answered 400: the first event fails without retry.
    agent.script(&[Answer::Status(400)]);
    let first = send_pr(&app, &pr_event(2, "opened"), "d-1").await.json();
    let failed = wait_for_status(&app, first["event_id"].as_str().unwrap(), "failed").await;
    assert_eq!(outcomes(&failed), [("failed".into(), Some(400))]);
    // The next event of the task is not blocked by a failed one; its
    // event/send gets a JSON-RPC error, which also fails at once.
    agent.script(&[Answer::Status(200), Answer::RpcError]);
    let second = send_pr(&app, &pr_event(2, "closed"), "d-2").await.json();
    let refused = wait_for_status(&app, second["event_id"].as_str().unwrap(), "failed").await;
    assert_eq!(outcomes(&refused), [("failed".into(), Some(200))]);
    assert!(refused["last_error"]
        .as_str()
        .unwrap()
        .contains("agent refused"));
    let third = send_pr(&app, &pr_event(2, "reopened"), "d-3").await.json();
    wait_for_status(&app, third["event_id"].as_str().unwrap(), "delivered").await;
    let sequences: Vec<u64> = agent
        .events()
        .iter()
        .map(|e| e["params"]["event"]["sequence_id"].as_u64().unwrap())
        .collect();
    assert_eq!(sequences, [2, 3]);
    let failed_list = app.get("/deliveries?status=failed").await.json();
    assert_eq!(failed_list.as_array().unwrap().len(), 2);
    assert_eq!(app.get("/deliveries?status=lost").await.status, 422);
}

async fn retry_after_is_honoured(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    acp_setup(&app, &agent).await;
    agent.script(&[Answer::StatusRetryAfter(429, "3")]);
    let accepted = send_pr(&app, &pr_event(3, "opened"), "d-1").await.json();
    let id = accepted["event_id"].as_str().unwrap();
    // Between the attempts, the queue shows when the next one is due.
    let mut waiting = Value::Null;
    for _ in 0..100 {
        waiting = app.get(&format!("/deliveries/{id}")).await.json();
        if waiting["attempts"] == 1 {
            break;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(waiting["status"], "pending", "{waiting}");
    let finished = chrono::DateTime::parse_from_rfc3339(
        waiting["attempt_log"][0]["finished_at"].as_str().unwrap(),
    )
    .unwrap();
    let next =
        chrono::DateTime::parse_from_rfc3339(waiting["next_attempt_at"].as_str().unwrap()).unwrap();
    let wait = next - finished;
    assert!(
        wait >= chrono::Duration::milliseconds(2900),
        "Retry-After 3 s, not the 50 ms backoff: {wait}"
    );
    let done = wait_for_status(&app, id, "delivered").await;
    assert_eq!(
        outcomes(&done),
        [("retry".into(), Some(429)), ("delivered".into(), Some(200))]
    );
}

async fn attempts_stop_at_the_limit_and_failed_deliveries_can_be_retried(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.retry_base = std::time::Duration::from_millis(20);
        s.retry_max = std::time::Duration::from_millis(50);
        s.poll_interval = std::time::Duration::from_millis(50);
        s.delivery_max_attempts = 3;
    })
    .await;
    let agent = AcpAgent::start().await;
    acp_setup(&app, &agent).await;
    agent.script(&[
        Answer::Status(500),
        Answer::Status(502),
        Answer::Status(503),
    ]);
    let accepted = send_pr(&app, &pr_event(4, "opened"), "d-1").await.json();
    let id = accepted["event_id"].as_str().unwrap();
    let failed = wait_for_status(&app, id, "failed").await;
    assert_eq!(
        outcomes(&failed),
        [
            ("retry".into(), Some(500)),
            ("retry".into(), Some(502)),
            ("failed".into(), Some(503))
        ]
    );
    assert!(failed["last_error"].as_str().unwrap().contains("giving up"));

    let not_failed = app
        .post_json(
            &format!("/deliveries/{}/retry", uuid::Uuid::new_v4()),
            Value::Null,
        )
        .await;
    assert_eq!(not_failed.status, 404);
    let retried = app
        .post_json(&format!("/deliveries/{id}/retry"), Value::Null)
        .await;
    assert_eq!(retried.status, 200, "{}", retried.text());
    assert_eq!(retried.json()["status"], "pending");
    let done = wait_for_status(&app, id, "delivered").await;
    assert_eq!(done["attempts"], 4);
    let again = app
        .post_json(&format!("/deliveries/{id}/retry"), Value::Null)
        .await;
    assert_eq!(again.status, 409, "only failed deliveries can be retried");
    assert_eq!(agent.events().len(), 1);
}
