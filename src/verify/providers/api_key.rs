//! Shared API keys (`external`): `x-agent-api-key: KEY` or
//! `Authorization: AgentKey KEY`, stored only as a digest and found by it.

use crate::domain::{KeyKind, KeyLookup, Secret, TimedSecret};
use crate::verify::provider::{Call, Descriptor, Messages, Provider, Reading, SecretSource};
use crate::verify::VerifyError;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};

pub const HEADER: &str = "x-agent-api-key";

const INVALID: &str = "Invalid API key for agent ID {agent}.";

pub static DESCRIPTOR: Descriptor = Descriptor {
    kind: KeyKind::new("external", KeyLookup::Digest),
    selected_by: &[HEADER, "authorization"],
    selected_by_prefix: "",
    credential_headers: &[HEADER],
    signature_headers: &[],
    event_headers: &[],
    reads: &["authorization"],
    secret: SecretSource::NotATrigger,
    redelivery_headers: &[],
    redelivery_prefix: "",
    actors: &[],
    bots: &[],
    conversation: &[],
    handshakes: &[],
    messages: Messages {
        no_key: INVALID,
        bad_signature: INVALID,
    },
    tolerance: None,
};

#[derive(Debug)]
pub struct ApiKey;

impl Provider for ApiKey {
    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    fn selects(&self, headers: &HeaderMap) -> bool {
        presented_key(headers).is_some()
    }

    fn read(&self, call: &Call<'_>) -> Result<Reading, VerifyError> {
        let key = presented_key(call.headers).ok_or_else(VerifyError::missing_authentication)?;
        Ok(Reading {
            credential: Some(Secret::new(key.to_owned())),
            ..Reading::default()
        })
    }

    /// Never asked: the key is found by its digest.
    fn signed_by(&self, _: &Reading, _: &[u8], _: &TimedSecret) -> bool {
        false
    }

    fn is_credential(&self, name: &HeaderName, value: &HeaderValue) -> bool {
        name.as_str() == HEADER
            || (name == AUTHORIZATION && agent_key_of_authorization(value).is_some())
    }
}

/// The key a caller presents, if any (scheme name case-insensitive).
pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(key) = headers.get(HEADER).and_then(|v| v.to_str().ok()) {
        return Some(key.trim());
    }
    headers
        .get_all(AUTHORIZATION)
        .find_map(|v| agent_key_of_authorization(v))
}

/// The KEY of an `Authorization: AgentKey KEY` value.
pub fn agent_key_of_authorization(value: &HeaderValue) -> Option<&str> {
    let (scheme, key) = value.to_str().ok()?.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("agentkey")
        .then(|| key.trim())
        .filter(|k| !k.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::headers;

    #[test]
    fn reads_either_header_with_any_scheme_case() {
        assert_eq!(presented_key(&headers(&[(HEADER, "k1")])), Some("k1"));
        assert_eq!(
            presented_key(&headers(&[("authorization", "agentKEY k2")])),
            Some("k2")
        );
    }

    #[test]
    fn ignores_other_authorization_schemes() {
        assert_eq!(
            presented_key(&headers(&[("authorization", "Bearer abc")])),
            None
        );
        assert_eq!(
            presented_key(&headers(&[("authorization", "AgentKey ")])),
            None
        );
    }
}
