//! Zendesk webhooks (issue 12): a delivery signed as Zendesk's documentation
//! verifies it is forwarded; each wrong one, a stale or missing timestamp
//! included, gets its own 4xx and reaches nobody.

use crate::helpers::*;
use crate::signed_provider::SignedProvider;
use crate::vectors::{self, with};
use serde_json::json;

db_tests!(zendesk_deliveries);

const SECRET: &str = "zendesk-signing-secret";
const JSON: (&str, &str) = ("content-type", "application/json");

async fn zendesk_deliveries(backend: Backend) {
    vectors::ready();
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    app.register("agent-a", &upstream.url).await;
    let now = chrono::Utc::now().timestamp();
    let body = json!({"type": "zen:event-type:ticket.created", "id": "7",
        "detail": {"id": "35436", "subject": "Help"}})
    .to_string();
    let sign = |secret: &str, body: &str| vectors::sign("zendesk", secret, body, now, "");
    SignedProvider {
        kind: "zendesk",
        stored: SECRET,
        signing: SECRET,
        wrong_signing: "another-secret",
        sign: &sign,
        extra: &[JSON],
        body: &body,
        altered: &body.replace("Help", "Hello"),
        no_key: "No Zendesk key found for agent ID {agent}.",
        bad_signature: "Invalid Zendesk webhook signature",
    }
    .check(&app, &upstream)
    .await;

    let stale = vectors::sign("zendesk", SECRET, &body, now - 400, "");
    let bad_time = "Zendesk webhook request has bad timestamp.";
    refused(&app, &with(&stale, &[JSON]), &body, 400, bad_time).await;
    let header = "x-zendesk-webhook-signature-timestamp";
    let untimed = vectors::without(&sign(SECRET, &body), header);
    let missing = "Missing X-Zendesk-Webhook-Signature-Timestamp header.";
    refused(&app, &with(&untimed, &[JSON]), &body, 400, missing).await;
    assert_eq!(upstream.received().len(), 1, "refused calls reached nobody");
}
