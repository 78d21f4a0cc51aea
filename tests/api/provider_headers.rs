//! No provider's credential header reaches the agent or a stored delivery,
//! and no credential or signature header reaches an ACP event (issue 12).
//! The test loops over the provider registry: a new provider is covered by
//! its descriptor, without new test code.

use crate::helpers::*;
use actix_web::http::Method;
use hookgate::verify::providers::PROVIDERS;
use serde_json::{json, Value};

db_tests!(no_provider_credential_reaches_the_agent_or_an_event);

/// Every header a descriptor names as a credential (`true`) or a signature
/// (`false`), except the API key this call really authenticates with.
fn provider_headers() -> Vec<(&'static str, bool)> {
    let mut named = Vec::new();
    for provider in PROVIDERS {
        let d = provider.descriptor();
        named.extend(d.credential_headers.iter().map(|h| (*h, true)));
        named.extend(d.signature_headers.iter().map(|h| (*h, false)));
    }
    named.retain(|(h, _)| *h != "x-agent-api-key");
    named
}

async fn no_provider_credential_reaches_the_agent_or_an_event(backend: Backend) {
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    let key = agent_with_key(&app, "guarded", &upstream).await;
    for (path, mode) in [("events/*", "acp_event"), ("queued/*", "forward_async")] {
        let route =
            json!({"agent_name": "guarded", "path": path, "mode": mode, "task_key": "t:{path}"});
        let made = app.post_json("/agent_routes", route).await;
        assert_eq!(made.status, 200, "{}", made.text());
    }
    let named = provider_headers();
    assert!(named.iter().filter(|(_, c)| *c).count() >= 1, "{named:?}");
    let mut headers: Vec<(&str, &str)> =
        named.iter().map(|(h, _)| (*h, "presented-value")).collect();
    headers.push(("x-agent-api-key", key.as_str()));
    headers.push(("x-event-kind", "kept"));

    let plain = app
        .forward(Method::POST, "guarded", "plain", &headers, "{}")
        .await;
    assert_eq!(plain.status, 200, "{}", plain.text());
    let received = upstream.received()[0].clone();
    for (name, credential) in &named {
        let arrived = received.header(name).is_some();
        assert_eq!(arrived, !credential, "{name} forwarded: {arrived}");
    }
    assert_eq!(received.header("x-agent-api-key"), None);

    let stored = stored_payload(&app, "queued/x", &headers).await;
    let stored_names: Vec<String> = stored["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| pair[0].as_str().unwrap().to_owned())
        .collect();
    assert!(
        stored_names.contains(&"x-event-kind".to_owned()),
        "{stored_names:?}"
    );
    for (name, credential) in named.iter().chain([&("x-agent-api-key", true)]) {
        let kept = stored_names.iter().any(|n| n == name);
        assert_eq!(kept, !credential, "{name} stored with the delivery: {kept}");
    }

    let event = stored_payload(&app, "events/x", &headers).await;
    let event_headers = &event["content"]["data"]["headers"];
    assert_eq!(event_headers["x-event-kind"], "kept", "{event_headers}");
    for (name, _) in named.iter().chain([&("x-agent-api-key", true)]) {
        assert!(
            event_headers.get(*name).is_none(),
            "{name} in an ACP event: {event_headers}"
        );
    }
}

/// Sends a call on a queued route and reads back what was stored.
async fn stored_payload(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Value {
    let accepted = app
        .forward(Method::POST, "guarded", path, headers, "{}")
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.text());
    let id = accepted.json()["event_id"].as_str().unwrap().to_owned();
    let payload = app.get(&format!("/deliveries/{id}/payload")).await;
    assert_eq!(payload.status, 200, "{}", payload.text());
    payload.json()
}
