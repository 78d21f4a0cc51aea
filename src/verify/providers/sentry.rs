//! Sentry's integration platform: `Sentry-Hook-Signature: <hex
//! HMAC-SHA256(client secret, body)>`, with `Sentry-Hook-Resource` naming
//! the resource and `Request-ID` the delivery
//! (<https://docs.sentry.io/integrations/integration-platform/webhooks/>).
//! The integration's Client Secret signs every call; any key name.

use crate::domain::{KeyKind, KeyLookup, TimedSecret};
use crate::verify::described::ConversationRule;
use crate::verify::hmac_sha256;
use crate::verify::provider::{Descriptor, Messages, Provider, Reading, SecretSource};
use crate::verify::sample::{self, Sample, SampleRequest};
use actix_web::http::header::HeaderMap;
use serde_json::json;
use serde_json::Value;

pub const SIGNATURE_HEADER: &str = "sentry-hook-signature";
const REQUEST_ID_HEADER: &str = "request-id";

pub static DESCRIPTOR: Descriptor = Descriptor {
    kind: KeyKind::new("sentry", KeyLookup::AllOfType),
    selected_by: &[SIGNATURE_HEADER],
    selected_by_prefix: "",
    credential_headers: &[],
    signature_headers: &[SIGNATURE_HEADER],
    event_headers: &["sentry-hook-"],
    reads: &[],
    secret: SecretSource::ProviderMade {
        found_in: "the Sentry integration's page (Client Secret)",
    },
    redelivery_headers: &[REQUEST_ID_HEADER],
    redelivery_prefix: "sentry",
    actors: &[&["actor", "id"]],
    bots: &[],
    conversation: &[ConversationRule {
        when: None,
        key: "sentry:{body.data.issue.id|body.data.error.issue_id|body.data.event.issue_id\
              |body.data.issue_id}",
    }],
    handshakes: &[],
    messages: Messages {
        no_key: "No Sentry key found for agent ID {agent}.",
        bad_signature: "Invalid Sentry webhook signature",
    },
    tolerance: None,
};

#[derive(Debug)]
pub struct Sentry;

impl Provider for Sentry {
    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    fn sample(&self, request: &SampleRequest<'_>) -> Option<Sample> {
        let body = request.json_body(json!({
            "action": "created",
            "data": {"issue": {"id": "1", "title": "hookgate send-test"}},
        }));
        let signature = hmac_sha256::sign_hex(request.secret(), &[&body]);
        let headers = [
            (SIGNATURE_HEADER, signature),
            ("sentry-hook-resource", "issue".to_owned()),
            ("sentry-hook-timestamp", request.now.to_string()),
            (REQUEST_ID_HEADER, sample::delivery_id()),
        ];
        Some(request.json_call(body, &headers))
    }

    fn signed_by(&self, reading: &Reading, body: &[u8], key: &TimedSecret) -> bool {
        check_signature(key.secret.expose().as_bytes(), body, reading.credential())
    }

    /// `Request-ID` is a common tracing header: it marks a Sentry
    /// redelivery only on a call Sentry signed.
    fn redelivery_id(&self, headers: &HeaderMap, _body: Option<&Value>) -> Option<String> {
        if !headers.contains_key(SIGNATURE_HEADER) {
            return None;
        }
        let id = headers.get(REQUEST_ID_HEADER)?.to_str().ok()?;
        (!id.is_empty()).then(|| format!("{}:{id}", DESCRIPTOR.redelivery_prefix))
    }
}

pub fn check_signature(secret: &[u8], body: &[u8], header: &str) -> bool {
    hmac_sha256::matches_hex(secret, &[body], header.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Python: hmac.new(b"sentry-client-secret", body, sha256).hexdigest(),
    // as Sentry's documentation verifies it.
    const BODY: &[u8] = br#"{"action":"created","data":{"issue":{"id":"1"}}}"#;
    const HEADER: &str = "470f21240b712f2fa53ab6505fdf65dd15092bf0bb89145f7e6849a12bf8be4c";
    const SECRET: &[u8] = b"sentry-client-secret";

    #[test]
    fn checks_hex_hmac_of_the_body() {
        assert!(check_signature(SECRET, BODY, HEADER));
        assert!(check_signature(SECRET, BODY, &HEADER.to_uppercase()));
        assert!(!check_signature(SECRET, b"{}", HEADER));
        assert!(!check_signature(b"other", BODY, HEADER));
        assert!(!check_signature(SECRET, BODY, "zz"));
    }
}
