//! Route templates: `task_key` and `text_template` text with placeholders
//! `{body.a.b}` (a JSON body field; numbers index arrays), `{header.name}`
//! and `{path}`. `{{` and `}}` stand for literal braces.

use super::ParseError;

/// One placeholder: a JSON body field, a header or the sub-path. Routes'
/// templates and conditions name request fields the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placeholder {
    Body(Vec<String>),
    Header(String),
    Path,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Field(Placeholder),
}

/// A parsed template; `parse` rejects unknown placeholders up front.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

/// What a template renders from: the verified request.
pub struct TemplateInput<'a> {
    pub body: Option<&'a serde_json::Value>,
    pub headers: &'a actix_web::http::header::HeaderMap,
    pub path: &'a str,
}

/// A placeholder the request could not fill; the string names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MissingField(pub String);

impl Template {
    /// `field` names the template in error messages (`task_key`, `text_template`).
    pub fn parse(field: &str, raw: &str) -> Result<Self, ParseError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = raw.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Field(Placeholder::parse(field, &name)?));
                }
                '}' => {
                    return Err(ParseError(format!(
                        "Field '{field}' has an unmatched '}}' (write '}}}}' for a literal brace)."
                    )))
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Self { parts })
    }

    /// The rendered text, or the first placeholder the request lacks.
    pub fn render(&self, input: &TemplateInput<'_>) -> Result<String, MissingField> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Field(field) => match field.text(input) {
                    Some(text) => out.push_str(&text),
                    None => return Err(MissingField(field.name())),
                },
            }
        }
        Ok(out)
    }
}

impl Placeholder {
    /// `name` without its braces (`body.a.b`, `header.x`, `path`); `field`
    /// names what holds it in error messages.
    pub fn parse(field: &str, name: &str) -> Result<Self, ParseError> {
        let bad = || {
            ParseError(format!(
                "Field '{field}' has an unknown placeholder {{{name}}}: use {{body.a.b}}, {{header.name}} or {{path}}."
            ))
        };
        if name == "path" {
            return Ok(Self::Path);
        }
        if let Some(header) = name.strip_prefix("header.") {
            let header = header.trim().to_ascii_lowercase();
            return if header.is_empty() {
                Err(bad())
            } else {
                Ok(Self::Header(header))
            };
        }
        if let Some(path) = name.strip_prefix("body.") {
            let segments: Vec<String> = path.split('.').map(str::to_owned).collect();
            return if segments.iter().any(String::is_empty) {
                Err(bad())
            } else {
                Ok(Self::Body(segments))
            };
        }
        Err(bad())
    }

    /// How it is written (`body.a.b`, `header.x`, `path`).
    pub fn name(&self) -> String {
        match self {
            Self::Body(path) => format!("body.{}", path.join(".")),
            Self::Header(name) => format!("header.{name}"),
            Self::Path => "path".to_owned(),
        }
    }

    /// Its value in the request as text (a JSON string as it is, another
    /// JSON value as JSON); None when absent or null.
    pub fn text<'a>(&self, input: &TemplateInput<'a>) -> Option<std::borrow::Cow<'a, str>> {
        use std::borrow::Cow;
        match self {
            Self::Path => Some(Cow::Borrowed(input.path)),
            Self::Header(name) => input
                .headers
                .get(name.as_str())
                .and_then(|v| v.to_str().ok())
                .map(Cow::Borrowed),
            Self::Body(path) => match lookup(input.body?, path)? {
                serde_json::Value::String(s) => Some(Cow::Borrowed(s.as_str())),
                serde_json::Value::Null => None,
                other => Some(Cow::Owned(other.to_string())),
            },
        }
    }
}

fn lookup<'v>(mut value: &'v serde_json::Value, path: &[String]) -> Option<&'v serde_json::Value> {
    for segment in path {
        value = match value {
            serde_json::Value::Object(map) => map.get(segment)?,
            serde_json::Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
    use serde_json::json;

    fn render(template: &str, body: serde_json::Value) -> Result<String, MissingField> {
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static("x-event-kind"),
            HeaderValue::from_static("pull_request"),
        );
        let input = TemplateInput {
            body: Some(&body),
            headers: &headers,
            path: "code_changes",
        };
        Template::parse("task_key", template)
            .unwrap()
            .render(&input)
    }

    #[test]
    fn renders_body_header_and_path_placeholders() {
        let body = json!({"repository": {"full_name": "octo/hello"}, "pull_request": {"number": 7},
                          "labels": [{"name": "bug"}]});
        let key = "repo:{body.repository.full_name}#{body.pull_request.number}";
        assert_eq!(render(key, body.clone()).unwrap(), "repo:octo/hello#7");
        assert_eq!(
            render("{header.X-Event-Kind}/{path}", body.clone()).unwrap(),
            "pull_request/code_changes"
        );
        assert_eq!(
            render("{body.labels.0.name} {{literal}}", body).unwrap(),
            "bug {literal}"
        );
    }

    #[test]
    fn names_the_missing_field() {
        let err = render("{body.pull_request.number}", json!({"pull_request": {}})).unwrap_err();
        assert_eq!(err.0, "body.pull_request.number");
        assert_eq!(
            render("{body.a}", json!({"a": null})).unwrap_err().0,
            "body.a"
        );
        assert_eq!(
            render("{header.x-missing}", json!({})).unwrap_err().0,
            "header.x-missing"
        );
    }

    #[test]
    fn rejects_unknown_placeholders_naming_the_field() {
        for bad in ["{query.x}", "{body.}", "{header.}", "a}b"] {
            let err = Template::parse("task_key", bad).unwrap_err();
            assert!(err.0.contains("'task_key'"), "{bad}: {err}");
        }
    }
}
