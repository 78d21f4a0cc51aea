//! Pure authentication checks, no I/O: which scheme a call uses, and whether
//! its key or signature is right. The verifier actor supplies the stored keys.

pub mod api_key;
pub mod github;
mod hmac_sha256;
pub mod slack;

/// Why a forward call was refused. The messages are the contract's, exactly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("Agent {0} not found or has no ACP URL.")]
    AgentNotFound(String),
    #[error("Invalid API key for agent ID {0}.")]
    InvalidApiKey(String),
    #[error("Empty payload in GitHub webhook.")]
    GithubEmptyPayload,
    #[error("Failed to parse GitHub webhook payload as JSON.")]
    GithubNotJson,
    #[error("GitHub webhook payload missing repository info.")]
    GithubMissingRepository,
    #[error("GitHub webhook payload missing repository name.")]
    GithubMissingRepositoryName,
    #[error("No API key found for GitHub repository {0}.")]
    GithubNoKey(String),
    #[error("Invalid GitHub webhook signature")]
    GithubBadSignature,
    #[error("Missing X-Slack-Request-Timestamp header.")]
    SlackMissingTimestamp,
    #[error("Invalid X-Slack-Request-Timestamp header value.")]
    SlackInvalidTimestamp,
    #[error("Slack webhook request has bad timestamp.")]
    SlackStaleTimestamp,
    #[error("Invalid Slack verification request.")]
    SlackInvalidRequest,
    #[error("Slack webhook payload missing API app ID.")]
    SlackMissingAppId,
    #[error("No API key found for Slack app {0}.")]
    SlackNoKey(String),
    #[error("Invalid Slack webhook signature")]
    SlackBadSignature,
    #[error("Missing authentication for forward request.")]
    MissingAuthentication,
}

impl VerifyError {
    /// The HTTP status the contract gives this refusal.
    pub fn status(&self) -> u16 {
        use VerifyError::*;
        match self {
            AgentNotFound(_) | GithubNoKey(_) | SlackNoKey(_) => 404,
            InvalidApiKey(_) | GithubBadSignature | SlackMissingTimestamp | SlackBadSignature => {
                401
            }
            MissingAuthentication => 403,
            GithubEmptyPayload
            | GithubNotJson
            | GithubMissingRepository
            | GithubMissingRepositoryName
            | SlackInvalidTimestamp
            | SlackStaleTimestamp
            | SlackInvalidRequest
            | SlackMissingAppId => 400,
        }
    }
}

/// The authentication scheme a call presents, picked from its headers in the
/// contract's order: the first matching rule wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheme {
    /// An `external` key, from `x-agent-api-key` or `Authorization: AgentKey`.
    ApiKey(String),
    /// GitHub's `x-hub-signature-256`.
    Github { signature: String },
    /// Slack's `x-slack-signature` with its timestamp header (if sent).
    Slack {
        signature: String,
        timestamp: Option<String>,
    },
}

impl Scheme {
    pub fn from_headers(headers: &http::HeaderMap) -> Result<Self, VerifyError> {
        if let Some(key) = api_key::presented_key(headers) {
            return Ok(Self::ApiKey(key.to_owned()));
        }
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if let Some(signature) = text(github::SIGNATURE_HEADER) {
            return Ok(Self::Github {
                signature: signature.to_owned(),
            });
        }
        if let Some(signature) = text(slack::SIGNATURE_HEADER) {
            return Ok(Self::Slack {
                signature: signature.to_owned(),
                timestamp: text(slack::TIMESTAMP_HEADER).map(str::to_owned),
            });
        }
        Err(VerifyError::MissingAuthentication)
    }
}

use actix_web::http::header as http;
