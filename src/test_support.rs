//! What unit tests across modules share.

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

/// A header map of `pairs`, in order (a repeated name keeps every value).
pub fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    map
}
