#![no_main]
//! Linear: `Linear-Signature` and the `webhookTimestamp` read from the
//! unverified body.

use arbitrary::Arbitrary;
use hookgate::verify::{linear, Scheme};
use hookgate_fuzz::{headers, NOW, SECRET};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Call<'a> {
    signature: &'a [u8],
    body: &'a [u8],
}

fuzz_target!(|call: Call<'_>| {
    let map = headers(&[("linear-signature", call.signature)]);
    if let Ok(Scheme::Linear { signature }) = Scheme::from_headers(&map) {
        if let Ok(ms) = linear::webhook_timestamp(call.body) {
            let _ = linear::check_timestamp(ms, NOW * 1000);
        }
        let _ = linear::check_signature(SECRET, call.body, signature.expose());
    }
    let _ = linear::check_signature(SECRET, call.body, &String::from_utf8_lossy(call.signature));
});
