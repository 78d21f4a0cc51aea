//! How one HTTP exchange with an agent is judged (the contract's retry
//! rules: 2xx done unless a JSON-RPC error, 408 / 429 / 5xx and transport
//! failures retried, honouring `Retry-After`, any other status failed) and
//! what of the answer is kept.

use crate::{a2a, acp};
use actix_web::http::header::{HeaderMap, RETRY_AFTER};
use actix_web::http::StatusCode;
use std::time::Duration;

/// What one HTTP exchange said about the delivery.
pub enum Verdict {
    Done,
    Retry {
        after: Option<Duration>,
        error: String,
    },
    Fail {
        error: String,
    },
}

/// What kind of call was answered, so what a 2xx answer must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// A stored request replayed: any 2xx is done.
    Plain,
    /// ACP JSON-RPC: done unless its `error` is set, which fails the delivery.
    Acp,
    /// A2A JSON-RPC: done on a `result`; an `error` (or no JSON-RPC answer)
    /// is a failed attempt, retried like any other.
    A2a,
}

pub struct Exchange {
    pub verdict: Verdict,
    pub status: Option<u16>,
    /// What the agent answered, bounded (see [`answer_of`]).
    pub response: Option<String>,
}

impl Exchange {
    pub fn failed(error: String) -> Self {
        Self {
            verdict: Verdict::Fail { error },
            status: None,
            response: None,
        }
    }
}

/// The most of an agent's answer kept with an attempt.
const MAX_RESPONSE_BYTES: usize = 4096;

/// An answer as kept: a JSON-RPC call's `result` (or its `error`) as JSON,
/// another body as text; cut at [`MAX_RESPONSE_BYTES`] on a character
/// boundary.
fn answer_of(body: &[u8], call: Call) -> Option<String> {
    let text = match call != Call::Plain {
        true => {
            let value: serde_json::Value = serde_json::from_slice(body).ok()?;
            let error = value.get("error").filter(|e| !e.is_null());
            let answer = error.or_else(|| value.get("result"))?;
            answer.to_string()
        }
        false => String::from_utf8_lossy(body).into_owned(),
    };
    let mut end = text.len().min(MAX_RESPONSE_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Some(text[..end].to_owned())
}

pub async fn judge<S>(
    sent: Result<awc::ClientResponse<S>, awc::error::SendRequestError>,
    limit: usize,
    call: Call,
) -> Exchange
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, awc::error::PayloadError>> + Unpin,
{
    let mut response = match sent {
        Ok(r) => r,
        Err(e) => {
            let verdict = Verdict::Retry {
                after: None,
                error: format!("agent unreachable: {e}"),
            };
            return Exchange {
                verdict,
                status: None,
                response: None,
            };
        }
    };
    let status = response.status();
    let retry_after = retry_after(response.headers());
    let body = response.body().limit(limit).await;
    let answer = body.as_ref().ok().and_then(|b| answer_of(b, call));
    let verdict = match (status, body) {
        (s, Ok(body)) if s.is_success() => taken(&body, call),
        (s, Err(e)) if s.is_success() => Verdict::Retry {
            after: None,
            error: format!("reading the agent's answer failed: {e}"),
        },
        (s, _)
            if s == StatusCode::REQUEST_TIMEOUT
                || s == StatusCode::TOO_MANY_REQUESTS
                || s.is_server_error() =>
        {
            Verdict::Retry {
                after: retry_after,
                error: format!("agent answered {s}"),
            }
        }
        (s, _) => Verdict::Fail {
            error: format!("agent answered {s}"),
        },
    };
    Exchange {
        verdict,
        status: Some(status.as_u16()),
        response: answer,
    }
}

/// What a 2xx answer to `call` says.
fn taken(body: &[u8], call: Call) -> Verdict {
    match call {
        Call::Plain => Verdict::Done,
        Call::Acp => match acp::rpc_error(body) {
            Some(error) => Verdict::Fail { error },
            None => Verdict::Done,
        },
        Call::A2a => match a2a::message::taken(body) {
            Ok(()) => Verdict::Done,
            Err(error) => Verdict::Retry { after: None, error },
        },
    }
}

/// `Retry-After` as seconds or an HTTP date, capped at a day.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = match raw.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let date: actix_web::http::header::HttpDate = raw.parse().ok()?;
            std::time::SystemTime::from(date)
                .duration_since(std::time::SystemTime::now())
                .unwrap_or_default()
        }
    };
    Some(wait.min(Duration::from_secs(86_400)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(
            retry_after(&headers),
            Some(Duration::ZERO),
            "a past date means now"
        );
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }
}
