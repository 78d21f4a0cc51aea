//! Recording finished attempts: each outcome is applied only while its
//! claim's token still holds the row (a lost claim's late result is dropped),
//! and a task whose head finished gets its next head in the same transaction.

use super::{advance_tasks, coalesce, drop_lanes, lock_tasks, retrying, Attempt, NewLanes};
use super::{AttemptOutcome, DeliveryStatus};
use crate::db::dialect::insert_chunked;
use crate::db::raw::{self, IdRow, Param};
use crate::db::schema::delivery_attempts;
use crate::db::{now, DbConnection};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::HashSet;

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    Retry { at: NaiveDateTime },
    Failed,
}

impl Outcome {
    /// The outcome as its row keeps it.
    pub fn kind(&self) -> AttemptOutcome {
        match self {
            Self::Delivered => AttemptOutcome::Delivered,
            Self::Retry { .. } => AttemptOutcome::Retry,
            Self::Failed => AttemptOutcome::Failed,
        }
    }

    /// The outcome as metrics name it.
    pub fn label(&self) -> &'static str {
        self.kind().as_str()
    }
}

/// One finished attempt, to be recorded.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub delivery_id: String,
    /// The lane the claim held, and the claim's token.
    pub lane_id: String,
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
    /// What the agent answered (bounded), for replays to compare.
    pub response: Option<String>,
    /// The coalesced events sent with this one: delivered with it.
    pub followers: Vec<String>,
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
        let mut held = vec![false; records.len()];
        for pass in passes(records) {
            let batch: Vec<&AttemptRecord> = pass.iter().map(|&i| &records[i]).collect();
            let moved = record_pass(conn, instance, &batch)?;
            for i in pass {
                held[i] = moved.contains(&records[i].delivery_id);
            }
        }
        Ok(held)
    })
}

/// Splits the records (by index) so no delivery appears twice in a pass:
/// two attempts of one delivery (a lease that ran out) are judged apart.
fn passes(records: &[AttemptRecord]) -> Vec<Vec<usize>> {
    let mut passes: Vec<(HashSet<&str>, Vec<usize>)> = Vec::new();
    for (i, rec) in records.iter().enumerate() {
        let id = rec.delivery_id.as_str();
        match passes.iter_mut().find(|(ids, _)| !ids.contains(id)) {
            Some((ids, pass)) => {
                ids.insert(id);
                pass.push(i);
            }
            None => passes.push((HashSet::from([id]), vec![i])),
        }
    }
    passes.into_iter().map(|(_, pass)| pass).collect()
}

/// Applies one pass; returns the ids whose claim held.
fn record_pass(
    conn: &mut DbConnection,
    instance: &str,
    records: &[&AttemptRecord],
) -> QueryResult<HashSet<String>> {
    let at = now();
    let moved = apply_all(conn, records, at)?;
    let held: Vec<&AttemptRecord> = records
        .iter()
        .copied()
        .filter(|r| moved.contains(&r.delivery_id))
        .collect();
    let mut attempts: Vec<Attempt> = held.iter().map(|r| attempt_row(r, instance, at)).collect();
    attempts.extend(followers_delivered(conn, &held, instance, at)?);
    insert_chunked::<_, Attempt>(conn, delivery_attempts::table, &attempts, 256)?;
    let finished: Vec<&&AttemptRecord> = held
        .iter()
        .filter(|r| !matches!(r.outcome, Outcome::Retry { .. }))
        .collect();
    let tasks: Vec<String> = finished.iter().filter_map(|r| r.task_id.clone()).collect();
    // Task rows are locked last, so intake (which bumps them) waits only
    // for these few statements and the commit.
    let touched: Vec<String> = held
        .iter()
        .filter_map(|r| r.task_created.clone())
        .chain(tasks.iter().cloned())
        .collect();
    lock_tasks(conn, &touched)?;
    let created: Vec<Param> = held
        .iter()
        .filter_map(|r| r.task_created.as_ref().map(Param::from))
        .collect();
    if !created.is_empty() {
        let sql = format!(
            "UPDATE agent_tasks SET created_on_agent_at = ? WHERE id IN ({})",
            raw::placeholders(created.len())
        );
        let params: Vec<Param> = std::iter::once(at.into()).chain(created).collect();
        raw::execute(conn, &sql, &params)?;
    }
    advance_tasks(conn, &tasks, NewLanes::NeverNeeded)?;
    let own_lanes: Vec<&String> = finished
        .iter()
        .filter(|r| r.task_id.is_none())
        .map(|r| &r.lane_id)
        .collect();
    drop_lanes(conn, &own_lanes)?;
    Ok(moved)
}

