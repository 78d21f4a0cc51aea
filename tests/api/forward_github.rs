//! Contract §3: GitHub's `X-Hub-Signature-256`.

use crate::helpers::*;
use actix_web::http::Method;
use hookgate::verify::providers::github;
use serde_json::json;

db_tests!(
    signed_github_deliveries_reach_the_agent,
    github_refusals_follow_the_contract
);

const SECRET: &str = "gh-webhook-secret";

fn push_event(repo: &str) -> String {
    json!({"ref": "refs/heads/main", "repository": {"id": 1, "full_name": repo}, "pusher": {"name": "octocat"}})
        .to_string()
}

async fn signed_github_deliveries_reach_the_agent(backend: Backend) {
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    app.register("agent-a", &upstream.url).await;
    app.create_key("agent-a", "octo/hello", "github", Some(SECRET))
        .await;
    let body = push_event("octo/hello");
    let signature = github::sign(SECRET.as_bytes(), body.as_bytes());
    let headers = [
        ("x-hub-signature-256", signature.as_str()),
        ("x-github-event", "push"),
        ("x-github-delivery", "d-1"),
        ("content-type", "application/json"),
    ];
    let reply = app
        .forward(
            Method::POST,
            "agent-a",
            "code_changes",
            &headers,
            body.clone(),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let got = upstream.single();
    assert_eq!(got.uri, "/code_changes");
    assert_eq!(got.body, body.as_bytes());
    assert_eq!(got.header("x-github-event"), Some("push"));
    assert_eq!(
        got.header("x-hub-signature-256"),
        Some(signature.as_str()),
        "agents may re-verify"
    );
}

async fn github_refusals_follow_the_contract(backend: Backend) {
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    app.register("agent-a", &upstream.url).await;
    app.create_key("agent-a", "octo/hello", "github", Some(SECRET))
        .await;
    // Another agent's key for the same repository does not count here.
    app.register("agent-b", &upstream.url).await;
    app.create_key("agent-b", "octo/other", "github", Some(SECRET))
        .await;

    let sign = |body: &str| github::sign(SECRET.as_bytes(), body.as_bytes());
    let cases: Vec<(String, String, u16, String)> = vec![
        (
            String::new(),
            sign(""),
            400,
            "Empty payload in GitHub webhook.".into(),
        ),
        (
            "not json".into(),
            sign("not json"),
            400,
            "Failed to parse GitHub webhook payload as JSON.".into(),
        ),
        (
            "{\"zen\":\"hi\"}".into(),
            sign("{\"zen\":\"hi\"}"),
            400,
            "GitHub webhook payload missing repository info.".into(),
        ),
        (
            "{\"repository\":{\"id\":1}}".into(),
            sign("{\"repository\":{\"id\":1}}"),
            400,
            "GitHub webhook payload missing repository name.".into(),
        ),
        (
            push_event("octo/other"),
            sign(&push_event("octo/other")),
            404,
            "No API key found for GitHub repository octo/other.".into(),
        ),
        (
            push_event("octo/hello"),
            github::sign(b"wrong secret", push_event("octo/hello").as_bytes()),
            401,
            "Invalid GitHub webhook signature".into(),
        ),
        (
            push_event("octo/hello"),
            "sha256=zz".into(),
            401,
            "Invalid GitHub webhook signature".into(),
        ),
        (
            push_event("octo/hello"),
            sign(&push_event("octo/hello")).replace("sha256=", "sha1="),
            401,
            "Invalid GitHub webhook signature".into(),
        ),
    ];
    for (body, signature, status, detail) in cases {
        let reply = app
            .forward(
                Method::POST,
                "agent-a",
                "gh",
                &[("x-hub-signature-256", signature.as_str())],
                body,
            )
            .await;
        reply.assert_detail(status, &detail);
    }
    // A body altered after signing.
    let signed = push_event("octo/hello");
    let altered = signed.replace("octocat", "mallory");
    app.forward(
        Method::POST,
        "agent-a",
        "gh",
        &[("x-hub-signature-256", &sign(&signed))],
        altered,
    )
    .await
    .assert_detail(401, "Invalid GitHub webhook signature");
    assert!(
        upstream.received().is_empty(),
        "nothing refused reaches the agent"
    );
}
