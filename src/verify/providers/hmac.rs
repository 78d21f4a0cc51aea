//! Generic HMAC, for providers without a built-in type: each `hmac` key
//! says which header carries the signature, the algorithm (SHA-1, SHA-256,
//! SHA-512), the encoding (hex, base64), an optional prefix, and the signed
//! content (`{body}`, or a template with `{timestamp}` from a header).

use crate::domain::{
    ContentPart, HmacAlgorithm, HmacConfig, HmacEncoding, KeyKind, KeyLookup, TimedSecret,
};
use crate::verify::provider::{Call, Descriptor, Messages, Provider, Reading, SecretSource};
use crate::verify::sample::{Sample, SampleRequest};
use crate::verify::VerifyError;
use actix_web::http::header::HeaderMap;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::json;
use subtle::ConstantTimeEq;

pub static DESCRIPTOR: Descriptor = Descriptor {
    kind: KeyKind::new("hmac", KeyLookup::AllOfType),
    // Its headers are named by its keys' settings.
    selected_by: &[],
    selected_by_prefix: "",
    credential_headers: &[],
    signature_headers: &[],
    event_headers: &[],
    reads: &[],
    secret: SecretSource::NotATrigger,
    redelivery_headers: &[],
    redelivery_prefix: "",
    actors: &[],
    bots: &[],
    conversation: &[],
    handshakes: &[],
    messages: Messages {
        no_key: "Missing authentication for forward request.",
        bad_signature: "Invalid HMAC webhook signature",
    },
    tolerance: None,
};

/// The generic provider: it claims every call no built-in provider does,
/// and passes one that one of the agent's `hmac` keys signed.
#[derive(Debug)]
pub struct GenericHmac;

impl Provider for GenericHmac {
    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    /// Signed as the key's own settings say.
    fn sample(&self, request: &SampleRequest<'_>) -> Option<Sample> {
        let config = request.secret.hmac.as_deref()?;
        let body =
            request.json_body(json!({"type": "hookgate.send_test", "timestamp": request.now}));
        let timestamp = request.now.to_string();
        let tag = tag(
            config.algorithm,
            request.secret(),
            &config.parts,
            &timestamp,
            &body,
        );
        let encoded = match config.encoding {
            HmacEncoding::Hex => hex::encode(tag),
            HmacEncoding::Base64 => base64::engine::general_purpose::STANDARD.encode(tag),
        };
        let prefix = config.prefix.as_deref().unwrap_or("");
        let mut headers = vec![(config.header.as_str(), format!("{prefix}{encoded}"))];
        if let Some(name) = &config.timestamp_header {
            headers.push((name.as_str(), timestamp));
        }
        Some(request.json_call(body, &headers))
    }

    fn selects(&self, _: &HeaderMap) -> bool {
        true
    }

    fn takes_hmac_settings(&self) -> bool {
        true
    }

    /// Which headers matter is known only to the agent's keys: keep them all.
    fn read(&self, call: &Call<'_>) -> Result<Reading, VerifyError> {
        Ok(Reading {
            headers: Some(call.headers.clone()),
            ..Reading::default()
        })
    }

    fn signed_by(&self, reading: &Reading, body: &[u8], key: &TimedSecret) -> bool {
        let (Some(config), Some(headers)) = (&key.hmac, &reading.headers) else {
            return false;
        };
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let Some(signature) = text(&config.header) else {
            return false;
        };
        let timestamp = config.timestamp_header.as_deref().and_then(text);
        check_signature(
            config,
            key.secret.expose().as_bytes(),
            timestamp,
            body,
            signature,
        )
    }

    /// The keys whose signature header the call carries: one must pass
    /// (each is tried). With none of them present the call presents no
    /// authentication at all; a key whose timestamp fails refuses with that.
    fn judge(
        &self,
        reading: &Reading,
        body: &[u8],
        keys: &[&TimedSecret],
        _agent_id: &str,
        now: i64,
    ) -> Result<usize, VerifyError> {
        let Some(headers) = &reading.headers else {
            return Err(VerifyError::missing_authentication());
        };
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let (mut presented_any, mut passed, mut refusal) = (false, None, None);
        for (i, key) in keys.iter().enumerate() {
            let Some(config) = &key.hmac else { continue };
            if text(&config.header).is_none() {
                continue;
            }
            presented_any = true;
            let timestamp_header = config.timestamp_header.as_deref();
            match check_timestamp(config, timestamp_header.and_then(text), now) {
                Ok(_) => passed = passed.or(self.signed_by(reading, body, key).then_some(i)),
                Err(e) => refusal = refusal.or(Some(e)),
            }
        }
        match (passed, presented_any, refusal) {
            (Some(i), _, _) => Ok(i),
            (None, false, _) => Err(VerifyError::missing_authentication()),
            (None, true, Some(e)) => Err(e),
            (None, true, None) => Err(VerifyError::unauthorized(DESCRIPTOR.messages.bad_signature)),
        }
    }
}

fn stale_timestamp() -> VerifyError {
    VerifyError::stale_timestamp("HMAC webhook request has bad timestamp.")
}

