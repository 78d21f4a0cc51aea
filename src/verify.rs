//! Pure authentication checks, no I/O. Each provider is one module that
//! declares everything hookgate knows about it (see [`provider`]);
//! [`providers`] lists them. The verifier actor supplies the stored keys.

mod hmac_sha256;
pub mod provider;
pub mod providers;

pub use provider::{
    Answer, Call, Descriptor, Messages, Own, Provider, Reading, SecretSource, Tolerance,
};

use std::borrow::Cow;

/// Why a forward call was refused: the contract's status and exact message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct VerifyError {
    status: u16,
    message: Cow<'static, str>,
}

impl VerifyError {
    fn new(status: u16, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// A malformed call: a header or payload the provider cannot read, a
    /// stale timestamp.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(400, message)
    }

    /// A wrong key or signature.
    pub fn unauthorized(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(401, message)
    }

    /// No key that could have signed the call.
    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(404, message)
    }

    pub fn agent_not_found(name: &str) -> Self {
        Self::not_found(format!("Agent {name} not found or has no ACP URL."))
    }

    /// No credential any provider (or any of the agent's HMAC keys) reads.
    pub fn missing_authentication() -> Self {
        Self::new(403, "Missing authentication for forward request.")
    }

    pub fn missing_header(name: &str) -> Self {
        Self::bad_request(format!("Missing {name} header."))
    }

    pub fn invalid_timestamp_header(name: &str) -> Self {
        Self::bad_request(format!("Invalid {name} header value."))
    }

    /// The HTTP status the contract gives this refusal.
    pub fn status(&self) -> u16 {
        self.status
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}
