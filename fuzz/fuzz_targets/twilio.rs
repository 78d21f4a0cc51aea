#![no_main]
//! Twilio: the URL it signs comes from the request's `Host` when
//! `HOOKGATE_PUBLIC_URL` is unset, so the URL (its port, its query's
//! `bodySHA256`) is a stranger's input as much as the form body is.

use arbitrary::Arbitrary;
use hookgate::verify::providers::twilio;
use hookgate_fuzz::SECRET;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Call<'a> {
    url: &'a str,
    settings: Option<&'a str>,
    signature: &'a str,
    body: &'a [u8],
    is_form: bool,
}

fuzz_target!(|call: Call<'_>| {
    let Ok(algorithm) = twilio::algorithm(call.settings) else {
        return;
    };
    if let Ok(signed) = twilio::signed_texts(call.url, call.body, call.is_form) {
        let _ = twilio::check_signature(SECRET, algorithm, &signed, call.signature);
    }
});
