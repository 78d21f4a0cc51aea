#![no_main]
//! Linear: `Linear-Signature` and the `webhookTimestamp` read from the
//! unverified body.

use arbitrary::Arbitrary;
use hookgate::verify::providers::linear;
use hookgate_fuzz::{headers, verify, SECRET};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Call<'a> {
    signature: &'a [u8],
    body: &'a [u8],
}

fuzz_target!(|call: Call<'_>| {
    let map = headers(&[("linear-signature", call.signature)]);
    verify(&map, call.body, false);
    let _ = linear::webhook_timestamp(call.body);
    let lossy = String::from_utf8_lossy(call.signature);
    let _ = linear::check_signature(SECRET, call.body, &lossy);
});
