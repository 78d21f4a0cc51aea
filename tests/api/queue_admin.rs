//! Operating a backlog (issue #10): a manual retry's fresh budget, bulk
//! retry by filter, cancel, pause and resume, cursor pages that hold still
//! while rows arrive, the stored payload, and retention.

use crate::acp_agent::{AcpAgent, Answer};
use crate::delivery::{acp_setup, pr_event, queue_app, send_pr, send_pr_events, wait_for_status};
use crate::helpers::*;
use crate::queue::{numbered_event, send_rounds};
use actix_web::http::Method;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

db_tests!(
    a_manual_retry_gets_a_fresh_attempt_budget,
    bulk_retry_moves_what_the_filters_match,
    a_cancelled_delivery_is_skipped_and_its_task_goes_on,
    a_paused_agent_gets_nothing_until_resumed,
    cursor_pages_hold_still_while_rows_arrive,
    the_payload_shows_the_stored_request,
    finished_deliveries_are_purged_but_redeliveries_still_deduplicated,
    admin_changes_succeed_while_a_backlog_drains,
    concurrent_retries_all_succeed_and_deliver,
);

fn outcomes(delivery: &Value) -> Vec<String> {
    delivery["attempt_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap().to_owned())
        .collect()
}

fn id_of(reply: &Reply) -> String {
    assert_eq!(reply.status.as_u16(), 202, "{}", reply.text());
    reply.json()["event_id"].as_str().unwrap().to_owned()
}

async fn a_manual_retry_gets_a_fresh_attempt_budget(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.retry_base = Duration::from_millis(50);
        s.retry_max = Duration::from_millis(200);
        s.poll_interval = Duration::from_millis(100);
        s.delivery_max_attempts = 2;
    })
    .await;
    let agent = AcpAgent::start().await;
    acp_setup(&app, &agent).await;
    agent.script(&[Answer::Status(503), Answer::Status(503)]);
    let id = id_of(&send_pr(&app, &pr_event(1, "opened"), "r-1").await);
    let failed = wait_for_status(&app, &id, "failed").await;
    assert_eq!(outcomes(&failed), ["retry", "failed"]);
    // Retried by hand: one more transient error is retried, not fatal.
    agent.script(&[Answer::Status(503)]);
    let retried = app
        .post_json(&format!("/deliveries/{id}/retry"), json!({}))
        .await;
    assert_eq!(retried.status, 200, "{}", retried.text());
    assert_eq!(retried.json()["status"], "pending");
    let done = wait_for_status(&app, &id, "delivered").await;
    assert_eq!(outcomes(&done), ["retry", "failed", "retry", "delivered"]);
    let numbers: Vec<u64> = done["attempt_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["attempt"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 2, 3, 4], "attempts keep counting");
    let again = app
        .post_json(&format!("/deliveries/{id}/retry"), json!({}))
        .await;
    assert_eq!(
        again.status,
        409,
        "a delivered one is not retried: {}",
        again.text()
    );
}

