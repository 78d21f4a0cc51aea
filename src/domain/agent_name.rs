use super::ParseError;

/// An agent's name: `^[a-z0-9-]+$`, at most 255 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AgentName(String);

impl AgentName {
    /// Whether `raw` is a valid name, without making one (the forward
    /// route checks every call's name this way).
    pub fn is_valid(raw: &str) -> bool {
        !raw.is_empty()
            && raw.len() <= 255
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    }

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        if Self::is_valid(raw) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ParseError(format!(
                "Field 'name' must match ^[a-z0-9-]+$ (1 to 255 characters), got {raw:?}."
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_lowercase_digits_and_dashes() {
        assert_eq!(
            AgentName::parse("my-agent-2").unwrap().as_str(),
            "my-agent-2"
        );
    }

    #[test]
    fn rejects_other_characters_naming_the_field() {
        for bad in ["", "My-Agent", "a_b", "a b", "ä"] {
            let err = AgentName::parse(bad).unwrap_err();
            assert!(err.0.contains("'name'"), "{err}");
        }
    }
}
