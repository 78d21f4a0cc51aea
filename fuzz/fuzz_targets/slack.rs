#![no_main]
//! Slack: `X-Slack-Signature`, `X-Slack-Request-Timestamp`, and the app id
//! read from the unverified body (JSON, or a form with a `payload`).

use arbitrary::Arbitrary;
use hookgate::verify::providers::slack;
use hookgate_fuzz::{headers, verify, NOW, SECRET};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Call<'a> {
    signature: &'a [u8],
    timestamp: &'a [u8],
    body: &'a [u8],
    form: bool,
}

fuzz_target!(|call: Call<'_>| {
    let map = headers(&[
        ("x-slack-signature", call.signature),
        ("x-slack-request-timestamp", call.timestamp),
    ]);
    verify(&map, call.body, call.form);
    let _ = slack::parse_payload(call.body, call.form);
    let timestamp = NOW.to_string();
    let signed = slack::sign(SECRET, &timestamp, call.body);
    assert!(slack::check_signature(
        SECRET, &timestamp, call.body, &signed
    ));
});
