//! Which agents metrics name. Anyone may register agents (open
//! registration) and call them, so a label per agent would let strangers
//! grow every scrape: an agent is named only once it received verified
//! traffic, and only the first [`set_max`] of those; later ones count under
//! [`OTHER`], calls not (yet) verified for an unnamed agent under
//! [`UNKNOWN`].

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, RwLock};

/// The `agent` label of a call whose agent is not known, or has not yet
/// received verified traffic.
pub const UNKNOWN: &str = "unknown";
/// The `agent` label of agents past the named ones.
pub const OTHER: &str = "other";

static MAX_NAMED: AtomicUsize = AtomicUsize::new(500);
static NAMED: LazyLock<RwLock<HashSet<Box<str>>>> = LazyLock::new(RwLock::default);

/// `HOOKGATE_METRICS_MAX_AGENTS`: how many agents are named (per process).
pub fn set_max(max: usize) {
    MAX_NAMED.store(max, Ordering::Relaxed);
}

/// How an agent's series are labelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentLabel {
    /// By its own name.
    Named,
    Other,
    Unknown,
}

impl AgentLabel {
    /// The label value for `agent`.
    pub fn value(self, agent: &str) -> &str {
        match self {
            Self::Named => agent,
            Self::Other => OTHER,
            Self::Unknown => UNKNOWN,
        }
    }
}

/// `agent`'s label; `verified` (the agent received verified traffic) may
/// name it while there is room. The flag says it was named just now.
pub fn classify(agent: &str, verified: bool) -> (AgentLabel, bool) {
    if is_named(agent) {
        return (AgentLabel::Named, false);
    }
    if !verified {
        return (AgentLabel::Unknown, false);
    }
    let mut named = NAMED.write().unwrap_or_else(|e| e.into_inner());
    if named.contains(agent) {
        return (AgentLabel::Named, false);
    }
    if named.len() >= MAX_NAMED.load(Ordering::Relaxed) {
        return (AgentLabel::Other, false);
    }
    named.insert(agent.into());
    (AgentLabel::Named, true)
}

/// Whether `agent` already has series of its own.
pub fn is_named(agent: &str) -> bool {
    NAMED
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .contains(agent)
}
