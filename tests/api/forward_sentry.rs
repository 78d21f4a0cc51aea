//! Sentry's integration-platform webhooks (issue 12): a delivery signed as
//! Sentry's documentation verifies it is forwarded; each wrong one gets its
//! own 4xx and reaches nobody.

use crate::helpers::*;
use crate::signed_provider::SignedProvider;
use crate::vectors;
use serde_json::json;

db_tests!(sentry_deliveries, sentry_triggers_need_the_client_secret);

const SECRET: &str = "sentry-client-secret-0123456789abcdef";

async fn sentry_deliveries(backend: Backend) {
    vectors::ready(); // first, before any connection can sit idle meanwhile
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    app.register("agent-a", &upstream.url).await;
    let now = chrono::Utc::now().timestamp();
    let body = json!({"action": "created", "data": {"issue": {"id": "42"}}}).to_string();
    let sign = |secret: &str, body: &str| {
        let mut headers = vectors::sign("sentry", secret, body, now, "");
        headers.extend(
            [("sentry-hook-resource", "issue"), ("request-id", "r-1")]
                .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        headers
    };
    let delivered = SignedProvider {
        kind: "sentry",
        stored: SECRET,
        signing: SECRET,
        wrong_signing: "another-client-secret",
        sign: &sign,
        extra: &[],
        body: &body,
        altered: &body.replace("42", "43"),
        no_key: "No Sentry key found for agent ID {agent}.",
        bad_signature: "Invalid Sentry webhook signature",
    }
    .check(&app, &upstream)
    .await;
    assert_eq!(delivered.header("sentry-hook-resource"), Some("issue"));
}

async fn sentry_triggers_need_the_client_secret(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("agent-a", "http://127.0.0.1:9").await;
    let trigger = json!({"agent_name": "agent-a", "source": "sentry", "name": "org", "forward_path": "sentry"});
    let missing = app
        .post_json("/agent_api_keys/webhook-trigger", trigger.clone())
        .await;
    assert_eq!(missing.status, 400, "{}", missing.text());
    let message = missing.json()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("Client Secret"), "{message}");
    let mut given = trigger;
    given["secret"] = json!(SECRET);
    let made = app
        .post_json("/agent_api_keys/webhook-trigger", given)
        .await;
    assert_eq!(made.status, 200, "{}", made.text());
    assert_eq!(
        made.json()["webhook_path"],
        "/agents/forward/name/agent-a/sentry"
    );
}
