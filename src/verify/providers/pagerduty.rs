//! PagerDuty webhooks (v3): `X-PagerDuty-Signature: v1=<hex HMAC-SHA256(secret,
//! body)>`, several comma-separated while a subscription's secret changes
//! (<https://developer.pagerduty.com/docs/webhooks/webhook-signatures/>).
//! The subscription's secret, shown once when it is made, signs every
//! call; the body's `event.id` marks a redelivery.

use crate::domain::{KeyKind, KeyLookup, TimedSecret};
use crate::verify::described::{ConversationRule, Match};
use crate::verify::hmac_sha256;
use crate::verify::provider::{
    body_redelivery_id, Descriptor, Messages, Provider, Reading, SecretSource,
};
use crate::verify::sample::{self, Sample, SampleRequest};
use actix_web::http::header::HeaderMap;
use serde_json::json;
use serde_json::Value;

pub const SIGNATURE_HEADER: &str = "x-pagerduty-signature";

pub static DESCRIPTOR: Descriptor = Descriptor {
    kind: KeyKind::new("pagerduty", KeyLookup::AllOfType),
    selected_by: &[SIGNATURE_HEADER],
    selected_by_prefix: "",
    credential_headers: &[],
    signature_headers: &[SIGNATURE_HEADER],
    event_headers: &[],
    reads: &[],
    secret: SecretSource::ProviderMade {
        found_in: "the PagerDuty webhook subscription (its secret is shown once, when it is made)",
    },
    redelivery_headers: &[],
    redelivery_prefix: "pagerduty",
    actors: &[&["event", "agent", "id"]],
    bots: &[],
    conversation: &[
        // Notes and other incident sub-resources name their incident.
        ConversationRule {
            when: None,
            key: "pagerduty:{body.event.data.incident.id}",
        },
        ConversationRule {
            when: Some(Match::new("body.event.data.type", "incident")),
            key: "pagerduty:{body.event.data.id}",
        },
    ],
    handshakes: &[Match::new("body.event.event_type", "pagey.ping")],
    messages: Messages {
        no_key: "No PagerDuty key found for agent ID {agent}.",
        bad_signature: "Invalid PagerDuty webhook signature",
    },
    tolerance: None,
};

#[derive(Debug)]
pub struct PagerDuty;

impl Provider for PagerDuty {
    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    fn sample(&self, request: &SampleRequest<'_>) -> Option<Sample> {
        let body = request.json_body(json!({"event": {
            "id": sample::delivery_id(), "event_type": "incident.triggered",
            "resource_type": "incident", "data": {"title": "hookgate send-test"},
        }}));
        let tag = hmac_sha256::sign_hex(request.secret(), &[&body]);
        let headers = [(SIGNATURE_HEADER, format!("v1={tag}"))];
        Some(request.json_call(body, &headers))
    }

    fn signed_by(&self, reading: &Reading, body: &[u8], key: &TimedSecret) -> bool {
        check_signature(key.secret.expose().as_bytes(), body, reading.credential())
    }

    /// Each event carries its id in the body (`event.id`).
    fn redelivery_id(&self, headers: &HeaderMap, body: Option<&Value>) -> Option<String> {
        body_redelivery_id(self, headers, body, &["event", "id"])
    }
}

/// True when one of the header's `v1=` signatures is that of the body.
pub fn check_signature(secret: &[u8], body: &[u8], header: &str) -> bool {
    let presented = header
        .split(',')
        .filter_map(|item| item.trim().strip_prefix("v1="))
        .filter_map(|hex_tag| hex::decode(hex_tag).ok());
    hmac_sha256::any_equals(&hmac_sha256::tag(secret, &[body]), presented)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Python: "v1=" + hmac.new(b"pd-secret", body, sha256).hexdigest(), as
    // PagerDuty's documentation verifies it.
    const SECRET: &[u8] = b"pd-secret";
    const BODY: &[u8] =
        br#"{"event":{"id":"01DEN4HPBQAGGZ6YB2VH0CANTQ","event_type":"incident.triggered"}}"#;
    const SIGNATURE: &str = "v1=8206f69de22d6c11a3ceb930a3beb482395080295662b9214132f4486bb90287";

    #[test]
    fn one_of_several_signatures_suffices() {
        let several = format!("v1=00ff, {SIGNATURE},v0=abcd");
        assert!(check_signature(SECRET, BODY, SIGNATURE));
        assert!(check_signature(SECRET, BODY, &several));
        assert!(!check_signature(SECRET, b"{}", SIGNATURE));
        assert!(!check_signature(b"other", BODY, SIGNATURE));
        assert!(
            !check_signature(SECRET, BODY, &SIGNATURE[3..]),
            "v1= required"
        );
        assert!(!check_signature(SECRET, BODY, ""));
    }
}