/// Delivers the followers of coalesced heads that were delivered; their
/// attempt rows (the head's attempt, under their ids).
fn followers_delivered(
    conn: &mut DbConnection,
    held: &[&AttemptRecord],
    instance: &str,
    at: NaiveDateTime,
) -> QueryResult<Vec<Attempt>> {
    let mut rows = Vec::new();
    for rec in held.iter().filter(|r| r.outcome == Outcome::Delivered) {
        let ids: Vec<&String> = rec.followers.iter().collect();
        for (id, attempt) in coalesce::deliver_followers(conn, &ids, at)? {
            let mut row = attempt_row(rec, instance, at);
            row.delivery_id = id;
            row.attempt = attempt;
            rows.push(row);
        }
    }
    Ok(rows)
}

/// Records per statement.
const PER_STATEMENT: usize = 100;

/// Releases every lane whose claim `records` still hold (a retried head's
/// lane comes due at its retry time) and moves those deliveries on; returns
/// the ids it moved.
fn apply_all(
    conn: &mut DbConnection,
    records: &[&AttemptRecord],
    at: NaiveDateTime,
) -> QueryResult<HashSet<String>> {
    let mut moved = HashSet::with_capacity(records.len());
    for chunk in records.chunks(PER_STATEMENT) {
        let mut params: Vec<Param> = Vec::with_capacity(chunk.len() * 4);
        for rec in chunk {
            params.extend([
                Param::from(&rec.lane_id),
                Param::from(&rec.claim_token),
                Param::from(&rec.delivery_id),
                Param::from(next_time(rec, at)),
            ]);
        }
        let sql = format!(
            "{} UPDATE delivery_lanes SET due_at = v.due, claim_token = NULL, claimed_by = NULL, \
             claimed_until = NULL FROM v \
             WHERE delivery_lanes.id = v.lane AND delivery_lanes.claim_token = v.token \
             AND delivery_lanes.head_id = v.head RETURNING delivery_lanes.head_id AS id",
            raw::values_table("v", &["lane", "token", "head", "due"], chunk.len())
        );
        let ids: Vec<IdRow> = raw::load(conn, &sql, &params)?;
        moved.extend(ids.into_iter().map(|r| r.id));
    }
    let held: Vec<&&AttemptRecord> = records
        .iter()
        .filter(|r| moved.contains(&r.delivery_id))
        .collect();
    for chunk in held.chunks(PER_STATEMENT) {
        move_deliveries(conn, chunk, at)?;
    }
    Ok(moved)
}

/// When the delivery is next due: its retry time, or now.
fn next_time(rec: &AttemptRecord, at: NaiveDateTime) -> NaiveDateTime {
    match rec.outcome {
        Outcome::Retry { at: next } => next,
        _ => at,
    }
}

/// The deliveries' new status, attempt count and error (one statement).
fn move_deliveries(
    conn: &mut DbConnection,
    records: &[&&AttemptRecord],
    at: NaiveDateTime,
) -> QueryResult<()> {
    let mut params: Vec<Param> = Vec::with_capacity(records.len() * 5 + 2);
    for rec in records {
        let status = match rec.outcome {
            Outcome::Delivered => DeliveryStatus::Delivered,
            Outcome::Retry { .. } => DeliveryStatus::Pending,
            Outcome::Failed => DeliveryStatus::Failed,
        };
        params.extend([
            Param::from(&rec.delivery_id),
            Param::from(status),
            Param::Int(rec.attempt.into()),
            Param::from(next_time(rec, at)),
            Param::OptText(rec.error.clone()),
        ]);
    }
    params.extend([at.into(), at.into()]);
    let sql = format!(
        "{} UPDATE deliveries SET status = v.status, attempts = v.attempt, \
         next_attempt_at = v.next_at, last_error = v.error, updated_at = ?, \
         delivered_at = CASE WHEN v.status = 'delivered' THEN ? ELSE NULL END \
         FROM v WHERE deliveries.id = v.id",
        raw::values_table(
            "v",
            &["id", "status", "attempt", "next_at", "error"],
            records.len()
        )
    );
    raw::execute(conn, &sql, &params).map(drop)
}

fn attempt_row(rec: &AttemptRecord, instance: &str, at: NaiveDateTime) -> Attempt {
    Attempt {
        id: crate::db::time_ordered_id(),
        delivery_id: rec.delivery_id.clone(),
        attempt: rec.attempt,
        started_at: rec.started_at,
        finished_at: at,
        outcome: rec.outcome.kind(),
        status_code: rec.status_code,
        error: rec.error.clone(),
        instance: Some(instance.to_owned()),
        response: rec.response.clone(),
    }
}