async fn bulk_retry_moves_what_the_filters_match(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    acp_setup(&app, &agent).await;
    // Pull request 1's events are refused (400: failed at once), 2's pass.
    agent.fail_tasks("octo/hello#1", 400);
    let mut refused = Vec::new();
    for round in 0..6 {
        refused.push(id_of(
            &send_pr(&app, &numbered_event(1, round), &format!("a-{round}")).await,
        ));
    }
    let fine = id_of(&send_pr(&app, &numbered_event(2, 0), "b-0").await);
    for id in &refused {
        wait_for_status(&app, id, "failed").await;
    }
    wait_for_status(&app, &fine, "delivered").await;
    let task = app.get(&format!("/deliveries/{}", refused[0])).await.json()["task_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Filters that match nothing, or are malformed.
    let future = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let none = app
        .post_json(
            "/deliveries/retry",
            json!({"agent_name": "pr-agent", "since": future}),
        )
        .await;
    assert_eq!(none.json(), json!({"moved": 0}));
    let bad = [
        (json!({"status": "delivered"}), 422, "status"),
        (json!({"since": "yesterday"}), 422, "since"),
        (json!({"agent_name": "ghost"}), 404, "ghost"),
        (
            json!({"agent_name": "pr-agent", "agent_id": "x"}),
            400,
            "agent_id",
        ),
    ];
    for (body, status, needle) in bad {
        let reply = app.post_json("/deliveries/retry", body.clone()).await;
        assert_eq!(reply.status.as_u16(), status, "{body}: {}", reply.text());
        assert!(reply.text().contains(needle), "{body}: {}", reply.text());
    }
    // The agent takes them now; a retry of that task's failed ones moves six.
    agent.heal();
    let moved = app
        .post_json(
            "/deliveries/retry",
            json!({"agent_name": "pr-agent", "task_id": task, "status": "failed"}),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text());
    assert_eq!(moved.json(), json!({"moved": refused.len()}));
    for id in &refused {
        let done = wait_for_status(&app, id, "delivered").await;
        assert_eq!(outcomes(&done), ["failed", "delivered"]);
    }
    let actions = agent.actions_of_task("github:octo/hello#1");
    let want: Vec<String> = (0..6).map(|r| format!("round-{r}")).collect();
    assert_eq!(actions, want, "retried in their task's order");
    let nothing_left = app.post_json("/deliveries/retry", json!({})).await;
    assert_eq!(nothing_left.json(), json!({"moved": 0}));
}

/// `action` (`pause` or `resume`) on an agent's deliveries; the agent.
pub async fn pause(app: &TestApp, agent_id: &str, action: &str) -> Value {
    let reply = app
        .post_json(&format!("/agents/{agent_id}/{action}"), json!({}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

async fn a_cancelled_delivery_is_skipped_and_its_task_goes_on(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    let registered = acp_setup(&app, &agent).await;
    let agent_id = registered["id"].as_str().unwrap();
    pause(&app, agent_id, "pause").await;
    let ids: Vec<String> = {
        let mut ids = Vec::new();
        for round in 0..3 {
            ids.push(id_of(
                &send_pr(&app, &numbered_event(5, round), &format!("c-{round}")).await,
            ));
        }
        ids
    };
    // The head and a later one are cancelled; only the middle one goes.
    for id in [&ids[0], &ids[2]] {
        let cancelled = app
            .post_json(&format!("/deliveries/{id}/cancel"), json!({}))
            .await;
        assert_eq!(cancelled.status, 200, "{}", cancelled.text());
        assert_eq!(cancelled.json()["status"], "cancelled");
    }
    let twice = app
        .post_json(&format!("/deliveries/{}/cancel", ids[0]), json!({}))
        .await;
    assert_eq!(twice.status, 409, "{}", twice.text());
    let missing = app
        .post_json("/deliveries/no-such-id/cancel", json!({}))
        .await;
    assert_eq!(missing.status, 404);
    pause(&app, agent_id, "resume").await;
    wait_for_status(&app, &ids[1], "delivered").await;
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    let sent: Vec<String> = agent
        .events()
        .iter()
        .map(|e| e["params"]["event"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(sent, [ids[1].clone()], "cancelled deliveries never go out");
    let listed = app.get("/deliveries?status=cancelled").await.json();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    // A cancelled one can be sent after all.
    let back = app
        .post_json(&format!("/deliveries/{}/retry", ids[2]), json!({}))
        .await;
    assert_eq!(back.status, 200, "{}", back.text());
    wait_for_status(&app, &ids[2], "delivered").await;
}

async fn a_paused_agent_gets_nothing_until_resumed(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    let registered = acp_setup(&app, &agent).await;
    let agent_id = registered["id"].as_str().unwrap();
    let paused = pause(&app, agent_id, "pause").await;
    assert!(paused["deliveries_paused_at"].is_string(), "{paused}");
    let shown = app.get(&format!("/agents/{agent_id}")).await.json();
    assert_eq!(
        shown["deliveries_paused_at"],
        paused["deliveries_paused_at"]
    );
    let mut ids = Vec::new();
    for pr in 1..=20 {
        ids.push(id_of(
            &send_pr(&app, &numbered_event(pr, 0), &format!("p-{pr}")).await,
        ));
    }
    actix_rt::time::sleep(Duration::from_millis(800)).await;
    assert!(agent.calls().is_empty(), "nothing goes out while paused");
    let pending = app
        .get("/deliveries?status=pending&agent_name=pr-agent")
        .await
        .json();
    assert_eq!(pending.as_array().unwrap().len(), 20);
    // Re-registering (as an SDK does at start-up) keeps the pause.
    app.register("pr-agent", &agent.url).await;
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    assert!(
        agent.calls().is_empty(),
        "still paused after re-registration"
    );
    let resumed = pause(&app, agent_id, "resume").await;
    assert!(resumed.get("deliveries_paused_at").is_none(), "{resumed}");
    for id in &ids {
        wait_for_status(&app, id, "delivered").await;
    }
    assert_eq!(agent.event_count(), 20);
    let missing = app
        .post_json("/agents/no-such-agent/pause", json!({}))
        .await;
    assert_eq!(missing.status, 404);
}

async fn cursor_pages_hold_still_while_rows_arrive(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    let registered = acp_setup(&app, &agent).await;
    pause(&app, registered["id"].as_str().unwrap(), "pause").await;
    let mut older = Vec::new();
    for round in 0..25 {
        older.push(id_of(
            &send_pr(
                &app,
                &numbered_event(round % 3 + 1, round),
                &format!("o-{round}"),
            )
            .await,
        ));
    }
    let first = app.get("/deliveries?agent_name=pr-agent&limit=10").await;
    let cursor = first
        .header("x-next-cursor")
        .expect("a next cursor")
        .to_owned();
    let link = first.header("link").unwrap().to_owned();
    assert!(
        link.contains("cursor=") && link.contains("rel=\"next\""),
        "{link}"
    );
    // New rows arrive between pages.
    for round in 0..5 {
        send_pr(&app, &numbered_event(9, round), &format!("n-{round}")).await;
    }
    let mut seen: Vec<String> = page_ids(&first.json());
    let mut next = Some(cursor);
    while let Some(cursor) = next {
        let page = app
            .get(&format!(
                "/deliveries?agent_name=pr-agent&limit=10&cursor={cursor}"
            ))
            .await;
        assert_eq!(page.status, 200, "{}", page.text());
        seen.extend(page_ids(&page.json()));
        next = page.header("x-next-cursor").map(str::to_owned);
    }
    let mut expected = older.clone();
    expected.reverse();
    assert_eq!(
        seen, expected,
        "every older row once, newest first, none of the new ones"
    );
    // Filters: by task, status and time.
    let task = app.get(&format!("/deliveries/{}", older[0])).await.json()["task_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let of_task = app
        .get(&format!("/deliveries?task_id={task}&limit=100"))
        .await
        .json();
    assert_eq!(
        of_task.as_array().unwrap().len(),
        9,
        "rounds 0, 3, … 24 of pull request 1"
    );
    let route = of_task[0]["route_id"].as_str().unwrap().to_owned();
    let of_route = app
        .get(&format!("/deliveries?route_id={route}&limit=100"))
        .await
        .json();
    assert_eq!(of_route.as_array().unwrap().len(), 30);
    let future = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let since = app
        .get(&format!("/deliveries?since={}", urlencode(&future)))
        .await
        .json();
    assert_eq!(since, json!([]));
    let until = app
        .get(&format!(
            "/deliveries?until={}&limit=100",
            urlencode(&future)
        ))
        .await
        .json();
    assert_eq!(until.as_array().unwrap().len(), 30);
    let bad = app.get("/deliveries?cursor=garbage!").await;
    assert_eq!(bad.status, 422, "{}", bad.text());
    assert!(bad.text().contains("cursor"));
    let bad = app.get("/deliveries?status=lost").await;
    assert_eq!(bad.status, 422);
}

fn page_ids(page: &Value) -> Vec<String> {
    page.as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}

async fn the_payload_shows_the_stored_request(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    acp_setup(&app, &agent).await;
    app.post_json(
        "/agent_routes",
        json!({"agent_name": "pr-agent", "path": "raw/*", "mode": "forward_async"}),
    )
    .await;
    let key = app.create_key("pr-agent", "caller", "external", None).await;
    let key = key["api_key"].as_str().unwrap();
    let headers = [
        ("x-agent-api-key", key),
        ("x-custom", "kept"),
        ("content-type", "text/plain"),
    ];
    let reply = app
        .forward(
            Method::POST,
            "pr-agent",
            "raw/in?x=1",
            &headers,
            "plain body",
        )
        .await;
    let id = id_of(&reply);
    let payload = app.get(&format!("/deliveries/{id}/payload")).await;
    assert_eq!(payload.status, 200, "{}", payload.text());
    let payload = payload.json();
    assert_eq!(payload["body"], "plain body");
    assert_eq!(payload["path"], "/raw/in?x=1");
    assert_eq!(payload["method"], "POST");
    let names: HashSet<String> = payload["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h[0].as_str().unwrap().to_owned())
        .collect();
    assert!(names.contains("x-custom"), "{payload}");
    assert!(
        !names.contains("x-agent-api-key"),
        "credentials are never stored"
    );
    assert!(!payload.to_string().contains(key));
    let event = id_of(&send_pr(&app, &pr_event(3, "opened"), "pl-1").await);
    let payload = app
        .get(&format!("/deliveries/{event}/payload"))
        .await
        .json();
    assert_eq!(
        payload["content"]["data"]["body"]["pull_request"]["number"],
        3
    );
    assert_eq!(app.get("/deliveries/nope/payload").await.status, 404);
}

async fn finished_deliveries_are_purged_but_redeliveries_still_deduplicated(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.retention = Duration::ZERO;
        s.poll_interval = Duration::from_millis(100);
    })
    .await;
    let agent = AcpAgent::start().await;
    acp_setup(&app, &agent).await;
    let first = send_pr(&app, &pr_event(4, "opened"), "kept-id")
        .await
        .json();
    let id = first["event_id"].as_str().unwrap().to_owned();
    wait_for_status(&app, &id, "delivered").await;
    let mut gone = false;
    for _ in 0..100 {
        if app.get(&format!("/deliveries/{id}")).await.status == 404 {
            gone = true;
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the delivered row was purged");
    // The provider sends the same delivery again: still the first answer.
    let again = send_pr(&app, &pr_event(4, "opened"), "kept-id").await;
    assert_eq!(again.status.as_u16(), 202);
    assert_eq!(again.json(), first);
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(agent.event_count(), 1, "and nothing new is delivered");
}

/// Admin changes are transactions that read, then write: on SQLite such a
/// transaction cannot take the writer lock once delivery has committed
/// beside it ("database is locked" at once, no waiting), which answered 500.
/// Here keys and routes are made while a backlog of 3,000 events drains.
async fn admin_changes_succeed_while_a_backlog_drains(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    let registered = acp_setup(&app, &agent).await;
    let id = registered["id"].as_str().unwrap();
    pause(&app, id, "pause").await;
    let (prs, rounds) = (60, 50);
    let ids = send_rounds(&app, prs, rounds).await;
    let resumed = app
        .post_json(&format!("/agents/{id}/resume"), json!({}))
        .await;
    assert_eq!(resumed.status, 200, "{}", resumed.text());
    let mut changes = 0;
    while agent.event_count() < ids.len() / 2 && changes < 400 {
        let key = app
            .post_json(
                "/agent_api_keys",
                json!({"agent_name": "pr-agent", "name": format!("key-{changes}")}),
            )
            .await;
        assert_eq!(key.status, 200, "change {changes}: {}", key.text());
        let route = app
            .post_json(
                "/agent_routes",
                json!({"agent_name": "pr-agent", "path": format!("p-{changes}"), "mode": "forward"}),
            )
            .await;
        assert_eq!(route.status, 200, "change {changes}: {}", route.text());
        changes += 1;
    }
    assert!(changes > 0, "changes were made while the backlog drained");
    agent
        .wait_for_within("the whole backlog", Duration::from_secs(120), |_| {
            agent.event_count() >= ids.len()
        })
        .await;
}

/// Operators' calls at once (the dashboard's bulk retry sends one per
/// selected delivery): each one succeeds and every retried event arrives.
/// On SQLite they used to meet "database is locked" and answer 500.
async fn concurrent_retries_all_succeed_and_deliver(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    acp_setup(&app, &agent).await;
    agent.fail_tasks("#9", 400);
    let ids = send_pr_events(&app, 9, 40).await;
    for id in &ids {
        wait_for_status(&app, id, "failed").await;
    }
    agent.heal();
    let paths: Vec<String> = ids
        .iter()
        .map(|id| format!("/deliveries/{id}/retry"))
        .collect();
    let replies =
        futures_util::future::join_all(paths.iter().map(|p| app.post_json(p, json!({})))).await;
    for r in &replies {
        assert_eq!(r.status, 200, "{}", r.text());
    }
    for id in &ids {
        wait_for_status(&app, id, "delivered").await;
    }
}
