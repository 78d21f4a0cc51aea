#![no_main]
//! `x-agent-api-key` and `Authorization: AgentKey …`: the key a call
//! presents, as the registry picks the provider from the headers.

use arbitrary::Arbitrary;
use hookgate::verify::providers::api_key;
use hookgate_fuzz::{headers, kind_of, verify};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Call<'a> {
    key: Option<&'a [u8]>,
    authorization: &'a [u8],
    second_authorization: &'a [u8],
}

fuzz_target!(|call: Call<'_>| {
    let mut pairs = vec![
        ("authorization", call.authorization),
        ("authorization", call.second_authorization),
    ];
    if let Some(key) = call.key {
        pairs.push(("x-agent-api-key", key));
    }
    let map = headers(&pairs);
    let presented = api_key::presented_key(&map);
    let (provider, reading) = verify(&map, b"", false);
    match presented {
        Some(key) => {
            assert_eq!(kind_of(provider), "external");
            assert_eq!(reading.expect("a presented key reads").credential(), key);
        }
        None => assert_ne!(kind_of(provider), "external"),
    }
});
