//! A2A agents (issue 30): registered from their Agent Card, each routed
//! event delivered as a `SendMessage` of the task's context, in order,
//! through an outage of the agent. The agent is an unmodified `a2a-sdk`
//! server (tests/a2a/agent.py); cards that cannot be used are a 422.

use crate::a2a_agent::A2aAgent;
use crate::delivery::{
    github_route, pr_event, queue_app, send_pr, send_pr_events, wait_for_status,
};
use crate::helpers::*;
use crate::process::{free_port, Process};
use actix_web::{web, App, HttpResponse, HttpServer};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

db_tests!(
    each_task_is_one_context_in_order_through_an_agent_outage,
    cards_that_cannot_be_used_are_refused_and_can_be_read_again,
    a_bearer_token_is_sent_to_an_agent_that_asks_for_one,
    an_agent_whose_card_says_0_3_gets_0_3_calls,
    a_plain_forward_reaches_the_cards_interface,
    cards_are_read_again_at_start
);

/// Registers the A2A agent at `url` as `pr-agent`, with `extra` fields.
async fn register_a2a(app: &TestApp, card_url: &str, extra: Value) -> Reply {
    let mut body = json!({"name": "pr-agent", "protocol": "a2a", "agent_card_url": card_url});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    app.post_json("/agents/register", body).await
}

/// Sends `count` events of each of pull requests 1 and 2, alternating;
/// the event ids of each, in the order sent.
async fn send_interleaved(app: &TestApp, from: u64, count: u64) -> HashMap<u64, Vec<String>> {
    let mut sent: HashMap<u64, Vec<String>> = HashMap::new();
    for n in from..from + count {
        for pr in [1, 2] {
            let reply = send_pr(
                app,
                &pr_event(pr, &format!("edit-{n}")),
                &format!("pr{pr}-{n}"),
            )
            .await;
            assert_eq!(reply.status, 202, "{}", reply.text());
            let id = reply.json()["event_id"].as_str().unwrap().to_owned();
            sent.entry(pr).or_default().push(id);
        }
    }
    sent
}

