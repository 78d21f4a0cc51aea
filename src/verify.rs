//! Pure authentication checks, no I/O: which scheme a call uses, and whether
//! its key or signature is right. The verifier actor supplies the stored keys.

pub mod api_key;
pub mod github;
pub mod gitlab;
pub mod hmac;
mod hmac_sha256;
pub mod linear;
pub mod shopify;
pub mod slack;
pub mod standard_webhooks;
pub mod stripe;

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
    #[error("Missing {0} header.")]
    MissingHeader(String),
    #[error("Invalid {0} header value.")]
    InvalidTimestampHeader(String),
    #[error("Standard Webhooks request has bad timestamp.")]
    StandardWebhooksStaleTimestamp,
    #[error("No Standard Webhooks key found for agent ID {0}.")]
    StandardWebhooksNoKey(String),
    #[error("Invalid Standard Webhooks signature")]
    StandardWebhooksBadSignature,
    #[error("Invalid Stripe-Signature header.")]
    StripeInvalidHeader,
    #[error("Stripe webhook request has bad timestamp.")]
    StripeStaleTimestamp,
    #[error("No Stripe key found for agent ID {0}.")]
    StripeNoKey(String),
    #[error("Invalid Stripe webhook signature")]
    StripeBadSignature,
    #[error("No API key found for Shopify shop {0}.")]
    ShopifyNoKey(String),
    #[error("Invalid Shopify webhook signature")]
    ShopifyBadSignature,
    #[error("Invalid GitLab token for agent ID {0}.")]
    GitlabInvalidToken(String),
    #[error("Failed to parse Linear webhook payload as JSON.")]
    LinearNotJson,
    #[error("Linear webhook payload missing webhookTimestamp.")]
    LinearMissingTimestamp,
    #[error("Linear webhook request has bad timestamp.")]
    LinearStaleTimestamp,
    #[error("No Linear key found for agent ID {0}.")]
    LinearNoKey(String),
    #[error("Invalid Linear webhook signature")]
    LinearBadSignature,
    #[error("HMAC webhook request has bad timestamp.")]
    HmacStaleTimestamp,
    #[error("Invalid HMAC webhook signature")]
    HmacBadSignature,
    #[error("Missing authentication for forward request.")]
    MissingAuthentication,
}

impl VerifyError {
    /// The HTTP status the contract gives this refusal.
    pub fn status(&self) -> u16 {
        use VerifyError::*;
        match self {
            AgentNotFound(_)
            | GithubNoKey(_)
            | SlackNoKey(_)
            | StandardWebhooksNoKey(_)
            | StripeNoKey(_)
            | ShopifyNoKey(_)
            | LinearNoKey(_) => 404,
            InvalidApiKey(_)
            | GithubBadSignature
            | SlackMissingTimestamp
            | SlackBadSignature
            | StandardWebhooksBadSignature
            | StripeBadSignature
            | ShopifyBadSignature
            | GitlabInvalidToken(_)
            | LinearBadSignature
            | HmacBadSignature => 401,
            MissingAuthentication => 403,
            GithubEmptyPayload
            | GithubNotJson
            | GithubMissingRepository
            | GithubMissingRepositoryName
            | SlackInvalidTimestamp
            | SlackStaleTimestamp
            | SlackInvalidRequest
            | SlackMissingAppId
            | MissingHeader(_)
            | InvalidTimestampHeader(_)
            | StandardWebhooksStaleTimestamp
            | StripeInvalidHeader
            | StripeStaleTimestamp
            | LinearNotJson
            | LinearMissingTimestamp
            | LinearStaleTimestamp
            | HmacStaleTimestamp => 400,
        }
    }
}

/// The authentication scheme a call presents, picked from its headers in the
/// contract's order: the first matching rule wins. Every presented
/// credential is held as a [`Secret`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheme {
    /// An `external` key, from `x-agent-api-key` or `Authorization: AgentKey`.
    ApiKey(Secret),
    /// GitHub's `x-hub-signature-256`.
    Github { signature: Secret },
    /// Slack's `x-slack-signature` with its timestamp header (if sent).
    Slack {
        signature: Secret,
        timestamp: Option<String>,
    },
    /// `webhook-signature` (or Svix's `svix-signature`) with its id and timestamp.
    StandardWebhooks(standard_webhooks::Presented),
    /// `Stripe-Signature`.
    Stripe { header: Secret },
    /// `X-Shopify-Hmac-Sha256` with the shop that names the secret.
    Shopify {
        signature: Secret,
        shop: Option<String>,
    },
    /// `X-Gitlab-Token`.
    Gitlab { token: Secret },
    /// `Linear-Signature`.
    Linear { signature: Secret },
}

impl Scheme {
    /// The built-in type that reads `header` (lower case), if any: a
    /// generic `hmac` key on it would never be consulted.
    pub fn built_in_for(header: &str) -> Option<KeyKind> {
        let claimed = [
            (api_key::HEADER, KeyKind::External),
            ("authorization", KeyKind::External),
            (github::SIGNATURE_HEADER, KeyKind::Github),
            (slack::SIGNATURE_HEADER, KeyKind::Slack),
            (
                standard_webhooks::SIGNATURE_HEADERS[0],
                KeyKind::StandardWebhooks,
            ),
            (
                standard_webhooks::SIGNATURE_HEADERS[1],
                KeyKind::StandardWebhooks,
            ),
            (stripe::SIGNATURE_HEADER, KeyKind::Stripe),
            (shopify::SIGNATURE_HEADER, KeyKind::Shopify),
            (gitlab::TOKEN_HEADER, KeyKind::Gitlab),
            (linear::SIGNATURE_HEADER, KeyKind::Linear),
        ];
        claimed
            .into_iter()
            .find(|(name, _)| *name == header)
            .map(|(_, kind)| kind)
    }

    pub fn from_headers(headers: &http::HeaderMap) -> Result<Self, VerifyError> {
        if let Some(key) = api_key::presented_key(headers) {
            return Ok(Self::ApiKey(Secret::new(key.to_owned())));
        }
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if let Some(signature) = text(github::SIGNATURE_HEADER) {
            return Ok(Self::Github {
                signature: Secret::new(signature.to_owned()),
            });
        }
        if let Some(signature) = text(slack::SIGNATURE_HEADER) {
            return Ok(Self::Slack {
                signature: Secret::new(signature.to_owned()),
                timestamp: text(slack::TIMESTAMP_HEADER).map(str::to_owned),
            });
        }
        if let Some(presented) = standard_webhooks::Presented::from_headers(headers) {
            return Ok(Self::StandardWebhooks(presented));
        }
        if let Some(header) = text(stripe::SIGNATURE_HEADER) {
            return Ok(Self::Stripe {
                header: Secret::new(header.to_owned()),
            });
        }
        if let Some(signature) = text(shopify::SIGNATURE_HEADER) {
            return Ok(Self::Shopify {
                signature: Secret::new(signature.to_owned()),
                shop: text(shopify::SHOP_HEADER).map(str::to_owned),
            });
        }
        if let Some(token) = text(gitlab::TOKEN_HEADER) {
            return Ok(Self::Gitlab {
                token: Secret::new(token.to_owned()),
            });
        }
        if let Some(signature) = text(linear::SIGNATURE_HEADER) {
            return Ok(Self::Linear {
                signature: Secret::new(signature.to_owned()),
            });
        }
        Err(VerifyError::MissingAuthentication)
    }
}

use crate::domain::{KeyKind, Secret};
use actix_web::http::header as http;
