//! Notion webhooks: `X-Notion-Signature: sha256=<hex HMAC-SHA256(verification
//! token, body)>` (<https://developers.notion.com/reference/webhooks>). The
//! subscription's `verification_token`, which Notion sends once when the
//! subscription is made, signs every later call; each event's `id` marks a
//! redelivery.

use crate::domain::{KeyKind, KeyLookup, TimedSecret};
use crate::verify::described::ConversationRule;
use crate::verify::hmac_sha256;
use crate::verify::provider::{
    body_redelivery_id, Descriptor, Messages, Provider, Reading, SecretSource,
};
use crate::verify::sample::{self, Sample, SampleRequest};
use actix_web::http::header::HeaderMap;
use serde_json::json;
use serde_json::Value;

pub const SIGNATURE_HEADER: &str = "x-notion-signature";

pub static DESCRIPTOR: Descriptor = Descriptor {
    kind: KeyKind::new("notion", KeyLookup::AllOfType),
    selected_by: &[SIGNATURE_HEADER],
    selected_by_prefix: "",
    credential_headers: &[],
    signature_headers: &[SIGNATURE_HEADER],
    event_headers: &[],
    reads: &[],
    secret: SecretSource::ProviderMade {
        found_in: "the verification_token Notion sends when the subscription is made",
    },
    redelivery_headers: &[],
    redelivery_prefix: "notion",
    actors: &[],
    bots: &[],
    conversation: &[ConversationRule {
        when: None,
        key: "notion:{body.workspace_id}/{body.data.page_id|body.entity.id}",
    }],
    handshakes: &[],
    messages: Messages {
        no_key: "No Notion key found for agent ID {agent}.",
        bad_signature: "Invalid Notion webhook signature",
    },
    tolerance: None,
};

#[derive(Debug)]
pub struct Notion;

impl Provider for Notion {
    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    fn sample(&self, request: &SampleRequest<'_>) -> Option<Sample> {
        let body = request.json_body(json!({
            "id": sample::delivery_id(), "type": "page.created",
            "entity": {"id": sample::delivery_id(), "type": "page"},
        }));
        let tag = hmac_sha256::sign_hex(request.secret(), &[&body]);
        let headers = [(SIGNATURE_HEADER, format!("sha256={tag}"))];
        Some(request.json_call(body, &headers))
    }

    fn signed_by(&self, reading: &Reading, body: &[u8], key: &TimedSecret) -> bool {
        check_signature(key.secret.expose().as_bytes(), body, reading.credential())
    }

    /// Each event carries its id in the body.
    fn redelivery_id(&self, headers: &HeaderMap, body: Option<&Value>) -> Option<String> {
        body_redelivery_id(self, headers, body, &["id"])
    }
}

/// True when `header` is `sha256=` + hex HMAC-SHA256(token, body).
pub fn check_signature(token: &[u8], body: &[u8], header: &str) -> bool {
    hmac_sha256::matches_prefixed_hex(token, &[body], "sha256=", header)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Python: "sha256=" + hmac.new(token, body, sha256).hexdigest(), as
    // Notion's documentation verifies it.
    const TOKEN: &[u8] = b"secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl";
    const BODY: &[u8] = br#"{"id":"367cba44-b6f3-4c92-81e7-6a2e9659efd4","type":"page.created"}"#;
    const SIGNATURE: &str =
        "sha256=b30b43ac8fa987d169cb3ee2425866b953d974456e21e4c6d4d9b18fee3249b4";

    #[test]
    fn checks_prefixed_hex_hmac_of_the_body() {
        assert!(check_signature(TOKEN, BODY, SIGNATURE));
        assert!(!check_signature(TOKEN, b"{}", SIGNATURE));
        assert!(!check_signature(b"secret_other", BODY, SIGNATURE));
        assert!(
            !check_signature(TOKEN, BODY, &SIGNATURE[7..]),
            "sha256= required"
        );
    }
}
