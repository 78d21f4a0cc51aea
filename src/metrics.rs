//! Prometheus metrics: the recorder, every metric's name and description,
//! and the calls the request, delivery and intake paths make. Label values
//! come from bounded sets only: the names of at most
//! `HOOKGATE_METRICS_MAX_AGENTS` agents that received verified traffic
//! (see [`agent_labels`]), provider key types, and the outcomes named here.
//! A series appears with its first sample (a histogram is not made before
//! it records), except the zero failed-attempts counter of a newly named
//! agent, which alerts on `increase()` need from the start.

pub mod agent_labels;

use agent_labels::{classify, AgentLabel, OTHER, UNKNOWN};

use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Counter,
    Histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

const REQUESTS: &str = "hookgate_requests_total";
const FORWARD_DURATION: &str = "hookgate_forward_duration_seconds";
const ATTEMPTS: &str = "hookgate_delivery_attempts_total";
const ATTEMPT_DURATION: &str = "hookgate_delivery_attempt_duration_seconds";
const QUEUE_DEPTH: &str = "hookgate_queue_depth";
const OLDEST_PENDING: &str = "hookgate_queue_oldest_pending_seconds";
const COMMIT_BATCH: &str = "hookgate_intake_commit_batch_size";
const COMMIT_DURATION: &str = "hookgate_intake_commit_duration_seconds";
const CACHE_HITS: &str = "hookgate_key_cache_hits_total";
const CACHE_MISSES: &str = "hookgate_key_cache_misses_total";
const IGNORED: &str = "hookgate_ignored_total";
const HELD: &str = "hookgate_held_total";
const DATABASE_UP: &str = "hookgate_database_up";
const SPOOL_EVENTS: &str = "hookgate_spool_events";
const SPOOL_BYTES: &str = "hookgate_spool_bytes";
const SPOOL_MOVED: &str = "hookgate_spool_moved_total";
const SPOOL_DROPPED: &str = "hookgate_spool_dropped_total";

/// Label values known in advance: their counters exist at 0 from the
/// moment their agent label does (`other` from the start, a named agent
/// from when it is named), so an alert on `increase()` or `rate()` sees
/// the first event rather than a series that appears with it.
const ATTEMPT_OUTCOMES: [&str; 3] = ["delivered", "retry", "failed"];
const IGNORE_REASONS: [&str; 4] = ["filter", "ignore", "loop", "no_task_key"];

/// Latency buckets, in seconds: loopback forwards take well under a
/// millisecond, agents up to the forward timeout.
const SECONDS: [f64; 16] = [
    0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    30.0,
];
const BATCH_SIZES: [f64; 12] = [
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0,
];
/// How often histogram samples are folded into their buckets when nobody
/// scrapes, so they never pile up.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process's recorder, installed on first use. There is one per
/// process (`metrics` has one global recorder): hookgate apps started in
/// one test process share it.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full(COMMIT_BATCH.into()), &BATCH_SIZES)
            })
            .expect("bucket lists are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_ok() {
            describe();
            zero_series(OTHER);
            counter!(CACHE_HITS).increment(0);
            counter!(CACHE_MISSES).increment(0);
            counter!(SPOOL_MOVED).increment(0);
            counter!(SPOOL_DROPPED).increment(0);
            let upkeep = handle.clone();
            let spawned = std::thread::Builder::new()
                .name("hookgate-metrics".into())
                .spawn(move || loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "metrics upkeep thread did not start");
            }
        }
        handle
    })
}

