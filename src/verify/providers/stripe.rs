//! Stripe: `Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret,
//! "{t}.{body}")>[,v1=…][,v0=…]`, the endpoint's `whsec_…` secret used as is.

use crate::domain::{KeyKind, KeyLookup, Secret, TimedSecret};
use crate::verify::described::ConversationRule;
use crate::verify::provider::{Call, Descriptor, Messages, Provider, Reading, SecretSource};
use crate::verify::sample::{self, Sample, SampleRequest};
use crate::verify::{hmac_sha256, VerifyError};
use actix_web::http::header::HeaderMap;
use serde_json::json;
use serde_json::Value;

pub const SIGNATURE_HEADER: &str = "stripe-signature";

pub static DESCRIPTOR: Descriptor = Descriptor {
    kind: KeyKind::new("stripe", KeyLookup::AllOfType),
    selected_by: &[SIGNATURE_HEADER],
    selected_by_prefix: "",
    credential_headers: &[],
    signature_headers: &[SIGNATURE_HEADER],
    event_headers: &[],
    reads: &[],
    secret: SecretSource::ProviderMade {
        found_in: "Stripe's endpoint page (whsec_…)",
    },
    redelivery_headers: &[],
    redelivery_prefix: "stripe",
    actors: &[],
    bots: &[],
    conversation: &[ConversationRule {
        when: None,
        key: "stripe:{body.data.object.id}",
    }],
    handshakes: &[],
    messages: Messages {
        no_key: "No Stripe key found for agent ID {agent}.",
        bad_signature: "Invalid Stripe webhook signature",
    },
    tolerance: None,
};

#[derive(Debug)]
pub struct Stripe;

impl Provider for Stripe {
    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    fn sample(&self, request: &SampleRequest<'_>) -> Option<Sample> {
        let body = request.json_body(json!({
            "id": format!("evt_{}", sample::delivery_id().replace('-', "")),
            "object": "event", "type": "payment_intent.succeeded", "created": request.now,
            "data": {"object": {"id": "pi_hookgate", "object": "payment_intent", "amount": 100}},
        }));
        let t = request.now.to_string();
        let tag = hmac_sha256::sign_hex(request.secret(), &[t.as_bytes(), b".", &body]);
        let headers = [(SIGNATURE_HEADER, format!("t={t},v1={tag}"))];
        Some(request.json_call(body, &headers))
    }

    fn read(&self, call: &Call<'_>) -> Result<Reading, VerifyError> {
        let header = call.header(SIGNATURE_HEADER).unwrap_or_default();
        parse(header, call.now)?;
        Ok(Reading {
            credential: Some(Secret::new(header.to_owned())),
            ..Reading::default()
        })
    }

    fn signed_by(&self, reading: &Reading, body: &[u8], key: &TimedSecret) -> bool {
        let secret = key.secret.expose().as_bytes();
        read_header(reading.credential()).is_ok_and(|parsed| check_signature(secret, &parsed, body))
    }

    /// Events carry their id (`evt_…`) in the body.
    fn redelivery_id(&self, headers: &HeaderMap, body: Option<&Value>) -> Option<String> {
        if !headers.contains_key(SIGNATURE_HEADER) {
            return None;
        }
        let id = body?
            .get("id")?
            .as_str()
            .filter(|id| id.starts_with("evt_"))?;
        Some(format!("{}:{id}", DESCRIPTOR.redelivery_prefix))
    }
}

fn invalid_header() -> VerifyError {
    VerifyError::bad_request("Invalid Stripe-Signature header.")
}

fn stale_timestamp() -> VerifyError {
    VerifyError::stale_timestamp("Stripe webhook request has bad timestamp.")
}
/// How far `t` may be from now, either way (Stripe's libraries' default).
pub const TOLERANCE_SECS: u64 = 300;

/// The header's timestamp (as sent) and `v1` signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<'a> {
    pub timestamp: &'a str,
    pub signatures: Vec<&'a str>,
}

/// Reads the header and checks its timestamp against `now`.
pub fn parse(header: &str, now: i64) -> Result<Parsed<'_>, VerifyError> {
    let parsed = read_header(header)?;
    let ts: i64 = parsed.timestamp.parse().map_err(|_| invalid_header())?;
    if now.abs_diff(ts) > TOLERANCE_SECS {
        return Err(stale_timestamp());
    }
    Ok(parsed)
}

/// The header's timestamp and `v1` signatures, both required.
fn read_header(header: &str) -> Result<Parsed<'_>, VerifyError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in header.split(',') {
        match item.trim().split_once('=') {
            Some(("t", t)) => timestamp = Some(t),
            Some(("v1", sig)) => signatures.push(sig),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or_else(invalid_header)?;
    timestamp.parse::<i64>().map_err(|_| invalid_header())?;
    if signatures.is_empty() {
        return Err(invalid_header());
    }
    Ok(Parsed {
        timestamp,
        signatures,
    })
}

/// True when one of the `v1` signatures is that of `"{t}.{body}"`.
pub fn check_signature(secret: &[u8], parsed: &Parsed<'_>, body: &[u8]) -> bool {
    let parts: [&[u8]; 3] = [parsed.timestamp.as_bytes(), b".", body];
    let presented = parsed
        .signatures
        .iter()
        .filter_map(|sig| hex::decode(sig).ok());
    hmac_sha256::any_equals(&hmac_sha256::tag(secret, &parts), presented)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made with stripe-python's WebhookSignature.generate_signature_header.
    const SECRET: &[u8] = b"whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_test","object":"event"}"#;
    const HEADER: &str =
        "t=1700000000,v1=8042376f6ca064adbe037642a718227dfd59047137eb49497a54c49eb0cfb724";

    #[test]
    fn accepts_the_official_librarys_header_among_other_signatures() {
        let parsed = parse(HEADER, 1_700_000_100).unwrap();
        assert!(check_signature(SECRET, &parsed, BODY));
        let several = format!("{HEADER},v1=00ff,v0=abcd");
        assert!(check_signature(
            SECRET,
            &parse(&several, 1_700_000_000).unwrap(),
            BODY
        ));
        assert!(!check_signature(b"whsec_other", &parsed, BODY));
        assert!(!check_signature(SECRET, &parsed, b"{}"));
    }

    #[test]
    fn refuses_malformed_or_stale_headers() {
        assert_eq!(parse("v1=abcd", 0), Err(invalid_header()));
        assert_eq!(parse("t=12x,v1=ab", 0), Err(invalid_header()));
        assert_eq!(parse("t=1700000000", 1_700_000_000), Err(invalid_header()));
        assert_eq!(parse(HEADER, 1_700_000_301), Err(stale_timestamp()));
    }
}
