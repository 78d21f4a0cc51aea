//! Route templates: `task_key` and `text_template` text with placeholders
//! `{body.a.b}` (a JSON body field; numbers index arrays), `{header.name}`,
//! `{path}`, and what the verifying provider says (`{conversation}`,
//! `{provider}`, `{actor.id}`, …), each of which may list alternatives
//! (`{body.pull_request.number|body.issue.number}`: the first present).
//! `{{` and `}}` stand for literal braces.

use super::call_source::{ActorField, CallSource};
use super::ParseError;

/// One placeholder: a JSON body field, a header or the sub-path. Routes'
/// templates and conditions name request fields the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placeholder {
    Body(Vec<String>),
    Header(String),
    Path,
    /// The conversation the verifying provider reads from the call.
    Conversation,
    /// The verifying provider's key type.
    Provider,
    Actor(ActorField),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// Alternatives, tried in order: the first the request holds.
    Field(Vec<Placeholder>),
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
    /// The provider that verified the call (None: none is known, as for a
    /// stored request previewed without one).
    pub source: Option<&'a dyn CallSource>,
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
                    parts.push(Part::Field(alternatives(field, &name)?));
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

    /// Whether some placeholder can be filled only by `wanted` (it lists
    /// no alternative).
    pub fn requires(&self, wanted: &Placeholder) -> bool {
        self.parts.iter().any(
            |part| matches!(part, Part::Field(choices) if choices == std::slice::from_ref(wanted)),
        )
    }

    /// The rendered text, or the first placeholder the request lacks.
    pub fn render(&self, input: &TemplateInput<'_>) -> Result<String, MissingField> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Field(choices) => match choices.iter().find_map(|p| p.text(input)) {
                    Some(text) => out.push_str(&text),
                    None => return Err(MissingField(names(choices))),
                },
            }
        }
        Ok(out)
    }
}

/// The alternatives of one placeholder (`body.a|body.b`), none empty.
fn alternatives(field: &str, name: &str) -> Result<Vec<Placeholder>, ParseError> {
    name.split('|')
        .map(|choice| Placeholder::parse(field, choice.trim()))
        .collect()
}

/// How alternatives are written (`body.a|body.b`).
fn names(choices: &[Placeholder]) -> String {
    let names: Vec<String> = choices.iter().map(Placeholder::name).collect();
    names.join("|")
}

impl Placeholder {
    /// `name` without its braces (`body.a.b`, `header.x`, `path`); `field`
    /// names what holds it in error messages. A `|` is refused: it
    /// separates a template's alternatives and can be in no field name.
    pub fn parse(field: &str, name: &str) -> Result<Self, ParseError> {
        if name.contains('|') {
            return Err(ParseError(format!(
                "Field '{field}' names {name:?}: '|' separates alternatives (in templates \
                 only) and cannot be part of a field name."
            )));
        }
        let bad = || {
            ParseError(format!(
                "Field '{field}' has an unknown placeholder {{{name}}}: use {{body.a.b}}, \
                 {{header.name}}, {{path}}, {{conversation}}, {{provider}}, {}.",
                ActorField::NAMES
            ))
        };
        match name {
            "path" => return Ok(Self::Path),
            "conversation" => return Ok(Self::Conversation),
            "provider" => return Ok(Self::Provider),
            _ => {}
        }
        if let Some(actor) = name.strip_prefix("actor.") {
            return ActorField::parse(actor).map(Self::Actor).ok_or_else(bad);
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
            Self::Conversation => "conversation".to_owned(),
            Self::Provider => "provider".to_owned(),
            Self::Actor(field) => field.name().to_owned(),
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
            Self::Conversation => input.source?.conversation(input).map(Cow::Owned),
            Self::Provider => Some(Cow::Borrowed(input.source?.provider_name())),
            Self::Actor(field) => {
                let actor = input.source?.actor(input.body?)?;
                field.text(&actor).map(Cow::Owned)
            }
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
            source: None,
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
    fn the_first_alternative_present_is_taken() {
        let key = "gh#{body.pull_request.number|body.issue.number}";
        let comment = json!({"issue": {"number": 9, "pull_request": {}}});
        assert_eq!(render(key, comment).unwrap(), "gh#9");
        let review = json!({"pull_request": {"number": 7}, "issue": {"number": 9}});
        assert_eq!(render(key, review).unwrap(), "gh#7");
        let null_first = json!({"pull_request": {"number": null}, "issue": {"number": 9}});
        assert_eq!(render(key, null_first).unwrap(), "gh#9");
        let thread = "{body.event.thread_ts | body.event.ts}";
        assert_eq!(
            render(thread, json!({"event": {"ts": "1.2"}})).unwrap(),
            "1.2"
        );
        let missing = render(key, json!({"push": true})).unwrap_err();
        assert_eq!(missing.0, "body.pull_request.number|body.issue.number");
        let header_first = render("{header.x-missing|header.x-event-kind}", json!({}));
        assert_eq!(header_first.unwrap(), "pull_request");
    }

    #[test]
    fn rejects_unknown_placeholders_naming_the_field() {
        for bad in [
            "{query.x}",
            "{body.}",
            "{header.}",
            "a}b",
            "{body.a|}",
            "{|body.a}",
            "{body.a||body.b}",
            "{body.a|query.b}",
        ] {
            let err = Template::parse("task_key", bad).unwrap_err();
            assert!(err.0.contains("'task_key'"), "{bad}: {err}");
        }
    }
}
