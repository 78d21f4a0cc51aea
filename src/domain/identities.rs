//! An agent's own identities at its providers (`github:my-agent[bot]`,
//! `slack:B0123ABC`, `linear:<user id>`): an event one of them caused is
//! the agent hearing itself, and the loop guard drops it.

use super::ParseError;
use serde_json::Value;

/// The most identities one agent may declare: every call is checked
/// against them.
const MAX_IDENTITIES: usize = 32;
const MAX_CHARS: usize = 200;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identities(Vec<String>);

impl Identities {
    /// A JSON list of `provider:id` strings; `field` names it in errors and
    /// `providers` are the provider names an identity may start with.
    pub fn parse(field: &str, value: &Value, providers: &[&str]) -> Result<Self, ParseError> {
        let bad = |what: String| ParseError(format!("Field '{field}' {what}"));
        let Value::Array(items) = value else {
            return Err(bad(
                "must be a list such as [\"github:my-agent[bot]\", \"slack:B0123ABC\"].".into(),
            ));
        };
        if items.len() > MAX_IDENTITIES {
            return Err(bad(format!(
                "may list at most {MAX_IDENTITIES} identities."
            )));
        }
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let text = item.as_str().unwrap_or_default();
            let known = text
                .split_once(':')
                .is_some_and(|(provider, id)| providers.contains(&provider) && !id.is_empty());
            if !known || text.chars().count() > MAX_CHARS {
                return Err(ParseError(format!(
                    "Field '{field}[{i}]' must be 'provider:id' (at most {MAX_CHARS} characters) with a provider among {}; got {item}.",
                    providers.join(", ")
                )));
            }
            if !out.iter().any(|seen| seen == text) {
                out.push(text.to_owned());
            }
        }
        Ok(Self(out))
    }

    /// The stored form: a JSON list.
    pub fn from_stored(stored: Option<&str>) -> Self {
        Self(
            stored
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or_default(),
        )
    }

    pub fn to_stored(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "[]".into())
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    pub fn contains(&self, identity: &str) -> bool {
        self.0.iter().any(|i| i == identity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PROVIDERS: [&str; 2] = ["github", "slack"];

    #[test]
    fn parses_provider_identities_and_names_a_bad_one() {
        let ok = Identities::parse(
            "identities",
            &json!(["github:bot[bot]", "slack:B1", "slack:B1"]),
            &PROVIDERS,
        )
        .unwrap();
        assert_eq!(ok.as_slice(), ["github:bot[bot]", "slack:B1"]);
        assert!(ok.contains("slack:B1"));
        for bad in [
            json!(["gitlab:x"]),
            json!(["github:"]),
            json!(["nocolon"]),
            json!([1]),
            json!("github:x"),
        ] {
            let err = Identities::parse("identities", &bad, &PROVIDERS).unwrap_err();
            assert!(err.0.starts_with("Field 'identities"), "{bad}: {err}");
        }
        assert_eq!(Identities::from_stored(Some(&ok.to_stored())), ok);
        assert_eq!(Identities::from_stored(None), Identities::default());
    }
}
