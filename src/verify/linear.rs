//! Linear: `Linear-Signature: <hex HMAC-SHA256(secret, body)>`, and the
//! body's `webhookTimestamp` (milliseconds) within a minute of now.

use super::{hmac_sha256, VerifyError};
use crate::domain::json_fields::{self, Field};

pub const SIGNATURE_HEADER: &str = "linear-signature";
/// How far `webhookTimestamp` may be from now, either way (Linear's SDK).
pub const TOLERANCE_MS: u64 = 60_000;

/// The body's `webhookTimestamp`, in milliseconds, read without building
/// the body: it is not verified yet.
pub fn webhook_timestamp(body: &[u8]) -> Result<i64, VerifyError> {
    let found = json_fields::find(body, &[&["webhookTimestamp"]])
        .map_err(|_| VerifyError::LinearNotJson)?;
    match found[0] {
        Field::Int(ms) => Ok(ms),
        Field::NotObject => Err(VerifyError::LinearNotJson),
        _ => Err(VerifyError::LinearMissingTimestamp),
    }
}

pub fn check_timestamp(timestamp_ms: i64, now_ms: i64) -> Result<(), VerifyError> {
    if now_ms.abs_diff(timestamp_ms) > TOLERANCE_MS {
        return Err(VerifyError::LinearStaleTimestamp);
    }
    Ok(())
}

pub fn check_signature(secret: &[u8], body: &[u8], header: &str) -> bool {
    hmac_sha256::matches_hex(secret, &[body], header.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Python: hmac.new(b"lin_wh_secret", body, sha256).hexdigest().
    const BODY: &[u8] = br#"{"action":"create","webhookTimestamp":1700000000000}"#;
    const HEADER: &str = "0e7eb538ce08f2d147d43dcc1a8d5fef4d5dd6effe602c4c11c3d2456d92c6be";

    #[test]
    fn checks_signature_and_timestamp() {
        assert!(check_signature(b"lin_wh_secret", BODY, HEADER));
        assert!(!check_signature(b"other", BODY, HEADER));
        let ts = webhook_timestamp(BODY).unwrap();
        assert_eq!(ts, 1_700_000_000_000);
        assert!(check_timestamp(ts, ts + 60_000).is_ok());
        assert_eq!(
            check_timestamp(ts, ts + 60_001),
            Err(VerifyError::LinearStaleTimestamp)
        );
        assert_eq!(webhook_timestamp(b"nope"), Err(VerifyError::LinearNotJson));
        assert_eq!(
            webhook_timestamp(b"{}"),
            Err(VerifyError::LinearMissingTimestamp)
        );
    }
}
