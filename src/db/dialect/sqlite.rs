//! The SQLite side of `db::dialect`: one process, one writer at a time,
//! so statements stay simple and several small ones cost no round trips.

use crate::db::deliveries::{claimed_rows, ClaimedRow, HeadRow, NewLanes};
use crate::db::raw::{self, Param};
use crate::db::DbConnection;
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// One writer at a time: nothing to lock.
pub fn lock_tasks(_conn: &mut DbConnection, _task_ids: &[String]) -> QueryResult<()> {
    Ok(())
}

/// In four statements: the heads, the lanes following them, new lanes
/// (when they may be needed), and lanes of drained tasks removed.
pub fn advance_tasks(
    conn: &mut DbConnection,
    task_ids: &[String],
    lanes: NewLanes,
) -> QueryResult<()> {
    let list = raw::placeholders(task_ids.len());
    let params: Vec<Param> = task_ids.iter().map(Param::from).collect();
    let recompute = format!(
        "UPDATE agent_tasks SET head_sequence = COALESCE(\
             (SELECT MIN(d.sequence_id) FROM deliveries d WHERE d.task_id = agent_tasks.id \
                 AND d.status = 'pending' AND d.sequence_id > agent_tasks.head_sequence), \
             (SELECT MIN(d.sequence_id) FROM deliveries d WHERE d.task_id = agent_tasks.id \
                 AND d.status = 'pending')) \
         WHERE id IN ({list}) AND (head_sequence IS NULL OR NOT EXISTS (SELECT 1 FROM deliveries h \
             WHERE h.task_id = agent_tasks.id AND h.sequence_id = agent_tasks.head_sequence \
             AND h.status = 'pending'))"
    );
    raw::execute(conn, &recompute, &params)?;
    // Each lane follows its task's head; a lane whose head changed is free.
    let follow = format!(
        "UPDATE delivery_lanes SET head_id = d.id, due_at = d.next_attempt_at, claim_token = NULL, \
         claimed_by = NULL, claimed_until = NULL FROM agent_tasks t, deliveries d \
         WHERE delivery_lanes.id IN ({list}) AND t.id = delivery_lanes.id AND d.task_id = t.id \
         AND d.sequence_id = t.head_sequence AND d.status = 'pending' AND delivery_lanes.head_id <> d.id"
    );
    raw::execute(conn, &follow, &params)?;
    if lanes == NewLanes::Open {
        let open = format!(
            "INSERT INTO delivery_lanes (id, agent_id, head_id, due_at) \
             SELECT t.id, t.agent_id, d.id, d.next_attempt_at FROM agent_tasks t JOIN deliveries d \
             ON d.task_id = t.id AND d.sequence_id = t.head_sequence AND d.status = 'pending' \
             WHERE t.id IN ({list}) AND NOT EXISTS (SELECT 1 FROM delivery_lanes l WHERE l.id = t.id)"
        );
        raw::execute(conn, &open, &params)?;
    }
    let close = format!(
        "DELETE FROM delivery_lanes WHERE id IN \
         (SELECT id FROM agent_tasks WHERE id IN ({list}) AND head_sequence IS NULL)"
    );
    raw::execute(conn, &close, &params).map(drop)
}

/// A compound SELECT, one arm per agent (SQLite allows 500 terms).
pub fn due_lanes(rooms: &[(&str, usize)], at: NaiveDateTime, params: &mut Vec<Param>) -> String {
    let mut lanes = Vec::with_capacity(rooms.len());
    for (i, (agent, slots)) in rooms.iter().enumerate() {
        lanes.push(format!(
            "SELECT id FROM (SELECT id FROM delivery_lanes WHERE agent_id = ? \
             AND due_at <= ? ORDER BY due_at LIMIT ?) l{i}"
        ));
        params.extend([Param::from(*agent), at.into(), Param::Int(*slots as i64)]);
    }
    format!("id IN ({})", lanes.join(" UNION ALL "))
}

/// The stamp's `update` returns the head ids; the heads are read in a
/// second statement per 500 (in process, no round trip).
pub fn claimed_heads(
    conn: &mut DbConnection,
    update: &str,
    params: &[Param],
) -> QueryResult<Vec<ClaimedRow>> {
    let heads: Vec<HeadRow> = raw::load(conn, update, params)?;
    let mut rows = Vec::with_capacity(heads.len());
    for chunk in heads.chunks(500) {
        let filter = format!("WHERE d.id IN ({})", raw::placeholders(chunk.len()));
        let sql = claimed_rows("FROM deliveries d", &filter);
        let params: Vec<Param> = chunk.iter().map(|h| Param::from(&h.head_id)).collect();
        rows.extend(raw::load::<ClaimedRow>(conn, &sql, &params)?);
    }
    Ok(rows)
}

/// Timestamps are stored as text that starts `YYYY-MM-DD HH`.
pub fn hour_of(column: &str) -> String {
    format!("substr({column}, 1, 13)")
}

/// Freed pages (and the WAL) may still hold plaintext: rewrite the file.
pub fn rewrite_freed_pages(conn: &mut DbConnection) -> QueryResult<()> {
    diesel::sql_query("VACUUM").execute(conn)?;
    diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)").execute(conn)?;
    Ok(())
}

/// A write that changes nothing takes the writer lock up front.
pub fn write_first(conn: &mut DbConnection) -> QueryResult<()> {
    diesel::sql_query("UPDATE hookgate_keyring SET id = id WHERE 0").execute(conn)?;
    Ok(())
}
