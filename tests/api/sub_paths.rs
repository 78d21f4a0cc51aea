//! One canonical forward sub-path (issue 26): a route's filter and redaction
//! hold however its path is spelled, and no spelling reaches the agent
//! above its base. Written as the attacker calls: a captured, validly signed
//! GitHub payload replayed to other spellings of the route's path.

use crate::helpers::*;
use actix_web::http::Method;
use hookgate::verify::providers::github;
use serde_json::{json, Value};

db_tests!(
    every_spelling_of_a_route_path_is_filtered_and_redacted,
    paths_without_a_canonical_form_are_refused_before_the_agent,
    route_paths_are_stored_in_the_canonical_form
);

const SECRET: &str = "gh-webhook-secret";

/// Spellings of `gh` a server may take as `gh` (the first is `gh` itself).
const SPELLINGS: [&str; 10] = [
    "gh",
    "./gh",
    "x/../gh",
    "%2e/gh",
    "%2E/gh",
    "%67h",
    "%67%68",
    "/gh",
    "x/%2e%2e/gh",
    "gh/.",
];

/// Agent `a` at `{upstream}/base` with a GitHub key and a forward route
/// `gh` that lets only `pull_request` through and removes `body.secret`.
async fn filtered_route(app: &TestApp, upstream: &Upstream) {
    app.register("a", &format!("{}/base", upstream.url)).await;
    app.create_key("a", "octo/hello", "github", Some(SECRET))
        .await;
    let route = app
        .post_json(
            "/agent_routes",
            json!({"agent_name": "a", "path": "gh", "mode": "forward",
                   "filter": [{"field": "header.x-github-event", "in": ["pull_request"]}],
                   "redact": ["body.secret"]}),
        )
        .await;
    assert_eq!(route.status, 200, "{}", route.text());
}

/// A GitHub call of `event` to `/agents/forward/name/a/{spelling}`.
async fn send(app: &TestApp, spelling: &str, event: &str, body: &Value) -> Reply {
    let body = body.to_string();
    let signature = github::sign(SECRET.as_bytes(), body.as_bytes());
    let headers = [
        ("x-hub-signature-256", signature.as_str()),
        ("x-github-event", event),
        ("content-type", "application/json"),
    ];
    app.forward(Method::POST, "a", spelling, &headers, body)
        .await
}

async fn every_spelling_of_a_route_path_is_filtered_and_redacted(backend: Backend) {
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    filtered_route(&app, &upstream).await;
    let body = json!({"repository": {"full_name": "octo/hello"}, "secret": "hunter2",
                      "pull_request": {"number": 7}});
    for spelling in SPELLINGS {
        let push = send(&app, spelling, "push", &body).await;
        assert_eq!(push.status, 200, "{spelling}: {}", push.text());
        assert_eq!(push.json()["ignored"], true, "{spelling}: {}", push.text());
        assert_eq!(push.json()["reason"], "filter", "{spelling}");
    }
    assert!(
        upstream.received().is_empty(),
        "a filtered push reached the agent: {:?}",
        upstream.received()
    );
    for spelling in SPELLINGS {
        let pr = send(&app, spelling, "pull_request", &body).await;
        assert_eq!(pr.status, 200, "{spelling}: {}", pr.text());
    }
    let received = upstream.received();
    assert_eq!(received.len(), SPELLINGS.len());
    for (spelling, call) in SPELLINGS.iter().zip(&received) {
        let expected = match spelling.ends_with('.') {
            true => "/base/gh/",
            false => "/base/gh",
        };
        assert_eq!(
            call.uri, expected,
            "{spelling} reached the agent as {}",
            call.uri
        );
        let got: Value = serde_json::from_slice(&call.body).unwrap();
        assert!(got.get("secret").is_none(), "{spelling}: {got}");
        assert_eq!(got["pull_request"]["number"], 7, "{spelling}");
    }
}

async fn paths_without_a_canonical_form_are_refused_before_the_agent(backend: Backend) {
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    filtered_route(&app, &upstream).await;
    let body = json!({"repository": {"full_name": "octo/hello"}, "pull_request": {"number": 7}});
    for (spelling, named) in [
        ("../../../escape", "climbs above"),
        ("x/../../escape", "climbs above"),
        ("..", "climbs above"),
        ("%2e%2e/escape", "climbs above"),
        ("a%2fb", "encoded '/'"),
        ("a%2F..%2F..%2Fescape", "encoded '/'"),
        ("a%5c..%5cescape", "encoded '/'"),
        ("gh%00", "control character"),
        ("gh%0d%0aX-Injected:%201", "control character"),
        ("gh%zz", "'%'"),
    ] {
        let reply = send(&app, spelling, "pull_request", &body).await;
        assert_eq!(reply.status, 400, "{spelling}: {}", reply.text());
        let detail = reply.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(detail.contains(named), "{spelling}: {detail}");
    }
    // A path that climbs but stays inside the base is fine.
    let inside = send(&app, "x/y/../../other", "pull_request", &body).await;
    assert_eq!(inside.status, 200, "{}", inside.text());
    assert_eq!(upstream.single().uri, "/base/other");
}

async fn route_paths_are_stored_in_the_canonical_form(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("a", "http://127.0.0.1:9/base").await;
    for (given, stored) in [
        ("%67h", "gh"),
        ("x/../vcs/*", "vcs/*"),
        ("./chat//slack", "chat/slack"),
    ] {
        let route = forward_route(&app, given).await;
        assert_eq!(route.status, 200, "{given}: {}", route.text());
        assert_eq!(route.json()["path"], stored, "{given}");
    }
    for refused in ["../up", "a%2fb", "a%00", "vcs/%2A"] {
        let route = forward_route(&app, refused).await;
        assert_eq!(route.status, 422, "{refused}: {}", route.text());
        assert!(route.text().contains("'path'"), "{}", route.text());
    }
}

async fn forward_route(app: &TestApp, path: &str) -> Reply {
    let route = json!({"agent_name": "a", "path": path, "mode": "forward"});
    app.post_json("/agent_routes", route).await
}
