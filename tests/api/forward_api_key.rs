//! Contract §3, steps 1 and 2: unknown agents, API keys, no authentication.

use crate::helpers::*;
use actix_web::http::Method;
use serde_json::json;

db_tests!(
    unknown_agent_or_missing_acp_url_is_404,
    api_key_header_and_agentkey_authorization_pass,
    wrong_or_foreign_keys_are_401_and_nothing_is_forwarded,
    deleted_keys_and_agents_stop_working_at_once,
    calls_without_credentials_are_403,
);

async fn unknown_agent_or_missing_acp_url_is_404(backend: Backend) {
    let app = spawn_app(backend).await;
    let reply = app
        .forward(
            Method::POST,
            "ghost",
            "x",
            &[("x-agent-api-key", "k")],
            "{}",
        )
        .await;
    reply.assert_detail(404, "Agent ghost not found or has no ACP URL.");
    // An agent with no address can no longer be registered (issue 30).
    let no_url = app
        .post_json(
            "/agents/register",
            json!({"name": "no-url", "acp_type": "async"}),
        )
        .await;
    assert_eq!(no_url.status, 422, "{}", no_url.text());
    let reply = app.forward(Method::GET, "no-url", "x", &[], "").await;
    reply.assert_detail(404, "Agent no-url not found or has no ACP URL.");
}

async fn api_key_header_and_agentkey_authorization_pass(backend: Backend) {
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    let key = agent_with_key(&app, "agent-a", &upstream).await;
    let via_header = app
        .forward(
            Method::POST,
            "agent-a",
            "hook",
            &[("x-agent-api-key", &key)],
            "{\"a\":1}",
        )
        .await;
    assert_eq!(via_header.status, 200, "{}", via_header.text());
    assert_eq!(via_header.json()["received"], "/hook");
    for scheme in ["AgentKey", "agentkey", "AGENTKEY"] {
        let auth = format!("{scheme} {key}");
        let reply = app
            .forward(
                Method::POST,
                "agent-a",
                "hook",
                &[("authorization", &auth)],
                "{}",
            )
            .await;
        assert_eq!(reply.status, 200, "{scheme}: {}", reply.text());
    }
    assert_eq!(upstream.received().len(), 4);
}

async fn wrong_or_foreign_keys_are_401_and_nothing_is_forwarded(backend: Backend) {
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    let agent = app.register("agent-a", &upstream.url).await;
    app.create_key("agent-a", "k", "external", None).await;
    let other_key = agent_with_key(&app, "agent-b", &upstream).await;
    let expected = format!(
        "Invalid API key for agent ID {}.",
        agent["id"].as_str().unwrap()
    );

    app.forward(
        Method::POST,
        "agent-a",
        "x",
        &[("x-agent-api-key", "wrong")],
        "{}",
    )
    .await
    .assert_detail(401, &expected);
    // Another agent's valid key is no key for this one.
    app.forward(
        Method::POST,
        "agent-a",
        "x",
        &[("x-agent-api-key", &other_key)],
        "{}",
    )
    .await
    .assert_detail(401, &expected);
    let auth = "AgentKey wrong";
    app.forward(
        Method::POST,
        "agent-a",
        "x",
        &[("authorization", auth)],
        "{}",
    )
    .await
    .assert_detail(401, &expected);
    // The internal key is not an external key.
    let internal = agent["agent_api_key"].as_str().unwrap();
    app.forward(
        Method::POST,
        "agent-a",
        "x",
        &[("x-agent-api-key", internal)],
        "{}",
    )
    .await
    .assert_detail(401, &expected);
    // The API-key rule wins over a (valid-looking) GitHub signature.
    app.forward(
        Method::POST,
        "agent-a",
        "x",
        &[
            ("x-agent-api-key", "wrong"),
            ("x-hub-signature-256", "sha256=00"),
        ],
        "{}",
    )
    .await
    .assert_detail(401, &expected);
    assert!(upstream.received().is_empty());
}

async fn deleted_keys_and_agents_stop_working_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    let agent = app.register("agent-a", &upstream.url).await;
    let created = app.create_key("agent-a", "k", "external", None).await;
    let key = created["api_key"].as_str().unwrap();
    let headers = [("x-agent-api-key", key)];
    assert_eq!(
        app.forward(Method::GET, "agent-a", "x", &headers, "")
            .await
            .status,
        200
    );
    let deleted = app
        .delete(&format!(
            "/agent_api_keys/{}",
            created["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(deleted.status, 200);
    let expected = format!(
        "Invalid API key for agent ID {}.",
        agent["id"].as_str().unwrap()
    );
    app.forward(Method::GET, "agent-a", "x", &headers, "")
        .await
        .assert_detail(401, &expected);

    let again = app.create_key("agent-a", "k", "external", Some(key)).await;
    assert_eq!(again["api_key"], key);
    assert_eq!(
        app.forward(Method::GET, "agent-a", "x", &headers, "")
            .await
            .status,
        200
    );
    assert_eq!(app.delete("/agents/name/agent-a").await.status, 200);
    app.forward(Method::GET, "agent-a", "x", &headers, "")
        .await
        .assert_detail(404, "Agent agent-a not found or has no ACP URL.");
    assert_eq!(upstream.received().len(), 2);
}

async fn calls_without_credentials_are_403(backend: Backend) {
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    agent_with_key(&app, "agent-a", &upstream).await;
    let detail = "Missing authentication for forward request.";
    app.forward(Method::POST, "agent-a", "x", &[], "{}")
        .await
        .assert_detail(403, detail);
    app.forward(
        Method::POST,
        "agent-a",
        "x",
        &[("authorization", "Bearer abc")],
        "{}",
    )
    .await
    .assert_detail(403, detail);
    app.forward(
        Method::POST,
        "agent-a",
        "x",
        &[("x-slack-request-timestamp", "1")],
        "{}",
    )
    .await
    .assert_detail(403, detail);
    assert!(upstream.received().is_empty());
}
