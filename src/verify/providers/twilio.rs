//! Twilio: `X-Twilio-Signature: <base64 HMAC-SHA1(Auth Token, URL + sorted
//! form parameters)>` (<https://www.twilio.com/docs/usage/webhooks/webhooks-security>).
//! The URL is the full one Twilio called: `HOOKGATE_PUBLIC_URL` plus the
//! path and query, else the request's scheme and host; like Twilio's own
//! `RequestValidator`, it is tried with and without the default port. A
//! JSON body is covered instead by the URL's `bodySHA256` (hex SHA-256 of
//! the body). `X-Twilio-Webhooks-Signature-Settings: …,algorithm=HMAC_SHA256`
//! marks a signature made with SHA-256 (a SharedKey secret).
//! `I-Twilio-Idempotency-Token` marks a redelivery.

use crate::domain::{KeyKind, KeyLookup, Secret, TimedSecret};
use crate::verify::described::ConversationRule;
use crate::verify::provider::{Call, Descriptor, Messages, Own, Provider, Reading, SecretSource};
use crate::verify::sample::{self, Sample, SampleRequest};
use crate::verify::VerifyError;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use subtle::ConstantTimeEq;

pub const SIGNATURE_HEADER: &str = "x-twilio-signature";
const SETTINGS_HEADER: &str = "x-twilio-webhooks-signature-settings";

pub static DESCRIPTOR: Descriptor = Descriptor {
    kind: KeyKind::new("twilio", KeyLookup::AllOfType),
    selected_by: &[SIGNATURE_HEADER],
    selected_by_prefix: "",
    credential_headers: &[],
    signature_headers: &[SIGNATURE_HEADER],
    event_headers: &["i-twilio-"],
    reads: &[SETTINGS_HEADER],
    secret: SecretSource::ProviderMade {
        found_in: "the Twilio Console (Account Info: Auth Token)",
    },
    redelivery_headers: &["i-twilio-idempotency-token"],
    redelivery_prefix: "twilio",
    actors: &[],
    bots: &[],
    conversation: &[ConversationRule {
        when: None,
        key: "twilio:{body.AccountSid}:{body.To}:{body.From}",
    }],
    handshakes: &[],
    messages: Messages {
        no_key: "No Twilio key found for agent ID {agent}.",
        bad_signature: "Invalid Twilio webhook signature",
    },
    tolerance: None,
};

#[derive(Debug)]
pub struct Twilio;

impl Provider for Twilio {
    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    /// A form-encoded message (the body given is sent as a form).
    fn sample(&self, request: &SampleRequest<'_>) -> Option<Sample> {
        let body = match request.body {
            Some(body) => body.to_vec(),
            None => b"AccountSid=AChookgate&Body=hookgate+send-test&From=%2B15550000001\
                       &MessageSid=SMhookgate&To=%2B15550000002"
                .to_vec(),
        };
        let signed = signed_texts(request.url, &body, true).ok()?;
        let tag = tag::<Hmac<sha1::Sha1>>(request.secret(), &signed.texts[0]);
        let headers = vec![
            (
                "content-type".to_owned(),
                "application/x-www-form-urlencoded".to_owned(),
            ),
            (
                SIGNATURE_HEADER.to_owned(),
                base64::engine::general_purpose::STANDARD.encode(tag),
            ),
            (
                "i-twilio-idempotency-token".to_owned(),
                sample::delivery_id(),
            ),
        ];
        Some(Sample { headers, body })
    }

    fn read(&self, call: &Call<'_>) -> Result<Reading, VerifyError> {
        let algorithm = algorithm(call.header(SETTINGS_HEADER))?;
        let signed = signed_texts(&(call.url)(), call.body, call.is_form)?;
        let signature = call.header(SIGNATURE_HEADER).unwrap_or_default();
        Ok(Reading {
            credential: Some(Secret::new(signature.to_owned())),
            own: Some(Own::new((algorithm, signed))),
            ..Reading::default()
        })
    }

