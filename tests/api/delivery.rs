//! Contract §5: routes, durable intake (202 after commit), task/create then
//! event/send in order, redelivery dedup, forward_async.

use crate::acp_agent::AcpAgent;
use crate::helpers::*;
use actix_web::http::Method;
use hookgate::verify::providers::github;
use serde_json::{json, Value};
use std::time::Duration;

db_tests!(
    routes_are_created_listed_and_deleted,
    pull_request_events_land_in_one_task_in_order,
    a_missing_task_key_field_is_422_and_stores_nothing,
    provider_redeliveries_get_the_first_answer,
    concurrent_intake_commits_each_event_once,
    hundred_events_over_ten_tasks_arrive_complete_and_ordered,
    forward_async_replays_the_request_durably,
    an_event_body_arrives_as_sent,
);

pub const SECRET: &str = "route-test-secret";
pub const TASK_KEY: &str = "github:{body.repository.full_name}#{body.pull_request.number}";

/// hookgate with fast retries and polling, so delivery tests finish quickly.
pub async fn queue_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| {
        s.retry_base = Duration::from_millis(50);
        s.retry_max = Duration::from_millis(400);
        s.poll_interval = Duration::from_millis(100);
        s.forward_timeout = Duration::from_secs(5);
    })
    .await
}

/// An agent at `agent`, a GitHub key, and an acp_event route on `code_changes`.
pub async fn acp_setup(app: &TestApp, agent: &AcpAgent) -> Value {
    acp_setup_at(app, &agent.url).await
}

/// [`acp_setup`] for an agent at `url`, which need not be up yet.
pub async fn acp_setup_at(app: &TestApp, url: &str) -> Value {
    let registered = app.register("pr-agent", url).await;
    github_route(app).await;
    registered
}

/// A GitHub key for `octo/hello` and an acp_event route on `code_changes`
/// for the registered agent `pr-agent`.
pub async fn github_route(app: &TestApp) {
    app.create_key("pr-agent", "octo/hello", "github", Some(SECRET))
        .await;
    let route = app
        .post_json(
            "/agent_routes",
            json!({"agent_name": "pr-agent", "path": "code_changes",
            "mode": "acp_event", "task_key": TASK_KEY}),
        )
        .await;
    assert_eq!(route.status, 200, "{}", route.text());
}

pub fn pr_event(number: u64, action: &str) -> String {
    json!({"action": action, "number": number, "pull_request": {"number": number, "title": "Fix"},
           "repository": {"full_name": "octo/hello"}})
    .to_string()
}

/// Sends a GitHub-signed call to the `code_changes` route.
pub async fn send_pr(app: &TestApp, body: &str, delivery_id: &str) -> Reply {
    let signature = github::sign(SECRET.as_bytes(), body.as_bytes());
    let headers = [
        ("x-hub-signature-256", signature.as_str()),
        ("x-github-event", "pull_request"),
        ("x-github-delivery", delivery_id),
        ("content-type", "application/json"),
    ];
    app.forward(
        Method::POST,
        "pr-agent",
        "code_changes",
        &headers,
        body.to_owned(),
    )
    .await
}

/// Sends `count` events of pull request `pr` (actions `edit-1`, `edit-2`,
/// …), each accepted; their delivery ids.
pub async fn send_pr_events(app: &TestApp, pr: u64, count: u64) -> Vec<String> {
    let mut ids = Vec::new();
    for n in 1..=count {
        let body = pr_event(pr, &format!("edit-{n}"));
        let reply = send_pr(app, &body, &format!("pr{pr}-{n}")).await;
        assert_eq!(reply.status, 202, "{}", reply.text());
        ids.push(reply.json()["event_id"].as_str().unwrap().to_owned());
    }
    ids
}

