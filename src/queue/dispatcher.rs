//! `DispatcherActor`: drains the deliveries table with two blocking jobs
//! that may run at once: one records every attempt finished since it last
//! ran (fenced by its claim token), the other claims the task heads there is
//! room for: per agent (its concurrency, its circuit, not paused) and in
//! all. Claimed heads wait in the agent's slots and go to its
//! `ForwarderActor` the moment a slot is free; each job runs again as soon
//! as it has work, so a backlog drains at the speed the agents answer.

mod claiming;
mod jobs;
mod recording;
mod rooms;
mod slots;

use super::attempt::{Deliver, RetryPolicy};
use super::circuit::{Circuits, Gate};
use crate::actors::forwarder::{ForwarderRegistry, ForwarderSettings};
use crate::crypto::DataKey;
use crate::db::deliveries::{AttemptRecord, Claimed};
use crate::db::DbPool;
use crate::readiness::{Readiness, RunningGuard};
use actix::prelude::*;
use jobs::{KeyCache, Writes};
use slots::{Next, Slots};
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Delivery settings.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryConfig {
    pub policy: RetryPolicy,
    /// Deliveries in flight per agent.
    pub per_agent: usize,
    /// Deliveries in flight in this process.
    pub total: usize,
    pub poll_interval: Duration,
    /// How long a claim holds: longer than any attempt can take.
    pub lease: Duration,
    pub timeout: Duration,
    pub max_body_bytes: usize,
    /// Claim a task's next head in the same job that records its last one.
    /// Worth it where claims and records take turns on one connection
    /// (SQLite); on PostgreSQL the separate claim job runs beside it.
    pub chain_heads: bool,
}

pub struct DispatcherActor {
    pool: DbPool,
    /// Opens the agents' internal keys, sent with every delivery.
    data_key: Arc<DataKey>,
    keys: KeyCache,
    owner: String,
    config: DeliveryConfig,
    registry: ForwarderRegistry,
    circuits: Circuits,
    slots: Slots,
    /// Claimed and not yet recorded or released (what shutdown waits for).
    in_flight: Arc<AtomicUsize>,
    /// Finished attempts and claims given back, for the next write.
    writes: Writes,
    writing: bool,
    /// Finished attempts wait because their write failed (the database
    /// was away): no claim until they are written (see `claim`).
    unrecorded: bool,
    claiming: bool,
    claim_again: bool,
    claim_scheduled: bool,
    last_claim: Instant,
    rotation: usize,
    draining: bool,
    /// Marks the dispatcher running for `/readyz` until the actor is dropped.
    _running: RunningGuard,
    readiness: Arc<Readiness>,
}

impl DispatcherActor {
    /// Starts the dispatcher on an arbiter of its own; the counter tells how
    /// many claimed deliveries are not yet recorded (for draining at shutdown).
    pub fn start(
        pool: DbPool,
        data_key: Arc<DataKey>,
        config: DeliveryConfig,
        forwarding: ForwarderSettings,
        readiness: Arc<Readiness>,
    ) -> (Addr<Self>, Arc<AtomicUsize>) {
        let in_flight = Arc::new(AtomicUsize::new(0));
        let counter = in_flight.clone();
        let addr = Self::start_in_arbiter(&Arbiter::new().handle(), move |_| Self {
            pool,
            data_key,
            keys: KeyCache::default(),
            owner: uuid::Uuid::new_v4().to_string(),
            registry: ForwarderRegistry::new(forwarding),
            circuits: Circuits::new(config.policy.base, config.policy.max),
            config,
            slots: Slots::default(),
            in_flight: counter,
            writes: Writes::default(),
            writing: false,
            unrecorded: false,
            claiming: false,
            claim_again: false,
            claim_scheduled: false,
            last_claim: Instant::now(),
            rotation: 0,
            draining: false,
            _running: readiness.dispatcher_running(),
            readiness,
        });
        (addr, in_flight)
    }

