//! An `acp_event` delivery's content, as ACP's `event.content`: a `data`
//! content (the call's path, event headers and body) or a `text` one (a
//! route's template rendered), each with its `provenance`. Built once at
//! intake and stored as JSON text; an attempt sends it as it is, and a
//! coalesced batch gathers the stored contents of several.

use crate::domain::Actor;
use crate::headers::event_headers;
use actix_web::http::header::HeaderMap;
use serde_json::value::RawValue;
use serde_json::{json, Value};

/// Stands for the body in a `data` content whose body goes in as the bytes
/// that arrived. It holds NUL characters, which no header, path or key name
/// can, and it is written out before the provenance: its first occurrence
/// in the written content is the body's place.
const BODY_SLOT: &str = "\0body\0";

/// A `text` content.
pub fn text(text: String) -> Value {
    json!({"type": "text", "author": "user", "content": text, "format": "plain", "style": "static"})
}

/// The call's body as a `data` content holds it.
pub enum Body<'a> {
    /// JSON as it arrived, stored as is (see [`stamp`]).
    Raw(&'a str),
    /// Parsed (a form's fields, or JSON left after redaction), moved in.
    Parsed(Value),
    /// Neither: the body as text.
    Text(&'a [u8]),
}

impl<'a> Body<'a> {
    /// The body as arrived (`bytes`, JSON when `is_json`) and as parsed:
    /// JSON is kept as it arrived (valid, hence UTF-8).
    pub fn of(is_json: bool, bytes: &'a [u8], parsed: Option<Value>) -> Self {
        let raw = is_json.then(|| std::str::from_utf8(bytes).ok()).flatten();
        match (raw, parsed) {
            (Some(raw), _) => Self::Raw(raw),
            (None, Some(parsed)) => Self::Parsed(parsed),
            (None, None) => Self::Text(bytes),
        }
    }

    /// The JSON to put in the body's place when the content is stamped.
    pub fn raw(&self) -> Option<&'a str> {
        match self {
            Self::Raw(raw) => Some(raw),
            _ => None,
        }
    }
}

/// A `data` content: the call's sub-path, its event headers and its body
/// (a parsed body is moved in, not copied).
pub fn data(sub_path: &str, headers: &HeaderMap, body: Body<'_>) -> Value {
    let body = match body {
        Body::Raw(_) => Value::from(BODY_SLOT),
        Body::Parsed(parsed) => parsed,
        Body::Text(bytes) => Value::String(String::from_utf8_lossy(bytes).into_owned()),
    };
    json!({
        "type": "data",
        "author": "user",
        "style": "static",
        "data": {"path": sub_path, "headers": event_headers(headers), "body": body},
    })
}

/// Where an event came from, beside its content, so an agent can treat it
/// as third-party input (the Agentex SDK's content models keep the field).
pub struct Provenance<'a> {
    pub provider: &'a str,
    pub key_name: &'a str,
    pub actor: Option<&'a Actor>,
}

/// The content as stored: with its provenance naming `delivery_id` (a
/// shadow copy stamps the same content again with its own id), and
/// `raw_body` (see [`Body::raw`]) in the body's place. Writing the body out again from its
/// parsed form, escaping every string, was a seventh of intake's HTTP time
/// at 2 KiB.
pub fn stamp(
    content: &mut Value,
    provenance: &Provenance<'_>,
    delivery_id: &str,
    raw_body: Option<&str>,
) -> String {
    let received_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let mut stamped = json!({
        "provider": provenance.provider,
        "key_name": provenance.key_name,
        "verified": true,
        "delivery_id": delivery_id,
        "received_at": received_at,
    });
    if let Some(actor) = provenance.actor {
        stamped["actor"] = json!(actor);
    }
    content["provenance"] = stamped;
    let written = content.to_string();
    match raw_body {
        Some(raw) => written.replacen(&Value::from(BODY_SLOT).to_string(), raw, 1),
        None => written,
    }
}

/// A stored content as the JSON it is (null if unreadable): never parsed
/// into a tree and written out again.
pub fn stored(content: Option<&str>) -> &RawValue {
    content
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or(RawValue::NULL)
}

/// The content of a coalesced delivery: `{"events": [...]}` of each
/// event's data (a text event's whole content), in sequence; the head's
/// provenance naming every delivery it carries. `all` holds each
/// delivery's id and stored content, the head first.
pub fn coalesced(all: &[(&str, Option<&str>)]) -> Box<RawValue> {
    // Each member is parsed once (a batch takes parts of it); unreadable is null.
    let parsed = |content: Option<&str>| -> Value {
        content
            .and_then(|c| serde_json::from_str(c).ok())
            .unwrap_or_default()
    };
    let events: Vec<Value> = all
        .iter()
        .map(|(_, content)| {
            let content = parsed(*content);
            content.get("data").cloned().unwrap_or(content)
        })
        .collect();
    let mut provenance = all
        .first()
        .map_or(Value::Null, |(_, c)| parsed(*c)["provenance"].clone());
    if provenance.is_object() {
        let ids: Vec<&str> = all.iter().map(|(id, _)| *id).collect();
        provenance["delivery_ids"] = json!(ids);
    }
    let content = json!({
        "type": "data", "author": "user", "style": "static",
        "data": {"events": events},
        "provenance": provenance,
    });
    serde_json::value::to_raw_value(&content).unwrap_or_else(|_| RawValue::NULL.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raw_body_is_stored_as_it_arrived_with_the_provenance() {
        let raw = r#"{"b": "\u00e9", "a":1}"#;
        let body = Body::of(true, raw.as_bytes(), None);
        let raw_body = body.raw();
        let mut content = data("hook", &HeaderMap::new(), body);
        let provenance = Provenance {
            provider: "github",
            key_name: "k",
            actor: None,
        };
        let stored_text = stamp(&mut content, &provenance, "d-1", raw_body);
        assert!(stored_text.contains(raw), "byte for byte: {stored_text}");
        let back: Value = serde_json::from_str(&stored_text).unwrap();
        assert_eq!(back["data"]["body"]["a"], 1);
        assert_eq!(back["provenance"]["delivery_id"], "d-1");
        assert_eq!(back["provenance"]["provider"], "github");
    }

    #[test]
    fn a_batch_gathers_data_in_order_under_the_heads_provenance() {
        let first = r#"{"type":"data","data":{"n":1},"provenance":{"delivery_id":"d-1"}}"#;
        let second = r#"{"type":"data","data":{"n":2},"provenance":{"delivery_id":"d-2"}}"#;
        let batch = coalesced(&[("d-1", Some(first)), ("d-2", Some(second))]);
        let batch: Value = serde_json::from_str(batch.get()).unwrap();
        assert_eq!(batch["data"]["events"], json!([{"n": 1}, {"n": 2}]));
        assert_eq!(batch["provenance"]["delivery_ids"], json!(["d-1", "d-2"]));
        assert_eq!(stored(Some("not json")).get(), "null");
    }
}
