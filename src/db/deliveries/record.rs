//! Recording finished attempts: each outcome is applied only while its
//! claim's token still holds the row (a lost claim's late result is dropped),
//! and a task whose head finished gets its next head in the same transaction.

use super::{advance_heads, lock_tasks, relaxed_commit, retrying, Attempt};
use super::{DELIVERED, FAILED, PENDING};
use crate::db::schema::{agent_tasks, deliveries, delivery_attempts};
use crate::db::{now, DbConnection};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    Retry { at: NaiveDateTime },
    Failed,
}

/// One finished attempt, to be recorded.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub delivery_id: String,
    /// The claim the attempt ran under.
    pub claim_token: String,
    pub task_id: Option<String>,
    pub attempt: i32,
    pub started_at: NaiveDateTime,
    pub outcome: Outcome,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    /// Set when this attempt's `task/create` succeeded.
    pub task_created: Option<String>,
    /// The agent could not take it (unreachable, timeout, 408, 429, 5xx):
    /// what the per-agent circuit counts.
    pub transient: bool,
}

/// Records `records`, attempts made by `instance`, in one transaction; for
/// each, whether its claim still held (false: dropped, the row was claimed
/// again or changed by an operator).
pub fn record_batch(
    conn: &mut DbConnection,
    instance: &str,
    records: &[AttemptRecord],
) -> QueryResult<Vec<bool>> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    retrying(conn, |conn| {
        relaxed_commit(conn)?;
        let task_ids: Vec<String> = records.iter().filter_map(|r| r.task_id.clone()).collect();
        lock_tasks(conn, &task_ids)?;
        let at = now();
        let mut held = Vec::with_capacity(records.len());
        let mut finished_tasks = Vec::new();
        let mut attempts = Vec::new();
        for rec in records {
            let applied = apply(conn, rec, at)?;
            held.push(applied);
            if !applied {
                continue;
            }
            if let Some(task) = &rec.task_created {
                diesel::update(agent_tasks::table.find(task))
                    .set(agent_tasks::created_on_agent_at.eq(Some(at)))
                    .execute(conn)?;
            }
            if let (Some(task), false) =
                (&rec.task_id, matches!(rec.outcome, Outcome::Retry { .. }))
            {
                finished_tasks.push(task.clone());
            }
            attempts.push(attempt_row(rec, instance, at));
        }
        for chunk in attempts.chunks(256) {
            let insert = diesel::insert_into(delivery_attempts::table).values(chunk);
            match conn {
                DbConnection::Postgres(pg) => insert.execute(pg)?,
                DbConnection::Sqlite(lite) => insert.execute(lite)?,
            };
        }
        advance_heads(conn, &finished_tasks)?;
        Ok(held)
    })
}

/// Moves the delivery on if `rec`'s claim still holds it.
fn apply(conn: &mut DbConnection, rec: &AttemptRecord, at: NaiveDateTime) -> QueryResult<bool> {
    let (status, next, head) = match &rec.outcome {
        Outcome::Delivered => (DELIVERED, at, false),
        Outcome::Retry { at: next } => (PENDING, *next, true),
        Outcome::Failed => (FAILED, at, false),
    };
    let changed = diesel::update(
        deliveries::table
            .find(&rec.delivery_id)
            .filter(deliveries::claim_token.eq(&rec.claim_token))
            .filter(deliveries::status.eq(PENDING)),
    )
    .set((
        deliveries::attempts.eq(rec.attempt),
        deliveries::status.eq(status),
        deliveries::is_head.eq(head),
        deliveries::next_attempt_at.eq(next),
        deliveries::last_error.eq(&rec.error),
        deliveries::claim_token.eq(None::<String>),
        deliveries::claimed_by.eq(None::<String>),
        deliveries::claimed_until.eq(None::<NaiveDateTime>),
        deliveries::updated_at.eq(at),
        deliveries::delivered_at.eq((rec.outcome == Outcome::Delivered).then_some(at)),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

fn attempt_row(rec: &AttemptRecord, instance: &str, at: NaiveDateTime) -> Attempt {
    let outcome = match rec.outcome {
        Outcome::Delivered => "delivered",
        Outcome::Retry { .. } => "retry",
        Outcome::Failed => "failed",
    };
    Attempt {
        id: uuid::Uuid::new_v4().to_string(),
        delivery_id: rec.delivery_id.clone(),
        attempt: rec.attempt,
        started_at: rec.started_at,
        finished_at: at,
        outcome: outcome.to_owned(),
        status_code: rec.status_code,
        error: rec.error.clone(),
        instance: Some(instance.to_owned()),
    }
}
