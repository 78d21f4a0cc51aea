//! The settings of a generic `hmac` key: which header carries the
//! signature, how it is computed and encoded, and what content is signed.

use super::ParseError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HmacAlgorithm {
    Sha1,
    Sha256,
    Sha512,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HmacEncoding {
    Hex,
    Base64,
}

/// One piece of the signed content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentPart {
    Text(String),
    Timestamp,
    Body,
}

/// As given in `POST /agent_api_keys` (`"hmac": {…}`) and shown back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HmacConfig {
    /// The request header carrying the signature, e.g. `x-signature`.
    pub header: String,
    /// `sha1`, `sha256` (default) or `sha512`.
    #[serde(default = "default_algorithm")]
    pub algorithm: HmacAlgorithm,
    /// `hex` (default, either case) or `base64`.
    #[serde(default = "default_encoding")]
    pub encoding: HmacEncoding,
    /// Text before the encoded signature, e.g. `sha256=`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// What is signed: `{body}` (default), or a template with `{timestamp}`,
    /// e.g. `{timestamp}.{body}`.
    #[serde(default = "default_content")]
    pub signed_content: String,
    /// The header carrying the Unix timestamp (seconds); required when the
    /// signed content names `{timestamp}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_header: Option<String>,
    /// How far the timestamp may be from now, either way (default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance_secs: Option<u64>,
    /// `signed_content`, parsed once by [`HmacConfig::validated`].
    #[serde(skip)]
    #[schema(ignore)]
    pub parts: Vec<ContentPart>,
}

fn default_algorithm() -> HmacAlgorithm {
    HmacAlgorithm::Sha256
}
fn default_encoding() -> HmacEncoding {
    HmacEncoding::Hex
}
fn default_content() -> String {
    "{body}".into()
}

pub const DEFAULT_TOLERANCE_SECS: u64 = 300;
const MAX_TOLERANCE_SECS: u64 = 86_400;

impl HmacConfig {
    /// Checks and normalises (header names lower-cased); errors name the
    /// field. `claimed_by` names the built-in key type that reads a header,
    /// if any: an `hmac` key on it would never be consulted.
    pub fn validated(
        mut self,
        claimed_by: impl Fn(&str) -> Option<&'static str>,
    ) -> Result<Self, ParseError> {
        self.header = header_name(&self.header, "hmac.header")?;
        if let Some(kind) = claimed_by(&self.header) {
            return Err(ParseError(format!(
                "Field 'hmac.header' names {:?}, which the built-in '{kind}' type reads; use api_key_type '{kind}'.",
                self.header
            )));
        }
        let parts = self.content_parts()?;
        self.parts = parts.clone();
        let uses_timestamp = parts.contains(&ContentPart::Timestamp);
        if !parts.contains(&ContentPart::Body) {
            return Err(ParseError(
                "Field 'hmac.signed_content' must contain {body}.".into(),
            ));
        }
        self.timestamp_header = match self.timestamp_header.take() {
            Some(h) => Some(header_name(&h, "hmac.timestamp_header")?),
            None if uses_timestamp => {
                return Err(ParseError(
                    "Field 'hmac.timestamp_header' is required when 'hmac.signed_content' contains {timestamp}.".into(),
                ))
            }
            None => None,
        };
        if let Some(t) = self.tolerance_secs {
            if self.timestamp_header.is_none() {
                return Err(ParseError(
                    "Field 'hmac.tolerance_secs' needs 'hmac.timestamp_header'.".into(),
                ));
            }
            if !(1..=MAX_TOLERANCE_SECS).contains(&t) {
                return Err(ParseError(format!(
                    "Field 'hmac.tolerance_secs' must be 1 to {MAX_TOLERANCE_SECS}; got {t}."
                )));
            }
        }
        Ok(self)
    }

    /// The signed content as literal text, `{timestamp}` and `{body}`.
    fn content_parts(&self) -> Result<Vec<ContentPart>, ParseError> {
        let mut parts = Vec::new();
        let mut rest = self.signed_content.as_str();
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(ContentPart::Text(rest[..open].to_owned()));
            }
            let close = rest[open..].find('}').map(|c| open + c).ok_or_else(|| {
                ParseError("Field 'hmac.signed_content' has an unclosed '{'.".into())
            })?;
            parts.push(match &rest[open + 1..close] {
                "body" => ContentPart::Body,
                "timestamp" => ContentPart::Timestamp,
                other => {
                    return Err(ParseError(format!(
                        "Field 'hmac.signed_content' may name {{body}} and {{timestamp}}, not {{{other}}}."
                    )))
                }
            });
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(ContentPart::Text(rest.to_owned()));
        }
        Ok(parts)
    }

    pub fn tolerance(&self) -> u64 {
        self.tolerance_secs.unwrap_or(DEFAULT_TOLERANCE_SECS)
    }
}

fn header_name(raw: &str, field: &str) -> Result<String, ParseError> {
    let name = raw.trim().to_ascii_lowercase();
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if valid {
        Ok(name)
    } else {
        Err(ParseError(format!(
            "Field '{field}' must be an HTTP header name; got {raw:?}."
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: serde_json::Value) -> Result<HmacConfig, ParseError> {
        serde_json::from_value::<HmacConfig>(json)
            .unwrap()
            .validated(|header| (header == "x-claimed").then_some("built-in"))
    }

    #[test]
    fn defaults_and_templates() {
        let c = config(serde_json::json!({"header": "X-Signature"})).unwrap();
        assert_eq!(c.header, "x-signature");
        assert_eq!(
            (c.algorithm, c.encoding),
            (HmacAlgorithm::Sha256, HmacEncoding::Hex)
        );
        assert_eq!(c.parts, [ContentPart::Body]);
        let c = config(serde_json::json!({"header": "x-sig", "signed_content": "v1:{timestamp}:{body}", "timestamp_header": "X-TS"})).unwrap();
        assert_eq!(
            c.parts,
            [
                ContentPart::Text("v1:".into()),
                ContentPart::Timestamp,
                ContentPart::Text(":".into()),
                ContentPart::Body
            ]
        );
        assert_eq!(c.timestamp_header.as_deref(), Some("x-ts"));
        assert_eq!(c.tolerance(), 300);
    }

    #[test]
    fn refusals_name_the_field() {
        let cases = [
            (serde_json::json!({"header": "bad header"}), "'hmac.header'"),
            (serde_json::json!({"header": "x-claimed"}), "'built-in'"),
            (
                serde_json::json!({"header": "x-sig", "signed_content": "{timestamp}"}),
                "{body}",
            ),
            (
                serde_json::json!({"header": "x-sig", "signed_content": "{ts}.{body}"}),
                "{ts}",
            ),
            (
                serde_json::json!({"header": "x-sig", "signed_content": "{timestamp}.{body}"}),
                "'hmac.timestamp_header'",
            ),
            (
                serde_json::json!({"header": "x-sig", "tolerance_secs": 5}),
                "'hmac.tolerance_secs'",
            ),
        ];
        for (json, expected) in cases {
            let err = config(json.clone()).unwrap_err().0;
            assert!(err.contains(expected), "{json}: {err}");
        }
    }
}
