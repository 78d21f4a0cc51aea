//! `/openapi.json`, `/healthz`, `/readyz`.

use crate::helpers::*;

db_tests!(openapi_documents_every_route, health_and_readiness_answer);

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
