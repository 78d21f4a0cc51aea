//! HMAC-SHA256 over several parts, compared in constant time with a tag.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// HMAC-SHA256(secret, parts joined).
pub(crate) fn tag(secret: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// True when `presented` is HMAC-SHA256(secret, parts joined).
pub(crate) fn matches(secret: &[u8], parts: &[&[u8]], presented: &[u8]) -> bool {
    tag(secret, parts).as_slice().ct_eq(presented).into()
}

/// True when any of the presented tags is `expected`; every one is compared,
/// each in constant time.
pub(crate) fn any_equals(expected: &[u8], presented: impl IntoIterator<Item = Vec<u8>>) -> bool {
    presented
        .into_iter()
        .fold(false, |any, tag| bool::from(expected.ct_eq(&tag)) | any)
}

/// True when `hex_tag` (either case) is HMAC-SHA256(secret, parts joined).
pub(crate) fn matches_hex(secret: &[u8], parts: &[&[u8]], hex_tag: &str) -> bool {
    let Ok(presented) = hex::decode(hex_tag) else {
        return false;
    };
    matches(secret, parts, &presented)
}

/// True when `header` (trimmed) is `prefix` followed by the hex tag of
/// the parts (`sha256=<hex>`, as several providers send it).
pub(crate) fn matches_prefixed_hex(
    secret: &[u8],
    parts: &[&[u8]],
    prefix: &str,
    header: &str,
) -> bool {
    header
        .trim()
        .strip_prefix(prefix)
        .is_some_and(|hex_tag| matches_hex(secret, parts, hex_tag))
}

/// True when `b64_tag` (standard base64) is HMAC-SHA256(secret, parts joined).
pub(crate) fn matches_base64(secret: &[u8], parts: &[&[u8]], b64_tag: &str) -> bool {
    use base64::Engine;
    let Ok(presented) = base64::engine::general_purpose::STANDARD.decode(b64_tag.trim()) else {
        return false;
    };
    matches(secret, parts, &presented)
}

/// Lowercase hex HMAC-SHA256 of the parts: how test clients and docs sign.
pub fn sign_hex(secret: &[u8], parts: &[&[u8]]) -> String {
    hex::encode(tag(secret, parts))
}

/// Standard base64 HMAC-SHA256 of the parts: how some providers sign.
pub fn sign_base64(secret: &[u8], parts: &[&[u8]]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(tag(secret, parts))
}
