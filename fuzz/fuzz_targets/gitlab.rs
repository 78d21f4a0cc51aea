#![no_main]
//! GitLab: `X-Gitlab-Token`, next to the headers that outrank it in the
//! registry's order.

use arbitrary::Arbitrary;
use hookgate_fuzz::{headers, kind_of, verify};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Call<'a> {
    token: &'a [u8],
    other_header: Option<(u8, &'a [u8])>,
}

/// Headers the registry asks about before GitLab's.
const EARLIER: [&str; 4] = [
    "x-hub-signature-256",
    "x-slack-signature",
    "stripe-signature",
    "x-shopify-hmac-sha256",
];

fuzz_target!(|call: Call<'_>| {
    let mut pairs = vec![("x-gitlab-token", call.token)];
    if let Some((which, value)) = call.other_header {
        pairs.push((EARLIER[usize::from(which) % EARLIER.len()], value));
    }
    let map = headers(&pairs);
    let (provider, reading) = verify(&map, b"{}", false);
    if kind_of(provider) == "gitlab" {
        let token = map.get("x-gitlab-token").and_then(|v| v.to_str().ok());
        assert_eq!(
            reading.expect("a token reads").credential(),
            token.unwrap_or_default()
        );
    }
});
