#![no_main]
//! GitHub: `X-Hub-Signature-256` and the repository read from the unverified
//! body to find the secret.

use arbitrary::Arbitrary;
use hookgate::verify::{github, Scheme};
use hookgate_fuzz::{headers, SECRET};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Call<'a> {
    signature: &'a [u8],
    body: &'a [u8],
}

fuzz_target!(|call: Call<'_>| {
    let map = headers(&[("x-hub-signature-256", call.signature)]);
    if let Ok(Scheme::Github { signature }) = Scheme::from_headers(&map) {
        let _ = github::check_signature(SECRET, call.body, signature.expose());
    }
    let _ = github::check_signature(SECRET, call.body, &String::from_utf8_lossy(call.signature));
    let _ = github::repository_name(call.body);
    let signed = github::sign(SECRET, call.body);
    assert!(github::check_signature(SECRET, call.body, &signed));
});
