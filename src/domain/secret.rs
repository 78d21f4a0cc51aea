use chrono::NaiveDateTime;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// A key, token, signing secret or presented credential. `Debug` never
/// shows the value, so a stray `{:?}` in a log line cannot leak it; the
/// bytes are zeroed when it is dropped. It deserializes from a JSON string
/// (request bodies) and parses from a command-line value, but never
/// serializes: the creation responses that show a value wrap it in
/// [`Revealed`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Drop for Secret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self)
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

/// A secret a creation response shows, once: the one way a `Secret` is
/// written out.
#[derive(Debug, Clone)]
pub struct Revealed(pub Secret);

impl serde::Serialize for Revealed {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.expose())
    }
}

impl utoipa::PartialSchema for Revealed {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        String::schema()
    }
}

impl utoipa::ToSchema for Revealed {}

impl utoipa::PartialSchema for Secret {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        String::schema()
    }
}

impl utoipa::ToSchema for Secret {}

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The raw value, for signing, comparing or storing.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time equality against a presented value.
    pub fn matches(&self, presented: &str) -> bool {
        self.0.as_bytes().ct_eq(presented.as_bytes()).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// 32 random bytes from the OS CSPRNG, as 64 lowercase hex characters.
pub fn generate_key() -> Secret {
    Secret(hex::encode(random_bytes()))
}

/// 32 random bytes from the OS CSPRNG.
pub fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

/// Until when a stored key version verifies: `None` until it is deleted or
/// rotated away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveUntil(pub Option<NaiveDateTime>);

impl LiveUntil {
    pub fn is_live(self, now: NaiveDateTime) -> bool {
        self.0.is_none_or(|until| until > now)
    }

    /// The longer-lived of two versions that both match.
    pub fn longest(self, other: Self) -> Self {
        match (self.0, other.0) {
            (Some(a), Some(b)) => Self(Some(a.max(b))),
            _ => Self(None),
        }
    }
}

/// A stored key value that matched by its digest: which key, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveKey {
    pub key_id: std::sync::Arc<str>,
    /// The key's name (provenance says which key verified a call).
    pub key_name: std::sync::Arc<str>,
    pub until: LiveUntil,
}

/// One version of a signing secret, with its key's id, its expiry (and,
/// for an `hmac` key, the key's settings).
#[derive(Debug, Clone)]
pub struct TimedSecret {
    pub key_id: std::sync::Arc<str>,
    pub key_name: std::sync::Arc<str>,
    pub secret: Secret,
    pub until: LiveUntil,
    pub hmac: Option<std::sync::Arc<super::HmacConfig>>,
}

/// Hex SHA-256 of a key: how `external` keys are stored and looked up.
pub fn digest_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show_in_debug_and_are_written_only_when_revealed() {
        let secret: Secret = serde_json::from_str("\"s3cr3t-value\"").unwrap();
        assert_eq!(secret.expose(), "s3cr3t-value");
        let shown = format!("{secret:?} {:?}", Revealed(secret.clone()));
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert_eq!(
            serde_json::to_string(&Revealed(secret)).unwrap(),
            "\"s3cr3t-value\""
        );
    }

    #[test]
    fn generated_keys_are_64_hex_chars_and_distinct() {
        let (a, b) = (generate_key(), generate_key());
        assert_eq!(a.expose().len(), 64);
        assert!(a.expose().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn debug_hides_the_value() {
        let s = Secret::new("hunter2".into());
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(s.matches("hunter2") && !s.matches("hunter3"));
    }

    #[test]
    fn digest_matches_the_sha256_test_vector() {
        // FIPS 180-2 example: SHA-256("abc").
        assert_eq!(
            digest_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
