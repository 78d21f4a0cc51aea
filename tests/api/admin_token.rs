//! Contract §4: the admin token rule.

use crate::helpers::*;
use actix_web::http::Method;
use bytes::Bytes;
use hookgate::domain::Secret;
use serde_json::json;

db_tests!(
    admin_routes_need_the_token_when_set,
    open_registration_lets_agents_register
);

const TOKEN: &str = "admin-token-for-tests-0123456789abcdef";

async fn without_token(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let mut req = app.client.request(method, app.url(path));
    for (n, v) in headers {
        req = req.append_header((*n, *v));
    }
    req = req.content_type("application/json");
    let mut res = req
        .send_body(Bytes::from(
            json!({"name": "agent-x", "acp_url": "http://127.0.0.1:1"}).to_string(),
        ))
        .await
        .unwrap();
    let body = res.body().await.unwrap();
    Reply {
        status: res.status(),
        headers: res.headers().clone(),
        body,
    }
}

async fn admin_routes_need_the_token_when_set(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.admin_token = Some(Secret::new(TOKEN.into()))).await;
    let upstream = Upstream::start().await;
    // The helper sends x-api-key itself.
    let key = agent_with_key(&app, "agent-a", &upstream).await;
    let admin = [
        (Method::GET, "/agents"),
        (Method::GET, "/agents/name/agent-a"),
        (Method::POST, "/agents/register"),
        (Method::GET, "/agent_api_keys?agent_name=agent-a"),
        (Method::POST, "/agent_api_keys"),
        (Method::DELETE, "/agents/name/agent-a"),
    ];
    for (method, path) in admin.iter() {
        for headers in [
            vec![],
            vec![("x-api-key", "wrong")],
            vec![("authorization", "Bearer wrong")],
        ] {
            let reply = without_token(&app, method.clone(), path, &headers).await;
            assert_eq!(reply.status, 401, "{method} {path} {headers:?}");
            assert!(reply.json()["detail"].as_str().is_some());
        }
    }
    let bearer = format!("Bearer {TOKEN}");
    assert_eq!(
        without_token(&app, Method::GET, "/agents", &[("authorization", &bearer)])
            .await
            .status,
        200
    );
    assert_eq!(
        without_token(&app, Method::GET, "/agents", &[("x-api-key", TOKEN)])
            .await
            .status,
        200
    );
    assert_eq!(
        app.get("/agents").await.json().as_array().unwrap().len(),
        1,
        "refused calls changed nothing"
    );
    // Public routes need no token.
    for path in ["/healthz", "/readyz", "/openapi.json"] {
        assert_eq!(
            without_token(&app, Method::GET, path, &[]).await.status,
            200,
            "{path}"
        );
    }
    let forwarded = without_token(
        &app,
        Method::POST,
        "/agents/forward/name/agent-a/x",
        &[("x-agent-api-key", &key)],
    )
    .await;
    assert_eq!(forwarded.status, 200);
    assert_eq!(upstream.received().len(), 1);
}

async fn open_registration_lets_agents_register(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.admin_token = Some(Secret::new(TOKEN.into()));
        s.open_registration = true;
    })
    .await;
    let registered = without_token(&app, Method::POST, "/agents/register", &[]).await;
    assert_eq!(registered.status, 200, "{}", registered.text());
    assert_eq!(registered.json()["name"], "agent-x");
    assert_eq!(
        without_token(&app, Method::GET, "/agents", &[])
            .await
            .status,
        401
    );
}
