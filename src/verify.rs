//! Pure authentication checks, no I/O. Each provider is one module that
//! declares everything hookgate knows about it (see [`provider`]);
//! [`providers`] lists them. The verifier actor supplies the stored keys.

pub mod described;
mod hmac_sha256;
pub mod provider;
pub mod providers;
mod reading;
pub mod sample;

pub use provider::{
    Answer, Call, Descriptor, Messages, Own, Provider, Reading, SecretSource, Tolerance,
};

use std::borrow::Cow;

/// Why a forward call was refused: the contract's status and exact
/// message, and the reason as metrics name it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct VerifyError {
    status: u16,
    reason: Refusal,
    message: Cow<'static, str>,
}

/// The kinds of refusal, a bounded set (metric label values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    UnknownAgent,
    UnknownKey,
    BadSignature,
    StaleTimestamp,
    NoCredentials,
    BadRequest,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownAgent => "unknown_agent",
            Self::UnknownKey => "unknown_key",
            Self::BadSignature => "bad_signature",
            Self::StaleTimestamp => "stale_timestamp",
            Self::NoCredentials => "no_credentials",
            Self::BadRequest => "bad_request",
        }
    }
}

impl VerifyError {
    fn new(status: u16, reason: Refusal, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            reason,
            message: message.into(),
        }
    }

    /// A malformed call: a header or payload the provider cannot read.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(400, Refusal::BadRequest, message)
    }

    /// A timestamp too far from now: a replay, or a clock far off.
    pub fn stale_timestamp(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(400, Refusal::StaleTimestamp, message)
    }

    /// A wrong key or signature.
    pub fn unauthorized(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(401, Refusal::BadSignature, message)
    }

    /// No key that could have signed the call.
    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(404, Refusal::UnknownKey, message)
    }

    pub fn agent_not_found(name: &str) -> Self {
        let message = format!("Agent {name} not found or has no ACP URL.");
        Self::new(404, Refusal::UnknownAgent, message)
    }

    /// No credential any provider (or any of the agent's HMAC keys) reads.
    pub fn missing_authentication() -> Self {
        Self::new(
            403,
            Refusal::NoCredentials,
            "Missing authentication for forward request.",
        )
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

    pub fn reason(&self) -> Refusal {
        self.reason
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}
