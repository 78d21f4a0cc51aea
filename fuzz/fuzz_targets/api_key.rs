#![no_main]
//! `x-agent-api-key` and `Authorization: AgentKey …`: the key a call
//! presents, as the scheme picks it from the headers.

use arbitrary::Arbitrary;
use hookgate::verify::{api_key, Scheme};
use hookgate_fuzz::headers;
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
    match Scheme::from_headers(&map) {
        Ok(Scheme::ApiKey(secret)) => {
            assert_eq!(Some(secret.expose()), presented);
            let _ = secret.matches("a-stored-key");
        }
        Ok(other) => panic!("only API-key headers were sent, yet {other:?}"),
        Err(_) => assert_eq!(presented, None),
    }
});
