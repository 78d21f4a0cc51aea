use super::ParseError;

/// What an `agent_api_keys` row is for (`api_key_type` in the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// Presented by callers in `x-agent-api-key`; stored only as a digest.
    External,
    /// Sent by hookgate to the agent; made by registration.
    Internal,
    /// A GitHub webhook secret, named by the repository's full name.
    Github,
    /// A Slack signing secret, named by the Slack app id.
    Slack,
    /// A Standard Webhooks (Svix, OpenAI, …) `whsec_` secret; any name.
    StandardWebhooks,
    /// A Stripe endpoint signing secret; any name.
    Stripe,
    /// A Shopify app secret, named by the shop's domain (`x.myshopify.com`).
    Shopify,
    /// A GitLab secret token, compared whole; stored only as a digest.
    Gitlab,
    /// A Linear webhook signing secret; any name.
    Linear,
    /// A secret for a provider described by the key's own `hmac` settings.
    Hmac,
}

/// How the verifier finds the keys that may have signed a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLookup {
    /// By the digest of the value the caller presents.
    Digest,
    /// By the name the payload or a header gives (repository, app, shop).
    Named,
    /// Every live key of the agent of that type, tried in turn.
    AllOfType,
    /// Never presented by callers (internal keys).
    NotPresented,
}

impl KeyKind {
    pub const ALL: [KeyKind; 10] = [
        Self::External,
        Self::Internal,
        Self::Github,
        Self::Slack,
        Self::StandardWebhooks,
        Self::Stripe,
        Self::Shopify,
        Self::Gitlab,
        Self::Linear,
        Self::Hmac,
    ];

    /// At most this many keys of an [`KeyLookup::AllOfType`] type per agent,
    /// so a call never costs more than this many HMACs (times live versions).
    pub const MAX_TRIED_KEYS: usize = 16;

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == raw)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|k| k.as_str()).collect();
                ParseError(format!(
                    "Field 'api_key_type' must be one of {}; got {raw:?}.",
                    names.join(", ")
                ))
            })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::External => "external",
            Self::Internal => "internal",
            Self::Github => "github",
            Self::Slack => "slack",
            Self::StandardWebhooks => "standard_webhooks",
            Self::Stripe => "stripe",
            Self::Shopify => "shopify",
            Self::Gitlab => "gitlab",
            Self::Linear => "linear",
            Self::Hmac => "hmac",
        }
    }

    pub fn lookup(self) -> KeyLookup {
        match self {
            Self::External | Self::Gitlab => KeyLookup::Digest,
            Self::Github | Self::Slack | Self::Shopify => KeyLookup::Named,
            Self::StandardWebhooks | Self::Stripe | Self::Linear | Self::Hmac => {
                KeyLookup::AllOfType
            }
            Self::Internal => KeyLookup::NotPresented,
        }
    }

    /// Values only ever compared whole are stored as a digest; every other
    /// kind must stay usable for an HMAC or for calling the agent.
    pub fn stores_digest_only(self) -> bool {
        self.lookup() == KeyLookup::Digest
    }
}

/// How the agent's ACP server runs tasks (`acp_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcpType {
    Sync,
    Async,
    Agentic,
}

impl AcpType {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        match raw {
            "sync" => Ok(Self::Sync),
            "async" => Ok(Self::Async),
            "agentic" => Ok(Self::Agentic),
            _ => Err(ParseError(format!(
                "Field 'acp_type' must be one of sync, async, agentic; got {raw:?}."
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sync => "sync",
            Self::Async => "async",
            Self::Agentic => "agentic",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_kinds_round_trip_through_their_names() {
        for kind in KeyKind::ALL {
            assert_eq!(KeyKind::parse(kind.as_str()).unwrap(), kind);
        }
        assert!(KeyKind::parse("GitHub")
            .unwrap_err()
            .0
            .contains("api_key_type"));
    }

    #[test]
    fn acp_types_parse_and_reject() {
        assert_eq!(AcpType::parse("agentic").unwrap().as_str(), "agentic");
        assert!(AcpType::parse("batch").unwrap_err().0.contains("acp_type"));
    }
}
