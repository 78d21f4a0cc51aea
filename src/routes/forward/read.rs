//! The first step of a forward call, before any key is looked up: the
//! method, the agent's name, the canonical sub-path, the body (bounded) and
//! the provider the headers select. Everything here is bounded by the
//! request itself; nothing touches the database.

use super::error::ForwardRouteError;
use crate::domain::{AgentName, SubPath};
use crate::verify::{providers, Provider, VerifyError};
use actix_web::http::{header, Method};
use actix_web::{web, HttpRequest};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

const PREFIX: &str = "/agents/forward/name/";

/// A call as read, before it is verified.
pub struct ReadCall<'a> {
    /// Borrowed from the request's path: no copy per call.
    pub agent_name: &'a str,
    pub path: SubPath,
    /// The canonical path and the query, as the agent receives them.
    pub path_and_query: String,
    pub body: Bytes,
    pub provider: &'static dyn Provider,
    pub is_form: bool,
}

/// Reads the call; refuses a method, name, path or body that cannot be one.
pub async fn read(
    req: &HttpRequest,
    payload: web::Payload,
    max_body_bytes: usize,
) -> Result<ReadCall<'_>, ForwardRouteError> {
    if !is_forwarded_method(req.method()) {
        return Err(ForwardRouteError::MethodNotAllowed);
    }
    let (agent_name, raw_path) = split_path(req.uri().path());
    // A name that cannot exist is refused before any lookup or cache entry.
    if !AgentName::is_valid(agent_name) {
        return Err(VerifyError::agent_not_found(&printable(agent_name)).into());
    }
    // Decided once, before routing: what routes match, filters see and the
    // agent receives.
    let path = SubPath::parse(raw_path)?;
    let body = read_body(req, payload, max_body_bytes).await?;
    let path_and_query = match req.uri().query() {
        Some(q) => format!("{}?{q}", path.as_str()),
        None => path.as_str().to_owned(),
    };
    Ok(ReadCall {
        agent_name,
        path,
        path_and_query,
        body,
        provider: providers::selected(req.headers()),
        is_form: is_form(req.headers()),
    })
}

/// The methods a provider may call with; anything else is answered 405.
fn is_forwarded_method(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// A name that failed validation, shortened for the 404 that quotes it.
fn printable(name: &str) -> String {
    match name.char_indices().nth(64) {
        Some((cut, _)) => format!("{}…", &name[..cut]),
        None => name.to_owned(),
    }
}

/// The agent name and the raw (still percent-encoded) sub-path, with its
/// leading `/`, as the provider spelled it.
fn split_path(raw: &str) -> (&str, &str) {
    let rest = raw.strip_prefix(PREFIX).unwrap_or(raw);
    match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, ""),
    }
}

/// Bodies up to this size are kept as the chunks they arrived in (slices of
/// the connection's read buffer) and copied once at the end; a larger one
/// is gathered into one growing buffer from there on, so no more than about
/// its own size is held while it arrives.
const CHUNKED_UP_TO: usize = 1 << 20;

/// The whole body, refused with 413 as soon as it passes the limit. A body
/// that came in one chunk is not copied at all; one up to
/// [`CHUNKED_UP_TO`] is copied once, into a buffer of exactly its size.
async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Bytes, ForwardRouteError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ForwardRouteError::TooLarge(limit));
    }
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut gathered: Option<BytesMut> = None;
    let mut held = 0;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ForwardRouteError::BadBody(e.to_string()))?;
        held += chunk.len();
        if held > limit {
            return Err(ForwardRouteError::TooLarge(limit));
        }
        match &mut gathered {
            Some(body) => body.extend_from_slice(&chunk),
            None if held <= CHUNKED_UP_TO => chunks.push(chunk),
            None => {
                let mut body = concat(&chunks, held);
                chunks.clear();
                body.extend_from_slice(&chunk);
                gathered = Some(body);
            }
        }
    }
    Ok(match (gathered, chunks.len()) {
        (Some(body), _) => body.freeze(),
        (None, 1) => chunks.swap_remove(0),
        (None, _) => concat(&chunks, held).freeze(),
    })
}

fn concat(chunks: &[Bytes], capacity: usize) -> BytesMut {
    let mut body = BytesMut::with_capacity(capacity);
    for chunk in chunks {
        body.extend_from_slice(chunk);
    }
    body
}

fn is_form(headers: &header::HeaderMap) -> bool {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    crate::domain::payload::is_form(content_type)
}

#[cfg(test)]
mod tests {
    use super::split_path;

    #[test]
    fn splits_agent_and_raw_subpath() {
        assert_eq!(
            split_path("/agents/forward/name/a/x/y%2Fz"),
            ("a", "/x/y%2Fz")
        );
        assert_eq!(split_path("/agents/forward/name/a/"), ("a", "/"));
        assert_eq!(split_path("/agents/forward/name/a"), ("a", ""));
    }
}
