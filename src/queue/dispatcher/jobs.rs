//! The dispatcher's database work, run off its thread as two jobs that may
//! overlap: one records finished attempts and gives back released claims,
//! the other claims new heads. They touch different rows (a claim takes only
//! unclaimed heads; a record only rows its own claims hold), so neither waits
//! for the other.

use super::rooms::RoomPlan;
use crate::crypto::DataKey;
use crate::db::deliveries::{
    self, AgentSecrets, AttemptRecord, ClaimStamp, Claimed, InternalKeys, Outcome,
};
use crate::db::{agents, Commits, DbError, DbPool, DbPooled};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Internal keys by agent id, kept between claims (cleared every minute).
pub type KeyCache = Arc<Mutex<HashMap<String, AgentSecrets>>>;

/// Finished attempts and unattempted claims to write back.
#[derive(Debug, Default)]
pub struct Writes {
    pub records: Vec<AttemptRecord>,
    /// `(delivery id, claim token)` of claims given back unattempted.
    pub releases: Vec<(String, String)>,
}

impl Writes {
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.releases.is_empty()
    }
}

/// What writing gave: per record, whether its claim held; whether the
/// releases were written; and the next heads of the tasks it finished.
pub struct Written {
    pub recorded: Result<Vec<bool>, DbError>,
    pub released: Result<(), DbError>,
    pub chained: Result<Vec<Claimed>, DbError>,
}

/// A connection for the dispatcher's writes, whose loss to a power cut only
/// means an attempt is made again.
fn relaxed(pool: &DbPool) -> Result<DbPooled, DbError> {
    let mut conn = pool.get()?;
    crate::db::use_commits(&mut conn, Commits::Relaxed)?;
    Ok(conn)
}

/// A claim's stamp and what loading claimed deliveries needs.
pub struct Stamp {
    pub data_key: Arc<DataKey>,
    pub keys: KeyCache,
    pub token: String,
    pub owner: String,
    pub lease_until: chrono::NaiveDateTime,
}

impl Stamp {
    /// Runs a claim with this stamp and the shared key cache.
    fn with<T>(&self, claim: impl FnOnce(&mut InternalKeys<'_>, ClaimStamp<'_>) -> T) -> T {
        let mut cache = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let mut keys = InternalKeys {
            data_key: &self.data_key,
            cache: &mut cache,
        };
        let stamp = ClaimStamp {
            token: &self.token,
            owner: &self.owner,
            lease_until: self.lease_until,
        };
        claim(&mut keys, stamp)
    }
}

/// Records, releases, then (unless `chain` is None: draining) claims the
/// next heads of the tasks whose head it recorded as finished.
pub fn write(pool: &DbPool, stamp: &Stamp, chain: bool, writes: &Writes) -> Written {
    let failed = |e: &dyn std::fmt::Display| DbError::Canceled(e.to_string());
    let mut conn = match relaxed(pool) {
        Ok(conn) => conn,
        Err(e) => {
            return Written {
                recorded: Err(failed(&e)),
                released: Err(failed(&e)),
                chained: Ok(Vec::new()),
            };
        }
    };
    let started = Instant::now();
    let recorded =
        deliveries::record_batch(&mut conn, &stamp.owner, &writes.records).map_err(DbError::from);
    let released = deliveries::release_claims(&mut conn, &writes.releases).map_err(DbError::from);
    let finished: Vec<String> = match (&recorded, chain) {
        (Ok(held), true) => writes
            .records
            .iter()
            .zip(held)
            .filter(|(r, held)| **held && !matches!(r.outcome, Outcome::Retry { .. }))
            .filter_map(|(r, _)| r.task_id.clone())
            .collect(),
        _ => Vec::new(),
    };
    let chained = stamp
        .with(|keys, db_stamp| deliveries::claim_next_heads(&mut conn, keys, db_stamp, &finished));
    tracing::debug!(
        recorded = writes.records.len(),
        released = writes.releases.len(),
        chained = chained.as_ref().map_or(0, Vec::len),
        took_us = started.elapsed().as_micros() as u64,
        "delivery outcomes written"
    );
    Written {
        recorded,
        released,
        chained,
    }
}

/// One claim of new heads.
pub struct ClaimJob {
    pub pool: DbPool,
    pub stamp: Stamp,
    pub plan: RoomPlan,
}

impl ClaimJob {
    /// The claimed deliveries and how many there was room for.
    pub fn run(self) -> Result<(Vec<Claimed>, usize), DbError> {
        let started = Instant::now();
        let mut conn = relaxed(&self.pool)?;
        let rooms = self.plan.rooms(agents::deliverable(&mut conn)?);
        let wanted = rooms.iter().map(|r| r.slots).sum();
        let claimed = self
            .stamp
            .with(|keys, db_stamp| deliveries::claim(&mut conn, keys, db_stamp, &rooms))?;
        tracing::debug!(
            wanted,
            claimed = claimed.len(),
            took_us = started.elapsed().as_micros() as u64,
            "delivery claim"
        );
        Ok((claimed, wanted))
    }
}
