//! A request body as JSON: JSON bodies as they are, forms as an object of
//! their fields, except that a form's `payload` field holding a JSON object
//! (as interactive chat apps send it) stands for the whole body.

use serde_json::Value;
use std::cell::Cell;

/// `None` when the body is neither a JSON value nor (if `is_form`) a form.
pub fn body_as_json(body: &[u8], is_form: bool) -> Option<Value> {
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        return Some(value);
    }
    if !is_form {
        return None;
    }
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
    if let Some((_, payload)) = fields.iter().find(|(k, _)| k == "payload") {
        return serde_json::from_str::<Value>(payload)
            .ok()
            .filter(Value::is_object);
    }
    let object = fields
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    Some(Value::Object(object))
}

/// A call's body as JSON, parsed at most once however many steps read it
/// (handshake, filter and loop guard, then redaction and content).
pub struct LazyJson<'a> {
    body: &'a [u8],
    is_form: bool,
    /// None until parsed; then the parse, taken out while a reader holds it.
    parsed: Cell<Option<Option<Value>>>,
}

impl<'a> LazyJson<'a> {
    pub fn new(body: &'a [u8], is_form: bool) -> Self {
        Self {
            body,
            is_form,
            parsed: Cell::new(None),
        }
    }

    pub fn is_form(&self) -> bool {
        self.is_form
    }

    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// `read` given the body as JSON, parsed now if no step did before.
    pub fn with<R>(&self, read: impl FnOnce(Option<&Value>) -> R) -> R {
        let json = self.take();
        let result = read(json.as_ref());
        self.parsed.set(Some(json));
        result
    }

    /// The parsed body, to change (redaction) rather than read; a later
    /// reader parses it again.
    pub fn take(&self) -> Option<Value> {
        self.parsed
            .take()
            .unwrap_or_else(|| body_as_json(self.body, self.is_form))
    }
}

/// The body again after its JSON form was changed (fields redacted): JSON
/// as JSON; a form's `payload` field as that JSON, its other fields kept;
/// another form from the object's fields (values as text).
pub fn body_from_json(value: &Value, original: &[u8], is_form: bool) -> Vec<u8> {
    let json = || serde_json::to_vec(value).unwrap_or_default();
    if !is_form || serde_json::from_slice::<Value>(original).is_ok() {
        return json();
    }
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(original).unwrap_or_default();
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let encoded = if fields.iter().any(|(k, _)| k == "payload") {
        let fields = fields.into_iter().map(|(k, v)| match k.as_str() {
            "payload" => (k, value.to_string()),
            _ => (k, v),
        });
        serde_urlencoded::to_string(fields.collect::<Vec<_>>())
    } else {
        let object = value.as_object().into_iter().flatten();
        serde_urlencoded::to_string(
            object
                .map(|(k, v)| (k.clone(), text(v)))
                .collect::<Vec<_>>(),
        )
    };
    encoded.map(String::into_bytes).unwrap_or_else(|_| json())
}

/// True for `application/x-www-form-urlencoded` (any parameters).
pub fn is_form(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| {
        ct.trim_start()
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_form_and_interactivity_payload() {
        assert_eq!(body_as_json(br#"{"a":1}"#, false), Some(json!({"a": 1})));
        assert_eq!(
            body_as_json(b"a=1&b=x%20y", true),
            Some(json!({"a": "1", "b": "x y"}))
        );
        assert_eq!(
            body_as_json(b"payload=%7B%22a%22%3A2%7D", true),
            Some(json!({"a": 2}))
        );
        assert_eq!(body_as_json(b"payload=%7Bbroken", true), None);
        assert_eq!(body_as_json(b"a=1", false), None);
        assert!(is_form(Some(
            "application/x-www-form-urlencoded; charset=utf-8"
        )));
        assert!(!is_form(Some("application/json")) && !is_form(None));
    }

    #[test]
    fn a_lazy_body_is_read_then_handed_over_whole() {
        let body = br#"{"a":{"b":1}}"#;
        let lazy = LazyJson::new(body, false);
        let b = lazy.with(|json| json.and_then(|j| j.pointer("/a/b")).cloned());
        assert_eq!(b, Some(json!(1)));
        assert_eq!(lazy.take(), Some(json!({"a": {"b": 1}})));
        let form = LazyJson::new(b"payload=%7B%22x%22%3A2%7D", true);
        assert_eq!(form.with(|json| json.cloned()), Some(json!({"x": 2})));
        assert!(LazyJson::new(b"not json", false).with(|json| json.is_none()));
    }
}
