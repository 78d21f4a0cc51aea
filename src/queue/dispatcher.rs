//! `DispatcherActor`: drains the deliveries table with two blocking jobs
//! that may run at once: one records every attempt finished since it last
//! ran (fenced by its claim token), the other claims the task heads there is
//! room for: per agent (its concurrency, its circuit, not paused) and in
//! all. Claimed heads wait in the agent's slots and go to its
//! `ForwarderActor` the moment a slot is free; each job runs again as soon
//! as it has work, so a backlog drains at the speed the agents answer.

mod jobs;
mod rooms;
mod slots;

use super::attempt::{Deliver, RetryPolicy};
use super::circuit::{Circuits, Gate};
use crate::actors::forwarder::{ForwarderRegistry, ForwarderSettings};
use crate::crypto::DataKey;
use crate::db::deliveries::{AttemptRecord, Claimed};
use crate::db::{blocking, now, DbPool};
use crate::readiness::{Readiness, RunningGuard};
use actix::prelude::*;
use jobs::{ClaimJob, KeyCache, Stamp, Writes, Written};
use rooms::RoomPlan;
use slots::{Next, Slots};
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// Claims closer together than this are one claim: under load every
/// accepted event and every finished attempt asks for one, and a claim
/// costs a few statements however few heads it takes.
const MIN_CLAIM_GAP: Duration = Duration::from_millis(3);

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

    /// Claims now, or soon if the last claim was very recent (the waiting
    /// claims in each agent's slots cover the gap).
    fn wake(&mut self, ctx: &mut Context<Self>) {
        let since = self.last_claim.elapsed();
        if since >= MIN_CLAIM_GAP {
            return self.claim(ctx);
        }
        if !self.claim_scheduled {
            self.claim_scheduled = true;
            ctx.run_later(MIN_CLAIM_GAP - since, |act, ctx| {
                act.claim_scheduled = false;
                act.claim(ctx);
            });
        }
    }

    /// Writes back finished attempts and released claims, unless a write
    /// is running (it runs again when done).
    fn write(&mut self, ctx: &mut Context<Self>) {
        if self.writing || self.writes.is_empty() {
            return;
        }
        self.writing = true;
        let writes = std::mem::take(&mut self.writes);
        let chain = self.config.chain_heads && !self.draining;
        let (pool, stamp) = (self.pool.clone(), self.stamp());
        let run = blocking::run(move || {
            let written = jobs::write(&pool, &stamp, chain, &writes);
            (writes, written)
        });
        ctx.spawn(run.into_actor(self).map(|joined, act, ctx| {
            act.writing = false;
            let mut failed = true;
            match joined {
                Ok((writes, mut written)) => {
                    failed = written.recorded.is_err();
                    let chained = std::mem::replace(&mut written.chained, Ok(Vec::new()));
                    act.after_write(writes, written);
                    match chained {
                        Ok(claimed) => act.take_claimed(claimed, ctx),
                        Err(e) => tracing::warn!(error = %e, "claiming the next heads failed"),
                    }
                }
                Err(e) => tracing::error!(error = %e, "writing delivery outcomes did not finish"),
            }
            // After a failure the next write waits for the poll interval
            // rather than spinning on a database that refuses it.
            if !failed {
                act.write(ctx);
            }
            // Heads that finished made their tasks' next events due.
            act.wake(ctx);
        }));
    }

    fn after_write(&mut self, writes: Writes, written: Written) {
        match written.recorded {
            Ok(held) => {
                for (record, held) in writes.records.iter().zip(held) {
                    if !held {
                        tracing::warn!(delivery.id = %record.delivery_id, attempt = record.attempt,
                            "outcome dropped: the attempt's claim no longer holds the delivery \
                             (its lease ran out or an operator changed it)");
                    }
                }
                self.in_flight
                    .fetch_sub(writes.records.len(), Ordering::SeqCst);
            }
            Err(e) => {
                // Kept for the next write: an attempt is never forgotten.
                tracing::warn!(error = %e, pending = writes.records.len(), "recording attempts failed; trying again");
                self.writes.records.extend(writes.records);
            }
        }
        if let Err(e) = written.released {
            // Unreleased claims end with their lease; nothing is lost.
            tracing::warn!(error = %e, "giving back claims failed; their leases will end");
        }
        self.in_flight
            .fetch_sub(writes.releases.len(), Ordering::SeqCst);
    }

    /// Claims the heads there is room for, unless a claim is running (it
    /// runs again when done).
    fn claim(&mut self, ctx: &mut Context<Self>) {
        if self.claiming {
            self.claim_again = true;
            return;
        }
        if self.draining {
            return;
        }
        let plan = self.room_plan();
        if plan.is_empty() {
            return;
        }
        self.claiming = true;
        self.last_claim = Instant::now();
        let job = ClaimJob {
            pool: self.pool.clone(),
            stamp: self.stamp(),
            plan,
        };
        let run = blocking::run(move || job.run());
        ctx.spawn(run.into_actor(self).map(|joined, act, ctx| {
            act.claiming = false;
            match joined {
                Ok(Ok((claimed, wanted))) => {
                    // A full claim may have left more due heads behind.
                    act.claim_again |= claimed.len() >= wanted && wanted > 0;
                    act.take_claimed(claimed, ctx);
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "claiming deliveries failed"),
                Err(e) => tracing::error!(error = %e, "claim task did not finish"),
            }
            if std::mem::take(&mut act.claim_again) {
                act.wake(ctx);
            }
        }));
    }

    /// A fresh claim token, leased from now.
    fn stamp(&self) -> Stamp {
        Stamp {
            data_key: self.data_key.clone(),
            keys: self.keys.clone(),
            token: uuid::Uuid::new_v4().to_string(),
            owner: self.owner.clone(),
            lease_until: now() + chrono::Duration::from_std(self.config.lease).unwrap_or_default(),
        }
    }

    fn take_claimed(&mut self, claimed: Vec<Claimed>, ctx: &mut Context<Self>) {
        self.in_flight.fetch_add(claimed.len(), Ordering::SeqCst);
        let mut agents: Vec<String> = claimed.iter().map(|c| c.agent.id.clone()).collect();
        agents.sort();
        agents.dedup();
        claimed.into_iter().for_each(|c| self.slots.push(c));
        agents.iter().for_each(|agent| self.pump(agent, ctx));
        // Claims given back while pumping are written at once.
        self.write(ctx);
    }

    fn room_plan(&mut self) -> RoomPlan {
        self.rotation = self.rotation.wrapping_add(1);
        RoomPlan {
            total: (self.config.total * rooms::PREFETCH).saturating_sub(self.slots.held_total()),
            per_agent: self.config.per_agent,
            held: self.slots.held_by_agent(),
            gates: self.circuits.gates(Instant::now()),
            rotation: self.rotation,
        }
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
        let acp_url = claimed.agent.acp_url.clone().unwrap_or_default();
        let forwarder = self.registry.forwarder_for(&claimed.agent, &acp_url);
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