/// The message ids each context received, first arrivals only, in order.
fn ids_by_context(messages: &[Value]) -> HashMap<String, Vec<String>> {
    let mut by_context: HashMap<String, Vec<String>> = HashMap::new();
    for message in messages {
        let context = message["contextId"].as_str().unwrap().to_owned();
        let id = message["messageId"].as_str().unwrap().to_owned();
        let ids = by_context.entry(context).or_default();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    by_context
}

async fn each_task_is_one_context_in_order_through_an_agent_outage(backend: Backend) {
    let app = queue_app(backend).await;
    let mut agent = A2aAgent::start().await;
    let registered = register_a2a(&app, &agent.url(), json!({})).await;
    assert_eq!(registered.status, 200, "{}", registered.text());
    let registered = registered.json();
    assert_eq!(registered["protocol"], "a2a");
    assert_eq!(
        registered["agent_card_url"],
        format!("{}/.well-known/agent-card.json", agent.url())
    );
    assert_eq!(registered["a2a_url"], format!("{}/", agent.url()));
    assert_eq!(registered["a2a_version"], "1.0");
    assert_eq!(registered["acp_url"], Value::Null);
    github_route(&app).await;

    let mut sent = send_interleaved(&app, 1, 40).await;
    let messages = agent.wait_for(80).await;
    assert_eq!(messages.len(), 80, "every event arrives once");
    let first = &messages[0];
    assert_eq!(first["role"], "ROLE_USER");
    assert_eq!(first["metadata"]["provenance"]["provider"], "github");
    assert_eq!(first["metadata"]["provenance"]["key_name"], "octo/hello");
    assert_eq!(
        first["metadata"]["provenance"]["delivery_id"],
        first["messageId"]
    );
    assert_eq!(first["parts"][0]["data"]["path"], "code_changes");
    assert_eq!(
        first["parts"][0]["data"]["headers"]["x-github-event"],
        "pull_request"
    );
    let task_of = |pr: u64| sent[&pr][0].clone();
    let delivered = wait_for_status(&app, &task_of(1), "delivered").await;
    let answer = delivered["attempt_log"][0]["response"].as_str().unwrap();
    assert!(
        answer.contains("\"received\""),
        "the agent's answer is kept: {answer}"
    );
    let task_ids: Vec<String> = [1, 2]
        .iter()
        .map(|pr| {
            let id = &sent[pr][0];
            messages
                .iter()
                .find(|m| m["messageId"] == id.as_str())
                .unwrap()["contextId"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_ne!(task_ids[0], task_ids[1], "two pull requests, two contexts");
    assert_eq!(
        delivered["task_id"],
        task_ids[0].as_str(),
        "the context is the task"
    );

    // The agent goes away while both conversations go on.
    agent.stop();
    for (pr, ids) in send_interleaved(&app, 41, 25).await {
        sent.get_mut(&pr).unwrap().extend(ids);
    }
    actix_rt::time::sleep(Duration::from_secs(2)).await;
    agent.restart().await;
    let messages = agent.wait_for(130).await;
    let by_context = ids_by_context(&messages);
    for (pr, context) in [1, 2].iter().zip(&task_ids) {
        assert_eq!(
            by_context[context], sent[pr],
            "pull request {pr}: every event, in order"
        );
    }
    for message in &messages {
        let sequence = message["metadata"]["hookgate"]["sequence_id"]
            .as_f64()
            .unwrap();
        let action = message["parts"][0]["data"]["body"]["action"]
            .as_str()
            .unwrap();
        assert_eq!(
            action,
            format!("edit-{sequence}"),
            "sequence and body agree"
        );
    }
    wait_for_status(&app, sent[&2].last().unwrap(), "delivered").await;
}

/// A card server whose answer the test changes: (status, body).
pub struct CardServer {
    pub url: String,
    answer: Arc<Mutex<(u16, String)>>,
}

impl CardServer {
    pub fn start() -> Self {
        let answer = Arc::new(Mutex::new((404, String::new())));
        let shared = answer.clone();
        let server = HttpServer::new(move || {
            let shared = shared.clone();
            App::new().default_service(web::to(move || {
                let (status, body) = shared.lock().unwrap().clone();
                async move {
                    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                        .content_type("application/json")
                        .body(body)
                }
            }))
        })
        .workers(1);
        let url = serve(server, TcpListener::bind("127.0.0.1:0").unwrap(), None);
        Self { url, answer }
    }

    fn answer(&self, status: u16, body: String) {
        *self.answer.lock().unwrap() = (status, body);
    }

    pub fn card(&self, interfaces: Value) {
        self.answer(
            200,
            json!({"name": "x", "supportedInterfaces": interfaces}).to_string(),
        );
    }
}

async fn assert_refused(app: &TestApp, body: Value, says: &str) {
    let reply = app.post_json("/agents/register", body.clone()).await;
    assert_eq!(reply.status, 422, "{body}: {}", reply.text());
    let message = reply.json()["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains(says),
        "{body}: {message:?} should say {says:?}"
    );
}

async fn cards_that_cannot_be_used_are_refused_and_can_be_read_again(backend: Backend) {
    let app = spawn_app(backend).await;
    let cards = CardServer::start();
    let a2a = |url: &str| json!({"name": "card-agent", "protocol": "a2a", "agent_card_url": url});
    let card_url = format!("{}/card.json", cards.url);
    assert_refused(&app, a2a(&closed_port_url()), "could not be fetched").await;
    assert_refused(&app, a2a(&card_url), "answered 404").await;
    cards.answer(200, "<html>".into());
    assert_refused(&app, a2a(&card_url), "not a JSON object").await;
    cards.card(json!([{"url": "http://127.0.0.1:9/", "protocolBinding": "GRPC"}]));
    assert_refused(
        &app,
        a2a(&card_url),
        "offers no JSON-RPC interface (it offers GRPC)",
    )
    .await;
    cards.answer(200, format!("{{\"name\": \"{}\"}}", "x".repeat(70 * 1024)));
    assert_refused(&app, a2a(&card_url), "larger than 64 KiB").await;
    cards.card(json!([{"url": "http://169.254.169.254/", "protocolBinding": "JSONRPC"}]));
    assert_refused(&app, a2a(&card_url), "is refused").await;
    assert_refused(
        &app,
        json!({"name": "card-agent", "protocol": "a2a"}),
        "'agent_card_url' is required",
    )
    .await;
    assert_refused(&app, json!({"name": "card-agent"}), "'acp_url' is required").await;
    assert_refused(
        &app,
        json!({"name": "card-agent", "acp_type": "async"}),
        "'acp_url' is required",
    )
    .await;
    assert_refused(
        &app,
        json!({"name": "card-agent", "protocol": "grpc"}),
        "'protocol' must be one of acp, a2a",
    )
    .await;
    let both = json!({"name": "card-agent", "protocol": "a2a", "agent_card_url": card_url, "acp_url": "http://127.0.0.1:9"});
    assert_refused(&app, both, "'acp_url' applies only to ACP agents").await;
    assert_eq!(
        app.get("/agents/name/card-agent").await.status,
        404,
        "nothing was stored"
    );

    // A usable card, then a changed one read again.
    cards.card(json!([{"url": "http://127.0.0.1:9/a", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}]));
    let made = app.post_json("/agents/register", a2a(&card_url)).await;
    assert_eq!(made.status, 200, "{}", made.text());
    let id = made.json()["id"].as_str().unwrap().to_owned();
    cards.answer(
        200,
        json!({"name": "x", "url": "http://127.0.0.1:9/b", "protocolVersion": "0.3.0"}).to_string(),
    );
    let refreshed = app
        .post_json(&format!("/agents/{id}/refresh_card"), json!({}))
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text());
    assert_eq!(refreshed.json()["a2a_url"], "http://127.0.0.1:9/b");
    assert_eq!(refreshed.json()["a2a_version"], "0.3");
    cards.answer(500, String::new());
    let failed = app
        .post_json(&format!("/agents/{id}/refresh_card"), json!({}))
        .await;
    assert_eq!(failed.status, 422, "{}", failed.text());
    let kept = app.get(&format!("/agents/{id}")).await.json();
    assert_eq!(
        kept["a2a_url"], "http://127.0.0.1:9/b",
        "a failed read keeps the last card"
    );
    let acp = app.register("acp-agent", "http://127.0.0.1:9").await;
    let not_a2a = app
        .post_json(
            &format!("/agents/{}/refresh_card", acp["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(not_a2a.status, 422, "{}", not_a2a.text());
}

async fn a_bearer_token_is_sent_to_an_agent_that_asks_for_one(backend: Backend) {
    let app = queue_app(backend).await;
    let token = "agent-bearer-7f3a9c";
    let agent = A2aAgent::start_with(Some(token)).await;
    let registered = register_a2a(&app, &agent.url(), json!({})).await;
    assert_eq!(registered.status, 200, "{}", registered.text());
    github_route(&app).await;
    let refused = send_pr_events(&app, 5, 1).await;
    let failed = wait_for_status(&app, &refused[0], "failed").await;
    assert_eq!(failed["attempt_log"][0]["status_code"], 401, "{failed}");

    let again = register_a2a(&app, &agent.url(), json!({"outbound_token": token})).await;
    assert_eq!(again.status, 200, "{}", again.text());
    assert!(!again.text().contains(token), "the token is never shown");
    let retried = app
        .post_json(&format!("/deliveries/{}/retry", refused[0]), json!({}))
        .await;
    assert_eq!(retried.status, 200, "{}", retried.text());
    wait_for_status(&app, &refused[0], "delivered").await;
    let ids = send_pr_events(&app, 6, 3).await;
    wait_for_status(&app, ids.last().unwrap(), "delivered").await;
    let messages = agent.wait_for(4).await;
    assert_eq!(messages.len(), 4);
    let agent_id = again.json()["id"].as_str().unwrap().to_owned();
    let keys = app
        .get(&format!("/agent_api_keys?agent_id={agent_id}"))
        .await;
    assert!(
        keys.text().contains("\"outbound\"") && !keys.text().contains(token),
        "{}",
        keys.text()
    );
}

async fn an_agent_whose_card_says_0_3_gets_0_3_calls(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = A2aAgent::start_older().await;
    let registered = register_a2a(&app, &agent.url(), json!({})).await;
    assert_eq!(registered.status, 200, "{}", registered.text());
    assert_eq!(registered.json()["a2a_version"], "0.3");
    app.create_key(
        "pr-agent",
        "octo/hello",
        "github",
        Some(crate::delivery::SECRET),
    )
    .await;
    let route = json!({"agent_name": "pr-agent", "path": "code_changes", "mode": "acp_event",
        "task_key": "{conversation}", "content": "text",
        "text_template": "PR {body.pull_request.number}: {body.action}"});
    let made = app.post_json("/agent_routes", route).await;
    assert_eq!(made.status, 200, "{}", made.text());
    let ids = send_pr_events(&app, 4, 3).await;
    wait_for_status(&app, ids.last().unwrap(), "delivered").await;
    let messages = agent.wait_for(3).await;
    let texts: Vec<&str> = messages
        .iter()
        .map(|m| m["parts"][0]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["PR 4: edit-1", "PR 4: edit-2", "PR 4: edit-3"]);
    let sent: Vec<&str> = messages
        .iter()
        .map(|m| m["messageId"].as_str().unwrap())
        .collect();
    assert_eq!(sent, ids, "message ids are the event ids");
}

async fn a_plain_forward_reaches_the_cards_interface(backend: Backend) {
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    let cards = CardServer::start();
    let interface = format!("{}/a2a", upstream.url);
    cards.card(json!([{"url": interface, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}]));
    let body = json!({"name": "fwd-agent", "protocol": "a2a", "agent_card_url": format!("{}/card", cards.url)});
    let made = app.post_json("/agents/register", body).await;
    assert_eq!(made.status, 200, "{}", made.text());
    let key = app.create_key("fwd-agent", "ops", "external", None).await;
    let key = key["api_key"].as_str().unwrap().to_owned();
    let reply = app
        .forward(
            actix_web::http::Method::POST,
            "fwd-agent",
            "hook?x=1",
            &[("x-agent-api-key", &key)],
            "{}",
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let received = upstream.single();
    assert_eq!(
        received.uri, "/a2a/hook?x=1",
        "the sub-path follows the interface URL"
    );
}

async fn cards_are_read_again_at_start(backend: Backend) {
    let db = TestDb::new(&backend);
    let first = Process::start(&db.url, free_port()).await;
    let app = first.app(db);
    let cards = CardServer::start();
    cards.card(json!([{"url": "http://127.0.0.1:9/old", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}]));
    let body = json!({"name": "moving-agent", "protocol": "a2a", "agent_card_url": cards.url});
    let made = app.post_json("/agents/register", body).await;
    assert_eq!(made.status, 200, "{}", made.text());
    first.crash();
    // While hookgate was down, the agent moved.
    cards.card(json!([{"url": "http://127.0.0.1:9/new", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}]));
    let second = Process::start(&app.db.url, free_port()).await;
    let again = second.app(TestDb::shared(&app.db.url));
    let mut seen = Value::Null;
    for _ in 0..100 {
        seen = again.get("/agents/name/moving-agent").await.json();
        if seen["a2a_url"] == "http://127.0.0.1:9/new" {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        seen["a2a_url"], "http://127.0.0.1:9/new",
        "read again at start: {seen}"
    );
    assert_ne!(seen["card_read_at"], made.json()["card_read_at"]);
}
