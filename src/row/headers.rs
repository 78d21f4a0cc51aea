//! A delivery row's headers: JSON `[[name, value], …]`, written at intake
//! and read by the queue's attempts (the request id, the trace to continue,
//! the request to replay).

use crate::headers::{is_stripped_request_header, REQUEST_ID};
use crate::telemetry::TRACEPARENT;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

/// The request's headers as stored: all but credentials and hop-by-hop
/// ones for a replay, else only the request id. Both keep the request id,
/// which the delivery's calls carry; when tracing, the delivery's attempts
/// continue this request's trace.
pub fn write(headers: &HeaderMap, replay: bool) -> String {
    let mut kept: Vec<(&str, &str)> = headers
        .iter()
        .filter(|(name, _)| replay || *name == REQUEST_ID)
        .filter(|(name, _)| *name != TRACEPARENT)
        .filter(|(name, value)| !is_stripped_request_header(name, value, headers))
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
        .collect();
    let traceparent = crate::telemetry::traceparent();
    if let Some(traceparent) = &traceparent {
        kept.push(("traceparent", traceparent));
    }
    serde_json::to_string(&kept).unwrap_or_else(|_| "[]".into())
}

/// The request id among stored headers, if any.
pub fn request_id(stored: &str) -> Option<String> {
    find(stored, REQUEST_ID.as_str())
}

/// A header among stored headers, if any.
pub fn find(stored: &str, wanted: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_json::from_str(stored).ok()?;
    pairs
        .into_iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
        .map(|(_, value)| value)
}

/// Stored headers as a request's, for a replay; unreadable pairs are skipped.
pub fn read(stored: &str) -> HeaderMap {
    let pairs: Vec<(String, String)> = serde_json::from_str(stored).unwrap_or_default();
    let mut headers = HeaderMap::with_capacity(pairs.len());
    for (name, value) in pairs {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            headers.append(name, value);
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_id_is_found_by_name() {
        let stored_headers = r#"[["content-type","application/json"],["X-Request-Id","r-1"]]"#;
        assert_eq!(request_id(stored_headers).as_deref(), Some("r-1"));
        assert_eq!(request_id("[]"), None);
    }

    #[test]
    fn a_replay_keeps_what_may_go_on_and_reads_back() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("x-request-id", "r-2"),
            ("x-github-event", "push"),
            ("connection", "keep-alive"),
            ("x-agent-api-key", "secret"),
        ] {
            headers.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        let replayed = read(&write(&headers, true));
        assert_eq!(replayed.get("x-github-event").unwrap(), "push");
        assert_eq!(replayed.get("x-request-id").unwrap(), "r-2");
        assert!(replayed.get("connection").is_none());
        assert!(replayed.get("x-agent-api-key").is_none());
        let event = read(&write(&headers, false));
        assert_eq!(event.len(), 1, "only the request id: {event:?}");
    }
}
