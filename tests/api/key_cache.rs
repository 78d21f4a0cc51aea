//! The key cache: never a deleted key on the instance that deleted it, and
//! on a second instance sharing the PostgreSQL database within 1 s.

use crate::helpers::*;
use actix_web::http::Method;
use hookgate::verify::providers::github;
use serde_json::json;
use std::time::{Duration, Instant};

db_tests!(
    cached_keys_die_with_the_delete_that_returns,
    unknown_keys_are_cached_misses_until_created
);

async fn cached_keys_die_with_the_delete_that_returns(backend: Backend) {
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    let agent = app.register("agent-a", &upstream.url).await;
    let key = app.create_key("agent-a", "k", "external", None).await;
    let value = key["api_key"].as_str().unwrap().to_owned();
    let gh = app
        .create_key("agent-a", "octo/hello", "github", Some("gh-secret"))
        .await;
    let body = json!({"repository": {"full_name": "octo/hello"}}).to_string();
    let signature = github::sign(b"gh-secret", body.as_bytes());
    // Warm every worker's view of the cache.
    for _ in 0..8 {
        assert_eq!(
            app.forward(
                Method::GET,
                "agent-a",
                "x",
                &[("x-agent-api-key", &value)],
                ""
            )
            .await
            .status,
            200
        );
        let signed = app
            .forward(
                Method::POST,
                "agent-a",
                "x",
                &[("x-hub-signature-256", &signature)],
                body.clone(),
            )
            .await;
        assert_eq!(signed.status, 200);
    }
    app.delete(&format!("/agent_api_keys/{}", key["id"].as_str().unwrap()))
        .await;
    let invalid = format!(
        "Invalid API key for agent ID {}.",
        agent["id"].as_str().unwrap()
    );
    for _ in 0..8 {
        app.forward(
            Method::GET,
            "agent-a",
            "x",
            &[("x-agent-api-key", &value)],
            "",
        )
        .await
        .assert_detail(401, &invalid);
    }
    app.delete(&format!("/agent_api_keys/{}", gh["id"].as_str().unwrap()))
        .await;
    for _ in 0..8 {
        app.forward(
            Method::POST,
            "agent-a",
            "x",
            &[("x-hub-signature-256", &signature)],
            body.clone(),
        )
        .await
        .assert_detail(404, "No API key found for GitHub repository octo/hello.");
    }
    app.delete("/agents/name/agent-a").await;
    app.forward(
        Method::GET,
        "agent-a",
        "x",
        &[("x-agent-api-key", &value)],
        "",
    )
    .await
    .assert_detail(404, "Agent agent-a not found or has no ACP URL.");
    assert_eq!(upstream.received().len(), 16);
}

async fn unknown_keys_are_cached_misses_until_created(backend: Backend) {
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    let agent = app.register("agent-a", &upstream.url).await;
    let invalid = format!(
        "Invalid API key for agent ID {}.",
        agent["id"].as_str().unwrap()
    );
    for _ in 0..8 {
        app.forward(
            Method::GET,
            "agent-a",
            "x",
            &[("x-agent-api-key", "later-key")],
            "",
        )
        .await
        .assert_detail(401, &invalid);
        app.forward(
            Method::GET,
            "agent-b",
            "x",
            &[("x-agent-api-key", "later-key")],
            "",
        )
        .await
        .assert_detail(404, "Agent agent-b not found or has no ACP URL.");
    }
    app.create_key("agent-a", "k", "external", Some("later-key"))
        .await;
    app.register("agent-b", &upstream.url).await;
    app.create_key("agent-b", "k", "external", Some("later-key"))
        .await;
    for agent in ["agent-a", "agent-b"] {
        let reply = app
            .forward(
                Method::GET,
                agent,
                "x",
                &[("x-agent-api-key", "later-key")],
                "",
            )
            .await;
        assert_eq!(reply.status, 200, "{agent}: {}", reply.text());
    }
}

async fn call(app: &TestApp, key: &str) -> u16 {
    app.forward(Method::GET, "agent-a", "x", &[("x-agent-api-key", key)], "")
        .await
        .status
        .as_u16()
}

/// Calls `probe` until it gives `want` (bounded); returns how long that took.
async fn time_until(want: u16, probe: impl AsyncFn() -> u16) -> Duration {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if probe().await == want {
            return start.elapsed();
        }
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never answered {want}");
}

#[actix_rt::test]
async fn a_second_instance_follows_deletes_and_creates_within_a_second() {
    let Some(backend) = Backend::postgres() else {
        eprintln!("HOOKGATE_TEST_POSTGRES_URL unset: two-instance cache test skipped");
        return;
    };
    let one = spawn_app(backend).await;
    let two = spawn_app_on(TestDb::shared(&one.db.url), |_| {}).await;
    let upstream = Upstream::start().await;
    one.register("agent-a", &upstream.url).await;
    let key = one.create_key("agent-a", "k", "external", None).await;
    let value = key["api_key"].as_str().unwrap().to_owned();
    // The second instance starts caching once it listens; warm it.
    time_until(200, || call(&two, &value)).await;
    for _ in 0..8 {
        assert_eq!(call(&two, &value).await, 200);
    }
    one.delete(&format!("/agent_api_keys/{}", key["id"].as_str().unwrap()))
        .await;
    assert_eq!(
        call(&one, &value).await,
        401,
        "at once where it was deleted"
    );
    let took = time_until(401, || call(&two, &value)).await;
    assert!(
        took <= Duration::from_secs(1),
        "the second instance refused it after {took:?}"
    );
    for _ in 0..8 {
        assert_eq!(call(&two, &value).await, 401, "and never accepts it again");
    }
    // A cached miss on the second instance ends as soon as the key exists.
    assert_eq!(call(&two, "new-key").await, 401);
    one.create_key("agent-a", "k2", "external", Some("new-key"))
        .await;
    let took = time_until(200, || call(&two, "new-key")).await;
    assert!(
        took <= Duration::from_secs(1),
        "the new key worked on the second instance after {took:?}"
    );
}
