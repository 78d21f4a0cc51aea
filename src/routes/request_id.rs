//! Every request gets an id: the caller's `x-request-id` when it is a sane
//! one, else a new UUID, written into the request (so the forwarded call,
//! the stored delivery and its ACP calls carry it) and into the response.
//! A `request` span with `request.id` and `client.address` (the peer, or
//! the client a trusted proxy names) wraps the handler, so every log line
//! of the request names them.

use super::client_info::TrustedProxies;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderValue;
use actix_web::middleware::Next;
use tracing::Instrument;

pub use crate::headers::REQUEST_ID;

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
}
