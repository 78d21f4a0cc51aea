//! `DispatcherActor`: drains the deliveries table. Each tick, one blocking
//! database job records every attempt finished since the last tick (fenced
//! by its claim token) and claims the task heads there is room for: per
//! agent (its concurrency, its circuit, not paused) and in all. Ticks run
//! back to back while there is work, so a backlog drains at the speed the
//! agents answer; each claimed head goes to the agent's `ForwarderActor`.

use super::circuit::{Circuits, Gate};
use super::delivery::{Deliver, RetryPolicy};
use super::forwarder::ForwarderRegistry;
use crate::crypto::DataKey;
use crate::db::agents::{self, Agent};
use crate::db::deliveries::{self, AttemptRecord, Claimed, Room};
use crate::db::{now, DbError, DbPool};
use crate::domain::Secret;
use actix::prelude::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
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
}

/// Internal keys by agent id, kept between ticks (refreshed every minute).
type KeyCache = Arc<Mutex<HashMap<String, Option<Secret>>>>;

pub struct DispatcherActor {
    pool: DbPool,
    /// Opens the agents' internal keys, sent with every delivery.
    data_key: Arc<DataKey>,
    keys: KeyCache,
    owner: String,
    config: DeliveryConfig,
    registry: ForwarderRegistry,
    circuits: Circuits,
    /// Attempts running per agent.
    running: HashMap<String, usize>,
    /// Claimed and not yet recorded (what shutdown waits for).
    in_flight: Arc<AtomicUsize>,
    /// Finished attempts waiting for the next tick to record them.
    finished: Vec<AttemptRecord>,
    ticking: bool,
    tick_again: bool,
    tick_scheduled: bool,
    last_tick: Instant,
    /// Rotates which agent is offered room first when room is short.
    rotation: usize,
    draining: bool,
}

/// Wake-ups closer together than this share one tick: under load every
/// accepted event wakes the dispatcher.
const MIN_TICK_GAP: Duration = Duration::from_millis(5);

impl DispatcherActor {
    /// Starts the dispatcher on an arbiter of its own; the counter tells how
    /// many claimed deliveries are not yet recorded (for draining at shutdown).
    pub fn start(
        pool: DbPool,
        data_key: Arc<DataKey>,
        config: DeliveryConfig,
    ) -> (Addr<Self>, Arc<AtomicUsize>) {
        let in_flight = Arc::new(AtomicUsize::new(0));
        let counter = in_flight.clone();
        let addr = Self::start_in_arbiter(&Arbiter::new().handle(), move |_| Self {
            pool,
            data_key,
            keys: KeyCache::default(),
            owner: uuid::Uuid::new_v4().to_string(),
            registry: ForwarderRegistry::new(config.timeout, config.max_body_bytes),
            circuits: Circuits::new(config.policy.base, config.policy.max),
            config,
            running: HashMap::new(),
            in_flight: counter,
            finished: Vec::new(),
            ticking: false,
            tick_again: false,
            tick_scheduled: false,
            last_tick: Instant::now(),
            rotation: 0,
            draining: false,
        });
        (addr, in_flight)
    }