async fn routes_are_created_listed_and_deleted(backend: Backend) {
    let app = spawn_app(backend).await;
    let agent = app.register("agent-a", "http://127.0.0.1:8000").await;
    let created = app
        .post_json("/agent_routes", json!({"agent_name": "agent-a", "path": "/github/*", "mode": "acp_event",
            "task_key": TASK_KEY, "content": "text", "text_template": "PR {body.pull_request.number}"}))
        .await;
    assert_eq!(created.status, 200, "{}", created.text());
    let route = created.json();
    assert_eq!(
        (
            route["path"].as_str(),
            route["mode"].as_str(),
            route["agent_id"].as_str()
        ),
        (Some("github/*"), Some("acp_event"), agent["id"].as_str())
    );
    let bad = [
        (
            json!({"agent_name": "agent-a", "path": "x", "mode": "acp_event"}),
            422,
            "task_key",
        ),
        (
            json!({"agent_name": "agent-a", "path": "x", "mode": "queue"}),
            422,
            "mode",
        ),
        (
            json!({"agent_name": "agent-a", "path": "x", "mode": "acp_event", "task_key": "{query.a}"}),
            422,
            "task_key",
        ),
        (
            json!({"agent_name": "agent-a", "path": "x", "mode": "acp_event", "task_key": "k", "content": "text"}),
            422,
            "text_template",
        ),
        (json!({"agent_name": "agent-a", "path": "a*b"}), 422, "path"),
        (
            json!({"agent_name": "agent-a", "path": "github/*"}),
            409,
            "already exists",
        ),
        (json!({"path": "x"}), 400, "agent_name"),
        (json!({"agent_name": "ghost", "path": "x"}), 404, "ghost"),
    ];
    for (body, status, needle) in bad {
        let reply = app.post_json("/agent_routes", body.clone()).await;
        assert_eq!(reply.status.as_u16(), status, "{body}: {}", reply.text());
        assert!(
            reply.json()["message"].as_str().unwrap().contains(needle),
            "{body}: {}",
            reply.text()
        );
    }
    let id = route["id"].as_str().unwrap();
    let listed = app.get("/agent_routes?agent_name=agent-a").await.json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(app.get(&format!("/agent_routes/{id}")).await.json(), route);
    let deleted = app.delete(&format!("/agent_routes/{id}")).await;
    assert_eq!(
        deleted.json(),
        json!(format!("Agent route with ID {id} deleted"))
    );
    assert_eq!(app.get(&format!("/agent_routes/{id}")).await.status, 404);
    assert_eq!(app.delete(&format!("/agent_routes/{id}")).await.status, 404);
}

async fn pull_request_events_land_in_one_task_in_order(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    let registered = acp_setup(&app, &agent).await;
    let first = send_pr(&app, &pr_event(7, "opened"), "d-1").await;
    let second = send_pr(&app, &pr_event(7, "synchronize"), "d-2").await;
    assert_eq!(first.status.as_u16(), 202, "{}", first.text());
    assert_eq!(second.status.as_u16(), 202);
    let (first, second) = (first.json(), second.json());
    assert_eq!(
        first["task_id"], second["task_id"],
        "one pull request, one task"
    );
    assert_ne!(first["event_id"], second["event_id"]);

    agent
        .wait_for("task/create and two events", |calls| calls.len() >= 3)
        .await;
    let calls = agent.calls();
    let methods: Vec<String> = calls.iter().map(|c| c.method()).collect();
    assert_eq!(methods, ["task/create", "event/send", "event/send"]);
    let internal = registered["agent_api_key"].as_str().unwrap();
    assert!(calls
        .iter()
        .all(|c| c.path == "/api" && c.api_key.as_deref() == Some(internal)));
    let create = calls[0].json();
    assert_eq!(create["jsonrpc"], "2.0");
    assert_eq!(
        create["params"]["task"],
        json!({"id": first["task_id"], "name": "github:octo/hello#7", "status": "RUNNING"})
    );
    assert_eq!(create["params"]["agent"]["id"], registered["id"]);
    assert_eq!(create["params"]["params"], json!({}));

    let events = agent.events();
    for (n, (event, accepted)) in events.iter().zip([&first, &second]).enumerate() {
        let e = &event["params"]["event"];
        assert_eq!(e["sequence_id"], n as u64 + 1);
        assert_eq!(e["id"], accepted["event_id"]);
        assert_eq!(e["task_id"], first["task_id"]);
        assert_eq!(e["agent_id"], registered["id"]);
        assert!(chrono::DateTime::parse_from_rfc3339(e["created_at"].as_str().unwrap()).is_ok());
        assert_eq!(
            event["params"]["task"],
            json!({"id": first["task_id"], "name": "github:octo/hello#7"})
        );
        assert_eq!(event["params"]["agent"]["name"], "pr-agent");
        let content = &e["content"];
        assert_eq!(
            (content["type"].as_str(), content["author"].as_str()),
            (Some("data"), Some("user"))
        );
        assert_eq!(content["data"]["path"], "code_changes");
        assert_eq!(content["data"]["headers"]["x-github-event"], "pull_request");
        assert!(
            content["data"]["headers"]
                .get("x-hub-signature-256")
                .is_none(),
            "no signatures in events"
        );
        assert_eq!(content["data"]["body"]["pull_request"]["number"], 7);
    }
    assert_eq!(
        events[1]["params"]["event"]["content"]["data"]["body"]["action"],
        "synchronize"
    );

    // The queue says so too, with one attempt each.
    wait_for_status(&app, first["event_id"].as_str().unwrap(), "delivered").await;
    let done = wait_for_status(&app, second["event_id"].as_str().unwrap(), "delivered").await;
    assert_eq!(done["attempts"], 1);
    assert_eq!(done["attempt_log"][0]["outcome"], "delivered");
    assert_eq!(done["attempt_log"][0]["status_code"], 200);
    let listed = app
        .get("/deliveries?agent_name=pr-agent&status=delivered")
        .await
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 2);
}

