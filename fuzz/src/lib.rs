//! What the fuzz targets share: a request's headers made from fuzzer
//! bytes, and the fixed secret and clock the checks run against.

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

/// The secret every check is made with; the fuzzer does not know it.
pub const SECRET: &[u8] = b"fuzz-secret";

/// The clock the timestamp checks read (a fixed time, so runs repeat).
pub const NOW: i64 = 1_800_000_000;

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

/// The text of a header value, as the verifiers read it (`to_str`).
pub fn text(map: &HeaderMap, name: &str) -> Option<String> {
    map.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
