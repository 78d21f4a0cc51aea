//! Sentry's integration-platform webhooks (issue 12): a delivery signed as
//! Sentry's documentation verifies it is forwarded; each wrong one gets its
//! own 4xx and reaches nobody.

use crate::helpers::*;
use crate::vectors::{self, with};
use actix_web::http::Method;
use serde_json::json;

db_tests!(sentry_deliveries, sentry_triggers_need_the_client_secret);

const SECRET: &str = "sentry-client-secret-0123456789abcdef";

async fn sentry_deliveries(backend: Backend) {
    vectors::ready(); // first, before any connection can sit idle meanwhile
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    let agent = app.register("agent-a", &upstream.url).await;
    let agent_id = agent["id"].as_str().unwrap();
    let now = chrono::Utc::now().timestamp();
    let body = json!({"action": "created", "data": {"issue": {"id": "42"}}}).to_string();
    let signed = vectors::sign("sentry", SECRET, &body, now, "");
    let no_key = format!("No Sentry key found for agent ID {agent_id}.");
    refused(&app, &with(&signed, &[]), &body, 404, &no_key).await;

    app.create_key("agent-a", "org-integration", "sentry", Some(SECRET))
        .await;
    let headers = with(
        &signed,
        &[("sentry-hook-resource", "issue"), ("request-id", "r-1")],
    );
    let reply = app
        .forward(Method::POST, "agent-a", "hook", &headers, body.clone())
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let received = upstream.single();
    assert_eq!(received.body, body.as_bytes());
    assert_eq!(received.header("sentry-hook-resource"), Some("issue"));

    let bad = "Invalid Sentry webhook signature";
    let wrong = vectors::sign("sentry", "another-client-secret", &body, now, "");
    refused(&app, &with(&wrong, &[]), &body, 401, bad).await;
    refused(
        &app,
        &with(&signed, &[]),
        &body.replace("42", "43"),
        401,
        bad,
    )
    .await;
    let unsigned = [("sentry-hook-resource", "issue")];
    refused(
        &app,
        &unsigned,
        &body,
        403,
        "Missing authentication for forward request.",
    )
    .await;
    assert_eq!(
        upstream.received().len(),
        1,
        "no refused call reached the agent"
    );
}

async fn sentry_triggers_need_the_client_secret(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("agent-a", "http://127.0.0.1:9").await;
    let trigger = json!({"agent_name": "agent-a", "source": "sentry", "name": "org", "forward_path": "sentry"});
    let missing = app
        .post_json("/agent_api_keys/webhook-trigger", trigger.clone())
        .await;
    assert_eq!(missing.status, 400, "{}", missing.text());
    let message = missing.json()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("Client Secret"), "{message}");
    let mut given = trigger;
    given["secret"] = json!(SECRET);
    let made = app
        .post_json("/agent_api_keys/webhook-trigger", given)
        .await;
    assert_eq!(made.status, 200, "{}", made.text());
    assert_eq!(
        made.json()["webhook_path"],
        "/agents/forward/name/agent-a/sentry"
    );
}
