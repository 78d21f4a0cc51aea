//! A route's `redact` list: body fields (`body.pull_request.user.email`)
//! and headers (`header.x-customer-email`) removed from a call before it is
//! stored or delivered.

use super::payload::{body_from_json, LazyJson};
use super::template::Placeholder;
use super::ParseError;
use actix_web::http::header::HeaderMap;
use serde_json::Value;

/// The most fields one route may redact.
const MAX_FIELDS: usize = 64;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redaction {
    body: Vec<Vec<String>>,
    headers: Vec<String>,
}

impl Redaction {
    /// A JSON list of `body.…` / `header.…` names; errors name the entry.
    pub fn parse(value: &Value) -> Result<Self, ParseError> {
        let Value::Array(items) = value else {
            return Err(ParseError(
                "Field 'redact' must be a list such as [\"body.pull_request.user.email\"].".into(),
            ));
        };
        if items.len() > MAX_FIELDS {
            return Err(ParseError(format!(
                "Field 'redact' may list at most {MAX_FIELDS} fields."
            )));
        }
        let mut out = Self::default();
        for (i, item) in items.iter().enumerate() {
            let at = format!("redact[{i}]");
            let name = item.as_str().ok_or_else(|| {
                ParseError(format!(
                    "Field '{at}' must be a string such as \"body.a.b\"."
                ))
            })?;
            match Placeholder::parse(&at, name)? {
                Placeholder::Body(path) => out.body.push(path),
                Placeholder::Header(header) => out.headers.push(header),
                other => {
                    return Err(ParseError(format!(
                        "Field '{at}' must name a body field or a header, not {}.",
                        other.name()
                    )))
                }
            }
        }
        Ok(out)
    }

    pub fn is_empty(&self) -> bool {
        self.body.is_empty() && self.headers.is_empty()
    }

    pub fn touches_body(&self) -> bool {
        !self.body.is_empty()
    }

    /// The list as stored and shown.
    pub fn to_json(&self) -> Value {
        let body = self.body.iter().map(|p| format!("body.{}", p.join(".")));
        let headers = self.headers.iter().map(|h| format!("header.{h}"));
        Value::Array(body.chain(headers).map(Value::String).collect())
    }

    /// A stored list (checked when the route was made); empty when none,
    /// an error when it no longer parses: a route never runs with its
    /// redaction silently dropped.
    pub fn from_stored(stored: Option<&str>) -> Result<Self, ParseError> {
        match super::stored_json("redact", stored)? {
            Some(value) => Self::parse(&value),
            None => Ok(Self::default()),
        }
    }

    /// Removes the listed fields from a JSON body; true when one was there.
    pub fn apply_to_body(&self, body: &mut Value) -> bool {
        let mut removed = false;
        for path in &self.body {
            removed |= remove(body, path);
        }
        removed
    }

    /// The headers without the listed ones.
    pub fn apply_to_headers(&self, headers: &HeaderMap) -> HeaderMap {
        let mut kept = headers.clone();
        for name in &self.headers {
            kept.remove(name.as_str());
        }
        kept
    }
}

/// A call as a route stores and delivers it: redacted headers, its body
/// as JSON (when it is JSON or a form) and its body bytes, all without the
/// redacted fields.
pub struct RedactedCall<'a> {
    pub headers: std::borrow::Cow<'a, HeaderMap>,
    pub json: Option<Value>,
    pub body: std::borrow::Cow<'a, [u8]>,
    /// `body` is itself the JSON `json` was read from (not a form).
    pub body_is_json: bool,
}

impl<'a> RedactedCall<'a> {
    /// The call with `redaction` applied (borrowed as it is when there is
    /// nothing to remove); its body's JSON taken from `parsed`.
    pub fn new(redaction: &Redaction, headers: &'a HeaderMap, parsed: &LazyJson<'a>) -> Self {
        use std::borrow::Cow;
        let headers = match redaction.headers.is_empty() {
            true => Cow::Borrowed(headers),
            false => Cow::Owned(redaction.apply_to_headers(headers)),
        };
        let (body, form) = (parsed.body(), parsed.is_form());
        let mut json = parsed.take();
        let mut bytes = Cow::Borrowed(body);
        if let Some(value) = json.as_mut().filter(|_| redaction.touches_body()) {
            if redaction.apply_to_body(value) {
                bytes = Cow::Owned(body_from_json(value, body, form));
            }
        }
        Self {
            headers,
            body_is_json: !form && json.is_some(),
            json,
            body: bytes,
        }
    }
}

fn remove(value: &mut Value, path: &[String]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut at = value;
    for segment in parents {
        at = match at {
            Value::Object(map) => match map.get_mut(segment) {
                Some(next) => next,
                None => return false,
            },
            Value::Array(items) => {
                match segment.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                    Some(next) => next,
                    None => return false,
                }
            }
            _ => return false,
        };
    }
    match at {
        Value::Object(map) => map.remove(last).is_some(),
        // An array element is blanked, not removed: the indexes of the
        // others stay what templates and readers expect.
        Value::Array(items) => match last.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
            Some(item) => {
                *item = Value::Null;
                true
            }
            None => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn removes_body_fields_and_headers() {
        let redaction = Redaction::parse(&json!([
            "body.pull_request.user.email",
            "body.commits.0.author",
            "header.X-Customer",
            "body.absent.x"
        ]))
        .unwrap();
        let mut body = json!({"pull_request": {"user": {"login": "o", "email": "o@example.com"}},
                              "commits": [{"author": "a", "id": 1}]});
        assert!(redaction.apply_to_body(&mut body));
        assert_eq!(
            body,
            json!({"pull_request": {"user": {"login": "o"}}, "commits": [{"id": 1}]})
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-customer".parse().unwrap(),
            "c@example.com".parse().unwrap(),
        );
        headers.insert("x-github-event".parse().unwrap(), "push".parse().unwrap());
        let kept = redaction.apply_to_headers(&headers);
        assert!(kept.get("x-customer").is_none());
        assert!(kept.get("x-github-event").is_some());
        assert_eq!(Redaction::parse(&redaction.to_json()).unwrap(), redaction);
    }

    #[test]
    fn names_a_bad_entry() {
        for (bad, named) in [
            (json!("body.a"), "'redact' must be a list"),
            (json!([1]), "redact[0]"),
            (json!(["path"]), "redact[0]"),
            (json!(["query.x"]), "redact[0]"),
        ] {
            let err = Redaction::parse(&bad).unwrap_err();
            assert!(err.0.contains(named), "{bad}: {err}");
        }
    }
}
