#![no_main]
//! GitHub: `X-Hub-Signature-256` and the repository read from the unverified
//! body to find the secret.

use arbitrary::Arbitrary;
use hookgate::verify::providers::github;
use hookgate_fuzz::{headers, verify, SECRET};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Call<'a> {
    signature: &'a [u8],
    body: &'a [u8],
}

fuzz_target!(|call: Call<'_>| {
    let map = headers(&[("x-hub-signature-256", call.signature)]);
    verify(&map, call.body, false);
    let lossy = String::from_utf8_lossy(call.signature);
    let _ = github::check_signature(SECRET, call.body, &lossy);
    let signed = github::sign(SECRET, call.body);
    assert!(github::check_signature(SECRET, call.body, &signed));
});
