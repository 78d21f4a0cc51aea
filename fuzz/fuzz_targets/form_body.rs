#![no_main]
//! Form bodies (`application/x-www-form-urlencoded`): read as JSON for
//! routes, and for Slack's app id before the signature is checked.

use arbitrary::Arbitrary;
use hookgate::domain::payload::{body_as_json, is_form};
use hookgate::verify::providers::slack;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Call<'a> {
    content_type: &'a str,
    body: &'a [u8],
}

fuzz_target!(|call: Call<'_>| {
    let form = is_form(Some(call.content_type));
    let _ = body_as_json(call.body, true);
    let _ = body_as_json(call.body, form);
    let _ = slack::parse_payload(call.body, true);
});
