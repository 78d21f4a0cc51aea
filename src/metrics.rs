//! Prometheus metrics: the recorder, every metric's name and description,
//! and the calls the request, delivery and intake paths make. Label values
//! come from bounded sets only: registered agents' names (a name a caller
//! made up counts under [`UNKNOWN_AGENT`]), provider key types, and the
//! outcomes named here.

use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Counter,
    Histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

/// The `agent` label of a call whose agent is not (or not yet) known.
pub const UNKNOWN_AGENT: &str = "unknown";

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
        "Verified calls dropped by agent and reason (filter, ignore, loop)"
    );
    describe_counter!(
        HELD,
        "Events the loop breaker held (stored, not delivered) by agent"
    );
}

/// One call to the forward route: `outcome` is `forwarded`, `accepted`,
/// `answered` (hookgate replied itself) or why it was refused; a relayed
/// call's round trip is timed.
pub fn forward_call(agent: &str, provider: &'static str, outcome: &'static str, took: Duration) {
    FORWARD_SERIES.with_borrow_mut(|series| {
        let (count, duration) = series.handles(agent, provider, outcome);
        count.increment(1);
        if outcome == "forwarded" {
            duration.record(took);
        }
    });
}

thread_local! {
    /// Each worker's handles to the forward route's series, so a call costs
    /// a map lookup rather than building and registering label sets. Bounded:
    /// agents are registered ones, providers and outcomes fixed sets.
    static FORWARD_SERIES: RefCell<ForwardSeries> = RefCell::default();
}

/// One agent's series, by (provider, outcome): the call count and the
/// agent's round-trip histogram.
type AgentSeries = HashMap<(&'static str, &'static str), (Counter, Histogram)>;

#[derive(Default)]
struct ForwardSeries(HashMap<String, AgentSeries>);

impl ForwardSeries {
    fn handles(
        &mut self,
        agent: &str,
        provider: &'static str,
        outcome: &'static str,
    ) -> &(Counter, Histogram) {
        if !self.0.contains_key(agent) {
            self.0.insert(agent.to_owned(), HashMap::new());
        }
        let of_agent = self.0.get_mut(agent).expect("inserted above");
        of_agent.entry((provider, outcome)).or_insert_with(|| {
            let name = agent.to_owned();
            let count = counter!(REQUESTS, "agent" => name.clone(), "provider" => provider, "outcome" => outcome);
            (count, histogram!(FORWARD_DURATION, "agent" => name))
        })
    }
}

/// A verified call dropped: `reason` is `filter`, `ignore` or `loop`. Only
/// registered agents' verified calls get here, so the labels are bounded.
pub fn ignored(agent: &str, reason: &'static str) {
    counter!(IGNORED, "agent" => agent.to_owned(), "reason" => reason).increment(1);
}

/// An event the loop breaker held.
pub fn held(agent: &str) {
    counter!(HELD, "agent" => agent.to_owned()).increment(1);
}

/// One delivery attempt: `outcome` is `delivered`, `retry` or `failed`.
pub fn delivery_attempt(agent: &str, outcome: &'static str, took: Duration) {
    let agent = agent.to_owned();
    histogram!(ATTEMPT_DURATION, "agent" => agent.clone(), "outcome" => outcome).record(took);
    counter!(ATTEMPTS, "agent" => agent, "outcome" => outcome).increment(1);
}

/// One intake transaction of `size` events.
pub fn intake_commit(size: usize, took: Duration) {
    histogram!(COMMIT_BATCH).record(size as f64);
    histogram!(COMMIT_DURATION).record(took);
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

/// Sets the queue gauges from a fresh sample of every agent.
pub fn queues(samples: &[QueueSample]) {
    for s in samples {
        gauge!(QUEUE_DEPTH, "agent" => s.agent.clone(), "status" => "pending")
            .set(s.pending as f64);
        gauge!(QUEUE_DEPTH, "agent" => s.agent.clone(), "status" => "failed").set(s.failed as f64);
        gauge!(OLDEST_PENDING, "agent" => s.agent.clone()).set(s.oldest_pending_secs);
    }
}
