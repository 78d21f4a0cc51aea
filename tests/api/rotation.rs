//! `POST /agent_api_keys/{id}/rotate`: the new value verifies at once, the
//! old ones until their expiry and not a moment after.

use crate::helpers::*;
use crate::vectors::{self, with};
use actix_web::http::Method;
use serde_json::{json, Value};
use std::time::Duration;

db_tests!(
    rotated_github_secrets_overlap_until_expiry,
    rotated_external_keys_and_stripe_secrets_overlap,
    rotation_refusals,
);

async fn rotate(app: &TestApp, id: &str, body: Value) -> Reply {
    app.post_json(&format!("/agent_api_keys/{id}/rotate"), body)
        .await
}

async fn rotated_github_secrets_overlap_until_expiry(backend: Backend) {
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    app.register("agent-a", &upstream.url).await;
    let created = app
        .create_key("agent-a", "octo/app", "github", Some("first"))
        .await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(github_status(&app, "first").await, 200);

    let second = rotate(&app, id, json!({"api_key": "second"})).await;
    assert_eq!(second.status, 200, "{}", second.text());
    let answer = second.json();
    assert_eq!(answer["api_key"], "second");
    assert_eq!(answer["id"], id, "the key keeps its id");
    let expires: chrono::DateTime<chrono::Utc> = answer["previous_expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let in_a_day = chrono::Utc::now() + chrono::Duration::hours(24);
    assert!(
        (expires - in_a_day).num_seconds().abs() < 60,
        "24 h by default: {expires}"
    );
    assert_eq!(
        github_status(&app, "first").await,
        200,
        "the old secret still verifies"
    );
    assert_eq!(
        github_status(&app, "second").await,
        200,
        "the new one verifies at once"
    );
    assert_eq!(github_status(&app, "other").await, 401);

    // A short overlap: the old secrets stop when it ends, even while cached.
    let third = rotate(&app, id, json!({"api_key": "third", "expires_in_secs": 1})).await;
    assert_eq!(third.status, 200, "{}", third.text());
    assert_eq!(github_status(&app, "first").await, 200);
    assert_eq!(github_status(&app, "second").await, 200);
    assert_eq!(github_status(&app, "third").await, 200);
    actix_rt::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(github_status(&app, "first").await, 401, "expired");
    assert_eq!(github_status(&app, "second").await, 401, "expired");
    assert_eq!(github_status(&app, "third").await, 200);

    // 0 ends the old ones at once.
    let fourth = rotate(&app, id, json!({"api_key": "fourth", "expires_in_secs": 0})).await;
    assert_eq!(fourth.status, 200, "{}", fourth.text());
    assert_eq!(github_status(&app, "third").await, 401);
    assert_eq!(github_status(&app, "fourth").await, 200);
    let listed = app.get("/agent_api_keys?agent_name=agent-a").await.json();
    assert_eq!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["api_key_type"] == "github")
            .count(),
        1
    );
    assert!(!listed.to_string().contains("fourth"), "no value is listed");
}

async fn rotated_external_keys_and_stripe_secrets_overlap(backend: Backend) {
    vectors::ready();
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    app.register("agent-a", &upstream.url).await;
    let created = app.create_key("agent-a", "caller", "external", None).await;
    let old = created["api_key"].as_str().unwrap().to_owned();
    let rotated = rotate(&app, created["id"].as_str().unwrap(), json!({})).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text());
    let new = rotated.json()["api_key"].as_str().unwrap().to_owned();
    assert_ne!(old, new);
    assert_eq!(new.len(), 64, "generated like a new key");
    for key in [&old, &new] {
        let reply = app
            .forward(
                Method::POST,
                "agent-a",
                "x",
                &[("x-agent-api-key", key.as_str())],
                "{}",
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    // An empty body is a rotation with the defaults too.
    let again = app
        .call(
            Method::POST,
            &format!("/agent_api_keys/{}/rotate", created["id"].as_str().unwrap()),
            &[],
            bytes::Bytes::new(),
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.text());

    let stripe = app
        .create_key("agent-a", "payments", "stripe", Some("whsec_old_secret"))
        .await;
    let rotated = rotate(
        &app,
        stripe["id"].as_str().unwrap(),
        json!({"api_key": "whsec_new_secret"}),
    )
    .await;
    assert_eq!(rotated.status, 200, "{}", rotated.text());
    let body = json!({"id": "evt_rot", "object": "event"}).to_string();
    for secret in ["whsec_old_secret", "whsec_new_secret"] {
        let signed = vectors::sign("stripe", secret, &body, chrono::Utc::now().timestamp(), "");
        let reply = app
            .forward(
                Method::POST,
                "agent-a",
                "x",
                &with(&signed, &[]),
                body.clone(),
            )
            .await;
        assert_eq!(reply.status, 200, "{secret}: {}", reply.text());
    }
}

async fn rotation_refusals(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("agent-a", "http://127.0.0.1:9").await;
    let created = app.create_key("agent-a", "caller", "external", None).await;
    let id = created["id"].as_str().unwrap();
    let negative = rotate(&app, id, json!({"expires_in_secs": -1})).await;
    assert_eq!(negative.status, 422);
    assert!(negative.json()["message"]
        .as_str()
        .unwrap()
        .contains("'expires_in_secs'"));
    let unknown = rotate(&app, id, json!({"expire_in_secs": 5})).await;
    assert_eq!(unknown.status, 422, "a misspelt field is not ignored");
    assert!(unknown.json()["message"]
        .as_str()
        .unwrap()
        .contains("expire_in_secs"));
    let empty = rotate(&app, id, json!({"api_key": ""})).await;
    assert_eq!(empty.status, 422);
    let missing = rotate(&app, "no-such-key", json!({})).await;
    assert_eq!(missing.status, 404);
    assert!(missing.json()["message"]
        .as_str()
        .unwrap()
        .contains("does not exist"));
    let keys = app.get("/agent_api_keys?agent_name=agent-a").await.json();
    let internal = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["api_key_type"] == "internal")
        .unwrap();
    let refused = rotate(&app, internal["id"].as_str().unwrap(), json!({})).await;
    assert_eq!(refused.status, 422);
    // Nothing above changed a stored value: the original key still verifies alone.
    let upstream = Upstream::start().await;
    app.post_json(
        "/agents/register",
        json!({"name": "agent-a", "acp_url": upstream.url, "acp_type": "async"}),
    )
    .await;
    let reply = app
        .forward(
            Method::POST,
            "agent-a",
            "x",
            &[("x-agent-api-key", created["api_key"].as_str().unwrap())],
            "{}",
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}
