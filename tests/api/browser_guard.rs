//! A web page in the operator's browser cannot drive the admin API
//! (issue 11): cross-site requests, form and text bodies, and DNS
//! rebinding (a page's own name resolving to 127.0.0.1) are refused, and
//! change nothing. Written as a page would send them.

use crate::helpers::*;
use actix_web::http::Method;
use serde_json::json;

db_tests!(
    cross_site_requests_are_refused,
    a_rebound_name_cannot_reach_the_tokenless_admin_api
);

fn register_body() -> String {
    json!({"name": "planted", "acp_url": "http://127.0.0.1:6666"}).to_string()
}

async fn nothing_registered(app: &TestApp) {
    let agents = app.get("/agents").await.json();
    assert_eq!(agents.as_array().map(Vec::len), Some(0), "{agents}");
}

async fn cross_site_requests_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = app.url("/agents/register");
    let attacks: [&[(&str, &str)]; 4] = [
        // A fetch() with a "simple" content type: no preflight.
        &[
            ("origin", "http://evil.example"),
            ("content-type", "text/plain"),
        ],
        // The same with a JSON type, had the page a way to send one.
        &[
            ("origin", "http://evil.example"),
            ("content-type", "application/json"),
        ],
        // A form post from a page whose Origin the browser hides.
        &[("content-type", "application/x-www-form-urlencoded")],
        &[
            ("sec-fetch-site", "cross-site"),
            ("content-type", "application/json"),
        ],
    ];
    for headers in attacks {
        let reply = app
            .send(Method::POST, &url, headers, register_body().into())
            .await;
        assert!(
            reply.status == 403 || reply.status == 415,
            "{headers:?}: {} {}",
            reply.status,
            reply.text()
        );
        assert!(reply.json()["detail"]
            .as_str()
            .is_some_and(|d| !d.is_empty()));
    }
    let no_type = app
        .send(Method::POST, &url, &[], register_body().into())
        .await;
    assert_eq!(no_type.status, 415, "{}", no_type.text());
    nothing_registered(&app).await;
    // Its own origin, as the dashboard would send it, is served.
    let own = app.url("");
    let reply = app
        .send(
            Method::POST,
            &url,
            &[
                ("origin", own.as_str()),
                ("content-type", "application/json"),
            ],
            register_body().into(),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

async fn a_rebound_name_cannot_reach_the_tokenless_admin_api(backend: Backend) {
    let app = spawn_app(backend).await;
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    let rebound = format!("evil.example:{port}");
    let json_type = ("content-type", "application/json");
    for (method, path) in [(Method::POST, "/agents/register"), (Method::GET, "/agents")] {
        let reply = app
            .send(
                method.clone(),
                &app.url(path),
                &[("host", rebound.as_str()), json_type],
                register_body().into(),
            )
            .await;
        assert_eq!(reply.status, 403, "{method} {path}: {}", reply.text());
        assert!(
            reply.text().contains("HOOKGATE_ADMIN_TOKEN"),
            "{}",
            reply.text()
        );
    }
    nothing_registered(&app).await;
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let reply = app
            .send(
                Method::GET,
                &app.url("/agents"),
                &[("host", host.as_str())],
                "".into(),
            )
            .await;
        assert_eq!(reply.status, 200, "{host}");
    }
    // The forward route is for providers, under any name a tunnel gives it.
    let upstream = Upstream::start().await;
    let key = agent_with_key(&app, "agent-a", &upstream).await;
    let forwarded = app
        .send(
            Method::POST,
            &app.url("/agents/forward/name/agent-a/x"),
            &[
                ("host", "hooks.example.com"),
                ("x-agent-api-key", key.as_str()),
            ],
            "{}".into(),
        )
        .await;
    assert_eq!(forwarded.status, 200, "{}", forwarded.text());
}
