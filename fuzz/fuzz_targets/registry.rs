#![no_main]
//! Every provider in the registry, old or added later, without new fuzz
//! code: the fuzzer picks a provider and sends its selecting header with
//! any value, beside any of the headers its descriptor names and any
//! provider's descriptor says it reads, any body, as a form or not.

use arbitrary::Arbitrary;
use hookgate::verify::providers::PROVIDERS;
use hookgate_fuzz::{headers, kind_of, verify};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Call<'a> {
    provider: u8,
    selecting: &'a [u8],
    others: Vec<(u8, &'a [u8])>,
    body: &'a [u8],
    is_form: bool,
}

fuzz_target!(|call: Call<'_>| {
    let provider = PROVIDERS[usize::from(call.provider) % PROVIDERS.len()];
    let d = provider.descriptor();
    let named: Vec<&'static str> = [d.selected_by, d.credential_headers, d.signature_headers]
        .into_iter()
        .flatten()
        .chain(d.redelivery_headers)
        .chain(PROVIDERS.iter().flat_map(|p| p.descriptor().reads))
        .copied()
        .collect();
    let mut pairs: Vec<(&'static str, &[u8])> = Vec::new();
    if let Some(header) = d.selected_by.first() {
        pairs.push((header, call.selecting));
    }
    for (which, value) in call.others.iter().take(8) {
        pairs.push((named[usize::from(*which) % named.len()], value));
    }
    let map = headers(&pairs);
    let (chosen, _) = verify(&map, call.body, call.is_form);
    // A readable selecting header with the prefix picks this provider or
    // one earlier in the registry; never one after it.
    let position = |kind: &str| PROVIDERS.iter().position(|p| kind_of(*p) == kind);
    if provider.selects(&map) {
        assert!(position(kind_of(chosen)) <= position(kind_of(provider)));
    }
});
