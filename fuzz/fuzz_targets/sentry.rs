#![no_main]
//! Sentry: `Sentry-Hook-Signature` (hex) over the body, and the
//! `Request-ID` that marks a redelivery of a Sentry-signed call.

use arbitrary::Arbitrary;
use hookgate::verify::providers::sentry;
use hookgate_fuzz::{headers, verify, SECRET};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Call<'a> {
    signature: &'a [u8],
    request_id: &'a [u8],
    body: &'a [u8],
}

fuzz_target!(|call: Call<'_>| {
    let map = headers(&[
        ("sentry-hook-signature", call.signature),
        ("request-id", call.request_id),
    ]);
    verify(&map, call.body, false);
    let lossy = String::from_utf8_lossy(call.signature);
    let _ = sentry::check_signature(SECRET, call.body, &lossy);
});