    fn signed_by(&self, reading: &Reading, _body: &[u8], key: &TimedSecret) -> bool {
        let Some((algorithm, signed)) = reading.own::<(Algorithm, Signed)>() else {
            return false;
        };
        check_signature(
            key.secret.expose().as_bytes(),
            *algorithm,
            signed,
            reading.credential(),
        )
    }
}

/// The HMAC a signature was made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
}

/// What Twilio signed: the URL as written and with its port the other way
/// (present or default), each followed by the sorted parameters; and
/// whether the body matched the URL's `bodySHA256`, when it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub texts: [String; 2],
    pub body_matches: bool,
}

fn invalid_settings() -> VerifyError {
    VerifyError::bad_request("Invalid X-Twilio-Webhooks-Signature-Settings header.")
}

fn unsigned_body() -> VerifyError {
    VerifyError::bad_request(
        "Twilio webhook body is neither a form nor covered by the URL's bodySHA256.",
    )
}

fn invalid_form() -> VerifyError {
    VerifyError::bad_request("Invalid Twilio webhook form body.")
}

/// The algorithm the settings header names (`HMAC_SHA1` without one).
pub fn algorithm(settings: Option<&str>) -> Result<Algorithm, VerifyError> {
    let named = settings.unwrap_or_default().split(',').find_map(|part| {
        let (name, value) = part.split_once('=')?;
        (name.trim() == "algorithm" && !value.trim().is_empty()).then_some(value.trim())
    });
    match named.map(str::to_ascii_uppercase).as_deref() {
        None | Some("HMAC_SHA1") => Ok(Algorithm::Sha1),
        Some("HMAC_SHA256") => Ok(Algorithm::Sha256),
        Some(_) => Err(invalid_settings()),
    }
}

/// The texts Twilio may have signed for a call to `url` with `body`.
pub fn signed_texts(url: &str, body: &[u8], is_form: bool) -> Result<Signed, VerifyError> {
    let body_hash = query_value(url, "bodySHA256");
    let params = match (&body_hash, is_form) {
        (Some(_), _) => String::new(),
        (None, true) => sorted_params(body)?,
        (None, false) if body.is_empty() => String::new(),
        (None, false) => return Err(unsigned_body()),
    };
    let body_matches = body_hash.is_none_or(|expected| {
        let actual = hex::encode(Sha256::digest(body));
        bool::from(
            actual
                .as_bytes()
                .ct_eq(expected.to_ascii_lowercase().as_bytes()),
        )
    });
    let [written, other] = port_variants(url);
    Ok(Signed {
        texts: [written + &params, other + &params],
        body_matches,
    })
}

/// Each parameter name in order, followed by each of its distinct values
/// in order, as `RequestValidator.compute_signature` joins them.
fn sorted_params(body: &[u8]) -> Result<String, VerifyError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|_| invalid_form())?;
    let mut params: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, value) in pairs {
        params.entry(name).or_default().insert(value);
    }
    let mut joined = String::with_capacity(body.len());
    for (name, values) in &params {
        for value in values {
            joined.push_str(name);
            joined.push_str(value);
        }
    }
    Ok(joined)
}

/// A query parameter's decoded value.
fn query_value(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// The URL as written, and with its port removed (when it names one) or
/// the scheme's default port added (when it does not).
fn port_variants(url: &str) -> [String; 2] {
    let Some((scheme, rest)) = url.split_once("://") else {
        return [url.to_owned(), url.to_owned()];
    };
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(split);
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((user, host)) => (format!("{user}@"), host),
        None => (String::new(), authority),
    };
    let other = match host
        .rsplit_once(':')
        .filter(|(_, p)| p.parse::<u16>().is_ok())
    {
        Some((bare, _)) if !bare.contains(':') || bare.ends_with(']') => bare.to_owned(),
        _ => format!("{host}:{}", if scheme == "https" { 443 } else { 80 }),
    };
    [
        url.to_owned(),
        format!("{scheme}://{userinfo}{other}{tail}"),
    ]
}

