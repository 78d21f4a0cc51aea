//! Newtypes that can only hold valid values: each has a `parse` that names
//! the field it rejects.

mod agent_name;
mod agent_protocol;
mod agent_url;
mod call_source;
mod condition;
mod hmac_config;
mod identities;
pub mod json_fields;
mod key_kind;
pub mod payload;
mod redaction;
mod route;
mod secret;
mod sqlite_sync;
mod sub_path;
mod template;

pub use agent_name::AgentName;
pub use agent_protocol::{A2aVersion, AgentProtocol};
pub use agent_url::absolute_http_url;
pub use call_source::{Actor, ActorField, CallSource};
pub use condition::{Condition, Conditions};
pub use hmac_config::{ContentPart, HmacAlgorithm, HmacConfig, HmacEncoding};
pub use identities::Identities;
pub use key_kind::{AcpType, KeyKind, KeyLookup};
pub use redaction::{RedactedCall, Redaction};
pub use route::{
    task_id, ContentKind, MissingTaskKey, RouteMode, RoutePath, RouteRules, StoredRoute,
};
pub use secret::{
    digest_hex, generate_key, random_bytes, LiveKey, LiveUntil, Revealed, Secret, TimedSecret,
};
pub use sqlite_sync::SqliteSync;
pub use sub_path::{SubPath, SubPathError};
pub use template::{MissingField, Placeholder, Template, TemplateInput};

/// A value that failed validation; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

/// A stored JSON column named `field`: None when unset, an error naming
/// the field when it is no longer JSON (a rule is never silently dropped).
pub fn stored_json(
    field: &str,
    stored: Option<&str>,
) -> Result<Option<serde_json::Value>, ParseError> {
    stored
        .map(|raw| {
            serde_json::from_str(raw)
                .map_err(|e| ParseError(format!("Stored field '{field}' is not JSON: {e}.")))
        })
        .transpose()
}
