#![no_main]
//! Generic HMAC keys: the settings an admin stores (validated as the key
//! routes do), then the signature and timestamp headers they name.

use arbitrary::Arbitrary;
use hookgate::domain::HmacConfig;
use hookgate::verify::hmac;
use hookgate_fuzz::{NOW, SECRET};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Call<'a> {
    settings: &'a [u8],
    timestamp: Option<&'a str>,
    signature: &'a str,
    body: &'a [u8],
}

fuzz_target!(|call: Call<'_>| {
    let Ok(config) = serde_json::from_slice::<HmacConfig>(call.settings) else {
        return;
    };
    let Ok(config) = config.validated() else {
        return;
    };
    if let Ok(timestamp) = hmac::check_timestamp(&config, call.timestamp, NOW) {
        let _ = hmac::check_signature(&config, SECRET, timestamp, call.body, call.signature);
    }
});
