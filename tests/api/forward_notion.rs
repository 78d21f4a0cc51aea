//! Notion webhooks (issue 12): an event signed with the subscription's
//! verification token as Notion's documentation verifies it is forwarded;
//! each wrong one gets its own 4xx and reaches nobody.

use crate::helpers::*;
use crate::signed_provider::SignedProvider;
use crate::vectors;
use serde_json::json;

db_tests!(notion_deliveries);

const TOKEN: &str = "secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl";

async fn notion_deliveries(backend: Backend) {
    vectors::ready();
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    app.register("agent-a", &upstream.url).await;
    let body = json!({"id": "367cba44-b6f3-4c92-81e7-6a2e9659efd4", "type": "page.created",
        "entity": {"id": "153104cd-477e-809d-8dc4-ff2d96ae3090", "type": "page"}})
    .to_string();
    let sign = |token: &str, body: &str| vectors::sign("notion", token, body, 0, "");
    let delivered = SignedProvider {
        kind: "notion",
        stored: TOKEN,
        signing: TOKEN,
        wrong_signing: "secret_anotherVerificationToken",
        sign: &sign,
        extra: &[("content-type", "application/json")],
        body: &body,
        altered: &body.replace("page.created", "page.deleted"),
        no_key: "No Notion key found for agent ID {agent}.",
        bad_signature: "Invalid Notion webhook signature",
    }
    .check(&app, &upstream)
    .await;
    assert!(
        delivered.header("x-notion-signature").is_some(),
        "a signature is forwarded for the agent to check again"
    );
}
