//! The mover: a thread that takes the spool's oldest records into the
//! database as soon as it answers, in order, and tells the spool how far
//! it got. A move is safe to repeat: records whose delivery id is stored
//! already (moved before a crash) are passed over, and a provider's
//! redelivery is found as it would have been at intake.

use super::record::{Next, Reader};
use super::{Oldest, Spool, WeakSpool};
use crate::db::deliveries::{self, NewDelivery};
use crate::db::{self, Commits, DbError, DbPool};
use std::time::Duration;

/// Records moved in one transaction: more than intake's batch, so a
/// spool drains while calls keep arriving.
const MOVE_BATCH: usize = 512;

/// How long the mover waits for a connection before it backs off.
const CONNECT_WAIT: Duration = Duration::from_secs(2);

/// Back-off between failed moves: doubled from the first to the last.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(250), Duration::from_secs(5));

/// Starts the mover's thread; it ends when the spool is let go of.
pub fn start_mover(spool: &Spool, pool: DbPool, commits: Commits, dedup_window: chrono::Duration) {
    let spool = spool.downgrade();
    crate::db::blocking::spawn_loop("hookgate-spool", move || {
        Mover {
            spool,
            pool,
            commits,
            dedup_window,
            reader: None,
        }
        .run()
    });
}

struct Mover {
    spool: WeakSpool,
    pool: DbPool,
    commits: Commits,
    dedup_window: chrono::Duration,
    /// Open on the oldest segment where the last move ended.
    reader: Option<(u64, Reader)>,
}

/// Records read from a segment, with the offset just past each.
type Batch = Vec<(NewDelivery, u64)>;

impl Mover {
    fn run(mut self) {
        let mut backoff = BACKOFF.0;
        while let Some(spool) = self.spool.upgrade() {
            let Some(oldest) = spool.oldest(Duration::from_secs(1)) else {
                continue;
            };
            match self.step(&spool, &oldest) {
                Ok(()) => backoff = BACKOFF.0,
                Err(e) => {
                    tracing::warn!(error = %e, "spooled events wait for the database");
                    self.reader = None;
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(BACKOFF.1);
                }
            }
        }
    }

    /// Moves the next records of the oldest segment.
    fn step(&mut self, spool: &Spool, oldest: &Oldest) -> Result<(), DbError> {
        let (batch, end) = self
            .read(oldest)
            .map_err(|e| DbError::Unavailable(e.to_string()))?;
        if batch.is_empty() {
            // Damaged from `end` on: nothing more of it can be read.
            spool.moved(oldest.number, end, 0);
            return Ok(());
        }
        let mut conn = self.pool.get_timeout(CONNECT_WAIT)?;
        db::use_commits(&mut conn, self.commits)?;
        let moved = move_batch(&mut conn, &batch, self.dedup_window);
        let count = match &moved {
            Ok(()) => batch.len(),
            Err((count, _)) => *count,
        };
        if count > 0 {
            spool.moved(oldest.number, batch[count - 1].1, count as u64);
            crate::metrics::spool_moved(count);
        }
        moved.map_err(|(_, e)| e)
    }

    /// Up to [`MOVE_BATCH`] records from where the last move ended, and
    /// where the segment's readable part ends when they are none.
    fn read(&mut self, oldest: &Oldest) -> std::io::Result<(Batch, u64)> {
        let reusable = matches!(&self.reader,
            Some((number, reader)) if *number == oldest.number && reader.offset() == oldest.from);
        if !reusable {
            let reader = Reader::open(&oldest.path, oldest.from, oldest.end)?;
            self.reader = Some((oldest.number, reader));
        }
        let (_, reader) = self.reader.as_mut().expect("opened above");
        reader.extend_to(oldest.end);
        let mut batch = Vec::new();
        while batch.len() < MOVE_BATCH {
            match reader.read_next()? {
                Next::Record(delivery, end) => batch.push((*delivery, end)),
                Next::End => break,
                Next::Damaged(at, why) if batch.is_empty() => {
                    tracing::error!(segment = %oldest.path.display(), offset = at, %why,
                        "a spool segment is damaged; the rest of it cannot be read");
                    return Ok((batch, oldest.end));
                }
                Next::Damaged(..) => break,
            }
        }
        Ok((batch, oldest.end))
    }
}

/// Stores the batch in one transaction, or one by one when any of it
/// conflicts. On an outage, says how many records (a prefix) were stored.
fn move_batch(
    conn: &mut db::DbConnection,
    batch: &Batch,
    dedup_window: chrono::Duration,
) -> Result<(), (usize, DbError)> {
    let ids: Vec<&str> = batch.iter().map(|(d, _)| d.id.as_str()).collect();
    let stored = deliveries::stored_ids(conn, &ids).map_err(|e| (0, e.into()))?;
    let fresh: Vec<NewDelivery> = batch
        .iter()
        .filter(|(d, _)| !stored.contains(&d.id))
        .map(|(d, _)| d.clone())
        .collect();
    match deliveries::enqueue_batch(conn, &fresh) {
        Ok(_) => return Ok(()),
        Err(e) if db::is_outage(&e) => return Err((0, e.into())),
        Err(_) => {}
    }
    for (done, (delivery, _)) in batch.iter().enumerate() {
        if stored.contains(&delivery.id) {
            continue;
        }
        match deliveries::enqueue(conn, delivery, dedup_window) {
            Ok(_) => {}
            Err(e) if e.is_outage() => return Err((done, e)),
            Err(e) => {
                // Its agent was removed while it waited, or the record no
                // longer fits the schema: it cannot be stored, ever.
                tracing::error!(event.id = %delivery.id, agent.id = %delivery.agent_id,
                    error = %e, "a spooled event cannot be stored and is dropped");
                crate::metrics::spool_dropped();
            }
        }
    }
    Ok(())
}