/// Polls `/deliveries/{id}` (bounded) until it has `status`; returns it.
pub async fn wait_for_status(app: &TestApp, id: &str, status: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..300 {
        last = app.get(&format!("/deliveries/{id}")).await.json();
        if last["status"] == status {
            return last;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("delivery {id} never became {status}: {last}");
}

async fn a_missing_task_key_field_is_422_and_stores_nothing(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    acp_setup(&app, &agent).await;
    let push =
        json!({"ref": "refs/heads/main", "repository": {"full_name": "octo/hello"}}).to_string();
    let reply = send_pr(&app, &push, "d-push").await;
    reply.assert_detail(422, "Field 'body.pull_request.number' named by the route's task_key is missing from the request.");
    assert_eq!(app.get("/deliveries").await.json(), json!([]));
    // Paths the route does not cover still forward synchronously.
    let body = pr_event(1, "opened");
    let signature = github::sign(SECRET.as_bytes(), body.as_bytes());
    let sync = app
        .forward(
            Method::POST,
            "pr-agent",
            "other",
            &[("x-hub-signature-256", &signature)],
            body,
        )
        .await;
    assert_eq!(sync.status, 200);
    assert_eq!(agent.calls().last().unwrap().path, "/other");
}

async fn provider_redeliveries_get_the_first_answer(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    acp_setup(&app, &agent).await;
    let body = pr_event(9, "opened");
    let first = send_pr(&app, &body, "same-delivery").await;
    let again = send_pr(&app, &body, "same-delivery").await;
    assert_eq!(first.status.as_u16(), 202);
    assert_eq!(again.status.as_u16(), 202);
    assert_eq!(again.json(), first.json());
    let other = send_pr(&app, &body, "another-delivery").await.json();
    assert_ne!(other["event_id"], first.json()["event_id"]);
    agent
        .wait_for("two events", |_| agent.events().len() >= 2)
        .await;
    assert_eq!(
        app.get("/deliveries")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // A redelivery after delivery is still recognised.
    let late = send_pr(&app, &body, "same-delivery").await;
    assert_eq!(late.json(), first.json());
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(agent.events().len(), 2, "redeliveries create nothing");
}

async fn hundred_events_over_ten_tasks_arrive_complete_and_ordered(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    acp_setup(&app, &agent).await;
    let mut accepted = Vec::new();
    for round in 0..10 {
        for pr in 1..=10u64 {
            let body = json!({"action": format!("round-{round}"), "pull_request": {"number": pr},
                              "repository": {"full_name": "octo/hello"}})
            .to_string();
            let reply = send_pr(&app, &body, &format!("d-{pr}-{round}")).await;
            assert_eq!(reply.status.as_u16(), 202, "{}", reply.text());
            accepted.push(reply.json());
        }
    }
    agent
        .wait_for("100 events", |_| agent.events().len() >= 100)
        .await;
    let events = agent.events();
    assert_eq!(events.len(), 100, "each event exactly once");
    let creates = agent
        .calls()
        .iter()
        .filter(|c| c.method() == "task/create")
        .count();
    assert_eq!(creates, 10);
    for pr in 1..=10u64 {
        let name = format!("github:octo/hello#{pr}");
        let of_task: Vec<&Value> = events
            .iter()
            .filter(|e| e["params"]["task"]["name"] == name)
            .collect();
        let sequences: Vec<u64> = of_task
            .iter()
            .map(|e| e["params"]["event"]["sequence_id"].as_u64().unwrap())
            .collect();
        assert_eq!(
            sequences,
            (1..=10).collect::<Vec<_>>(),
            "task {name} in order"
        );
        let actions: Vec<&str> = of_task
            .iter()
            .map(|e| {
                e["params"]["event"]["content"]["data"]["body"]["action"]
                    .as_str()
                    .unwrap()
            })
            .collect();
        let expected: Vec<String> = (0..10).map(|r| format!("round-{r}")).collect();
        assert_eq!(
            actions, expected,
            "task {name}: events in the order they were accepted"
        );
    }
    let ids: std::collections::HashSet<&str> = accepted
        .iter()
        .map(|a| a["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 100);
}

async fn forward_async_replays_the_request_durably(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    app.register("async-agent", &agent.url).await;
    let key = app
        .create_key("async-agent", "caller", "external", None)
        .await["api_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let route = app
        .post_json(
            "/agent_routes",
            json!({"agent_name": "async-agent", "path": "hooks/*", "mode": "forward_async"}),
        )
        .await;
    assert_eq!(route.status, 200);
    let headers = [
        ("x-agent-api-key", key.as_str()),
        ("x-custom", "kept"),
        ("content-type", "text/plain"),
    ];
    let reply = app
        .forward(
            Method::PUT,
            "async-agent",
            "hooks/build?id=42",
            &headers,
            "raw \u{1F680} body",
        )
        .await;
    assert_eq!(reply.status.as_u16(), 202, "{}", reply.text());
    let accepted = reply.json();
    assert!(
        accepted.get("task_id").is_none(),
        "no task for forward_async"
    );
    agent
        .wait_for("the replayed request", |calls| !calls.is_empty())
        .await;
    let call = &agent.calls()[0];
    assert_eq!(call.path, "/hooks/build");
    assert_eq!(call.body, "raw \u{1F680} body".as_bytes());
    assert_eq!(call.headers.get("x-custom").unwrap(), "kept");
    assert!(
        call.headers.get("x-agent-api-key").is_none(),
        "the caller's key is not replayed"
    );
    let done = wait_for_status(&app, accepted["event_id"].as_str().unwrap(), "delivered").await;
    assert_eq!(
        (done["method"].as_str(), done["path"].as_str()),
        (Some("PUT"), Some("/hooks/build?id=42"))
    );
}

async fn concurrent_intake_commits_each_event_once(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    acp_setup(&app, &agent).await;
    let body = pr_event(11, "opened");
    let calls = (0..40).map(|i| {
        let delivery = if i % 2 == 0 {
            "dup".to_owned()
        } else {
            format!("unique-{i}")
        };
        let (app, body) = (&app, body.clone());
        async move { (delivery.clone(), send_pr(app, &body, &delivery).await) }
    });
    let replies = futures_util::future::join_all(calls).await;
    let dup_answers: std::collections::HashSet<String> = replies
        .iter()
        .filter(|(d, _)| d == "dup")
        .map(|(_, r)| {
            assert_eq!(r.status.as_u16(), 202, "{}", r.text());
            r.json().to_string()
        })
        .collect();
    assert_eq!(
        dup_answers.len(),
        1,
        "every redelivery got the first answer"
    );
    assert!(replies.iter().all(|(_, r)| r.status.as_u16() == 202));
    agent
        .wait_for("21 events", |_| agent.events().len() >= 21)
        .await;
    let stored = app.get("/deliveries?limit=100").await.json();
    assert_eq!(
        stored.as_array().unwrap().len(),
        21,
        "20 unique + 1 deduplicated"
    );
    let mut sequences: Vec<u64> = agent
        .events()
        .iter()
        .map(|e| e["params"]["event"]["sequence_id"].as_u64().unwrap())
        .collect();
    let arrival = sequences.clone();
    sequences.sort();
    assert_eq!(sequences, (1..=21).collect::<Vec<_>>());
    assert_eq!(arrival, sequences, "delivered in sequence order");
}

/// The body goes into the event as it arrived (it is stored as sent, not
/// written out again): whitespace, escapes, non-ASCII text, nesting and a
/// string that reads like hookgate's own body placeholder all come through.
async fn an_event_body_arrives_as_sent(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    acp_setup(&app, &agent).await;
    let body = r#"{ "repository": {"full_name": "octo/hello"},
  "pull_request": {"number": 9},
  "title": "caf\u00e9 é 😀 \"quoted\" \\ back",
  "slot": "\u0000body\u0000", "nested": [[1, 2.5, -3e2], {"z": null, "a": true}] }
"#;
    let sent: Value = serde_json::from_str(body).expect("the test body is JSON");
    let reply = send_pr(&app, body, "raw-1").await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    agent
        .wait_for("the event", |calls| {
            calls.iter().any(|c| c.method() == "event/send")
        })
        .await;
    let events = agent.events();
    let content = &events[0]["params"]["event"]["content"];
    assert_eq!(content["data"]["body"], sent, "{content}");
    assert_eq!(content["data"]["path"], "code_changes");
    assert_eq!(content["data"]["headers"]["x-github-event"], "pull_request");
    assert_eq!(content["provenance"]["provider"], "github");
    assert_eq!(
        content["provenance"]["delivery_id"],
        reply.json()["event_id"]
    );
}
