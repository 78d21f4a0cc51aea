use super::ParseError;

/// How hookgate talks to an agent (`protocol`): Agentex's ACP at its
/// `acp_url`, or A2A at the JSON-RPC interface its Agent Card names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentProtocol {
    Acp,
    A2a,
}

impl AgentProtocol {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        match raw {
            "acp" => Ok(Self::Acp),
            "a2a" => Ok(Self::A2a),
            _ => Err(ParseError(format!(
                "Field 'protocol' must be one of acp, a2a; got {raw:?}."
            ))),
        }
    }

    /// As stored; a value no release wrote reads as ACP, the default.
    pub fn from_stored(raw: &str) -> Self {
        Self::parse(raw).unwrap_or(Self::Acp)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Acp => "acp",
            Self::A2a => "a2a",
        }
    }
}

/// Which A2A shapes an agent understands: 1.0 (`SendMessage`, proto-JSON
/// enums such as `ROLE_USER`, the `A2A-Version` header) or the 0.3 ones
/// (`message/send`, `kind` discriminators) that older SDKs speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum A2aVersion {
    V1,
    V0_3,
}

impl A2aVersion {
    /// A card's `protocolVersion`: any 1.x (or later) speaks 1.0's shapes;
    /// 0.x, or none (0.3 cards may omit it), the 0.3 ones.
    pub fn of_card(raw: Option<&str>) -> Self {
        let major = raw
            .and_then(|v| v.trim().split('.').next())
            .and_then(|m| m.parse::<u32>().ok());
        match major {
            Some(m) if m >= 1 => Self::V1,
            _ => Self::V0_3,
        }
    }

    /// As stored and shown (`a2a_version`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "1.0",
            Self::V0_3 => "0.3",
        }
    }

    /// As stored; none reads as 1.0, the current version.
    pub fn from_stored(raw: Option<&str>) -> Self {
        match raw {
            Some("0.3") => Self::V0_3,
            _ => Self::V1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_parse_and_name_the_field() {
        assert_eq!(AgentProtocol::parse("a2a").unwrap(), AgentProtocol::A2a);
        assert!(AgentProtocol::parse("grpc")
            .unwrap_err()
            .0
            .contains("'protocol'"));
        assert_eq!(AgentProtocol::from_stored("odd"), AgentProtocol::Acp);
    }

    #[test]
    fn card_versions_pick_the_shapes() {
        assert_eq!(A2aVersion::of_card(Some("1.0")), A2aVersion::V1);
        assert_eq!(A2aVersion::of_card(Some("1.2.0")), A2aVersion::V1);
        assert_eq!(A2aVersion::of_card(Some("0.3.0")), A2aVersion::V0_3);
        assert_eq!(A2aVersion::of_card(None), A2aVersion::V0_3);
        assert_eq!(A2aVersion::from_stored(Some("0.3")), A2aVersion::V0_3);
    }
}
