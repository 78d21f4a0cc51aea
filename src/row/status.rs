//! The closed sets a delivery row's columns hold as text: its `status`
//! and an attempt's `outcome` (its `mode` is `domain::RouteMode`). Each is
//! mapped onto its Text column on both backends (`db::text_columns`), so a
//! query compares enums, never strings, and an unknown stored value is an
//! error where it is read. Raw SQL still names `'pending'` literally where
//! a partial index's predicate must match the query's text for the planner
//! to use it; the stored texts are therefore fixed (a unit test pins them).

use diesel::expression::AsExpression;
use diesel::sql_types::Text;
use diesel::FromSqlRow;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, AsExpression, FromSqlRow, serde::Serialize)]
#[diesel(sql_type = Text)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Waiting for its (next) attempt.
    Pending,
    Delivered,
    /// Out of attempts, or refused for good.
    Failed,
    Cancelled,
    /// Dropped by a route's conditions or the loop guard, kept for operators
    /// (`HOOKGATE_KEEP_IGNORED`); never attempted.
    Ignored,
    /// Held by the loop breaker until an operator releases its task.
    Held,
}

impl DeliveryStatus {
    /// Every status a delivery can have.
    pub const ALL: [Self; 6] = [
        Self::Pending,
        Self::Delivered,
        Self::Failed,
        Self::Cancelled,
        Self::Ignored,
        Self::Held,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Ignored => "ignored",
            Self::Held => "held",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// How an attempt ended, as its row keeps it (the queue's `Outcome` adds
/// when a retry is due).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub enum AttemptOutcome {
    Delivered,
    Retry,
    Failed,
}

impl AttemptOutcome {
    pub const ALL: [Self; 3] = [Self::Delivered, Self::Retry, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Retry => "retry",
            Self::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == raw)
    }
}

/// A status equals its stored text.
impl PartialEq<&str> for DeliveryStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_texts_are_fixed() {
        let texts: Vec<&str> = DeliveryStatus::ALL.iter().map(|s| s.as_str()).collect();
        let expected = [
            "pending",
            "delivered",
            "failed",
            "cancelled",
            "ignored",
            "held",
        ];
        assert_eq!(texts, expected, "migrations and partial indexes name these");
    }

    #[test]
    fn every_status_reads_back_from_its_text() {
        for status in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse(status.as_str()), Some(status));
            assert_eq!(status, status.as_str());
        }
        assert_eq!(DeliveryStatus::parse("Pending"), None);
        for outcome in AttemptOutcome::ALL {
            assert_eq!(AttemptOutcome::parse(outcome.as_str()), Some(outcome));
        }
    }
}
