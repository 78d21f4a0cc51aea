//! HMAC-SHA256 over several parts, compared in constant time with a hex tag.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// True when `hex_tag` (either case) is HMAC-SHA256(secret, parts joined).
pub(crate) fn matches_hex(secret: &[u8], parts: &[&[u8]], hex_tag: &str) -> bool {
    let Ok(presented) = hex::decode(hex_tag) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    for part in parts {
        mac.update(part);
    }
    let expected = mac.finalize().into_bytes();
    expected.as_slice().ct_eq(&presented).into()
}

/// Lowercase hex HMAC-SHA256 of the parts: how test clients and docs sign.
pub fn sign_hex(secret: &[u8], parts: &[&[u8]]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    for part in parts {
        mac.update(part);
    }
    hex::encode(mac.finalize().into_bytes())
}
