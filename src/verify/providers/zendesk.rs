//! Zendesk webhooks: `X-Zendesk-Webhook-Signature: <base64 HMAC-SHA256(signing
//! secret, timestamp + body)>` with `X-Zendesk-Webhook-Signature-Timestamp`
//! (an ISO 8601 time, as sent)
//! (<https://developer.zendesk.com/documentation/webhooks/verifying/>). The
//! webhook's signing secret (Admin Center, the webhook's details) signs
//! every call; `X-Zendesk-Webhook-Invocation-Id` marks a redelivery.

use crate::domain::{KeyKind, KeyLookup, Secret, TimedSecret};
use crate::verify::described::{ConversationRule, Match};
use crate::verify::provider::{Call, Descriptor, Messages, Provider, Reading, SecretSource};
use crate::verify::sample::{self, Sample, SampleRequest};
use crate::verify::{hmac_sha256, VerifyError};
use serde_json::json;

pub const SIGNATURE_HEADER: &str = "x-zendesk-webhook-signature";
pub const TIMESTAMP_HEADER: &str = "x-zendesk-webhook-signature-timestamp";
/// How far the timestamp may be from now, either way. Zendesk names no
/// limit; five minutes is what the other timestamped providers allow.
pub const TOLERANCE_SECS: u64 = 300;

pub static DESCRIPTOR: Descriptor = Descriptor {
    kind: KeyKind::new("zendesk", KeyLookup::AllOfType),
    selected_by: &[SIGNATURE_HEADER],
    selected_by_prefix: "",
    credential_headers: &[],
    signature_headers: &[SIGNATURE_HEADER],
    event_headers: &[],
    reads: &[TIMESTAMP_HEADER],
    secret: SecretSource::ProviderMade {
        found_in: "Zendesk Admin Center, the webhook's details (Signing secret)",
    },
    redelivery_headers: &["x-zendesk-webhook-invocation-id"],
    redelivery_prefix: "zendesk",
    actors: &[],
    bots: &[],
    conversation: &[ConversationRule {
        when: Some(Match::new("body.type", "zen:event-type:ticket.*")),
        key: "zendesk:{body.account_id}/{body.detail.id}",
    }],
    handshakes: &[],
    messages: Messages {
        no_key: "No Zendesk key found for agent ID {agent}.",
        bad_signature: "Invalid Zendesk webhook signature",
    },
    tolerance: None,
};

#[derive(Debug)]
pub struct Zendesk;

impl Provider for Zendesk {
    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    fn sample(&self, request: &SampleRequest<'_>) -> Option<Sample> {
        let body = request.json_body(json!({
            "type": "zen:event-type:ticket.created",
            "detail": {"id": "1", "subject": "hookgate send-test"},
        }));
        let timestamp = chrono::DateTime::from_timestamp(request.now, 0)?
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let signature = hmac_sha256::sign_base64(request.secret(), &[timestamp.as_bytes(), &body]);
        let headers = [
            (TIMESTAMP_HEADER, timestamp),
            (SIGNATURE_HEADER, signature),
            ("x-zendesk-webhook-invocation-id", sample::delivery_id()),
        ];
        Some(request.json_call(body, &headers))
    }

    fn read(&self, call: &Call<'_>) -> Result<Reading, VerifyError> {
        let timestamp = check_timestamp(call.header(TIMESTAMP_HEADER), call.now)?;
        let signature = call.header(SIGNATURE_HEADER).unwrap_or_default();
        Ok(Reading {
            credential: Some(Secret::new(signature.to_owned())),
            timestamp: Some(timestamp.to_owned()),
            ..Reading::default()
        })
    }

    fn signed_by(&self, reading: &Reading, body: &[u8], key: &TimedSecret) -> bool {
        let secret = key.secret.expose().as_bytes();
        check_signature(secret, reading.timestamp(), body, reading.credential())
    }
}

fn stale_timestamp() -> VerifyError {
    VerifyError::stale_timestamp("Zendesk webhook request has bad timestamp.")
}

/// The timestamp as sent, checked to be an RFC 3339 time (or Unix seconds)
/// within [`TOLERANCE_SECS`] of `now`.
pub fn check_timestamp(header: Option<&str>, now: i64) -> Result<&str, VerifyError> {
    let name = "X-Zendesk-Webhook-Signature-Timestamp";
    let raw = header.ok_or_else(|| VerifyError::missing_header(name))?;
    let seconds = chrono::DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| t.timestamp())
        .or_else(|_| raw.trim().parse::<i64>())
        .map_err(|_| VerifyError::invalid_timestamp_header(name))?;
    if now.abs_diff(seconds) > TOLERANCE_SECS {
        return Err(stale_timestamp());
    }
    Ok(raw)
}

/// True when `header` is base64 HMAC-SHA256(secret, timestamp + body).
pub fn check_signature(secret: &[u8], timestamp: &str, body: &[u8], header: &str) -> bool {
    hmac_sha256::matches_base64(secret, &[timestamp.as_bytes(), body], header)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Zendesk's secret for test webhooks, from its documentation; Python:
    // base64(hmac.new(secret, (ts + body).encode(), sha256).digest()).
    const SECRET: &[u8] = b"dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3RpbmdfcHVycG9zZXNfb25seQ==";
    const TS: &str = "2026-11-29T09:00:00Z";
    const BODY: &[u8] = br#"{"type":"zen:event-type:ticket.created","id":"1"}"#;
    const SIGNATURE: &str = "h0nTJ8NTWELcFQ4sN5nQJM+H7rFlQluPBnomZ7oduJ8=";
    const NOW: i64 = 1_795_942_800; // TS

    #[test]
    fn checks_base64_hmac_of_timestamp_and_body() {
        assert!(check_signature(SECRET, TS, BODY, SIGNATURE));
        assert!(!check_signature(
            SECRET,
            "2026-11-29T09:00:01Z",
            BODY,
            SIGNATURE
        ));
        assert!(!check_signature(SECRET, TS, b"{}", SIGNATURE));
        assert!(!check_signature(b"other", TS, BODY, SIGNATURE));
    }

    #[test]
    fn timestamps_are_read_and_bounded() {
        assert_eq!(check_timestamp(Some(TS), NOW + 300), Ok(TS));
        assert_eq!(check_timestamp(Some(TS), NOW - 301), Err(stale_timestamp()));
        assert_eq!(check_timestamp(Some("1795942800"), NOW), Ok("1795942800"));
        assert_eq!(
            check_timestamp(Some("yesterday"), NOW)
                .unwrap_err()
                .to_string(),
            "Invalid X-Zendesk-Webhook-Signature-Timestamp header value."
        );
        assert_eq!(
            check_timestamp(None, NOW).unwrap_err().to_string(),
            "Missing X-Zendesk-Webhook-Signature-Timestamp header."
        );
    }
}
