//! The loop breaker: when one task receives more than its route's
//! `loop_limit` events within `loop_window_secs`, the task is held — its
//! further events are stored as `held` (in sequence, never attempted)
//! until an operator releases it. Decided inside intake's transaction,
//! with the task rows locked, so concurrent batches count each event once.

use super::{advance_tasks, lock_tasks, retrying, DeliveryStatus, NewLanes};
use crate::db::raw::{self, Param};
use crate::db::schema::{agent_tasks, deliveries};
use crate::db::{now, DbConnection};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::{HashMap, HashSet};

/// A route's loop breaker setting, as intake applies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LoopLimit {
    pub limit: i64,
    pub window_secs: i64,
}

#[derive(QueryableByName)]
struct TaskCount {
    #[diesel(sql_type = diesel::sql_types::Text)]
    task_id: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Which of `batch` (task id and limit, in arrival order) are held, and
/// the tasks this batch trips (marked held here).
pub fn decide(
    conn: &mut DbConnection,
    batch: &[Option<(&str, LoopLimit)>],
) -> QueryResult<Vec<bool>> {
    let guarded: HashMap<&str, LoopLimit> = batch.iter().flatten().copied().collect();
    if guarded.is_empty() {
        return Ok(vec![false; batch.len()]);
    }
    let at = now();
    let mut held = already_held(conn, guarded.keys().copied())?;
    let mut counts = recent_counts(conn, &guarded, at)?;
    let mut tripped = Vec::new();
    let decided = batch
        .iter()
        .map(|entry| {
            let Some((task, limit)) = entry else {
                return false;
            };
            if held.contains(*task) {
                return true;
            }
            let n = counts.entry(task.to_string()).or_insert(0);
            *n += 1;
            if *n > limit.limit {
                held.insert(task.to_string());
                tripped.push(task.to_string());
                return true;
            }
            false
        })
        .collect();
    if !tripped.is_empty() {
        tracing::warn!(tasks = ?tripped, "loop breaker: tasks held");
        diesel::update(agent_tasks::table.filter(agent_tasks::id.eq_any(&tripped)))
            .set(agent_tasks::held_since.eq(Some(at)))
            .execute(conn)?;
    }
    Ok(decided)
}

fn already_held<'a>(
    conn: &mut DbConnection,
    tasks: impl Iterator<Item = &'a str>,
) -> QueryResult<HashSet<String>> {
    let ids: Vec<&str> = tasks.collect();
    let held: Vec<String> = agent_tasks::table
        .filter(agent_tasks::id.eq_any(&ids))
        .filter(agent_tasks::held_since.is_not_null())
        .select(agent_tasks::id)
        .load(conn)?;
    Ok(held.into_iter().collect())
}

/// Events each task received within its window, before this batch.
fn recent_counts(
    conn: &mut DbConnection,
    guarded: &HashMap<&str, LoopLimit>,
    at: NaiveDateTime,
) -> QueryResult<HashMap<String, i64>> {
    let mut counts = HashMap::new();
    for (task, limit) in guarded {
        let since = at - chrono::Duration::seconds(limit.window_secs);
        let rows: Vec<TaskCount> = raw::load(
            conn,
            "SELECT task_id, COUNT(*) AS n FROM deliveries WHERE task_id = ? AND created_at >= ? \
             GROUP BY task_id",
            &[Param::from(*task), Param::Time(since)],
        )?;
        counts.extend(rows.into_iter().map(|r| (r.task_id, r.n)));
    }
    Ok(counts)
}

/// Releases a held task: its held events become pending (due now, in
/// their sequence) and new ones flow again; returns how many were held.
pub fn release(conn: &mut DbConnection, task_id: &str) -> QueryResult<usize> {
    retrying(conn, |conn| {
        let tasks = [task_id.to_owned()];
        lock_tasks(conn, &tasks)?;
        let at = now();
        let moved = diesel::update(
            deliveries::table
                .filter(deliveries::task_id.eq(task_id))
                .filter(deliveries::status.eq(DeliveryStatus::Held)),
        )
        .set((
            deliveries::status.eq(DeliveryStatus::Pending),
            deliveries::next_attempt_at.eq(at),
            deliveries::updated_at.eq(at),
        ))
        .execute(conn)?;
        diesel::update(agent_tasks::table.find(task_id))
            .set(agent_tasks::held_since.eq(None::<NaiveDateTime>))
            .execute(conn)?;
        advance_tasks(conn, &tasks, NewLanes::Open)?;
        Ok(moved)
    })
}