fn describe() {
    describe_counter!(
        REQUESTS,
        "Calls to the forward route by agent, provider and outcome"
    );
    describe_histogram!(
        FORWARD_DURATION,
        "Time to relay a call to its agent and back"
    );
    describe_counter!(ATTEMPTS, "Delivery attempts by agent and outcome");
    describe_histogram!(ATTEMPT_DURATION, "Time one delivery attempt took");
    describe_gauge!(
        QUEUE_DEPTH,
        "Deliveries by agent and status (pending, failed)"
    );
    describe_gauge!(OLDEST_PENDING, "Age of the agent's oldest pending delivery");
    describe_histogram!(COMMIT_BATCH, "Accepted events committed in one transaction");
    describe_histogram!(COMMIT_DURATION, "Time one intake commit took");
    describe_counter!(CACHE_HITS, "Key lookups the verifier's cache answered");
    describe_counter!(CACHE_MISSES, "Key lookups that went to the database");
    describe_counter!(
        IGNORED,
        "Verified calls dropped by agent and reason (filter, ignore, loop, no_task_key)"
    );
    describe_gauge!(
        DATABASE_UP,
        "1 when the database answered the last scrape's queue sample, else 0"
    );
    describe_gauge!(
        SPOOL_EVENTS,
        "Accepted events waiting in the spool for the database"
    );
    describe_gauge!(SPOOL_BYTES, "Bytes the spool holds");
    describe_counter!(SPOOL_MOVED, "Spooled events moved into the database");
    describe_counter!(
        SPOOL_DROPPED,
        "Spooled events the database refused for good (their agent was removed)"
    );
    describe_counter!(
        HELD,
        "Events the loop breaker held (stored, not delivered) by agent"
    );
}

/// The label of `agent` for a consequence of verified traffic (an
/// ignored or held call, a delivery attempt, a backlog).
fn verified_label(agent: &str) -> &str {
    label_of(agent, true).value(agent)
}

/// [`classify`], registering a newly named agent's counters at zero.
fn label_of(agent: &str, verified: bool) -> AgentLabel {
    let (label, newly_named) = classify(agent, verified);
    if newly_named {
        zero_series(agent);
    }
    label
}

/// The counters of the agent label `agent`, at zero for every label value
/// known in advance (a counter that exists keeps its count).
fn zero_series(agent: &str) {
    for outcome in ATTEMPT_OUTCOMES {
        counter!(ATTEMPTS, "agent" => agent.to_owned(), "outcome" => outcome).increment(0);
    }
    for reason in IGNORE_REASONS {
        counter!(IGNORED, "agent" => agent.to_owned(), "reason" => reason).increment(0);
    }
    counter!(HELD, "agent" => agent.to_owned()).increment(0);
}

/// One call to the forward route: `agent` once found, `verified` once its
/// credentials passed; `outcome` is `forwarded`, `accepted`, `handshake`
/// (hookgate replied itself) or why it was refused; a relayed call's round
/// trip is timed.
pub fn forward_call(
    agent: Option<&str>,
    verified: bool,
    provider: &'static str,
    outcome: &'static str,
    took: Duration,
) {
    FORWARD_SERIES.with_borrow_mut(|series| {
        let label = series.label(agent, verified);
        let of_label = series.of_label(label);
        of_label.count(label, provider, outcome).increment(1);
        if outcome == "forwarded" {
            of_label.duration(label).record(took);
        }
    });
}

thread_local! {
    /// Each worker's handles to the forward route's series, so a call costs
    /// a map lookup rather than building and registering label sets. Keyed
    /// by label value: at most the named agents, `other` and `unknown`.
    static FORWARD_SERIES: RefCell<ForwardSeries> = RefCell::default();
}

/// One label's series: call counts by (provider, outcome), and the round
/// trip histogram once a call was relayed.
#[derive(Default)]
struct LabelSeries {
    counts: HashMap<(&'static str, &'static str), Counter>,
    duration: Option<Histogram>,
}

impl LabelSeries {
    fn count(&mut self, label: &str, provider: &'static str, outcome: &'static str) -> &Counter {
        self.counts.entry((provider, outcome)).or_insert_with(|| {
            counter!(REQUESTS, "agent" => label.to_owned(), "provider" => provider, "outcome" => outcome)
        })
    }

    fn duration(&mut self, label: &str) -> &Histogram {
        self.duration
            .get_or_insert_with(|| histogram!(FORWARD_DURATION, "agent" => label.to_owned()))
    }
}

#[derive(Default)]
struct ForwardSeries(HashMap<String, LabelSeries>);

impl ForwardSeries {
    /// The label value of a call: a name this worker labelled before
    /// costs no lock.
    fn label<'a>(&self, agent: Option<&'a str>, verified: bool) -> &'a str {
        match agent {
            None => UNKNOWN,
            Some(agent) if self.0.contains_key(agent) => agent,
            Some(agent) => label_of(agent, verified).value(agent),
        }
    }

    fn of_label(&mut self, label: &str) -> &mut LabelSeries {
        if !self.0.contains_key(label) {
            self.0.insert(label.to_owned(), LabelSeries::default());
        }
        self.0.get_mut(label).expect("inserted above")
    }
}