    /// Ticks now, or soon if the last tick was very recent.
    fn wake(&mut self, ctx: &mut Context<Self>) {
        let since = self.last_tick.elapsed();
        if since >= MIN_TICK_GAP {
            return self.tick(ctx);
        }
        if !self.tick_scheduled {
            self.tick_scheduled = true;
            ctx.run_later(MIN_TICK_GAP - since, |act, ctx| {
                act.tick_scheduled = false;
                act.tick(ctx);
            });
        }
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        if self.ticking {
            self.tick_again = true;
            return;
        }
        let rooms = (!self.draining).then(|| self.room_plan());
        if self.finished.is_empty() && rooms.as_ref().is_none_or(RoomPlan::is_empty) {
            return;
        }
        self.ticking = true;
        self.last_tick = Instant::now();
        let records = std::mem::take(&mut self.finished);
        let job = TickJob {
            pool: self.pool.clone(),
            data_key: self.data_key.clone(),
            keys: self.keys.clone(),
            token: uuid::Uuid::new_v4().to_string(),
            owner: self.owner.clone(),
            lease_until: now() + chrono::Duration::from_std(self.config.lease).unwrap_or_default(),
            rooms,
        };
        let work = tokio::task::spawn_blocking(move || {
            let outcome = job.run(&records);
            (records, outcome)
        });
        ctx.spawn(work.into_actor(self).map(|joined, act, ctx| {
            act.ticking = false;
            match joined {
                Ok((records, outcome)) => act.after_tick(records, outcome, ctx),
                Err(e) => tracing::error!(error = %e, "delivery tick did not finish"),
            }
            if std::mem::take(&mut act.tick_again) || !act.finished.is_empty() {
                act.tick(ctx);
            }
        }));
    }

    fn after_tick(
        &mut self,
        records: Vec<AttemptRecord>,
        outcome: TickOutcome,
        ctx: &mut Context<Self>,
    ) {
        match outcome.recorded {
            Ok(held) => {
                for (record, held) in records.iter().zip(held) {
                    if !held {
                        tracing::warn!(delivery.id = %record.delivery_id, attempt = record.attempt,
                            "outcome dropped: the attempt's claim no longer holds the delivery \
                             (its lease ran out or an operator changed it)");
                    }
                }
                self.in_flight.fetch_sub(records.len(), Ordering::SeqCst);
            }
            Err(e) => {
                // Kept for the next tick: an attempt is never forgotten.
                tracing::warn!(error = %e, pending = records.len(), "recording attempts failed; trying again");
                self.finished.extend(records);
                self.tick_again = true;
            }
        }
        match outcome.claimed {
            Ok((claimed, wanted)) => {
                let full = claimed.len() >= wanted && wanted > 0;
                claimed.into_iter().for_each(|c| self.attempt(c, ctx));
                // A full claim may have left more due heads behind.
                self.tick_again |= full;
            }
            Err(e) => tracing::warn!(error = %e, "claiming deliveries failed"),
        }
    }

    /// Room per agent id: concurrency left, as the circuit allows.
    fn room_plan(&mut self) -> RoomPlan {
        let running: usize = self.running.values().sum();
        self.rotation = self.rotation.wrapping_add(1);
        RoomPlan {
            total: self.config.total.saturating_sub(running),
            per_agent: self.config.per_agent,
            running: self.running.clone(),
            gates: GateView::of(&self.circuits),
            rotation: self.rotation,
        }
    }

