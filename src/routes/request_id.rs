//! Every request gets an id: the caller's `x-request-id` when it is a sane
//! one, else a new UUID, written into the request (so the forwarded call,
//! the stored delivery and its ACP calls carry it) and into the response.
//! A `request` span with `request.id` and `client.address` (the peer, or
//! the client a trusted proxy names) wraps the handler, so every log line
//! of the request names them.

use super::client_info::TrustedProxies;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest id kept as sent.
const MAX_LEN: usize = 128;

pub async fn request_id(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = match req.headers().get(&REQUEST_ID).filter(|v| is_sane(v)) {
        Some(sent) => sent.clone(),
        None => {
            let made = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                .expect("a UUID is a valid header value");
            req.headers_mut().insert(REQUEST_ID, made.clone());
            made
        }
    };
    let client = req
        .app_data::<actix_web::web::Data<TrustedProxies>>()
        .and_then(|proxies| proxies.client_address(req.peer_addr(), req.headers()));
    let span = tracing::info_span!(
        "request",
        request.id = id.to_str().unwrap_or_default(),
        client.address = client.map(tracing::field::display)
    );
    // A caller that traces (rare for providers) has its trace continued;
    // nothing is looked up when no trace is exported.
    if crate::telemetry::exporting() {
        let incoming = req.headers().get(crate::telemetry::TRACEPARENT);
        crate::telemetry::continue_trace(&span, incoming.and_then(|v| v.to_str().ok()));
    }
    let mut res = next.call(req).instrument(span).await?;
    res.headers_mut().insert(REQUEST_ID, id);
    Ok(res)
}

/// Printable ASCII without spaces, at most [`MAX_LEN`]: safe in a log line
/// and a header. Anything else is replaced, not echoed.
fn is_sane(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty() && bytes.len() <= MAX_LEN && bytes.iter().all(|b| b.is_ascii_graphic())
}

/// The request id among stored headers (`[[name, value], …]`), if any.
pub fn stored(headers_json: &str) -> Option<String> {
    stored_header(headers_json, REQUEST_ID.as_str())
}

/// A header among stored headers (`[[name, value], …]`), if any.
pub fn stored_header(headers_json: &str, wanted: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_json::from_str(headers_json).ok()?;
    pairs
        .into_iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sane_ids_are_kept() {
        assert!(is_sane(&HeaderValue::from_static("req-42_a.b:c")));
        assert!(!is_sane(&HeaderValue::from_static("")));
        assert!(!is_sane(&HeaderValue::from_static("two words")));
        let long = "x".repeat(MAX_LEN + 1);
        assert!(!is_sane(&HeaderValue::from_str(&long).unwrap()));
    }

    #[test]
    fn the_stored_id_is_found_by_name() {
        let stored_headers = r#"[["content-type","application/json"],["X-Request-Id","r-1"]]"#;
        assert_eq!(stored(stored_headers).as_deref(), Some("r-1"));
        assert_eq!(stored("[]"), None);
    }
}
