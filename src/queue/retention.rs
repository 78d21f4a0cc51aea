//! `RetentionActor`: purges finished deliveries after the retention period
//! and redelivery ids after the dedup window, a batch per transaction with a
//! pause between batches, so intake never waits behind a purge.

use crate::db::deliveries::{self, PURGE_BATCH};
use crate::db::{now, DbPool};
use actix::prelude::*;
use std::time::Duration;

pub struct RetentionActor {
    pool: DbPool,
    retention: Duration,
    dedup_window: Duration,
    running: bool,
}

/// Between two purge batches: room for intake's commits.
const BATCH_PAUSE: Duration = Duration::from_millis(20);

impl RetentionActor {
    pub fn new(pool: DbPool, retention: Duration, dedup_window: Duration) -> Self {
        Self {
            pool,
            retention,
            dedup_window,
            running: false,
        }
    }

    /// Often enough that nothing outlives its retention by more than 1%,
    /// from once a second to once a minute.
    fn interval(&self) -> Duration {
        (self.retention / 100).clamp(Duration::from_secs(1), Duration::from_secs(60))
    }

    fn purge(&mut self, ctx: &mut Context<Self>) {
        if self.running {
            return;
        }
        self.running = true;
        let pool = self.pool.clone();
        let (retention, window) = (self.retention, self.dedup_window);
        let work = crate::db::blocking::run(move || purge_all(&pool, retention, window));
        ctx.spawn(work.into_actor(self).map(|done, act, _| {
            act.running = false;
            match done {
                Ok(Ok((0, 0))) => {}
                Ok(Ok((deliveries, dedup_ids))) => {
                    tracing::info!(deliveries, dedup_ids, "purged past their retention")
                }
                Ok(Err(e)) => {
                    crate::db::suspect_connections(&e);
                    tracing::warn!(error = %e, "purging old deliveries failed")
                }
                Err(e) => tracing::error!(error = %e, "purge task did not finish"),
            }
        }));
    }
}

fn purge_all(
    pool: &DbPool,
    retention: Duration,
    window: Duration,
) -> crate::db::DbResult<(usize, usize)> {
    let mut conn = pool.get()?;
    let at = now();
    let finished_before = at - chrono::Duration::from_std(retention).unwrap_or_default();
    let dedup_before = at - chrono::Duration::from_std(window).unwrap_or_default();
    let mut total = (0, 0);
    loop {
        let (gone, expired) = deliveries::purge(&mut conn, finished_before, dedup_before)?;
        total = (total.0 + gone, total.1 + expired);
        if gone < PURGE_BATCH as usize && expired < PURGE_BATCH as usize {
            return Ok(total);
        }
        std::thread::sleep(BATCH_PAUSE);
    }
}

impl Actor for RetentionActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(self.interval(), |act, ctx| act.purge(ctx));
    }
}
