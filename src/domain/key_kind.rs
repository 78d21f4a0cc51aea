use super::ParseError;

/// What an `agent_api_keys` row is for (`api_key_type` in the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    /// Presented by callers in `x-agent-api-key`; stored only as a digest.
    External,
    /// Sent by hookgate to the agent; made by registration.
    Internal,
    /// A GitHub webhook secret, named by the repository's full name.
    Github,
    /// A Slack signing secret, named by the Slack app id.
    Slack,
}

impl KeyKind {
    pub const ALL: [KeyKind; 4] = [Self::External, Self::Internal, Self::Github, Self::Slack];

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == raw)
            .ok_or_else(|| {
                ParseError(format!(
                    "Field 'api_key_type' must be one of external, internal, github, slack; got {raw:?}."
                ))
            })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::External => "external",
            Self::Internal => "internal",
            Self::Github => "github",
            Self::Slack => "slack",
        }
    }

    /// External keys are stored as a digest; every other kind must be usable.
    pub fn stores_digest_only(self) -> bool {
        self == Self::External
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
