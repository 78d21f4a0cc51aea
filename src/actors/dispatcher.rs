//! `DispatcherActor`: drains the deliveries table. It claims due deliveries
//! (leased, so another process never attempts the same one), hands each to
//! the agent's `ForwarderActor` on its own arbiter, records the attempt, and
//! keeps a bounded number in flight per agent and in all.

use super::delivery::{Deliver, RetryPolicy};
use super::forwarder::ForwarderRegistry;
use crate::crypto::DataKey;
use crate::db::deliveries::{self, AttemptRecord, Claimed};
use crate::db::{now, DbPool};
use actix::prelude::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

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

pub struct DispatcherActor {
    pool: DbPool,
    /// Opens the agents' internal keys, sent with every delivery.
    data_key: Arc<DataKey>,
    owner: String,
    config: DeliveryConfig,
    registry: ForwarderRegistry,
    per_agent: HashMap<String, usize>,
    in_flight: Arc<AtomicUsize>,
    polling: bool,
    poll_again: bool,
    /// A poll is scheduled to run soon (wake-ups are coalesced).
    poll_scheduled: bool,
    last_poll: std::time::Instant,
    draining: bool,
}

/// Wake-ups closer together than this share one poll: under load every
/// accepted event wakes the dispatcher, and each poll costs database work.
const MIN_POLL_GAP: Duration = Duration::from_millis(10);

impl DispatcherActor {
    /// Starts the dispatcher on an arbiter of its own; the counter tells how
    /// many attempts are in flight (for draining at shutdown).
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
            owner: uuid::Uuid::new_v4().to_string(),
            registry: ForwarderRegistry::new(config.timeout, config.max_body_bytes),
            config,
            per_agent: HashMap::new(),
            in_flight: counter,
            polling: false,
            poll_again: false,
            poll_scheduled: false,
            last_poll: std::time::Instant::now(),
            draining: false,
        });
        (addr, in_flight)
    }

    /// Polls now, or soon if the last poll was very recent.
    fn wake(&mut self, ctx: &mut Context<Self>) {
        let since = self.last_poll.elapsed();
        if since >= MIN_POLL_GAP {
            return self.poll(ctx);
        }
        if !self.poll_scheduled {
            self.poll_scheduled = true;
            ctx.run_later(MIN_POLL_GAP - since, |act, ctx| {
                act.poll_scheduled = false;
                act.poll(ctx);
            });
        }
    }

    fn poll(&mut self, ctx: &mut Context<Self>) {
        if self.draining {
            return;
        }
        if self.polling {
            self.poll_again = true;
            return;
        }
        self.last_poll = std::time::Instant::now();
        let free = self
            .config
            .total
            .saturating_sub(self.in_flight.load(Ordering::SeqCst));
        if free == 0 {
            return;
        }
        self.polling = true;
        let pool = self.pool.clone();
        let data_key = self.data_key.clone();
        let owner = self.owner.clone();
        let busy = self.per_agent.clone();
        let per_agent = self.config.per_agent;
        let lease_until = now() + chrono::Duration::from_std(self.config.lease).unwrap_or_default();
        let claim = tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            let room =
                |agent: &str| per_agent.saturating_sub(busy.get(agent).copied().unwrap_or(0));
            deliveries::claim(&mut conn, &data_key, &owner, lease_until, free, &room)
        });
        ctx.spawn(claim.into_actor(self).map(|result, act, ctx| {
            act.polling = false;
            match result {
                Ok(Ok(claimed)) => claimed.into_iter().for_each(|c| act.attempt(c, ctx)),
                Ok(Err(e)) => tracing::warn!(error = %e, "claiming deliveries failed"),
                Err(e) => tracing::error!(error = %e, "claim task failed"),
            }
            if std::mem::take(&mut act.poll_again) {
                act.wake(ctx);
            }
        }));
    }

    fn attempt(&mut self, claimed: Claimed, ctx: &mut Context<Self>) {
        let agent_id = claimed.agent.id.clone();
        *self.per_agent.entry(agent_id.clone()).or_default() += 1;
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let acp_url = claimed.agent.acp_url.clone().unwrap_or_default();
        let forwarder = self.registry.forwarder_for(&claimed.agent, &acp_url);
        let pool = self.pool.clone();
        let policy = self.config.policy;
        let delivery_id = claimed.delivery.id.clone();
        let work = async move {
            let record = forwarder.send(Deliver { claimed, policy }).await.ok()?;
            log_attempt(&record);
            let stored = tokio::task::spawn_blocking(move || -> crate::db::DbResult<()> {
                let mut conn = pool.get()?;
                deliveries::record(&mut conn, &record)
            })
            .await;
            if let Ok(Err(e)) | Err(e) =
                stored.map_err(|e| crate::db::DbError::Canceled(e.to_string()))
            {
                tracing::error!(delivery.id = %delivery_id, error = %e, "recording an attempt failed");
            }
            Some(())
        };
        ctx.spawn(work.into_actor(self).map(move |_, act, ctx| {
            if let Some(n) = act.per_agent.get_mut(&agent_id) {
                *n = n.saturating_sub(1);
            }
            act.in_flight.fetch_sub(1, Ordering::SeqCst);
            act.wake(ctx);
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

impl Actor for DispatcherActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(self.config.poll_interval, |act, ctx| act.poll(ctx));
        self.poll(ctx);
    }
}

/// New work may be due: poll now rather than at the next tick.
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

    fn handle(&mut self, _: Drain, _: &mut Self::Context) {
        self.draining = true;
    }
}