    fn attempt(&mut self, claimed: Claimed, ctx: &mut Context<Self>) {
        let agent_id = claimed.agent.id.clone();
        *self.running.entry(agent_id.clone()).or_default() += 1;
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let acp_url = claimed.agent.acp_url.clone().unwrap_or_default();
        let forwarder = self.registry.forwarder_for(&claimed.agent, &acp_url);
        let policy = self.config.policy;
        let token = claimed.delivery.claim_token.clone().unwrap_or_default();
        let fallback = super::delivery::unfinished(&claimed, &token);
        let work = forwarder.send(Deliver {
            claimed,
            policy,
            claim_token: token,
        });
        ctx.spawn(work.into_actor(self).map(move |sent, act, ctx| {
            if let Some(n) = act.running.get_mut(&agent_id) {
                *n = n.saturating_sub(1);
            }
            // A forwarder that went away mid-attempt: retry like an outage.
            let record = sent.unwrap_or(fallback);
            log_attempt(&record);
            act.circuits.observe(
                &agent_id,
                &record.delivery_id,
                record.transient,
                Instant::now(),
            );
            act.finished.push(record);
            act.tick(ctx);
        }));
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

/// The circuits' answers for this tick.
#[derive(Debug, Clone, Default)]
struct GateView(HashMap<String, Gate>);

impl GateView {
    fn of(circuits: &Circuits) -> Self {
        Self(circuits.gates(Instant::now()))
    }
}

/// What the claim may take, decided in memory, applied to the agents the
/// database says are deliverable.
#[derive(Debug, Clone)]
struct RoomPlan {
    total: usize,
    per_agent: usize,
    running: HashMap<String, usize>,
    gates: GateView,
    rotation: usize,
}

impl RoomPlan {
    fn is_empty(&self) -> bool {
        self.total == 0
    }

    fn rooms(&self, mut agents: Vec<Agent>) -> Vec<Room> {
        if !agents.is_empty() {
            let start = self.rotation % agents.len();
            agents.rotate_left(start);
        }
        let mut left = self.total;
        let mut rooms = Vec::new();
        for agent in agents {
            let cap = match self.gates.0.get(&agent.id).copied().unwrap_or(Gate::Closed) {
                Gate::Closed => self.per_agent,
                Gate::Probe => 1,
                Gate::Open => 0,
            };
            let running = self.running.get(&agent.id).copied().unwrap_or(0);
            let slots = cap.saturating_sub(running).min(left);
            if slots > 0 {
                left -= slots;
                rooms.push(Room { agent, slots });
            }
        }
        rooms
    }
}

/// One tick's database work, run off the actor's thread.
struct TickJob {
    pool: DbPool,
    data_key: Arc<DataKey>,
    keys: KeyCache,
    token: String,
    owner: String,
    lease_until: chrono::NaiveDateTime,
    rooms: Option<RoomPlan>,
}

struct TickOutcome {
    recorded: Result<Vec<bool>, DbError>,
    /// The claimed deliveries and how many there was room for.
    claimed: Result<(Vec<Claimed>, usize), DbError>,
}

impl TickJob {
    fn run(self, records: &[AttemptRecord]) -> TickOutcome {
        let mut conn = match self.pool.get() {
            Ok(conn) => conn,
            Err(e) => {
                let message = e.to_string();
                return TickOutcome {
                    recorded: Err(DbError::Canceled(message.clone())),
                    claimed: Err(DbError::Canceled(message)),
                };
            }
        };
        let recorded =
            deliveries::record_batch(&mut conn, &self.owner, records).map_err(DbError::from);
        let claimed = match &self.rooms {
            Some(plan) => self.claim(&mut conn, plan),
            None => Ok((Vec::new(), 0)),
        };
        TickOutcome { recorded, claimed }
    }

    fn claim(
        &self,
        conn: &mut crate::db::DbConnection,
        plan: &RoomPlan,
    ) -> Result<(Vec<Claimed>, usize), DbError> {
        let rooms = plan.rooms(agents::deliverable(conn)?);
        let wanted = rooms.iter().map(|r| r.slots).sum();
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let claimed = deliveries::claim(
            conn,
            &self.data_key,
            &mut keys,
            &self.token,
            &self.owner,
            self.lease_until,
            &rooms,
        )?;
        Ok((claimed, wanted))
    }
}

impl Actor for DispatcherActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(self.config.poll_interval, |act, ctx| act.tick(ctx));
        // Internal keys change only when an agent is re-created under its
        // old id; a minute bounds how long a stale one can be sent.
        ctx.run_interval(Duration::from_secs(60), |act, _| {
            act.keys.lock().unwrap_or_else(|e| e.into_inner()).clear();
        });
        self.tick(ctx);
    }
}

/// New work may be due: tick now rather than at the next interval.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Wake;

impl Handler<Wake> for DispatcherActor {
    type Result = ();

    fn handle(&mut self, _: Wake, ctx: &mut Self::Context) {
        self.wake(ctx);
    }
}

/// Stop claiming; attempts already in flight finish and are recorded.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Drain;

impl Handler<Drain> for DispatcherActor {
    type Result = ();

    fn handle(&mut self, _: Drain, ctx: &mut Self::Context) {
        self.draining = true;
        self.tick(ctx);
    }
}
