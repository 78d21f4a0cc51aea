//! Jira (Atlassian) webhooks with a secret: `X-Hub-Signature: sha256=<hex
//! HMAC-SHA256(secret, body)>`
//! (<https://developer.atlassian.com/cloud/jira/platform/webhooks/#secure-admin-webhooks>).
//! `X-Hub-Signature` is shared (another provider sends `sha1=`), so Jira is
//! told apart by the `sha256=` prefix; an agent without a `jira` key has its
//! generic `hmac` keys on the header tried instead. Jira takes a secret
//! typed in, so hookgate makes one when none is given;
//! `X-Atlassian-Webhook-Identifier` marks a redelivery.

use crate::domain::{KeyKind, KeyLookup, TimedSecret};
use crate::verify::described::ConversationRule;
use crate::verify::hmac_sha256;
use crate::verify::provider::{Descriptor, Messages, Provider, Reading, SecretSource};
use crate::verify::sample::{self, Sample, SampleRequest};
use serde_json::json;

pub const SIGNATURE_HEADER: &str = "x-hub-signature";
const PREFIX: &str = "sha256=";

pub static DESCRIPTOR: Descriptor = Descriptor {
    kind: KeyKind::new("jira", KeyLookup::AllOfType),
    selected_by: &[SIGNATURE_HEADER],
    selected_by_prefix: PREFIX,
    credential_headers: &[],
    signature_headers: &[SIGNATURE_HEADER],
    event_headers: &[],
    reads: &[],
    secret: SecretSource::Generated,
    redelivery_headers: &["x-atlassian-webhook-identifier"],
    redelivery_prefix: "jira",
    actors: &[&["user", "accountId"], &["comment", "author", "accountId"]],
    bots: &[],
    conversation: &[ConversationRule {
        when: None,
        key: "jira:{body.issue.key}",
    }],
    handshakes: &[],
    messages: Messages {
        no_key: "No Jira key found for agent ID {agent}.",
        bad_signature: "Invalid Jira webhook signature",
    },
    tolerance: None,
};

#[derive(Debug)]
pub struct Jira;

impl Provider for Jira {
    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    fn sample(&self, request: &SampleRequest<'_>) -> Option<Sample> {
        let body = request.json_body(json!({
            "webhookEvent": "jira:issue_created", "timestamp": request.now * 1000,
            "issue": {"key": "HOOK-1", "fields": {"summary": "hookgate send-test"}},
        }));
        let tag = hmac_sha256::sign_hex(request.secret(), &[&body]);
        let headers = [
            (SIGNATURE_HEADER, format!("{PREFIX}{tag}")),
            ("x-atlassian-webhook-identifier", sample::delivery_id()),
        ];
        Some(request.json_call(body, &headers))
    }

    fn signed_by(&self, reading: &Reading, body: &[u8], key: &TimedSecret) -> bool {
        check_signature(key.secret.expose().as_bytes(), body, reading.credential())
    }
}

/// True when `header` is `sha256=` + hex HMAC-SHA256(secret, body).
pub fn check_signature(secret: &[u8], body: &[u8], header: &str) -> bool {
    hmac_sha256::matches_prefixed_hex(secret, &[body], PREFIX, header)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Python: "sha256=" + hmac.new(secret, body, sha256).hexdigest(), as
    // Atlassian's documentation verifies it.
    const SECRET: &[u8] = b"jira-webhook-secret";
    const BODY: &[u8] = br#"{"webhookEvent":"jira:issue_created","issue":{"key":"PROJ-1"}}"#;
    const SIGNATURE: &str =
        "sha256=eb5b7a29e8a3cc38ba67196b2aabbe6d39f367783644e7d56a6fc6b1bf2e6829";

    #[test]
    fn checks_prefixed_hex_hmac_of_the_body() {
        assert!(check_signature(SECRET, BODY, SIGNATURE));
        assert!(!check_signature(SECRET, b"{}", SIGNATURE));
        assert!(!check_signature(b"other", BODY, SIGNATURE));
        assert!(
            !check_signature(SECRET, BODY, &SIGNATURE[7..]),
            "sha256= required"
        );
    }
}
