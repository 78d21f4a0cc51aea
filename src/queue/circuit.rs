//! The per-agent circuit: when several different deliveries in a row find
//! an agent unable to take them, the dispatcher stops sending it its task
//! heads and probes with one delivery on the backoff schedule; the first
//! answer closes the circuit and delivery resumes at full speed. One task
//! whose head keeps failing never opens it: the failures must come from
//! distinct deliveries.

use rand::Rng;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// Distinct deliveries failing in a row that open an agent's circuit.
pub const OPEN_AFTER: usize = 5;
/// The longest wait between probes, whatever the retry settings.
pub const MAX_PROBE_GAP: Duration = Duration::from_secs(30);

/// What the circuit lets the dispatcher send an agent now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// As much as the agent's concurrency allows.
    Closed,
    /// One probe.
    Probe,
    /// Nothing until the next probe.
    Open,
}

#[derive(Debug, Default)]
struct Circuit {
    failing: HashSet<String>,
    open_until: Option<Instant>,
    probes_failed: u32,
}

/// Every agent's circuit, in the dispatcher's memory.
#[derive(Debug)]
pub struct Circuits {
    circuits: HashMap<String, Circuit>,
    base: Duration,
    max: Duration,
}

impl Circuits {
    /// Probes back off from `base`, doubling, up to `max` (at most 30 s).
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            circuits: HashMap::new(),
            base,
            max: max.min(MAX_PROBE_GAP),
        }
    }

    /// The gate of every agent whose circuit is not closed.
    pub fn gates(&self, at: Instant) -> HashMap<String, Gate> {
        self.circuits
            .keys()
            .map(|id| (id.clone(), self.gate(id, at)))
            .filter(|(_, gate)| *gate != Gate::Closed)
            .collect()
    }

    pub fn gate(&self, agent_id: &str, at: Instant) -> Gate {
        match self.circuits.get(agent_id).and_then(|c| c.open_until) {
            None => Gate::Closed,
            Some(until) if at >= until => Gate::Probe,
            Some(_) => Gate::Open,
        }
    }

    /// Takes one attempt's outcome: `transient` when the agent could not
    /// take the delivery (unreachable, timeout, 408, 429, 5xx).
    pub fn observe(&mut self, agent_id: &str, delivery_id: &str, transient: bool, at: Instant) {
        if !transient {
            if let Some(circuit) = self.circuits.remove(agent_id) {
                if circuit.open_until.is_some() {
                    tracing::info!(agent.id = %agent_id, "agent answers again; delivery resumes");
                }
            }
            return;
        }
        let circuit = self.circuits.entry(agent_id.to_owned()).or_default();
        circuit.failing.insert(delivery_id.to_owned());
        match circuit.open_until {
            Some(until) if at >= until => {
                circuit.probes_failed += 1;
                circuit.open_until = Some(at + backoff(self.base, self.max, circuit.probes_failed));
            }
            Some(_) => {}
            None if circuit.failing.len() >= OPEN_AFTER => {
                circuit.probes_failed = 1;
                let wait = backoff(self.base, self.max, 1);
                circuit.open_until = Some(at + wait);
                tracing::warn!(agent.id = %agent_id, probe_in_ms = wait.as_millis() as u64,
                    "agent cannot take deliveries; holding its queue and probing");
            }
            None => {}
        }
    }
}

/// `base` doubling per failed probe, capped at `max`, with jitter in [½, 1].
fn backoff(base: Duration, max: Duration, probes: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << probes.saturating_sub(1).min(30));
    exp.min(max)
        .mul_f64(rand::thread_rng().gen_range(0.5..=1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn circuits() -> Circuits {
        Circuits::new(Duration::from_secs(1), Duration::from_secs(600))
    }

    #[test]
    fn one_failing_delivery_never_opens_it() {
        let mut c = circuits();
        let at = Instant::now();
        for _ in 0..50 {
            c.observe("a", "same-delivery", true, at);
        }
        assert_eq!(c.gate("a", at), Gate::Closed);
    }

    #[test]
    fn distinct_failures_open_it_probes_follow_and_an_answer_closes_it() {
        let mut c = circuits();
        let at = Instant::now();
        for i in 0..OPEN_AFTER {
            assert_eq!(c.gate("a", at), Gate::Closed);
            c.observe("a", &format!("d{i}"), true, at);
        }
        assert_eq!(c.gate("a", at), Gate::Open);
        assert_eq!(c.gate("b", at), Gate::Closed, "other agents go on");
        let probe_time = at + Duration::from_secs(1);
        assert_eq!(c.gate("a", probe_time), Gate::Probe);
        c.observe("a", "d9", true, probe_time);
        assert_eq!(
            c.gate("a", probe_time),
            Gate::Open,
            "a failed probe waits again"
        );
        let later = probe_time + MAX_PROBE_GAP;
        assert_eq!(c.gate("a", later), Gate::Probe);
        c.observe("a", "d9", false, later);
        assert_eq!(c.gate("a", later), Gate::Closed);
    }

    #[test]
    fn probes_back_off_but_never_past_thirty_seconds() {
        for probes in 1..40 {
            let wait = backoff(Duration::from_secs(1), MAX_PROBE_GAP, probes);
            assert!(wait <= MAX_PROBE_GAP.min(Duration::from_secs(1 << (probes - 1).min(20))));
        }
    }
}
