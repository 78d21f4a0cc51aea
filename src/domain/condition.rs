//! Route conditions: `{"field": "header.x-github-event", "in": ["pull_request"]}`,
//! `{"field": "body.event.bot_id", "exists": true}`, `equals` and
//! `contains`, over the same fields as templates. A route's `filter` keeps a
//! call only when all hold; its `ignore` drops a call when any holds.

use super::template::{Placeholder, TemplateInput};
use super::ParseError;
use serde_json::{json, Map, Value};

/// The most conditions one list may hold, and values one `in` may list:
/// every call on the route tests them.
const MAX_CONDITIONS: usize = 32;
const MAX_VALUES: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Test {
    /// JSON scalars, kept as given (shown back as they were written).
    In(Vec<Value>),
    Exists(bool),
    Equals(Value),
    Contains(String),
}

/// One test of one request field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    field: Placeholder,
    test: Test,
}

/// A route's `filter` or `ignore` list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions(Vec<Condition>);

impl Conditions {
    /// Parses the JSON list named `list` (`filter`, `ignore`); the error
    /// names the bad entry (`filter[1].in`).
    pub fn parse(list: &str, value: &Value) -> Result<Self, ParseError> {
        let Value::Array(items) = value else {
            return Err(ParseError(format!(
                "Field '{list}' must be a list of conditions such as {{\"field\": \"header.x-github-event\", \"in\": [\"pull_request\"]}}."
            )));
        };
        if items.len() > MAX_CONDITIONS {
            return Err(ParseError(format!(
                "Field '{list}' has {} conditions; at most {MAX_CONDITIONS} are allowed.",
                items.len()
            )));
        }
        let parsed = items
            .iter()
            .enumerate()
            .map(|(i, item)| Condition::parse(&format!("{list}[{i}]"), item))
            .collect::<Result<_, _>>()?;
        Ok(Self(parsed))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A stored list `field` (checked when the route was made); empty when
    /// none, an error when it no longer parses.
    pub fn from_stored(field: &str, stored: Option<&str>) -> Result<Self, ParseError> {
        match super::stored_json(field, stored)? {
            Some(value) => Self::parse(field, &value),
            None => Ok(Self::default()),
        }
    }

    /// The list as stored and shown.
    pub fn to_json(&self) -> Value {
        Value::Array(self.0.iter().map(Condition::to_json).collect())
    }

    /// The providers a `filter` keeps calls of, when one of its conditions
    /// names them (`{"field": "provider", "in": ["github"]}`).
    pub fn providers_kept(&self) -> Option<Vec<String>> {
        self.0
            .iter()
            .filter(|c| c.field == Placeholder::Provider)
            .find_map(|c| match &c.test {
                Test::In(values) => Some(values.iter().map(text_of).collect()),
                Test::Equals(value) => Some(vec![text_of(value)]),
                _ => None,
            })
    }

    /// The first condition the request fails.
    pub fn first_failing(&self, input: &TemplateInput<'_>) -> Option<&Condition> {
        self.0.iter().find(|c| !c.holds(input))
    }

    /// The first condition the request meets.
    pub fn first_holding(&self, input: &TemplateInput<'_>) -> Option<&Condition> {
        self.0.iter().find(|c| c.holds(input))
    }
}

impl Condition {
    fn parse(at: &str, value: &Value) -> Result<Self, ParseError> {
        let bad = |what: &str| ParseError(format!("Field '{at}' {what}"));
        let Value::Object(map) = value else {
            return Err(bad("must be an object with 'field' and one test."));
        };
        let field =
            match map.get("field") {
                Some(Value::String(name)) => Placeholder::parse(&format!("{at}.field"), name)?,
                _ => return Err(bad(
                    "needs 'field': body.a.b, header.name, path, provider, conversation or actor.…",
                )),
            };
        let tests: Vec<&String> = map.keys().filter(|k| *k != "field").collect();
        let [name] = tests[..] else {
            return Err(bad(
                "must have exactly one of 'in', 'exists', 'equals' or 'contains'.",
            ));
        };
        let test = Test::parse(&format!("{at}.{name}"), name, &map[name])?;
        Ok(Self { field, test })
    }

    /// Whether the request meets it. An absent (or null) field is in no
    /// list, equals and contains nothing.
    pub fn holds(&self, input: &TemplateInput<'_>) -> bool {
        let text = self.field.text(input);
        match (&self.test, text) {
            (Test::Exists(wanted), text) => text.is_some() == *wanted,
            (_, None) => false,
            (Test::In(values), Some(text)) => values.iter().any(|v| same(v, &text)),
            (Test::Equals(value), Some(text)) => same(value, &text),
            (Test::Contains(part), Some(text)) => text.contains(part.as_str()),
        }
    }

    /// How it reads in a drop reason: `header.x-github-event in ["push"]`.
    pub fn describe(&self) -> String {
        let field = self.field.name();
        match &self.test {
            Test::In(values) => format!("{field} in {}", json!(values)),
            Test::Exists(true) => format!("{field} exists"),
            Test::Exists(false) => format!("{field} does not exist"),
            Test::Equals(value) => format!("{field} equals {}", json!(value)),
            Test::Contains(part) => format!("{field} contains {}", json!(part)),
        }
    }

    fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("field".into(), self.field.name().into());
        let (name, value) = match &self.test {
            Test::In(values) => ("in", json!(values)),
            Test::Exists(wanted) => ("exists", json!(wanted)),
            Test::Equals(value) => ("equals", json!(value)),
            Test::Contains(part) => ("contains", json!(part)),
        };
        map.insert(name.into(), value);
        Value::Object(map)
    }
}

impl Test {
    fn parse(at: &str, name: &str, value: &Value) -> Result<Self, ParseError> {
        let bad = |what: &str| ParseError(format!("Field '{at}' {what}"));
        match name {
            "in" => {
                let Value::Array(items) = value else {
                    return Err(bad("must be a list of values."));
                };
                if items.is_empty() || items.len() > MAX_VALUES {
                    return Err(bad(&format!("must list 1 to {MAX_VALUES} values.")));
                }
                if !items.iter().all(is_scalar) {
                    return Err(bad("must list strings, numbers or booleans."));
                }
                Ok(Self::In(items.clone()))
            }
            "exists" => value
                .as_bool()
                .map(Self::Exists)
                .ok_or_else(|| bad("must be true or false.")),
            "equals" if is_scalar(value) => Ok(Self::Equals(value.clone())),
            "equals" => Err(bad("must be a string, number or boolean.")),
            "contains" => match value {
                Value::String(part) if !part.is_empty() => Ok(Self::Contains(part.clone())),
                _ => Err(bad("must be a non-empty string.")),
            },
            _ => Err(bad(
                "is not a test: use 'in', 'exists', 'equals' or 'contains'.",
            )),
        }
    }
}

/// A condition's value as the text it is compared with.
fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn is_scalar(value: &Value) -> bool {
    matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_))
}

/// Whether a condition's value is a field's text: a string as it is, a
/// number or boolean as JSON writes it (`7`, `true`).
fn same(value: &Value, text: &str) -> bool {
    match value {
        Value::String(s) => s == text,
        Value::Bool(b) => text == if *b { "true" } else { "false" },
        number => serde_json::from_str::<Value>(text).is_ok_and(|v| v == *number),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

    fn holds(condition: Value, body: Value) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static("x-github-event"),
            HeaderValue::from_static("pull_request"),
        );
        let input = TemplateInput {
            body: Some(&body),
            headers: &headers,
            path: "github",
            source: None,
        };
        let list = Conditions::parse("filter", &json!([condition])).expect("parses");
        list.first_failing(&input).is_none()
    }

    #[test]
    fn tests_fields_of_the_request() {
        let body =
            json!({"event": {"bot_id": "B1", "text": "hi @agent"}, "number": 7, "draft": false});
        assert!(holds(
            json!({"field": "header.x-github-event", "in": ["push", "pull_request"]}),
            body.clone()
        ));
        assert!(!holds(
            json!({"field": "header.x-github-event", "in": ["push"]}),
            body.clone()
        ));
        assert!(holds(
            json!({"field": "body.event.bot_id", "exists": true}),
            body.clone()
        ));
        assert!(holds(
            json!({"field": "body.event.user", "exists": false}),
            body.clone()
        ));
        assert!(holds(
            json!({"field": "body.number", "in": [7]}),
            body.clone()
        ));
        assert!(holds(
            json!({"field": "body.draft", "equals": false}),
            body.clone()
        ));
        assert!(holds(
            json!({"field": "body.event.text", "contains": "@agent"}),
            body.clone()
        ));
        assert!(!holds(
            json!({"field": "body.missing", "in": ["x"]}),
            body.clone()
        ));
        assert!(holds(json!({"field": "path", "equals": "github"}), body));
    }

    #[test]
    fn names_the_bad_entry() {
        let cases = [
            (json!({"in": ["x"]}), "filter[0]"),
            (json!({"field": "query.x", "in": ["x"]}), "filter[0].field"),
            (json!({"field": "path"}), "exactly one of"),
            (
                json!({"field": "path", "in": ["a"], "exists": true}),
                "exactly one of",
            ),
            (json!({"field": "path", "in": []}), "filter[0].in"),
            (json!({"field": "path", "in": [{"a": 1}]}), "filter[0].in"),
            (
                json!({"field": "path", "exists": "yes"}),
                "filter[0].exists",
            ),
            (
                json!({"field": "path", "matches": "x"}),
                "filter[0].matches",
            ),
        ];
        for (condition, named) in cases {
            let err = Conditions::parse("filter", &json!([condition])).unwrap_err();
            assert!(err.0.contains(named), "{condition}: {err}");
        }
        assert!(Conditions::parse("ignore", &json!({"field": "path"}))
            .unwrap_err()
            .0
            .contains("'ignore' must be a list"));
    }

    #[test]
    fn round_trips_through_its_json() {
        let list = json!([{"field": "header.x-github-event", "in": ["push"]},
                          {"field": "body.a", "exists": false}]);
        let parsed = Conditions::parse("filter", &list).unwrap();
        assert_eq!(parsed.to_json(), list);
        assert_eq!(
            Conditions::parse("filter", &parsed.to_json()).unwrap(),
            parsed
        );
    }
}
