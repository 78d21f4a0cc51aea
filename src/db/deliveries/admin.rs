//! What operators do to the queue: send deliveries again with a fresh
//! attempt budget (one, or all matching a filter), and cancel pending ones.
//! Each keeps the heads right: a task that lost or regained pending events
//! gets its head recomputed under the task lock.

use super::listing::Scope;
use super::{
    advance_tasks, drop_lanes, insert_lanes, lane_of, lock_tasks, retrying, Delivery,
    DeliveryStatus, Lane, NewLanes,
};
use crate::db::schema::{deliveries, delivery_lanes};
use crate::db::{now, DbConnection};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// Which deliveries a bulk retry moves: those in `scope` with one of
/// `statuses` (`failed`, `cancelled`, and `pending`, made due now).
#[derive(Debug, Clone, Default)]
pub struct RetryFilter {
    pub scope: Scope,
    pub statuses: Vec<DeliveryStatus>,
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
        if current.status != DeliveryStatus::Failed && current.status != DeliveryStatus::Cancelled {
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
    let query = filter
        .scope
        .query()
        .filter(deliveries::status.eq_any(filter.statuses.clone()))
        .filter(deliveries::updated_at.ne(started));
    query
        .select(Delivery::as_select())
        .order((deliveries::created_at.asc(), deliveries::id.asc()))
        .limit(BATCH)
        .load(conn)
}

/// Pending again, due at `at`, budget starting now. A pending delivery
/// whose lane is claimed (an attempt in flight) is left alone; the others
/// get their lanes back (or due now).
fn requeue(conn: &mut DbConnection, rows: &[Delivery], at: NaiveDateTime) -> QueryResult<()> {
    let task_ids: Vec<String> = rows.iter().filter_map(|d| d.task_id.clone()).collect();
    lock_tasks(conn, &task_ids)?;
    let mut own_lanes = Vec::new();
    for row in rows {
        if row.status == DeliveryStatus::Pending && lane_is_claimed(conn, &row.id, at)? {
            continue;
        }
        diesel::update(deliveries::table.find(&row.id))
            .filter(deliveries::status.eq(&row.status))
            .set((
                deliveries::status.eq(DeliveryStatus::Pending),
                deliveries::next_attempt_at.eq(at),
                deliveries::budget_base.eq(deliveries::attempts),
                deliveries::updated_at.eq(at),
            ))
            .execute(conn)?;
        diesel::update(delivery_lanes::table.filter(delivery_lanes::head_id.eq(&row.id)))
            .set(delivery_lanes::due_at.eq(at))
            .execute(conn)?;
        if row.task_id.is_none() && row.status != DeliveryStatus::Pending {
            own_lanes.push(Lane::new(&row.id, &row.agent_id, &row.id, at));
        }
    }
    insert_lanes(conn, &own_lanes)?;
    advance_tasks(conn, &task_ids, NewLanes::Open)
}

/// Whether `delivery_id` heads a lane whose claim still holds at `at`.
fn lane_is_claimed(
    conn: &mut DbConnection,
    delivery_id: &str,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    let claimed: i64 = delivery_lanes::table
        .filter(delivery_lanes::head_id.eq(delivery_id))
        .filter(delivery_lanes::claimed_until.ge(at))
        .count()
        .get_result(conn)?;
    Ok(claimed > 0)
}

/// Whether a cancel found the delivery, and what it was.
#[derive(Debug)]
pub enum Cancelled {
    Done(Box<Delivery>),
    NotPending(DeliveryStatus),
    Missing,
}

/// Cancels a pending delivery: it is never attempted again, and an attempt
/// in flight is not recorded. Its task's next event becomes the head.
pub fn cancel(conn: &mut DbConnection, id: &str) -> QueryResult<Cancelled> {
    retrying(conn, |conn| {
        let Some(current) = find_row(conn, id)? else {
            return Ok(Cancelled::Missing);
        };
        if current.status != DeliveryStatus::Pending {
            return Ok(Cancelled::NotPending(current.status));
        }
        let tasks: Vec<String> = current.task_id.iter().cloned().collect();
        lock_tasks(conn, &tasks)?;
        let at = now();
        diesel::update(deliveries::table.find(id))
            .filter(deliveries::status.eq(DeliveryStatus::Pending))
            .set((
                deliveries::status.eq(DeliveryStatus::Cancelled),
                deliveries::last_error.eq(Some("cancelled by an operator")),
                deliveries::updated_at.eq(at),
            ))
            .execute(conn)?;
        // Its lane moves on (or goes), which also fences off an attempt in flight.
        match &current.task_id {
            Some(_) => advance_tasks(conn, &tasks, NewLanes::Open)?,
            None => drop_lanes(conn, &[&lane_of(None, id)])?,
        }
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
