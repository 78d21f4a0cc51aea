#![no_main]
//! Stripe: the `Stripe-Signature` header (`t=…,v1=…,v0=…`).

use arbitrary::Arbitrary;
use hookgate::verify::providers::stripe;
use hookgate_fuzz::{headers, verify, NOW, SECRET};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Call<'a> {
    header: &'a [u8],
    body: &'a [u8],
}

fuzz_target!(|call: Call<'_>| {
    let map = headers(&[("stripe-signature", call.header)]);
    verify(&map, call.body, false);
    let lossy = String::from_utf8_lossy(call.header);
    if let Ok(parsed) = stripe::parse(&lossy, NOW) {
        assert!(!parsed.signatures.is_empty());
        let _ = stripe::check_signature(SECRET, &parsed, call.body);
    }
});
