//! Intercom webhooks (issue 12): a notification signed as Intercom's
//! documentation verifies it is forwarded; each wrong one gets its own 4xx
//! and reaches nobody. (`X-Hub-Signature` is shared with generic `hmac`
//! keys: `forward_providers::generic_hmac_deliveries` keeps passing with
//! one on it.)

use crate::helpers::*;
use crate::signed_provider::SignedProvider;
use crate::vectors;
use serde_json::json;

db_tests!(intercom_deliveries);

const SECRET: &str = "intercom-client-secret";

async fn intercom_deliveries(backend: Backend) {
    vectors::ready();
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    app.register("agent-a", &upstream.url).await;
    let body = json!({"type": "notification_event", "id": "notif_ccd8a4d0",
        "topic": "conversation.user.created", "data": {"item": {"id": "147"}}})
    .to_string();
    let sign = |secret: &str, body: &str| vectors::sign("intercom", secret, body, 0, "");
    SignedProvider {
        kind: "intercom",
        stored: SECRET,
        signing: SECRET,
        wrong_signing: "another-client-secret",
        sign: &sign,
        extra: &[("content-type", "application/json")],
        body: &body,
        altered: &body.replace("147", "148"),
        no_key: "No Intercom key found for agent ID {agent}.",
        bad_signature: "Invalid Intercom webhook signature",
    }
    .check(&app, &upstream)
    .await;
}
