//! The outbound policy (issue 11): a registrant cannot point hookgate at the
//! cloud metadata service or other link-local addresses, directly or
//! through a name that resolves there; settings refuse or allow more.

use crate::helpers::*;
use actix_web::http::Method;
use serde_json::json;

db_tests!(
    metadata_addresses_are_refused_at_registration,
    a_name_resolving_to_a_refused_range_reaches_nothing,
    an_allowed_range_may_be_used
);

async fn register_url(app: &TestApp, name: &str, url: &str) -> Reply {
    app.post_json("/agents/register", json!({"name": name, "acp_url": url}))
        .await
}

async fn metadata_addresses_are_refused_at_registration(backend: Backend) {
    let app = spawn_app(backend).await;
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "https://169.254.170.2/v2/credentials",
    ] {
        let reply = register_url(&app, "thief", url).await;
        assert_eq!(reply.status, 422, "{url}: {}", reply.text());
        let message = reply.json()["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(message.contains("acp_url"), "{message}");
        assert!(
            message.contains("HOOKGATE_AGENT_ALLOW_NETS"),
            "names the setting: {message}"
        );
    }
    let agents = app.get("/agents").await.json();
    assert_eq!(agents.as_array().map(Vec::len), Some(0), "{agents}");
}

async fn a_name_resolving_to_a_refused_range_reaches_nothing(backend: Backend) {
    let loopback = vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
    let app = spawn_app_with(backend, move |s| s.agent_deny_nets = loopback).await;
    let upstream = Upstream::start().await;
    let port = upstream.url.rsplit(':').next().unwrap().to_owned();
    let direct = register_url(&app, "direct", &upstream.url).await;
    assert_eq!(direct.status, 422, "{}", direct.text());
    let named = register_url(&app, "named", &format!("http://localhost:{port}")).await;
    assert_eq!(
        named.status,
        200,
        "a name is checked when it resolves: {}",
        named.text()
    );
    let key = app.create_key("named", "caller", "external", None).await;
    let key = key["api_key"].as_str().unwrap().to_owned();
    let reply = app
        .forward(
            Method::POST,
            "named",
            "hook",
            &[("x-agent-api-key", &key)],
            "{}",
        )
        .await;
    assert_eq!(reply.status, 502, "{}", reply.text());
    assert!(
        reply.text().contains("HOOKGATE_AGENT_DENY_NETS"),
        "{}",
        reply.text()
    );
    assert!(
        upstream.received().is_empty(),
        "nothing reached the refused address"
    );
}

async fn an_allowed_range_may_be_used(backend: Backend) {
    let allow = vec!["169.254.169.0/24".parse().unwrap()];
    let app = spawn_app_with(backend, move |s| s.agent_allow_nets = allow).await;
    let allowed = register_url(&app, "edge", "http://169.254.169.10/").await;
    assert_eq!(allowed.status, 200, "{}", allowed.text());
    let still = register_url(&app, "other", "http://169.254.1.1/").await;
    assert_eq!(still.status, 422, "{}", still.text());
}
