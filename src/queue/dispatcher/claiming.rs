//! The dispatcher's claim cycle: woken by accepted events and finished
//! heads, it claims the task heads there is room for (one claim job at a
//! time, never closer than `MIN_CLAIM_GAP`), and hands them to the agents'
//! slots.

use super::jobs::{ClaimJob, Stamp};
use super::rooms::{self, RoomPlan};
use super::DispatcherActor;
use crate::db::deliveries::Claimed;
use crate::db::{blocking, now};
use actix::prelude::*;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Claims closer together than this are one claim: under load every
/// accepted event and every finished attempt asks for one, and a claim
/// costs a few statements however few heads it takes.
const MIN_CLAIM_GAP: Duration = Duration::from_millis(3);

impl DispatcherActor {
    /// Claims now, or soon if the last claim was very recent (the waiting
    /// claims in each agent's slots cover the gap).
    pub(super) fn wake(&mut self, ctx: &mut Context<Self>) {
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

    /// Claims the heads there is room for, unless a claim is running (it
    /// runs again when done).
    pub(super) fn claim(&mut self, ctx: &mut Context<Self>) {
        if self.claiming {
            self.claim_again = true;
            return;
        }
        // An attempt whose outcome could not be written may outlive its
        // claim's lease; claimed again before it is written, its event
        // would reach the agent twice. Its write comes first.
        if self.draining || self.unrecorded {
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
                Ok(Err(e)) => {
                    crate::db::suspect_connections(&e);
                    tracing::warn!(error = %e, "claiming deliveries failed")
                }
                Err(e) => tracing::error!(error = %e, "claim task did not finish"),
            }
            if std::mem::take(&mut act.claim_again) {
                act.wake(ctx);
            }
        }));
    }

    /// A fresh claim token, leased from now.
    pub(super) fn stamp(&self) -> Stamp {
        Stamp {
            data_key: self.data_key.clone(),
            keys: self.keys.clone(),
            token: uuid::Uuid::new_v4().to_string(),
            owner: self.owner.clone(),
            lease_until: now() + chrono::Duration::from_std(self.config.lease).unwrap_or_default(),
        }
    }

    pub(super) fn take_claimed(&mut self, claimed: Vec<Claimed>, ctx: &mut Context<Self>) {
        self.in_flight.fetch_add(claimed.len(), Ordering::SeqCst);
        let mut agents: Vec<String> = claimed.iter().map(|c| c.agent.id.clone()).collect();
        agents.sort();
        agents.dedup();
        claimed.into_iter().for_each(|c| self.slots.push(c));
        agents.iter().for_each(|agent| self.pump(agent, ctx));
        // Claims given back while pumping are written at once.
        self.write(ctx);
    }

    pub(super) fn room_plan(&mut self) -> RoomPlan {
        self.rotation = self.rotation.wrapping_add(1);
        RoomPlan {
            total: (self.config.total * rooms::PREFETCH).saturating_sub(self.slots.held_total()),
            per_agent: self.config.per_agent,
            held: self.slots.held_by_agent(),
            gates: self.circuits.gates(Instant::now()),
            rotation: self.rotation,
        }
    }
}
