//! Shopify: `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256(app secret, body)>`,
//! the secret named by `X-Shopify-Shop-Domain`.

use crate::domain::{KeyKind, KeyLookup, Secret, TimedSecret};
use crate::verify::described::ConversationRule;
use crate::verify::provider::{Call, Descriptor, Messages, Provider, Reading, SecretSource};
use crate::verify::sample::{self, Sample, SampleRequest};
use crate::verify::{hmac_sha256, VerifyError};
use serde_json::json;

pub const SIGNATURE_HEADER: &str = "x-shopify-hmac-sha256";
pub const SHOP_HEADER: &str = "x-shopify-shop-domain";

pub static DESCRIPTOR: Descriptor = Descriptor {
    kind: KeyKind::new("shopify", KeyLookup::Named),
    selected_by: &[SIGNATURE_HEADER],
    selected_by_prefix: "",
    credential_headers: &[],
    signature_headers: &[SIGNATURE_HEADER],
    event_headers: &[],
    reads: &[SHOP_HEADER],
    secret: SecretSource::ProviderMade {
        found_in: "the Shopify app's settings (client secret)",
    },
    redelivery_headers: &["x-shopify-webhook-id"],
    redelivery_prefix: "shopify",
    actors: &[],
    bots: &[],
    conversation: &[ConversationRule {
        when: None,
        key: "shopify:{header.x-shopify-shop-domain}/{body.admin_graphql_api_id|body.id}",
    }],
    handshakes: &[],
    messages: Messages {
        no_key: "No API key found for Shopify shop {name}.",
        bad_signature: "Invalid Shopify webhook signature",
    },
    tolerance: None,
};

#[derive(Debug)]
pub struct Shopify;

impl Provider for Shopify {
    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    fn sample(&self, request: &SampleRequest<'_>) -> Option<Sample> {
        let body =
            request.json_body(json!({"id": 1, "name": "#1001", "email": "buyer@example.com"}));
        let signature = hmac_sha256::sign_base64(request.secret(), &[&body]);
        let headers = [
            (SIGNATURE_HEADER, signature),
            (SHOP_HEADER, request.key_name.to_owned()),
            ("x-shopify-topic", "orders/create".to_owned()),
            ("x-shopify-webhook-id", sample::delivery_id()),
        ];
        Some(request.json_call(body, &headers))
    }

    fn read(&self, call: &Call<'_>) -> Result<Reading, VerifyError> {
        let shop = call
            .header(SHOP_HEADER)
            .ok_or_else(|| VerifyError::missing_header("X-Shopify-Shop-Domain"))?;
        let signature = call.header(SIGNATURE_HEADER).unwrap_or_default();
        Ok(Reading {
            key_name: Some(shop.to_owned()),
            credential: Some(Secret::new(signature.to_owned())),
            ..Reading::default()
        })
    }

    fn signed_by(&self, reading: &Reading, body: &[u8], key: &TimedSecret) -> bool {
        check_signature(key.secret.expose().as_bytes(), body, reading.credential())
    }
}

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
