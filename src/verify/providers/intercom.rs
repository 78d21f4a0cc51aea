//! Intercom webhooks: `X-Hub-Signature: sha1=<hex HMAC-SHA1(client secret,
//! body)>` (<https://developers.intercom.com/docs/references/webhooks/webhook-models>,
//! "Signed notifications"). `X-Hub-Signature` is shared (another provider
//! sends `sha256=`), so Intercom is told apart by the `sha1=` prefix; an agent
//! without an `intercom` key has its generic `hmac` keys on the header
//! tried instead. The app's client secret signs every call; the
//! notification's `id` marks a redelivery.

use crate::domain::{KeyKind, KeyLookup, TimedSecret};
use crate::verify::described::{ConversationRule, Match};
use crate::verify::provider::{
    body_redelivery_id, Descriptor, Messages, Provider, Reading, SecretSource,
};
use crate::verify::sample::{self, Sample, SampleRequest};
use actix_web::http::header::HeaderMap;
use hmac::{Hmac, Mac};
use serde_json::json;
use serde_json::Value;

pub const SIGNATURE_HEADER: &str = "x-hub-signature";
const PREFIX: &str = "sha1=";

pub static DESCRIPTOR: Descriptor = Descriptor {
    kind: KeyKind::new("intercom", KeyLookup::AllOfType),
    selected_by: &[SIGNATURE_HEADER],
    selected_by_prefix: PREFIX,
    credential_headers: &[],
    signature_headers: &[SIGNATURE_HEADER],
    event_headers: &[],
    reads: &[],
    secret: SecretSource::ProviderMade {
        found_in: "the Intercom app's Basic Information page (Client secret)",
    },
    redelivery_headers: &[],
    redelivery_prefix: "intercom",
    actors: &[],
    bots: &[],
    conversation: &[ConversationRule {
        when: Some(Match::new("body.data.item.type", "conversation")),
        key: "intercom:{body.app_id}/{body.data.item.id}",
    }],
    handshakes: &[Match::new("body.topic", "ping")],
    messages: Messages {
        no_key: "No Intercom key found for agent ID {agent}.",
        bad_signature: "Invalid Intercom webhook signature",
    },
    tolerance: None,
};

#[derive(Debug)]
pub struct Intercom;

impl Provider for Intercom {
    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    fn sample(&self, request: &SampleRequest<'_>) -> Option<Sample> {
        let body = request.json_body(json!({
            "type": "notification_event", "id": format!("notif_{}", sample::delivery_id()),
            "topic": "conversation.user.created", "created_at": request.now,
            "data": {"item": {"type": "conversation", "id": "1"}},
        }));
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(request.secret()).ok()?;
        mac.update(&body);
        let tag = hex::encode(mac.finalize().into_bytes());
        let headers = [(SIGNATURE_HEADER, format!("{PREFIX}{tag}"))];
        Some(request.json_call(body, &headers))
    }

    fn signed_by(&self, reading: &Reading, body: &[u8], key: &TimedSecret) -> bool {
        check_signature(key.secret.expose().as_bytes(), body, reading.credential())
    }

    /// Each notification carries its id (`notif_…`) in the body.
    fn redelivery_id(&self, headers: &HeaderMap, body: Option<&Value>) -> Option<String> {
        body_redelivery_id(self, headers, body, &["id"])
    }
}

/// True when `header` is `sha1=` + hex HMAC-SHA1(secret, body), compared
/// in constant time.
pub fn check_signature(secret: &[u8], body: &[u8], header: &str) -> bool {
    let Some(Ok(presented)) = header.trim().strip_prefix(PREFIX).map(hex::decode) else {
        return false;
    };
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(body);
    mac.verify_slice(&presented).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Python: "sha1=" + hmac.new(secret, body, sha1).hexdigest(), as
    // Intercom's documentation verifies it.
    const SECRET: &[u8] = b"intercom-client-secret";
    const BODY: &[u8] = br#"{"type":"notification_event","id":"notif_ccd8a4d0","topic":"conversation.user.created"}"#;
    const SIGNATURE: &str = "sha1=6472b816579902aa4b38176647c4234707ea3b41";

    #[test]
    fn checks_prefixed_hex_hmac_sha1_of_the_body() {
        assert!(check_signature(SECRET, BODY, SIGNATURE));
        assert!(!check_signature(SECRET, b"{}", SIGNATURE));
        assert!(!check_signature(b"other", BODY, SIGNATURE));
        assert!(
            !check_signature(SECRET, BODY, &SIGNATURE[5..]),
            "sha1= required"
        );
        assert!(!check_signature(SECRET, BODY, "sha1=zz"));
    }
}
