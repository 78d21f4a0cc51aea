//! Standard Webhooks (<https://www.standardwebhooks.com>, as Svix, OpenAI and
//! others send): `webhook-id`, `webhook-timestamp` and `webhook-signature:
//! v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`, several
//! space-separated signatures allowed; the key is the base64 after `whsec_`.
//! Svix's older `svix-id` / `svix-timestamp` / `svix-signature` names are
//! read the same way.

use crate::domain::{random_bytes, KeyKind, KeyLookup, Secret, TimedSecret};
use crate::verify::provider::{Call, Descriptor, Messages, Provider, Reading, SecretSource};
use crate::verify::sample::{self, Sample, SampleRequest};
use crate::verify::{hmac_sha256, VerifyError};
use base64::Engine;
use serde_json::json;

pub const SECRET_PREFIX: &str = "whsec_";
pub const SIGNATURE_HEADERS: [&str; 2] = ["webhook-signature", "svix-signature"];
/// How far the timestamp may be from now, either way (the spec's 5 minutes).
pub const TOLERANCE_SECS: u64 = 300;

pub static DESCRIPTOR: Descriptor = Descriptor {
    kind: KeyKind::new("standard_webhooks", KeyLookup::AllOfType),
    selected_by: &SIGNATURE_HEADERS,
    selected_by_prefix: "",
    credential_headers: &[],
    signature_headers: &SIGNATURE_HEADERS,
    event_headers: &["webhook-", "svix-"],
    reads: &[
        "webhook-id",
        "webhook-timestamp",
        "svix-id",
        "svix-timestamp",
    ],
    secret: SecretSource::Generated,
    redelivery_headers: &["webhook-id", "svix-id"],
    redelivery_prefix: "webhook",
    actors: &[],
    bots: &[],
    conversation: &[],
    handshakes: &[],
    messages: Messages {
        no_key: "No Standard Webhooks key found for agent ID {agent}.",
        bad_signature: "Invalid Standard Webhooks signature",
    },
    tolerance: None,
};

#[derive(Debug)]
pub struct StandardWebhooks;

impl Provider for StandardWebhooks {
    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    fn sample(&self, request: &SampleRequest<'_>) -> Option<Sample> {
        let key = key_bytes(request.secret())?;
        let body = request.json_body(json!({
            "type": "hookgate.send_test", "timestamp": request.now,
            "data": {"text": "hookgate send-test"},
        }));
        let id = format!("msg_{}", sample::delivery_id());
        let timestamp = request.now.to_string();
        let signature = sign(&key, &id, &timestamp, &body);
        let headers = [
            ("webhook-id", id),
            ("webhook-timestamp", timestamp),
            ("webhook-signature", signature),
        ];
        Some(request.json_call(body, &headers))
    }

    fn read(&self, call: &Call<'_>) -> Result<Reading, VerifyError> {
        let presented = Presented::from_headers(call.headers)
            .ok_or_else(VerifyError::missing_authentication)?;
        let (id, timestamp) = presented.check(call.now)?;
        Ok(Reading {
            message_id: Some(id.to_owned()),
            timestamp: Some(timestamp.to_owned()),
            credential: Some(presented.signature.clone()),
            ..Reading::default()
        })
    }

    fn signed_by(&self, reading: &Reading, body: &[u8], key: &TimedSecret) -> bool {
        let id = reading.message_id.as_deref().unwrap_or("");
        let secret = key.secret.expose().as_bytes();
        check_with_secret(secret, id, reading.timestamp(), body, reading.credential())
    }

    /// `whsec_` + base64 of 32 random bytes, as Svix makes them.
    fn generate_secret(&self) -> Secret {
        let encoded = base64::engine::general_purpose::STANDARD.encode(random_bytes());
        Secret::new(format!("{SECRET_PREFIX}{encoded}"))
    }

    fn secret_refusal(&self, secret: &str) -> Option<&'static str> {
        key_bytes(secret.as_bytes())
            .is_none()
            .then_some("a Standard Webhooks secret: 'whsec_' followed by base64")
    }
}

fn stale_timestamp() -> VerifyError {
    VerifyError::stale_timestamp("Standard Webhooks request has bad timestamp.")
}

