//! Linear: `Linear-Signature: <hex HMAC-SHA256(secret, body)>`, and the
//! body's `webhookTimestamp` (milliseconds) within a minute of now.

use crate::domain::json_fields::{self, Field};
use crate::domain::{KeyKind, KeyLookup, Secret, TimedSecret};
use crate::verify::described::{ConversationRule, Match};
use crate::verify::provider::{Call, Descriptor, Messages, Provider, Reading, SecretSource};
use crate::verify::sample::{self, Sample, SampleRequest};
use crate::verify::{hmac_sha256, VerifyError};
use serde_json::json;

pub const SIGNATURE_HEADER: &str = "linear-signature";

pub static DESCRIPTOR: Descriptor = Descriptor {
    kind: KeyKind::new("linear", KeyLookup::AllOfType),
    selected_by: &[SIGNATURE_HEADER],
    selected_by_prefix: "",
    credential_headers: &[],
    signature_headers: &[SIGNATURE_HEADER],
    event_headers: &["linear-"],
    reads: &[],
    secret: SecretSource::ProviderMade {
        found_in: "Linear's webhook settings",
    },
    redelivery_headers: &["linear-delivery"],
    redelivery_prefix: "linear",
    actors: &[&["actor", "id"]],
    bots: &[],
    conversation: &[
        ConversationRule {
            when: Some(Match::new("body.type", "Issue")),
            key: "linear:{body.organizationId}/{body.data.id}",
        },
        ConversationRule {
            when: Some(Match::new("body.type", "Comment")),
            key: "linear:{body.organizationId}/{body.data.issueId|body.data.issue.id}",
        },
        ConversationRule {
            when: Some(Match::new("body.type", "AgentSessionEvent")),
            key: "linear:{body.organizationId}/\
                  {body.agentSession.issueId|body.agentSession.issue.id}",
        },
    ],
    handshakes: &[],
    messages: Messages {
        no_key: "No Linear key found for agent ID {agent}.",
        bad_signature: "Invalid Linear webhook signature",
    },
    tolerance: None,
};

#[derive(Debug)]
pub struct Linear;

impl Provider for Linear {
    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    fn sample(&self, request: &SampleRequest<'_>) -> Option<Sample> {
        let body = request.json_body(json!({
            "action": "create", "type": "Issue", "webhookTimestamp": request.now * 1000,
            "data": {"id": sample::delivery_id(), "title": "hookgate send-test"},
        }));
        let signature = hmac_sha256::sign_hex(request.secret(), &[&body]);
        let headers = [
            (SIGNATURE_HEADER, signature),
            ("linear-event", "Issue".to_owned()),
            ("linear-delivery", sample::delivery_id()),
        ];
        Some(request.json_call(body, &headers))
    }

    fn read(&self, call: &Call<'_>) -> Result<Reading, VerifyError> {
        let signature = call.header(SIGNATURE_HEADER).unwrap_or_default();
        Ok(Reading {
            body_timestamp: Some(webhook_timestamp(call.body)?),
            credential: Some(Secret::new(signature.to_owned())),
            ..Reading::default()
        })
    }

    fn signed_by(&self, reading: &Reading, body: &[u8], key: &TimedSecret) -> bool {
        check_signature(key.secret.expose().as_bytes(), body, reading.credential())
    }

    /// The body's timestamp is believed only once the body is signed.
    fn after_match(&self, reading: &Reading, now_ms: i64) -> Result<(), VerifyError> {
        check_timestamp(reading.body_timestamp.unwrap_or_default(), now_ms)
    }
}

fn not_json() -> VerifyError {
    VerifyError::bad_request("Failed to parse Linear webhook payload as JSON.")
}

fn missing_timestamp() -> VerifyError {
    VerifyError::bad_request("Linear webhook payload missing webhookTimestamp.")
}

fn stale_timestamp() -> VerifyError {
    VerifyError::stale_timestamp("Linear webhook request has bad timestamp.")
}
/// How far `webhookTimestamp` may be from now, either way (Linear's SDK).
pub const TOLERANCE_MS: u64 = 60_000;

/// The body's `webhookTimestamp`, in milliseconds, read without building
/// the body: it is not verified yet.
pub fn webhook_timestamp(body: &[u8]) -> Result<i64, VerifyError> {
    let found = json_fields::find(body, &[&["webhookTimestamp"]]).map_err(|_| not_json())?;
    match found[0] {
        Field::Int(ms) => Ok(ms),
        Field::NotObject => Err(not_json()),
        _ => Err(missing_timestamp()),
    }
}

pub fn check_timestamp(timestamp_ms: i64, now_ms: i64) -> Result<(), VerifyError> {
    if now_ms.abs_diff(timestamp_ms) > TOLERANCE_MS {
        return Err(stale_timestamp());
    }
    Ok(())
}

pub fn check_signature(secret: &[u8], body: &[u8], header: &str) -> bool {
    hmac_sha256::matches_hex(secret, &[body], header.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Python: hmac.new(b"lin_wh_secret", body, sha256).hexdigest().
    const BODY: &[u8] = br#"{"action":"create","webhookTimestamp":1700000000000}"#;
    const HEADER: &str = "0e7eb538ce08f2d147d43dcc1a8d5fef4d5dd6effe602c4c11c3d2456d92c6be";

    #[test]
    fn checks_signature_and_timestamp() {
        assert!(check_signature(b"lin_wh_secret", BODY, HEADER));
        assert!(!check_signature(b"other", BODY, HEADER));
        let ts = webhook_timestamp(BODY).unwrap();
        assert_eq!(ts, 1_700_000_000_000);
        assert!(check_timestamp(ts, ts + 60_000).is_ok());
        assert_eq!(check_timestamp(ts, ts + 60_001), Err(stale_timestamp()));
        assert_eq!(webhook_timestamp(b"nope"), Err(not_json()));
        assert_eq!(webhook_timestamp(b"{}"), Err(missing_timestamp()));
    }
}
