//! The PostgreSQL side of `db::dialect`: every statement is a round trip,
//! and several instances write at once, so work is done in one statement
//! where it can be and task rows are locked in one order.

use crate::db::deliveries::{claimed_rows, ClaimedRow, NewLanes};
use crate::db::raw::{self, Param};
use crate::db::DbConnection;
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// Locks task rows in id order (the same order everywhere, so two
/// writers never wait on each other in a cycle), so a head computed after
/// the lock sees every event committed for the task.
pub fn lock_tasks(conn: &mut DbConnection, task_ids: &[String]) -> QueryResult<()> {
    let mut sorted: Vec<&String> = task_ids.iter().collect();
    sorted.sort();
    sorted.dedup();
    let sql = format!(
        "SELECT id FROM agent_tasks WHERE id IN ({}) ORDER BY id FOR UPDATE",
        raw::placeholders(sorted.len())
    );
    let params: Vec<Param> = sorted.into_iter().map(Param::from).collect();
    raw::execute(conn, &sql, &params).map(drop)
}

/// `advance_tasks` as one statement: the next heads are found
/// once and the task rows and lanes follow them (one round trip and one
/// plan instead of four). Every look-up is a lateral `LIMIT 1`: a
/// `NOT EXISTS` under `OR` was planned as a hash of every pending delivery,
/// a cost that grew with the backlog.
pub fn advance_tasks(
    conn: &mut DbConnection,
    task_ids: &[String],
    lanes: NewLanes,
) -> QueryResult<()> {
    let list = raw::placeholders(task_ids.len());
    let open = match lanes {
        NewLanes::Open => {
            ", opened AS (INSERT INTO delivery_lanes (id, agent_id, head_id, due_at) \
             SELECT n.task, n.agent_id, n.head, n.due FROM next n WHERE n.head IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM delivery_lanes l WHERE l.id = n.task))"
        }
        NewLanes::NeverNeeded => "",
    };
    let pending_head = |name: &str, cond: &str| {
        format!(
            "LEFT JOIN LATERAL (SELECT d.id, d.sequence_id, d.next_attempt_at FROM deliveries d \
             WHERE {cond} d.task_id = t.id AND d.status = 'pending' ORDER BY d.sequence_id LIMIT 1) \
             {name} ON true"
        )
    };
    let sql = format!(
        "WITH next AS (SELECT t.id AS task, t.agent_id, COALESCE(h1.id, h2.id) AS head, \
             COALESCE(h1.sequence_id, h2.sequence_id) AS seq, \
             COALESCE(h1.next_attempt_at, h2.next_attempt_at) AS due \
             FROM agent_tasks t LEFT JOIN LATERAL (SELECT 1 AS pending FROM deliveries h \
                 WHERE h.task_id = t.id AND h.sequence_id = t.head_sequence \
                 AND h.status = 'pending' LIMIT 1) current ON true {} {} \
             WHERE t.id IN ({list}) AND current.pending IS NULL), \
         tasks AS (UPDATE agent_tasks SET head_sequence = n.seq FROM next n \
             WHERE agent_tasks.id = n.task), \
         followed AS (UPDATE delivery_lanes SET head_id = n.head, due_at = n.due, \
             claim_token = NULL, claimed_by = NULL, claimed_until = NULL FROM next n \
             WHERE delivery_lanes.id = n.task AND n.head IS NOT NULL \
             AND delivery_lanes.head_id <> n.head){open} \
         DELETE FROM delivery_lanes USING next n WHERE delivery_lanes.id = n.task AND n.head IS NULL",
        pending_head("h1", "d.sequence_id > t.head_sequence AND"),
        pending_head("h2", "h1.id IS NULL AND"),
    );
    let params: Vec<Param> = task_ids.iter().map(Param::from).collect();
    raw::execute(conn, &sql, &params).map(drop)
}

/// One lateral look-up over the rooms: planned once however many agents
/// (a subquery per agent cost a millisecond a claim at 50).
pub fn due_lanes(rooms: &[(&str, usize)], at: NaiveDateTime, params: &mut Vec<Param>) -> String {
    for (agent, slots) in rooms {
        params.extend([Param::from(*agent), Param::Int(*slots as i64)]);
    }
    params.push(at.into());
    format!(
        "id IN (SELECT l.id FROM (VALUES {}) AS r(agent, n) CROSS JOIN LATERAL \
         (SELECT id FROM delivery_lanes WHERE agent_id = r.agent AND due_at <= ? \
         ORDER BY due_at LIMIT r.n FOR UPDATE SKIP LOCKED) l)",
        vec!["(?, ?)"; rooms.len()].join(", ")
    )
}

/// The stamp and the heads' rows in one statement.
pub fn claimed_heads(
    conn: &mut DbConnection,
    update: &str,
    params: &[Param],
) -> QueryResult<Vec<ClaimedRow>> {
    let rows = claimed_rows("FROM claimed c JOIN deliveries d ON d.id = c.head_id", "");
    let sql = format!("WITH claimed AS ({update}) {rows}");
    raw::load(conn, &sql, params)
}

pub fn hour_of(column: &str) -> String {
    format!("to_char({column}, 'YYYY-MM-DD HH24')")
}

/// Dead row versions may still hold plaintext: rewrite the table.
pub fn rewrite_freed_pages(conn: &mut DbConnection) -> QueryResult<()> {
    diesel::sql_query("VACUUM FULL agent_key_versions").execute(conn)?;
    Ok(())
}

/// Row locks are taken by the statements themselves: nothing to do.
pub fn write_first(_conn: &mut DbConnection) -> QueryResult<()> {
    Ok(())
}
