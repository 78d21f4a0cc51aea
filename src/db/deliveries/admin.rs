//! What operators do to the queue: send deliveries again with a fresh
//! attempt budget (one, or all matching a filter), and cancel pending ones.
//! Each keeps the heads right: a task that lost or regained pending events
//! gets its head recomputed under the task lock.

use super::{advance_heads, lock_tasks, retrying, Delivery, CANCELLED, FAILED, PENDING};
use crate::db::schema::deliveries;
use crate::db::{now, DbConnection};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// Which deliveries a bulk retry moves. `statuses` are those it may move
/// from: `failed`, `cancelled`, and `pending` (made due now).
#[derive(Debug, Clone, Default)]
pub struct RetryFilter {
    pub agent_id: Option<String>,
    pub statuses: Vec<String>,
    pub task_id: Option<String>,
    pub since: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
}

/// Rows of one bulk operation per transaction, so intake never waits long.
const BATCH: i64 = 500;

/// `id` back to pending, due now, with a fresh attempt budget; `None` when
/// it is not failed or cancelled (or does not exist).
pub fn retry_one(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Delivery>> {
    retrying(conn, |conn| {
        let Some(current) = find_row(conn, id)? else {
            return Ok(None);
        };
        if current.status != FAILED && current.status != CANCELLED {
            return Ok(None);
        }
        requeue(conn, std::slice::from_ref(&current), now())?;
        find_row(conn, id)
    })
}

/// Moves every delivery `filter` matches back to pending (due now, fresh
/// budget), in batches; returns how many moved.
pub fn retry_matching(conn: &mut DbConnection, filter: &RetryFilter) -> QueryResult<usize> {
    let started = now();
    let mut moved = 0;
    loop {
        let n = retrying(conn, |conn| {
            let rows = matching(conn, filter, started)?;
            requeue(conn, &rows, started)?;
            Ok(rows.len())
        })?;
        moved += n;
        if n < BATCH as usize {
            return Ok(moved);
        }
    }
}

/// The next batch of rows `filter` matches that this retry has not yet moved
/// (rows it moved are pending with `updated_at` = `started`).
fn matching(
    conn: &mut DbConnection,
    filter: &RetryFilter,
    started: NaiveDateTime,
) -> QueryResult<Vec<Delivery>> {
    let mut query = deliveries::table
        .select(Delivery::as_select())
        .filter(deliveries::status.eq_any(&filter.statuses))
        .filter(deliveries::updated_at.ne(started))
        // A claim in flight is left to finish; its row is not moved.
        .filter(
            deliveries::claim_token
                .is_null()
                .or(deliveries::claimed_until.lt(started)),
        )
        .into_boxed();
    if let Some(agent) = &filter.agent_id {
        query = query.filter(deliveries::agent_id.eq(agent.clone()));
    }
    if let Some(task) = &filter.task_id {
        query = query.filter(deliveries::task_id.eq(task.clone()));
    }
    if let Some(since) = filter.since {
        query = query.filter(deliveries::created_at.ge(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(deliveries::created_at.lt(until));
    }
    query
        .order((deliveries::created_at.asc(), deliveries::id.asc()))
        .limit(BATCH)
        .load(conn)
}

/// Pending again, due at `at`, budget starting now; a claim in flight on a
/// pending row is fenced off (its token is cleared).
fn requeue(conn: &mut DbConnection, rows: &[Delivery], at: NaiveDateTime) -> QueryResult<()> {
    let task_ids: Vec<String> = rows.iter().filter_map(|d| d.task_id.clone()).collect();
    lock_tasks(conn, &task_ids)?;
    for row in rows {
        // A task's events wait for its head: only a task-less row is its own.
        let head = row.task_id.is_none() || (row.status == PENDING && row.is_head);
        diesel::update(deliveries::table.find(&row.id))
            .filter(deliveries::status.eq(&row.status))
            .set((
                deliveries::status.eq(PENDING),
                deliveries::is_head.eq(head),
                deliveries::next_attempt_at.eq(at),
                deliveries::budget_base.eq(deliveries::attempts),
                deliveries::claim_token.eq(None::<String>),
                deliveries::claimed_by.eq(None::<String>),
                deliveries::claimed_until.eq(None::<NaiveDateTime>),
                deliveries::updated_at.eq(at),
            ))
            .execute(conn)?;
    }
    advance_heads(conn, &task_ids)
}

/// Whether a cancel found the delivery, and what it was.
#[derive(Debug)]
pub enum Cancelled {
    Done(Box<Delivery>),
    NotPending(String),
    Missing,
}

/// Cancels a pending delivery: it is never attempted again, and an attempt
/// in flight is not recorded. Its task's next event becomes the head.
pub fn cancel(conn: &mut DbConnection, id: &str) -> QueryResult<Cancelled> {
    retrying(conn, |conn| {
        let Some(current) = find_row(conn, id)? else {
            return Ok(Cancelled::Missing);
        };
        if current.status != PENDING {
            return Ok(Cancelled::NotPending(current.status));
        }
        let tasks: Vec<String> = current.task_id.iter().cloned().collect();
        lock_tasks(conn, &tasks)?;
        let at = now();
        diesel::update(deliveries::table.find(id))
            .filter(deliveries::status.eq(PENDING))
            .set((
                deliveries::status.eq(CANCELLED),
                deliveries::is_head.eq(false),
                deliveries::claim_token.eq(None::<String>),
                deliveries::claimed_by.eq(None::<String>),
                deliveries::claimed_until.eq(None::<NaiveDateTime>),
                deliveries::last_error.eq(Some("cancelled by an operator")),
                deliveries::updated_at.eq(at),
            ))
            .execute(conn)?;
        advance_heads(conn, &tasks)?;
        Ok(find_row(conn, id)?.map_or(Cancelled::Missing, |d| Cancelled::Done(Box::new(d))))
    })
}

fn find_row(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Delivery>> {
    deliveries::table
        .find(id)
        .select(Delivery::as_select())
        .first(conn)
        .optional()
}
