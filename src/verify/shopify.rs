//! Shopify: `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256(app secret, body)>`,
//! the secret named by `X-Shopify-Shop-Domain`.

use super::hmac_sha256;

pub const SIGNATURE_HEADER: &str = "x-shopify-hmac-sha256";
pub const SHOP_HEADER: &str = "x-shopify-shop-domain";

pub fn check_signature(secret: &[u8], body: &[u8], header: &str) -> bool {
    hmac_sha256::matches_base64(secret, &[body], header)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Python: base64(hmac.new(b"hush", body, sha256).digest()).
    const BODY: &[u8] = br#"{"id":820982911946154508}"#;
    const HEADER: &str = "qBvrsZF7RfB1iS6BX6IHqJTp5L911P7intnPeTPsH0I=";

    #[test]
    fn checks_the_base64_tag() {
        assert!(check_signature(b"hush", BODY, HEADER));
        assert!(!check_signature(b"hush!", BODY, HEADER));
        assert!(!check_signature(b"hush", b"{}", HEADER));
        assert!(!check_signature(b"hush", BODY, "not base64"));
    }
}
