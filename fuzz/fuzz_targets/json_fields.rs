#![no_main]
//! The streaming reader of a few fields of an unverified JSON body: it must
//! never panic, and must accept every document a full parse accepts.

use arbitrary::Arbitrary;
use hookgate::domain::json_fields;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Call<'a> {
    body: &'a [u8],
    paths: Vec<Vec<&'a str>>,
}

fuzz_target!(|call: Call<'_>| {
    let paths: Vec<&[&str]> = call.paths.iter().take(4).map(Vec::as_slice).collect();
    let found = json_fields::find(call.body, &paths);
    if let Ok(found) = &found {
        assert_eq!(found.len(), paths.len());
    }
    if serde_json::from_slice::<serde_json::Value>(call.body).is_ok() {
        assert!(found.is_ok(), "a full parse accepts this body");
    }
});