/// The timestamp the key's settings require, checked present, an integer
/// and within the tolerance of `now`; `None` when the key uses none.
pub fn check_timestamp<'a>(
    config: &HmacConfig,
    value: Option<&'a str>,
    now: i64,
) -> Result<Option<&'a str>, VerifyError> {
    let Some(header) = &config.timestamp_header else {
        return Ok(None);
    };
    let raw = value.ok_or_else(|| VerifyError::missing_header(header))?;
    let ts: i64 = raw
        .trim()
        .parse()
        .map_err(|_| VerifyError::invalid_timestamp_header(header))?;
    if now.abs_diff(ts) > config.tolerance() {
        return Err(stale_timestamp());
    }
    Ok(Some(raw))
}

/// True when `presented` (the signature header's value) is the key's
/// signature of the content.
pub fn check_signature(
    config: &HmacConfig,
    secret: &[u8],
    timestamp: Option<&str>,
    body: &[u8],
    presented: &str,
) -> bool {
    let presented = presented.trim();
    let encoded = match &config.prefix {
        Some(prefix) => match presented.strip_prefix(prefix.as_str()) {
            Some(rest) => rest,
            None => return false,
        },
        None => presented,
    };
    let decoded = match config.encoding {
        HmacEncoding::Hex => hex::decode(encoded).ok(),
        HmacEncoding::Base64 => base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok(),
    };
    let Some(decoded) = decoded else {
        return false;
    };
    let timestamp = timestamp.unwrap_or("");
    let expected = tag(config.algorithm, secret, &config.parts, timestamp, body);
    expected.as_slice().ct_eq(&decoded).into()
}

fn tag(
    algorithm: HmacAlgorithm,
    secret: &[u8],
    parts: &[ContentPart],
    ts: &str,
    body: &[u8],
) -> Vec<u8> {
    fn run<M: Mac + hmac::digest::KeyInit>(
        secret: &[u8],
        parts: &[ContentPart],
        ts: &str,
        body: &[u8],
    ) -> Vec<u8> {
        let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(secret)
            .expect("HMAC accepts any key length");
        for part in parts {
            match part {
                ContentPart::Text(text) => mac.update(text.as_bytes()),
                ContentPart::Timestamp => mac.update(ts.as_bytes()),
                ContentPart::Body => mac.update(body),
            }
        }
        mac.finalize().into_bytes().to_vec()
    }
    match algorithm {
        HmacAlgorithm::Sha1 => run::<Hmac<sha1::Sha1>>(secret, parts, ts, body),
        HmacAlgorithm::Sha256 => run::<Hmac<sha2::Sha256>>(secret, parts, ts, body),
        HmacAlgorithm::Sha512 => run::<Hmac<sha2::Sha512>>(secret, parts, ts, body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: serde_json::Value) -> HmacConfig {
        serde_json::from_value::<HmacConfig>(json)
            .unwrap()
            .validated(|_| None)
            .unwrap()
    }

    #[test]
    fn legacy_sha1_hub_signature() {
        // A documented example secret and body, signed with SHA-1 as
        // the legacy X-Hub-Signature header is (Python's hmac computed it).
        let c = config(
            serde_json::json!({"header": "x-hub-signature", "algorithm": "sha1", "prefix": "sha1="}),
        );
        let sig = "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59";
        assert!(check_signature(
            &c,
            b"It's a Secret to Everybody",
            None,
            b"Hello, World!",
            sig
        ));
        assert!(!check_signature(
            &c,
            b"It's a Secret to Everybody",
            None,
            b"Hello, World?",
            sig
        ));
        assert!(
            !check_signature(
                &c,
                b"It's a Secret to Everybody",
                None,
                b"Hello, World!",
                &sig[5..]
            ),
            "prefix required"
        );
    }

    #[test]
    fn timestamped_sha512_base64() {
        let c = config(
            serde_json::json!({"header": "x-sig", "algorithm": "sha512", "encoding": "base64",
            "signed_content": "{timestamp}:{body}", "timestamp_header": "x-ts", "tolerance_secs": 60}),
        );
        // Python: base64(hmac.new(b"k", b"1700000000:{}", sha512).digest())
        let sig = "q9zr32IsrBW9CjQHxK/FejWvJ30iDB1TDWnZKl+cmWYWJeC22UJf0DyrnZJP6ChusrrVLBJyHtHhaSvrJzzwlQ==";
        assert_eq!(
            check_timestamp(&c, Some("1700000000"), 1_700_000_060),
            Ok(Some("1700000000"))
        );
        assert!(check_signature(&c, b"k", Some("1700000000"), b"{}", sig));
        assert!(!check_signature(&c, b"k", Some("1700000001"), b"{}", sig));
        assert_eq!(
            check_timestamp(&c, Some("1700000000"), 1_700_000_061),
            Err(stale_timestamp())
        );
        assert_eq!(
            check_timestamp(&c, None, 0),
            Err(VerifyError::missing_header("x-ts"))
        );
        assert_eq!(
            check_timestamp(&c, Some("x"), 0),
            Err(VerifyError::invalid_timestamp_header("x-ts"))
        );
    }
}
