//! Stripe: `Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret,
//! "{t}.{body}")>[,v1=…][,v0=…]`, the endpoint's `whsec_…` secret used as is.

use super::{hmac_sha256, VerifyError};

pub const SIGNATURE_HEADER: &str = "stripe-signature";
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
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in header.split(',') {
        match item.trim().split_once('=') {
            Some(("t", t)) => timestamp = Some(t),
            Some(("v1", sig)) => signatures.push(sig),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(VerifyError::StripeInvalidHeader)?;
    let ts: i64 = timestamp
        .parse()
        .map_err(|_| VerifyError::StripeInvalidHeader)?;
    if signatures.is_empty() {
        return Err(VerifyError::StripeInvalidHeader);
    }
    if now.abs_diff(ts) > TOLERANCE_SECS {
        return Err(VerifyError::StripeStaleTimestamp);
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
        assert_eq!(parse("v1=abcd", 0), Err(VerifyError::StripeInvalidHeader));
        assert_eq!(
            parse("t=12x,v1=ab", 0),
            Err(VerifyError::StripeInvalidHeader)
        );
        assert_eq!(
            parse("t=1700000000", 1_700_000_000),
            Err(VerifyError::StripeInvalidHeader)
        );
        assert_eq!(
            parse(HEADER, 1_700_000_301),
            Err(VerifyError::StripeStaleTimestamp)
        );
    }
}