/// A verified call dropped: `reason` is `filter`, `ignore`, `loop` or
/// `no_task_key`. Only registered agents' verified calls get here, and
/// their names are bounded (see [`agent_labels`]).
pub fn ignored(agent: &str, reason: &'static str) {
    let agent = verified_label(agent).to_owned();
    counter!(IGNORED, "agent" => agent, "reason" => reason).increment(1);
}

/// An event the loop breaker held.
pub fn held(agent: &str) {
    counter!(HELD, "agent" => verified_label(agent).to_owned()).increment(1);
}

/// One delivery attempt: `outcome` is `delivered`, `retry` or `failed`.
pub fn delivery_attempt(agent: &str, outcome: &'static str, took: Duration) {
    let agent = verified_label(agent).to_owned();
    histogram!(ATTEMPT_DURATION, "agent" => agent.clone(), "outcome" => outcome).record(took);
    counter!(ATTEMPTS, "agent" => agent, "outcome" => outcome).increment(1);
}

/// One intake transaction of `size` events.
pub fn intake_commit(size: usize, took: Duration) {
    histogram!(COMMIT_BATCH).record(size as f64);
    histogram!(COMMIT_DURATION).record(took);
}

/// Whether the database answered a scrape.
pub fn database_up(up: bool) {
    gauge!(DATABASE_UP).set(if up { 1.0 } else { 0.0 });
}

/// What the intake spool holds now.
pub fn spool(events: u64, bytes: u64) {
    gauge!(SPOOL_EVENTS).set(events as f64);
    gauge!(SPOOL_BYTES).set(bytes as f64);
}

/// Spooled events moved into the database.
pub fn spool_moved(events: usize) {
    counter!(SPOOL_MOVED).increment(events as u64);
}

/// A spooled event the database refused for good.
pub fn spool_dropped() {
    counter!(SPOOL_DROPPED).increment(1);
}

/// A key lookup the cache answered (`hit`) or did not.
pub fn key_cache(hit: bool) {
    thread_local! {
        static LOOKUPS: (Counter, Counter) = (counter!(CACHE_HITS), counter!(CACHE_MISSES));
    }
    LOOKUPS.with(|(hits, misses)| match hit {
        true => hits.increment(1),
        false => misses.increment(1),
    });
}

/// An agent's queue, sampled when metrics are read.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSample {
    pub agent: String,
    pub pending: i64,
    pub failed: i64,
    pub oldest_pending_secs: f64,
}

/// Sets the queue gauges from a fresh sample of every agent: a named
/// agent's own, agents past the named ones summed under `other`; an agent
/// with an empty queue that has no series yet gets none.
pub fn queues(samples: &[QueueSample]) {
    static OTHER_SHOWN: AtomicBool = AtomicBool::new(false);
    let mut other = QueueSample {
        agent: OTHER.to_owned(),
        pending: 0,
        failed: 0,
        oldest_pending_secs: 0.0,
    };
    for s in samples {
        let label = match s.pending > 0 || s.failed > 0 {
            true => label_of(&s.agent, true),
            false if agent_labels::is_named(&s.agent) => AgentLabel::Named,
            false => continue,
        };
        match label {
            AgentLabel::Named => set_queue(s),
            _ => {
                other.pending += s.pending;
                other.failed += s.failed;
                other.oldest_pending_secs = other.oldest_pending_secs.max(s.oldest_pending_secs);
                OTHER_SHOWN.store(true, Ordering::Relaxed);
            }
        }
    }
    if OTHER_SHOWN.load(Ordering::Relaxed) {
        set_queue(&other);
    }
}

fn set_queue(s: &QueueSample) {
    gauge!(QUEUE_DEPTH, "agent" => s.agent.clone(), "status" => "pending").set(s.pending as f64);
    gauge!(QUEUE_DEPTH, "agent" => s.agent.clone(), "status" => "failed").set(s.failed as f64);
    gauge!(OLDEST_PENDING, "agent" => s.agent.clone()).set(s.oldest_pending_secs);
}
