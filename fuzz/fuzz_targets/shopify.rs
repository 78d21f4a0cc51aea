#![no_main]
//! Shopify: `X-Shopify-Hmac-Sha256` (base64) and the shop domain that names
//! the secret.

use arbitrary::Arbitrary;
use hookgate::verify::{shopify, Scheme};
use hookgate_fuzz::{headers, SECRET};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Call<'a> {
    signature: &'a [u8],
    shop: &'a [u8],
    body: &'a [u8],
}

fuzz_target!(|call: Call<'_>| {
    let map = headers(&[
        ("x-shopify-hmac-sha256", call.signature),
        ("x-shopify-shop-domain", call.shop),
    ]);
    if let Ok(Scheme::Shopify { signature, shop }) = Scheme::from_headers(&map) {
        let _ = shop.map(|s| s.len());
        let _ = shopify::check_signature(SECRET, call.body, signature.expose());
    }
    let _ = shopify::check_signature(SECRET, call.body, &String::from_utf8_lossy(call.signature));
});
