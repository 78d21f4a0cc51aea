#![no_main]
//! GitLab: `X-Gitlab-Token`, compared like a key, next to the headers that
//! outrank it in the scheme order.

use arbitrary::Arbitrary;
use hookgate::verify::Scheme;
use hookgate_fuzz::{headers, text};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Call<'a> {
    token: &'a [u8],
    other_header: Option<(u8, &'a [u8])>,
}

/// Headers the scheme order reads before GitLab's.
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
    match Scheme::from_headers(&map) {
        Ok(Scheme::Gitlab { token }) => {
            assert_eq!(
                Some(token.expose().to_owned()),
                text(&map, "x-gitlab-token")
            );
            let _ = token.matches("a-stored-token");
        }
        Ok(_) | Err(_) => {}
    }
});
