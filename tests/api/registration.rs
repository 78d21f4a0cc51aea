//! Open registration creates agents; it never hands a stranger an existing
//! one (issue 11): changing an agent needs the admin token or the agent's
//! own key, as the Agentex SDK sends it when it registers again.

use crate::helpers::*;
use actix_web::http::Method;
use hookgate::domain::Secret;
use serde_json::{json, Value};

db_tests!(
    a_stranger_cannot_take_over_a_registered_agent,
    an_agent_registers_again_with_its_own_key,
    without_open_registration_an_agent_key_only_renews_its_own_agent
);

const TOKEN: &str = "an-admin-token-of-forty-characters-xxxxx";

async fn open_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| {
        s.admin_token = Some(Secret::new(TOKEN.into()));
        s.open_registration = true;
    })
    .await
}

/// `POST /agents/register` as a caller without the admin token.
async fn register_as_stranger(app: &TestApp, body: Value, headers: &[(&str, &str)]) -> Reply {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    app.send(
        Method::POST,
        &app.url("/agents/register"),
        &all,
        body.to_string().into(),
    )
    .await
}

async fn a_stranger_cannot_take_over_a_registered_agent(backend: Backend) {
    let app = open_app(backend).await;
    let owner = app.register("victim", "http://127.0.0.1:7001").await;
    let before = app.get("/agents/name/victim").await.json();
    let takeover = json!({"name": "victim", "acp_url": "http://127.0.0.1:6666"});
    let wrong_key = "0".repeat(64);
    for headers in [vec![], vec![("x-agent-api-key", wrong_key.as_str())]] {
        let reply = register_as_stranger(&app, takeover.clone(), &headers).await;
        let expected = if headers.is_empty() { 409 } else { 401 };
        assert_eq!(reply.status, expected, "{headers:?}: {}", reply.text());
        let body = reply.json();
        assert!(
            body.get("agent_api_key").is_none(),
            "no key returned: {body}"
        );
        let message = body["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("victim"),
            "the message names the agent: {message}"
        );
        assert!(
            message.contains("x-agent-api-key"),
            "and the way in: {message}"
        );
    }
    let after = app.get("/agents/name/victim").await.json();
    assert_eq!(after, before, "the agent is unchanged");
    assert_ne!(owner["agent_api_key"], Value::Null);
    // A new name is still open to anyone; the admin may change any agent.
    let fresh = register_as_stranger(
        &app,
        json!({"name": "newcomer", "acp_url": "http://127.0.0.1:7002"}),
        &[],
    )
    .await;
    assert_eq!(fresh.status, 200, "{}", fresh.text());
    assert!(fresh.json()["agent_api_key"].as_str().is_some());
    let moved = app.register("victim", "http://127.0.0.1:7003").await;
    assert_eq!(moved["acp_url"], "http://127.0.0.1:7003");
    assert_eq!(moved["agent_api_key"], owner["agent_api_key"]);
}

async fn an_agent_registers_again_with_its_own_key(backend: Backend) {
    let app = open_app(backend).await;
    let first = register_as_stranger(
        &app,
        json!({"name": "sdk-agent", "acp_url": "http://127.0.0.1:7001"}),
        &[],
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.text());
    let key = first.json()["agent_api_key"].as_str().unwrap().to_owned();
    // A restart: the SDK registers again with AGENT_API_KEY in x-agent-api-key.
    let again = register_as_stranger(
        &app,
        json!({"name": "sdk-agent", "acp_url": "http://127.0.0.1:7009", "description": "v2"}),
        &[("x-agent-api-key", &key)],
    )
    .await;
    assert_eq!(again.status, 200, "{}", again.text());
    let again = again.json();
    assert_eq!(again["agent_api_key"], key.as_str(), "the same key");
    assert_eq!(again["id"], first.json()["id"]);
    let stored = app.get("/agents/name/sdk-agent").await.json();
    assert_eq!(stored["acp_url"], "http://127.0.0.1:7009");
    assert_eq!(stored["description"], "v2");
}

/// With the admin token set and registration closed, the admin creates the
/// agent; the agent itself may register again with its key (SDK restarts),
/// and a key opens nothing else.
async fn without_open_registration_an_agent_key_only_renews_its_own_agent(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.admin_token = Some(Secret::new(TOKEN.into()))).await;
    let first = app.register("sdk-agent", "http://127.0.0.1:7001").await;
    let key = first["agent_api_key"].as_str().unwrap().to_owned();
    let body = |name: &str| json!({"name": name, "acp_url": "http://127.0.0.1:7002"});
    let again = register_as_stranger(&app, body("sdk-agent"), &[("x-agent-api-key", &key)]).await;
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(again.json()["agent_api_key"], key.as_str());
    let wrong = "f".repeat(64);
    let refused = [
        (body("sdk-agent"), vec![("x-agent-api-key", wrong.as_str())]),
        (body("new-agent"), vec![("x-agent-api-key", key.as_str())]),
        (body("new-agent"), vec![]),
    ];
    for (request, headers) in refused {
        let reply = register_as_stranger(&app, request.clone(), &headers).await;
        assert_eq!(reply.status, 401, "{request} {headers:?}: {}", reply.text());
        assert!(reply.json().get("agent_api_key").is_none());
    }
    assert_eq!(app.get("/agents/name/new-agent").await.status, 404);
    let stored = app.get("/agents/name/sdk-agent").await.json();
    assert_eq!(stored["acp_url"], "http://127.0.0.1:7002");
}
