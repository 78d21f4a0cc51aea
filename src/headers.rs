//! Which of a call's headers go where, in one place: what never leaves
//! hookgate towards an agent (hop-by-hop headers, the caller's
//! credentials), what an ACP event shows of the call (its event headers),
//! and the request id every call carries. The synchronous forward, intake
//! and the queue's attempts all ask here; `row::headers` is how a
//! delivery row keeps them.

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue, CONNECTION};
use serde_json::{Map, Value};

/// The id of the request that brought a call; its delivery's calls carry it.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Hop-by-hop headers (RFC 9110 §7.6.1) and those hookgate sets itself.
pub fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "content-length"
            | "expect"
    ) || name.as_str().starts_with("proxy-")
}

/// Removes hop-by-hop headers and those the `Connection` header names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|token| HeaderName::try_from(token.trim()).ok())
        .collect();
    for name in listed {
        headers.remove(name);
    }
    headers.retain(|name, _| !is_hop_by_hop(name));
}

/// The caller's headers that go on to the agent: one copy, filtered.
pub fn forwardable_headers(all: &HeaderMap) -> HeaderMap {
    let mut kept = HeaderMap::with_capacity(all.len());
    for (name, value) in all.iter() {
        if !is_stripped_request_header(name, value, all) {
            kept.append(name.clone(), value.clone());
        }
    }
    kept
}

fn listed_in_connection(name: &HeaderName, headers: &HeaderMap) -> bool {
    headers
        .get_all(CONNECTION)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case(name.as_str()))
}

/// What never leaves hookgate towards the agent: hop-by-hop headers and the
/// caller's credentials (each provider's descriptor names its own).
/// Signatures go on: they prove nothing without the secret, and agents may
/// re-verify.
pub fn is_stripped_request_header(name: &HeaderName, value: &HeaderValue, all: &HeaderMap) -> bool {
    is_hop_by_hop(name)
        || listed_in_connection(name, all)
        || crate::verify::providers::is_credential(name, value)
}

/// The provider's event headers (`x-…` and those each provider's
/// descriptor names): never credentials or signatures.
pub fn event_headers(headers: &HeaderMap) -> Value {
    const SECRET_HINTS: [&str; 7] = [
        "signature",
        "token",
        "secret",
        "authorization",
        "cookie",
        "api-key",
        "hmac",
    ];
    let mut out = Map::new();
    for (name, value) in headers {
        let name = name.as_str();
        let wanted = name.starts_with("x-")
            || crate::verify::providers::is_event_header(name)
            || name == "content-type"
            || name == "user-agent";
        let credential = crate::verify::providers::is_secret_header(name)
            || SECRET_HINTS.iter().any(|hint| name.contains(hint));
        if !wanted || credential {
            continue;
        }
        if let Ok(value) = value.to_str() {
            out.insert(name.to_owned(), Value::String(value.to_owned()));
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Every provider's credential and signature headers stay out of ACP
    /// events; its event headers and other `x-` headers go in.
    #[test]
    fn event_headers_keep_provider_headers_and_drop_credentials() {
        let mut headers = HeaderMap::new();
        let mut secret_headers = Vec::new();
        for provider in crate::verify::providers::PROVIDERS {
            let d = provider.descriptor();
            for name in d.credential_headers.iter().chain(d.signature_headers) {
                secret_headers.push(*name);
                headers.insert(HeaderName::from_static(name), HeaderValue::from_static("s"));
            }
        }
        assert!(secret_headers.len() > 5, "{secret_headers:?}");
        for (n, v) in [
            ("x-event-kind", "push"),
            ("authorization", "Bearer x"),
            ("accept", "*/*"),
        ] {
            headers.insert(HeaderName::from_static(n), HeaderValue::from_static(v));
        }
        assert_eq!(event_headers(&headers), json!({"x-event-kind": "push"}));
    }
}
