#![no_main]
//! Stripe: the `Stripe-Signature` header (`t=…,v1=…,v0=…`).

use arbitrary::Arbitrary;
use hookgate::verify::{stripe, Scheme};
use hookgate_fuzz::{headers, NOW, SECRET};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Call<'a> {
    header: &'a [u8],
    body: &'a [u8],
}

fuzz_target!(|call: Call<'_>| {
    let map = headers(&[("stripe-signature", call.header)]);
    if let Ok(Scheme::Stripe { header }) = Scheme::from_headers(&map) {
        if let Ok(parsed) = stripe::parse(header.expose(), NOW) {
            assert!(!parsed.signatures.is_empty());
            let _ = stripe::check_signature(SECRET, &parsed, call.body);
        }
    }
    let lossy = String::from_utf8_lossy(call.header);
    if let Ok(parsed) = stripe::parse(&lossy, NOW) {
        let _ = stripe::check_signature(SECRET, &parsed, call.body);
    }
});