    /// Sends the agent's waiting claims while it has free slots; gives them
    /// back when its circuit is open or the process is draining.
    fn pump(&mut self, agent_id: &str, ctx: &mut Context<Self>) {
        let gate = self.circuits.gate(agent_id, Instant::now());
        if gate == Gate::Open || self.draining {
            for claimed in self.slots.take_waiting(agent_id) {
                self.release(&claimed);
            }
            return;
        }
        let slots = match gate {
            Gate::Probe => 1,
            _ => self.config.per_agent,
        };
        let total_room = self.config.total.saturating_sub(self.slots.running_total());
        let mut sent = 0;
        while sent < total_room {
            match self.slots.next(agent_id, slots, self.config.lease / 2) {
                Some(Next::Send(claimed)) => {
                    sent += 1;
                    self.attempt(*claimed, ctx);
                }
                Some(Next::Release(claimed)) => self.release(&claimed),
                None => break,
            }
        }
    }

    fn release(&mut self, claimed: &Claimed) {
        self.writes
            .releases
            .push((claimed.lane(), claimed.claim_token.clone()));
    }

    fn attempt(&mut self, claimed: Claimed, ctx: &mut Context<Self>) {
        let agent_id = claimed.agent.id.clone();
        let address = claimed.agent.address().unwrap_or_default().to_owned();
        let forwarder = self.registry.forwarder_for(&claimed.agent, &address);
        let policy = self.config.policy;
        let fallback = super::attempt::unfinished(&claimed);
        let agent_name = claimed.agent.name.clone();
        let started = Instant::now();
        let work = forwarder.send(Deliver { claimed, policy });
        ctx.spawn(work.into_actor(self).map(move |sent, act, ctx| {
            act.slots.finished(&agent_id);
            // A forwarder that went away mid-attempt: retry like an outage.
            let record = sent.unwrap_or(fallback);
            log_attempt(&record);
            let outcome = record.outcome.label();
            crate::metrics::delivery_attempt(&agent_name, outcome, started.elapsed());
            act.circuits.observe(
                &agent_id,
                &record.delivery_id,
                record.transient,
                Instant::now(),
            );
            act.writes.records.push(record);
            act.pump(&agent_id, ctx);
            act.write(ctx);
            act.wake(ctx);
        }));
    }

    /// The interval's work: gates may have moved to a probe, waiting claims
    /// may need a slot, and retries may have come due.
    fn poll(&mut self, ctx: &mut Context<Self>) {
        self.readiness.dispatcher_beat();
        for agent in self.slots.agents_waiting() {
            self.pump(&agent, ctx);
        }
        self.write(ctx);
        self.claim(ctx);
    }
}

fn log_attempt(record: &AttemptRecord) {
    tracing::info!(
        delivery.id = %record.delivery_id,
        attempt = record.attempt,
        outcome = ?record.outcome,
        status = record.status_code,
        error = record.error.as_deref().unwrap_or(""),
        "delivery attempt"
    );
}

impl Actor for DispatcherActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(self.config.poll_interval, |act, ctx| act.poll(ctx));
        // Internal keys change only when an agent is re-created under its
        // old id; a minute bounds how long a stale one can be sent.
        ctx.run_interval(Duration::from_secs(60), |act, _| {
            act.keys.lock().unwrap_or_else(|e| e.into_inner()).clear();
        });
        self.claim(ctx);
    }
}

/// New work may be due: claim now rather than at the next interval.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Wake;

impl Handler<Wake> for DispatcherActor {
    type Result = ();

    fn handle(&mut self, _: Wake, ctx: &mut Self::Context) {
        self.wake(ctx);
    }
}

/// Stop claiming; waiting claims are given back, attempts in flight finish
/// and are recorded.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Drain;

impl Handler<Drain> for DispatcherActor {
    type Result = ();

    fn handle(&mut self, _: Drain, ctx: &mut Self::Context) {
        self.draining = true;
        for agent in self.slots.agents_waiting() {
            self.pump(&agent, ctx);
        }
        self.write(ctx);
    }
}
