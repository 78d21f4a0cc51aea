//! The dispatcher's write cycle: finished attempts and given-back claims
//! are written by one job at a time; an attempt whose write failed is kept
//! for the next one, never forgotten.

use super::jobs::{self, Writes, Written};
use super::DispatcherActor;
use crate::db::blocking;
use actix::prelude::*;
use std::sync::atomic::Ordering;

impl DispatcherActor {
    /// Writes back finished attempts and released claims, unless a write
    /// is running (it runs again when done).
    pub(super) fn write(&mut self, ctx: &mut Context<Self>) {
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
                        Err(e) => {
                            crate::db::suspect_connections(&e);
                            tracing::warn!(error = %e, "claiming the next heads failed")
                        }
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

    pub(super) fn after_write(&mut self, writes: Writes, written: Written) {
        match written.recorded {
            Ok(held) => {
                self.unrecorded = false;
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
                crate::db::suspect_connections(&e);
                self.unrecorded = true;
                // Kept for the next write: an attempt is never forgotten.
                tracing::warn!(error = %e, pending = writes.records.len(), "recording attempts failed; trying again");
                self.writes.records.extend(writes.records);
            }
        }
        if let Err(e) = written.released {
            crate::db::suspect_connections(&e);
            // Unreleased claims end with their lease; nothing is lost.
            tracing::warn!(error = %e, "giving back claims failed; their leases will end");
        }
        self.in_flight
            .fetch_sub(writes.releases.len(), Ordering::SeqCst);
    }
}
