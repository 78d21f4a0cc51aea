#![no_main]
//! Generic HMAC keys: the settings an admin stores (validated as the key
//! routes do), then the signature and timestamp headers they name, judged
//! as the verifier judges an agent's `hmac` keys.

use arbitrary::Arbitrary;
use hookgate::domain::HmacConfig;
use hookgate::verify::{
    providers::{self, hmac},
    Call as Read, Provider,
};
use hookgate_fuzz::{headers, key, NOW, SECRET, URL};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

#[derive(Arbitrary, Debug)]
struct Call<'a> {
    settings: &'a [u8],
    timestamp: &'a [u8],
    signature: &'a [u8],
    body: &'a [u8],
}

fuzz_target!(|call: Call<'_>| {
    let Ok(config) = serde_json::from_slice::<HmacConfig>(call.settings) else {
        return;
    };
    let Ok(config) = config.validated(providers::claimed_by) else {
        return;
    };
    let map = headers(&[("x-sig", call.signature), ("x-ts", call.timestamp)]);
    let provider = &hmac::GenericHmac;
    let read = Read {
        headers: &map,
        body: call.body,
        is_form: false,
        now: NOW,
        tolerance_secs: None,
        url: &|| URL.to_owned(),
    };
    let reading = provider.read(&read).expect("generic HMAC reads every call");
    let mut stored = key(SECRET);
    stored.hmac = Some(Arc::new(config));
    let _ = provider.judge(&reading, call.body, &[&stored], "agent", NOW);
});
