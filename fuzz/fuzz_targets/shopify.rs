#![no_main]
//! Shopify: `X-Shopify-Hmac-Sha256` (base64) and the shop domain that names
//! the secret.

use arbitrary::Arbitrary;
use hookgate::verify::providers::shopify;
use hookgate_fuzz::{headers, verify, SECRET};
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
    verify(&map, call.body, false);
    let lossy = String::from_utf8_lossy(call.signature);
    let _ = shopify::check_signature(SECRET, call.body, &lossy);
});