/// The three headers, from the family (`webhook-` or `svix-`) that carried
/// the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    pub prefix: &'static str,
    pub id: Option<String>,
    pub timestamp: Option<String>,
    pub signature: crate::domain::Secret,
}

impl Presented {
    pub fn from_headers(headers: &actix_web::http::header::HeaderMap) -> Option<Self> {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        ["webhook", "svix"].into_iter().find_map(|prefix| {
            let signature =
                crate::domain::Secret::new(text(&format!("{prefix}-signature"))?.to_owned());
            Some(Self {
                prefix,
                id: text(&format!("{prefix}-id")).map(str::to_owned),
                timestamp: text(&format!("{prefix}-timestamp")).map(str::to_owned),
                signature,
            })
        })
    }

    /// The id and timestamp, checked present, numeric and within the
    /// tolerance of `now`, before any key is looked at.
    pub fn check(&self, now: i64) -> Result<(&str, &str), VerifyError> {
        let missing = |what: &str| VerifyError::missing_header(&format!("{}-{what}", self.prefix));
        let id = self.id.as_deref().ok_or_else(|| missing("id"))?;
        let raw = self
            .timestamp
            .as_deref()
            .ok_or_else(|| missing("timestamp"))?;
        let ts: i64 = raw.trim().parse().map_err(|_| {
            VerifyError::invalid_timestamp_header(&format!("{}-timestamp", self.prefix))
        })?;
        if now.abs_diff(ts) > TOLERANCE_SECS {
            return Err(stale_timestamp());
        }
        Ok((id, raw))
    }
}

/// The HMAC key of a `whsec_…` secret (the prefix is optional); `None` when
/// the rest is not base64.
pub fn key_bytes(secret: &[u8]) -> Option<Vec<u8>> {
    let encoded = secret
        .strip_prefix(SECRET_PREFIX.as_bytes())
        .unwrap_or(secret);
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .filter(|k| !k.is_empty())
}

/// True when one of the header's `v1,` signatures is that of the content.
pub fn check_signature(key: &[u8], id: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    let parts: [&[u8]; 5] = [id.as_bytes(), b".", timestamp.as_bytes(), b".", body];
    let presented = header
        .split_whitespace()
        .filter_map(|signature| signature.strip_prefix("v1,"))
        .filter_map(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok());
    hmac_sha256::any_equals(&hmac_sha256::tag(key, &parts), presented)
}

/// As [`check_signature`], from the stored `whsec_…` secret.
pub fn check_with_secret(
    secret: &[u8],
    id: &str,
    timestamp: &str,
    body: &[u8],
    header: &str,
) -> bool {
    key_bytes(secret).is_some_and(|key| check_signature(&key, id, timestamp, body, header))
}

/// `v1,<base64>`: how a sender signs (for tests and examples).
pub fn sign(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> String {
    let parts: [&[u8]; 5] = [id.as_bytes(), b".", timestamp.as_bytes(), b".", body];
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(hmac_sha256::tag(key, &parts))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of the Standard Webhooks reference libraries' tests.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: &str = "1614265330";
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn accepts_the_reference_example_among_other_signatures() {
        let key = key_bytes(SECRET.as_bytes()).unwrap();
        assert!(check_signature(&key, ID, TS, BODY, SIGNATURE));
        assert!(check_with_secret(
            SECRET.as_bytes(),
            ID,
            TS,
            BODY,
            SIGNATURE
        ));
        let several = format!("v1,Zm9v v2,abc {SIGNATURE}");
        assert!(check_signature(&key, ID, TS, BODY, &several));
        assert_eq!(sign(&key, ID, TS, BODY), SIGNATURE);
    }

    #[test]
    fn refuses_altered_content_or_wrong_key() {
        let key = key_bytes(SECRET.as_bytes()).unwrap();
        assert!(!check_signature(&key, ID, TS, br#"{"test": 1}"#, SIGNATURE));
        assert!(!check_signature(&key, "msg_other", TS, BODY, SIGNATURE));
        assert!(!check_signature(b"other", ID, TS, BODY, SIGNATURE));
        assert!(!check_signature(&key, ID, TS, BODY, "v2,g0hM9SsE"));
        assert_eq!(key_bytes(b"whsec_!!"), None);
    }
}
