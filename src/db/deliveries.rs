//! The delivery queue: `deliveries` rows committed before the 202, and
//! `delivery_lanes`, one per task with pending events (or per pending
//! `forward_async` delivery), naming the delivery at its head and when that
//! is due. Claims read and stamp only lanes (`claim`), so their cost does not
//! depend on the events queued behind heads; an outcome is applied only
//! while the claim's token still holds the lane (`record`); when a head
//! finishes, its lane moves to the task's next pending event in the same
//! transaction, or goes. Every attempt is kept in `delivery_attempts`.

pub mod admin;
mod claim;
pub mod coalesce;
mod depth;
mod enqueue;
mod listing;
pub mod loop_breaker;
mod record;
mod retention;
pub mod stats;
mod tasks;

pub use admin::{cancel, retry_matching, retry_one, RetryFilter};
pub use claim::{
    claim, claim_next_heads, release_all_claims, release_claims, AgentSecrets, ClaimStamp, Claimed,
    InternalKeys, Room,
};
pub(in crate::db) use claim::{claimed_rows, ClaimedRow, HeadRow};
pub use depth::queue_samples;
pub use enqueue::{enqueue, enqueue_batch, stored_ids, Accepted, NewDelivery};
pub use listing::{find, list, Cursor, ListFilter, Scope};
pub use record::{record_batch, AttemptRecord, Outcome};
pub use retention::{purge, PURGE_BATCH};
pub use tasks::{find_task, list_tasks, task_events, task_names, TaskFilter};

use super::dialect::insert_chunked;
use super::schema::{agent_tasks, deliveries, delivery_attempts, delivery_lanes};
use super::{is_transient, DbConnection};
use crate::domain::RouteMode;
use chrono::NaiveDateTime;
use diesel::prelude::*;

pub use crate::row::status::{AttemptOutcome, DeliveryStatus};

/// A stored delivery.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = deliveries, treat_none_as_default_value = false)]
pub struct Delivery {
    pub id: String,
    pub agent_id: String,
    pub route_id: Option<String>,
    pub mode: RouteMode,
    pub task_id: Option<String>,
    pub sequence_id: Option<i64>,
    /// Kept in `delivery_dedup` since migration 000006; NULL here.
    pub dedup_key: Option<String>,
    pub method: String,
    pub path: String,
    /// JSON array of `[name, value]` pairs, credentials already removed.
    pub headers: String,
    pub body: Vec<u8>,
    /// The ACP event content (JSON) for `acp_event` deliveries.
    pub content: Option<String>,
    pub status: DeliveryStatus,
    pub attempts: i32,
    /// When it is due.
    pub next_attempt_at: NaiveDateTime,
    /// The claiming process, and when its claim's lease ends.
    pub claimed_by: Option<String>,
    pub claimed_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub delivered_at: Option<NaiveDateTime>,
    /// `attempts` when the last manual retry gave it a fresh budget.
    pub budget_base: i32,
}

/// One attempt at a delivery.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = delivery_attempts)]
pub struct Attempt {
    pub id: String,
    pub delivery_id: String,
    pub attempt: i32,
    pub started_at: NaiveDateTime,
    pub finished_at: NaiveDateTime,
    pub outcome: AttemptOutcome,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    /// The process that made it (its claim owner id).
    pub instance: Option<String>,
    /// The agent's answer: the JSON-RPC `result` (or `error`) of an ACP
    /// call, the body of a replayed request; at most 4 KiB.
    pub response: Option<String>,
}

/// A task key's row: its sequence counter, its head, whether the agent knows it.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = agent_tasks)]
pub struct Task {
    pub id: String,
    pub agent_id: String,
    pub name: String,
    pub last_sequence: i64,
    pub created_on_agent_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub head_sequence: Option<i64>,
    /// Set while the loop breaker holds the task's new events.
    pub held_since: Option<NaiveDateTime>,
}

/// Locks task rows in id order on PostgreSQL, so a head computed after the
/// lock sees every event committed for the task. Intake and the admin
/// operations take task rows first; the recorder takes them after its lane
/// and delivery rows, to hold them briefly (an admin operation meeting it
/// may deadlock, and `retrying` runs the loser again). SQLite has one
/// writer at a time and needs nothing.
fn lock_tasks(conn: &mut DbConnection, task_ids: &[String]) -> QueryResult<()> {
    if task_ids.is_empty() {
        return Ok(());
    }
    super::dialect::lock_tasks(conn, task_ids)
}

/// The lane a delivery belongs to: its task, or itself.
pub fn lane_of(task_id: Option<&str>, delivery_id: &str) -> String {
    task_id.unwrap_or(delivery_id).to_owned()
}

/// Gives each of these tasks whose head is no longer pending its next head,
/// and its lane with it: the earliest pending event after the old head (found
/// by seeking past the finished ones, whose index entries PostgreSQL may not
/// have cleaned yet), else the earliest pending event (one an operator sent
/// again), else none (the lane goes). A lane whose head changed loses its
/// claim. Callers hold the task locks.
fn advance_tasks(conn: &mut DbConnection, task_ids: &[String], lanes: NewLanes) -> QueryResult<()> {
    if task_ids.is_empty() {
        return Ok(());
    }
    super::dialect::advance_tasks(conn, task_ids, lanes)
}

/// Whether advancing may find a task with a head and no lane: a task an
/// operator gave pending events again. A recorded head always has its lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::db) enum NewLanes {
    Open,
    NeverNeeded,
}

/// Adds lanes.
pub(super) fn insert_lanes(conn: &mut DbConnection, lanes: &[Lane]) -> QueryResult<()> {
    insert_chunked::<_, Lane>(conn, delivery_lanes::table, lanes, 256)
}

/// Deletes these lanes (tasks drained, forward_async deliveries finished).
fn drop_lanes(conn: &mut DbConnection, ids: &[&String]) -> QueryResult<()> {
    if !ids.is_empty() {
        diesel::delete(delivery_lanes::table.filter(delivery_lanes::id.eq_any(ids)))
            .execute(conn)?;
    }
    Ok(())
}

/// A lane: a task with pending events, or one pending forward_async delivery.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = delivery_lanes, treat_none_as_default_value = false)]
pub struct Lane {
    pub id: String,
    pub agent_id: String,
    pub head_id: String,
    pub due_at: NaiveDateTime,
    pub claim_token: Option<String>,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<NaiveDateTime>,
}

impl Lane {
    /// An unclaimed lane.
    pub fn new(id: &str, agent_id: &str, head_id: &str, due_at: NaiveDateTime) -> Self {
        Self {
            id: id.to_owned(),
            agent_id: agent_id.to_owned(),
            head_id: head_id.to_owned(),
            due_at,
            claim_token: None,
            claimed_by: None,
            claimed_until: None,
        }
    }
}

/// Runs `work` in a transaction, again (up to five times in all) when it
/// meets a transient conflict (a deadlock, serialization failure or busy
/// database). On SQLite the transaction takes the writer lock first:
/// a reader that writes after another connection committed fails at once,
/// which concurrent operator calls (a bulk retry from the dashboard) met
/// five times in a row.
fn retrying<T>(
    conn: &mut DbConnection,
    mut work: impl FnMut(&mut DbConnection) -> QueryResult<T>,
) -> QueryResult<T> {
    let mut tries = 0;
    loop {
        tries += 1;
        let attempt = conn.transaction(|conn| {
            crate::db::write_first(conn)?;
            work(conn)
        });
        match attempt {
            Err(e) if is_transient(&e) && tries < 5 => {
                tracing::debug!(error = %e, "transient database conflict; again");
            }
            other => return other,
        }
    }
}