/// True when `header` is the base64 HMAC of one of the signed texts, and
/// the body matched its `bodySHA256`. Both texts are always computed.
pub fn check_signature(secret: &[u8], algorithm: Algorithm, signed: &Signed, header: &str) -> bool {
    let Ok(presented) = base64::engine::general_purpose::STANDARD.decode(header.trim()) else {
        return false;
    };
    let matches = signed.texts.iter().fold(false, |any, text| {
        let tag = match algorithm {
            Algorithm::Sha1 => tag::<Hmac<sha1::Sha1>>(secret, text),
            Algorithm::Sha256 => tag::<Hmac<Sha256>>(secret, text),
        };
        bool::from(tag.ct_eq(&presented)) | any
    });
    matches & signed.body_matches
}

fn tag<M: Mac + hmac::digest::KeyInit>(secret: &[u8], text: &str) -> Vec<u8> {
    let mut mac = <M as Mac>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(text.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    // From Twilio's "Webhooks security" documentation (and twilio-python's
    // tests): this URL, these parameters, this Auth Token.
    const TOKEN: &[u8] = b"12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const FORM: &[u8] = b"CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&From=%2B12349013030&To=%2B18005551212";
    const SIGNATURE: &str = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";

    fn signed(url: &str, body: &[u8], is_form: bool) -> Signed {
        signed_texts(url, body, is_form).unwrap()
    }

    #[test]
    fn accepts_twilios_documented_example() {
        let s = signed(URL, FORM, true);
        assert!(check_signature(TOKEN, Algorithm::Sha1, &s, SIGNATURE));
        assert!(!check_signature(b"54321", Algorithm::Sha1, &s, SIGNATURE));
        assert!(!check_signature(TOKEN, Algorithm::Sha256, &s, SIGNATURE));
        let changed = signed(URL, b"CallSid=CA1234567890ABCDE&Digits=9", true);
        assert!(!check_signature(
            TOKEN,
            Algorithm::Sha1,
            &changed,
            SIGNATURE
        ));
        let other_url = signed("https://mycompany.com/other.php?foo=1&bar=2", FORM, true);
        assert!(!check_signature(
            TOKEN,
            Algorithm::Sha1,
            &other_url,
            SIGNATURE
        ));
    }

    #[test]
    fn the_url_is_tried_with_and_without_its_default_port() {
        let with_port = signed(
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            FORM,
            true,
        );
        assert!(check_signature(
            TOKEN,
            Algorithm::Sha1,
            &with_port,
            SIGNATURE
        ));
        assert_eq!(
            port_variants("http://127.0.0.1:8080/a?b=1"),
            [
                "http://127.0.0.1:8080/a?b=1".to_owned(),
                "http://127.0.0.1/a?b=1".to_owned()
            ]
        );
        assert_eq!(port_variants("http://h/x")[1], "http://h:80/x");
    }

    #[test]
    fn a_json_body_is_covered_by_body_sha256() {
        let body = br#"{"property": "value", "boolean": true}"#;
        let hash = hex::encode(Sha256::digest(body));
        let url = format!("https://mycompany.com/myapp.php?bodySHA256={hash}");
        assert!(signed(&url, body, false).body_matches);
        assert!(!signed(&url, b"{}", false).body_matches);
        assert_eq!(signed_texts(URL, body, false), Err(unsigned_body()));
        assert!(
            signed(URL, b"", false).body_matches,
            "a GET signs the URL only"
        );
    }

    #[test]
    fn the_settings_header_names_the_algorithm() {
        assert_eq!(algorithm(None), Ok(Algorithm::Sha1));
        assert_eq!(
            algorithm(Some("key=k1,algorithm=HMAC_SHA256")),
            Ok(Algorithm::Sha256)
        );
        assert_eq!(algorithm(Some("key=k1")), Ok(Algorithm::Sha1));
        assert_eq!(algorithm(Some("algorithm=MD5")), Err(invalid_settings()));
    }
}
