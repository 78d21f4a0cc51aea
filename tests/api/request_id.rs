//! Request ids (issue 13): `x-request-id` is kept when a caller sends a
//! sane one and made otherwise; it comes back on the answer, reaches the
//! agent on a forwarded call, and goes out on the ACP calls that deliver a
//! stored event.

use crate::acp_agent::AcpAgent;
use crate::delivery::{acp_setup, pr_event, SECRET};
use crate::helpers::*;
use actix_web::http::Method;
use hookgate::verify::providers::github;

db_tests!(request_ids_follow_the_call, request_ids_reach_acp_calls);

async fn request_ids_follow_the_call(backend: Backend) {
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    let key = agent_with_key(&app, "agent-a", &upstream).await;
    let sent = [
        ("x-agent-api-key", key.as_str()),
        ("x-request-id", "req-abc-123"),
    ];
    let reply = app
        .forward(Method::POST, "agent-a", "hook", &sent, "{}")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-request-id"), Some("req-abc-123"));
    assert_eq!(
        upstream.single().header("x-request-id"),
        Some("req-abc-123")
    );

    for odd in [None, Some("has spaces in it")] {
        let mut headers = vec![("x-agent-api-key", key.as_str())];
        headers.extend(odd.map(|id| ("x-request-id", id)));
        let reply = app
            .forward(Method::POST, "agent-a", "hook", &headers, "{}")
            .await;
        let made = reply
            .header("x-request-id")
            .expect("an id is made")
            .to_owned();
        assert!(uuid::Uuid::parse_str(&made).is_ok(), "{made}");
        let received = upstream.received().last().unwrap().clone();
        assert_eq!(received.header("x-request-id"), Some(made.as_str()));
    }
    let admin = app.get("/agents").await;
    assert!(
        admin.header("x-request-id").is_some(),
        "admin answers carry one too"
    );
}

async fn request_ids_reach_acp_calls(backend: Backend) {
    let app = spawn_app(backend).await;
    let agent = AcpAgent::start().await;
    acp_setup(&app, &agent).await;
    let body = pr_event(5, "opened");
    let signature = github::sign(SECRET.as_bytes(), body.as_bytes());
    let headers = [
        ("x-hub-signature-256", signature.as_str()),
        ("x-github-event", "pull_request"),
        ("x-github-delivery", "d-5"),
        ("content-type", "application/json"),
        ("x-request-id", "req-acp-77"),
    ];
    let reply = app
        .forward(Method::POST, "pr-agent", "code_changes", &headers, body)
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    assert_eq!(reply.header("x-request-id"), Some("req-acp-77"));
    agent
        .wait_for("the event", |_| !agent.events().is_empty())
        .await;
    let rpc_calls: Vec<_> = agent
        .calls()
        .into_iter()
        .filter(|c| c.path == "/api")
        .collect();
    assert!(
        rpc_calls.len() >= 2,
        "task/create and event/send: {rpc_calls:?}"
    );
    for call in rpc_calls {
        let id = call
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok());
        assert_eq!(id, Some("req-acp-77"), "{}", call.method());
    }
}
