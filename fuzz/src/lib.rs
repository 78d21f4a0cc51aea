//! What the fuzz targets share: a request's headers made from fuzzer
//! bytes, the fixed secret and clock the checks run against, and one pass
//! through the provider that the registry picks for a call.

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use hookgate::domain::{LiveUntil, Secret, TimedSecret};
use hookgate::verify::{providers, Call, Provider, Reading};

/// The secret every check is made with; the fuzzer does not know it.
pub const SECRET: &[u8] = b"fuzz-secret";

/// The clock the timestamp checks read (a fixed time, so runs repeat).
pub const NOW: i64 = 1_800_000_000;

/// The URL a fuzzed call was made to (providers that sign the URL).
pub const URL: &str = "https://hookgate.example/agents/forward/name/agent/hook?x=1";

/// A header map holding `name: value` for each pair whose value is a legal
/// header value (the HTTP layer refuses the others before hookgate runs).
pub fn headers(pairs: &[(&'static str, &[u8])]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            map.append(HeaderName::from_static(name), value);
        }
    }
    map
}

/// A stored key version holding `secret`, live.
pub fn key(secret: &[u8]) -> TimedSecret {
    TimedSecret {
        key_id: "fuzz-key".into(),
        key_name: "fuzz-key".into(),
        secret: Secret::new(String::from_utf8_lossy(secret).into_owned()),
        until: LiveUntil(None),
        hmac: None,
    }
}

/// The call as the forward route hands it on: the provider the registry
/// picks reads it, and when it reads, every check runs with [`SECRET`].
/// Returns the provider and what it read.
pub fn verify(
    map: &HeaderMap,
    body: &[u8],
    is_form: bool,
) -> (&'static dyn Provider, Option<Reading>) {
    let provider = providers::selected(map);
    let call = Call {
        headers: map,
        body,
        is_form,
        now: NOW,
        tolerance_secs: None,
        url: &|| URL.to_owned(),
    };
    let reading = provider.read(&call).ok();
    if let Some(reading) = &reading {
        let secret = key(SECRET);
        let _ = provider.signed_by(reading, body, &secret);
        let _ = provider.judge(reading, body, &[&secret], "agent", NOW);
        let _ = provider.after_match(reading, NOW * 1000);
    }
    for (name, value) in map {
        let _ = providers::is_credential(name, value);
    }
    let _ = providers::redelivery_id(map, None);
    (provider, reading)
}

/// The key type of the provider that verified a call.
pub fn kind_of(provider: &dyn Provider) -> &'static str {
    provider.descriptor().kind.as_str()
}
