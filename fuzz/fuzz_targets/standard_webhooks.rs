#![no_main]
//! Standard Webhooks (and Svix): `webhook-id`, `webhook-timestamp`,
//! `webhook-signature` (several `v1,` values), and `whsec_` secrets.

use arbitrary::Arbitrary;
use hookgate::verify::providers::standard_webhooks;
use hookgate_fuzz::{headers, verify};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Call<'a> {
    svix: bool,
    id: &'a [u8],
    timestamp: &'a [u8],
    signature: &'a [u8],
    body: &'a [u8],
    stored_secret: &'a [u8],
}

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

fuzz_target!(|call: Call<'_>| {
    let names = match call.svix {
        true => ["svix-id", "svix-timestamp", "svix-signature"],
        false => ["webhook-id", "webhook-timestamp", "webhook-signature"],
    };
    let map = headers(&[
        (names[0], call.id),
        (names[1], call.timestamp),
        (names[2], call.signature),
    ]);
    let (_, reading) = verify(&map, call.body, false);
    if let Some(reading) = reading {
        let id = reading.message_id.as_deref().unwrap_or_default();
        let timestamp = reading.timestamp();
        let signed = standard_webhooks::sign(KEY, id, timestamp, call.body);
        assert!(standard_webhooks::check_signature(
            KEY, id, timestamp, call.body, &signed
        ));
        let header = reading.credential();
        let _ = standard_webhooks::check_with_secret(
            call.stored_secret,
            id,
            timestamp,
            call.body,
            header,
        );
    }
    let _ = standard_webhooks::key_bytes(call.stored_secret);
});
