//! Discord interactions (issue 12): the first asymmetric provider. Calls
//! signed with Ed25519 by PyNaCl are verified with the application's public
//! key; a PING is answered PONG by hookgate only once it verified; each
//! wrong call gets its own 4xx and reaches nobody.

use crate::helpers::*;
use crate::signed_provider::SignedProvider;
use crate::vectors::{self, with};
use serde_json::json;

db_tests!(discord_interactions, discord_pings_and_public_keys);

/// Private key seeds (hex): the application's, and another.
const SEED: &str = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
const OTHER_SEED: &str = "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7";
const JSON: (&str, &str) = ("content-type", "application/json");

fn public_key(seed: &str) -> String {
    let answer = vectors::sign_with(json!({"provider": "discord_public_key", "secret": seed}));
    answer[0].1.clone()
}

fn sign_at(seed: &str, body: &str, timestamp: i64) -> Vec<(String, String)> {
    vectors::sign("discord", seed, body, timestamp, "")
}

async fn discord_interactions(backend: Backend) {
    vectors::ready();
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    app.register("agent-a", &upstream.url).await;
    let now = chrono::Utc::now().timestamp();
    let body = json!({"type": 2, "id": "1", "application_id": "42",
        "data": {"name": "deploy", "options": [{"name": "env", "value": "prod"}]}})
    .to_string();
    let public_key = public_key(SEED);
    let sign = |seed: &str, body: &str| sign_at(seed, body, now);
    SignedProvider {
        kind: "discord",
        stored: &public_key,
        signing: SEED,
        wrong_signing: OTHER_SEED,
        sign: &sign,
        extra: &[JSON],
        body: &body,
        altered: &body.replace("prod", "staging"),
        no_key: "No Discord key found for agent ID {agent}.",
        bad_signature: "Invalid Discord request signature",
    }
    .check(&app, &upstream)
    .await;

    let stale = sign_at(SEED, &body, now - 400);
    let bad_time = "Discord interaction request has bad timestamp.";
    refused(&app, &with(&stale, &[JSON]), &body, 400, bad_time).await;
    let untimed = vectors::without(&sign(SEED, &body), "x-signature-timestamp");
    let missing = "Missing X-Signature-Timestamp header.";
    refused(&app, &with(&untimed, &[JSON]), &body, 400, missing).await;
    assert_eq!(upstream.received().len(), 1, "refused calls reached nobody");
}

async fn discord_pings_and_public_keys(backend: Backend) {
    vectors::ready();
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    app.register("agent-a", &upstream.url).await;
    let without = json!({"agent_name": "agent-a", "name": "app", "api_key_type": "discord"});
    let refused_key = app.post_json("/agent_api_keys", without.clone()).await;
    assert_eq!(refused_key.status, 422, "{}", refused_key.text());
    assert!(
        refused_key.text().contains("Public Key"),
        "{}",
        refused_key.text()
    );
    let mut not_hex = without;
    not_hex["api_key"] = json!("not-a-public-key");
    assert_eq!(app.post_json("/agent_api_keys", not_hex).await.status, 422);
    app.create_key("agent-a", "app", "discord", Some(&public_key(SEED)))
        .await;

    let ping = json!({"type": 1, "id": "7", "application_id": "42"}).to_string();
    let now = chrono::Utc::now().timestamp();
    let forged = sign_at(OTHER_SEED, &ping, now);
    let bad = "Invalid Discord request signature";
    refused(&app, &with(&forged, &[JSON]), &ping, 401, bad).await;
    let signed = sign_at(SEED, &ping, now);
    let pong = app
        .forward(
            actix_web::http::Method::POST,
            "agent-a",
            "hook",
            &with(&signed, &[JSON]),
            ping,
        )
        .await;
    assert_eq!(pong.status, 200, "{}", pong.text());
    assert_eq!(pong.header("content-type"), Some("application/json"));
    assert_eq!(pong.json(), json!({"type": 1}));
    assert!(
        upstream.received().is_empty(),
        "hookgate answers the PING itself"
    );
}
