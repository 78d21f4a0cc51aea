//! SQLite's `synchronous` setting for the commits that must survive.

use super::ParseError;

/// SQLite's `synchronous` setting for commits that must survive (intake).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqliteSync {
    Full,
    Normal,
}

impl SqliteSync {
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "full" => Ok(Self::Full),
            "normal" => Ok(Self::Normal),
            _ => Err(ParseError(format!(
                "HOOKGATE_SQLITE_SYNCHRONOUS / --sqlite-synchronous must be full or normal, got {value:?}"
            ))),
        }
    }

    pub fn pragma(self) -> &'static str {
        match self {
            Self::Full => "FULL",
            Self::Normal => "NORMAL",
        }
    }
}
