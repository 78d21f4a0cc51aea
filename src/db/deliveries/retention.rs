//! Retention: finished deliveries (delivered, failed, cancelled) and their
//! attempts go after the retention period, redelivery ids after the dedup
//! window, a small batch per transaction so intake never waits behind a purge.

use crate::db::raw::{self, Param};
use crate::db::DbConnection;
use chrono::NaiveDateTime;
use diesel::QueryResult;

/// Rows deleted per transaction.
pub const PURGE_BATCH: i64 = 500;

/// Deletes one batch of finished deliveries last changed before
/// `finished_before` and one of dedup ids made before `dedup_before`;
/// returns how many of each went (less than a batch: nothing more to do).
pub fn purge(
    conn: &mut DbConnection,
    finished_before: NaiveDateTime,
    dedup_before: NaiveDateTime,
) -> QueryResult<(usize, usize)> {
    // Attempts first (their foreign key cascades too, but only where SQLite
    // enforces foreign keys; this way both backends do the same work).
    const ATTEMPTS: &str =
        "DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM deliveries \
        WHERE status <> 'pending' AND updated_at < ? ORDER BY updated_at LIMIT ?)";
    const DELIVERIES: &str = "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries \
        WHERE status <> 'pending' AND updated_at < ? ORDER BY updated_at LIMIT ?)";
    const DEDUP: &str =
        "DELETE FROM delivery_dedup WHERE (agent_id, dedup_key) IN (SELECT agent_id, \
        dedup_key FROM delivery_dedup WHERE created_at < ? ORDER BY created_at LIMIT ?)";
    let finished = [Param::from(finished_before), Param::Int(PURGE_BATCH)];
    let deleted = diesel::Connection::transaction(conn, |conn| {
        raw::execute(conn, ATTEMPTS, &finished)?;
        raw::execute(conn, DELIVERIES, &finished)
    })?;
    let dedup = [Param::from(dedup_before), Param::Int(PURGE_BATCH)];
    let expired = raw::execute(conn, DEDUP, &dedup)?;
    Ok((deleted, expired))
}
