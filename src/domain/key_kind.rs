use super::ParseError;

/// What an `agent_api_keys` row is for (`api_key_type` in the API): the
/// agent's own `internal` key, or a provider's kind, declared with
/// everything else about the provider by its module in `verify/` (the
/// registry there parses names). Two kinds are equal when their names are.
#[derive(Debug, Clone, Copy)]
pub struct KeyKind {
    name: &'static str,
    lookup: KeyLookup,
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
    /// Sent by hookgate to the agent; made by registration.
    pub const INTERNAL: KeyKind = KeyKind::new("internal", KeyLookup::NotPresented);

    /// The bearer token hookgate sends an A2A agent whose card declares a
    /// security scheme; the agent's own, given at registration.
    pub const OUTBOUND: KeyKind = KeyKind::new("outbound", KeyLookup::NotPresented);

    /// At most this many keys of an [`KeyLookup::AllOfType`] type per agent,
    /// so a call never costs more than this many HMACs (times live versions).
    pub const MAX_TRIED_KEYS: usize = 16;

    pub const fn new(name: &'static str, lookup: KeyLookup) -> Self {
        Self { name, lookup }
    }

    pub fn as_str(self) -> &'static str {
        self.name
    }

    pub fn lookup(self) -> KeyLookup {
        self.lookup
    }

    /// Values only ever compared whole are stored as a digest; every other
    /// kind must stay usable for an HMAC or for calling the agent.
    pub fn stores_digest_only(self) -> bool {
        self.lookup == KeyLookup::Digest
    }
}

impl PartialEq for KeyKind {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for KeyKind {}

impl std::hash::Hash for KeyKind {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
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
    fn acp_types_parse_and_reject() {
        assert_eq!(AcpType::parse("agentic").unwrap().as_str(), "agentic");
        assert!(AcpType::parse("batch").unwrap_err().0.contains("acp_type"));
    }
}
