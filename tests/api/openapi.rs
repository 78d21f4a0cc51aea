//! `/openapi.json`, `/providers`, `/healthz`, `/readyz`.

use crate::helpers::*;

db_tests!(
    openapi_documents_every_route,
    providers_list_the_registry,
    health_and_readiness_answer
);

async fn openapi_documents_every_route(backend: Backend) {
    let app = spawn_app(backend).await;
    let reply = app.get("/openapi.json").await;
    assert_eq!(reply.status, 200);
    let doc = reply.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    let expected = [
        ("/agents/register", "post"),
        ("/agents", "get"),
        ("/agents/{id}", "get"),
        ("/agents/{id}", "delete"),
        ("/agents/name/{name}", "get"),
        ("/agents/name/{name}", "delete"),
        ("/agent_api_keys", "post"),
        ("/agent_api_keys", "get"),
        ("/agent_api_keys/{id}", "get"),
        ("/agent_api_keys/{id}", "delete"),
        ("/agent_api_keys/name/{name}", "get"),
        ("/agent_api_keys/name/{name}", "delete"),
        ("/agent_api_keys/webhook-trigger", "post"),
        ("/agents/forward/name/{agent_name}/{path}", "patch"),
        ("/healthz", "get"),
        ("/readyz", "get"),
    ];
    for (path, method) in expected {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing"
        );
    }
    let mut ids: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|ops| ops.as_object().unwrap().values())
        .filter_map(|op| op["operationId"].as_str())
        .collect();
    let count = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), count, "operationIds are unique");
}

async fn health_and_readiness_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.get("/healthz").await.status, 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json()["status"], "ready");
}

/// `GET /providers` is the registry itself: every key type a key may have
/// (but hookgate's internal one), in matching order, with what each reads.
async fn providers_list_the_registry(backend: Backend) {
    let app = spawn_app(backend).await;
    let listed = app.get("/providers").await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    let listed = listed.json();
    let providers = listed.as_array().unwrap();
    let kinds: Vec<&str> = providers
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = hookgate::verify::providers::PROVIDERS
        .iter()
        .map(|p| p.descriptor().kind.as_str())
        .collect();
    assert_eq!(kinds, expected);
    let of = |kind: &str| providers.iter().find(|p| p["kind"] == kind).unwrap();
    assert_eq!(of("github")["conversation"], true);
    assert_eq!(of("github")["handshakes"], true);
    assert_eq!(
        of("github")["selected_by"],
        serde_json::json!(["x-hub-signature-256"])
    );
    assert_eq!(of("standard_webhooks")["conversation"], false);
    assert_eq!(
        of("slack")["reads"],
        serde_json::json!(["x-slack-request-timestamp"])
    );
    assert_eq!(of("discord")["secret"], "public_key");
    assert_eq!(of("external")["secret"], "not_a_trigger");
    let doc = app.get("/openapi.json").await.json();
    assert!(doc["paths"]["/providers"]["get"].is_object());
}
