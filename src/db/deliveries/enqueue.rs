//! Intake's writes: a delivery row, its task's next sequence number (and
//! whether it is the task's head), and its provider redelivery id.

mod sequences;

use super::coalesce::{self, Coalesce};
use super::loop_breaker::{self, LoopLimit};
use super::{advance_tasks, insert_lanes, lane_of, Delivery, DeliveryStatus, Lane, NewLanes};
use crate::db::dialect::insert_chunked;
use crate::db::is_transient;
use crate::db::schema::{deliveries, delivery_dedup};
use crate::db::{is_unique_violation, now, DbConnection, DbResult};
use crate::domain::RouteMode;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use sequences::{take_sequences, Sequences};
use std::collections::HashMap;

/// What intake stores; ids, sequence and times are made here. Serialized
/// as it waits in the intake spool while the database is away.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct NewDelivery {
    /// Made by intake (an ACP event's provenance names it).
    pub id: String,
    pub agent_id: String,
    /// The route that matched; None for a call the loop guard dropped
    /// before any route.
    pub route_id: Option<String>,
    pub mode: RouteMode,
    /// `(task id, task name)` for `acp_event`.
    pub task: Option<(String, String)>,
    pub dedup_key: Option<String>,
    pub method: String,
    pub path: String,
    pub headers: String,
    #[serde(with = "base64_bytes")]
    pub body: Vec<u8>,
    pub content: Option<String>,
    /// Why a route or the loop guard dropped the call: kept, for operators,
    /// as an `ignored` delivery that is never attempted (no task, no lane).
    pub ignored: Option<String>,
    /// The same event for a route's shadow agent: committed with this one
    /// (never for a redelivery), delivered apart, never answered for.
    pub shadow: Option<Box<NewDelivery>>,
    /// True for a shadow copy.
    pub is_shadow: bool,
    /// The loop breaker's setting for this event's task, when on.
    pub loop_limit: Option<LoopLimit>,
    /// The route's coalescing, when it gathers a task's events.
    pub coalesce: Option<Coalesce>,
}

/// The answer intake gives: the first call's ids for a redelivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub event_id: String,
    pub task_id: Option<String>,
    pub duplicate: bool,
    /// Stored as `held` by the loop breaker.
    pub held: bool,
}

/// A provider redelivery id, kept for the dedup window whatever happens to
/// the delivery row itself.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = delivery_dedup)]
struct DedupRow {
    agent_id: String,
    dedup_key: String,
    delivery_id: String,
    task_id: Option<String>,
    created_at: NaiveDateTime,
}

/// Commits a delivery (and its task's next sequence number) or, for a
/// provider redelivery within `dedup_window`, returns the first one.
pub fn enqueue(
    conn: &mut DbConnection,
    new: &NewDelivery,
    dedup_window: chrono::Duration,
) -> DbResult<Accepted> {
    let mut tries = 0;
    loop {
        tries += 1;
        let stored = conn.transaction(|conn| insert_all(conn, std::slice::from_ref(new)));
        let err = match stored {
            Ok(mut accepted) => return Ok(accepted.remove(0)),
            Err(e) if is_transient(&e) && tries < 5 => continue,
            Err(e) if is_unique_violation(&e) && tries < 5 => e,
            Err(e) => return Err(e.into()),
        };
        tracing::debug!(error = %err, "enqueue conflict, checking for a redelivery");
        let Some(key) = &new.dedup_key else { continue };
        let existing: Option<DedupRow> = delivery_dedup::table
            .find((&new.agent_id, key))
            .select(DedupRow::as_select())
            .first(conn)
            .optional()?;
        match existing {
            Some(first) if first.created_at > now() - dedup_window => {
                return Ok(Accepted {
                    event_id: first.delivery_id,
                    task_id: first.task_id,
                    duplicate: true,
                    held: false,
                })
            }
            Some(expired) => {
                diesel::delete(delivery_dedup::table.find((&expired.agent_id, &expired.dedup_key)))
                    .execute(conn)?;
            }
            None => {}
        }
    }
}

/// Commits several deliveries in one transaction (one fsync for all). Any
/// conflict (a redelivery, a racing first event of a task) fails the whole
/// batch; the caller then enqueues its items one by one.
pub fn enqueue_batch(conn: &mut DbConnection, batch: &[NewDelivery]) -> QueryResult<Vec<Accepted>> {
    conn.transaction(|conn| insert_all(conn, batch))
}

/// Which of `ids` are stored already (a spooled event moved before a
/// crash kept the mover from saying so).
pub fn stored_ids(
    conn: &mut DbConnection,
    ids: &[&str],
) -> QueryResult<std::collections::HashSet<String>> {
    let found: Vec<String> = deliveries::table
        .filter(deliveries::id.eq_any(ids))
        .select(deliveries::id)
        .load(conn)?;
    Ok(found.into_iter().collect())
}

/// The redelivery ids of the batch's calls that carry one.
fn dedup_rows(batch: &[&NewDelivery], rows: &[Delivery]) -> Vec<DedupRow> {
    batch
        .iter()
        .zip(rows)
        .filter_map(|(new, row)| {
            Some(DedupRow {
                agent_id: row.agent_id.clone(),
                dedup_key: new.dedup_key.clone()?,
                delivery_id: row.id.clone(),
                task_id: row.task_id.clone(),
                created_at: row.created_at,
            })
        })
        .collect()
}

/// The writes of one intake transaction: every task of the batch is locked
/// (in id order, as `lock_tasks` takes them everywhere) and bumped in two
/// statements, then the rows go in (see `dialect::insert_chunked`), so a batch holds
/// its task rows for a handful of round trips whatever its size. The first
/// statement on SQLite writes, so it takes its write lock at once.
fn insert_all(conn: &mut DbConnection, batch: &[NewDelivery]) -> QueryResult<Vec<Accepted>> {
    // Each call's shadow copy goes in right after it; only calls are answered.
    let all: Vec<&NewDelivery> = batch
        .iter()
        .flat_map(|new| std::iter::once(new).chain(new.shadow.as_deref()))
        .collect();
    let mut sequences = take_sequences(conn, &all)?;
    let guarded: Vec<_> = all.iter().map(|n| task_of(n).zip(n.loop_limit)).collect();
    let held = loop_breaker::decide(conn, &guarded)?;
    let rows = Rows::of(&all, &mut sequences, held);
    // One multi-row INSERT per chunk (SQLite allows 32766 bound values).
    let dedup = dedup_rows(&all, &rows.rows);
    insert_chunked::<_, DedupRow>(conn, delivery_dedup::table, &dedup, 256)?;
    insert_chunked::<_, Delivery>(conn, deliveries::table, &rows.rows, 128)?;
    insert_lanes(conn, &rows.lanes)?;
    advance_tasks(conn, &rows.held_heads, NewLanes::NeverNeeded)?;
    coalesce::hold_heads(conn, &gathering(&all, &rows.rows), now())?;
    Ok(answers(&all, &rows.rows))
}

/// The batch's rows, numbered, and what their tasks need: a lane for each
/// row that heads its task, and the tasks whose head was held.
struct Rows {
    rows: Vec<Delivery>,
    lanes: Vec<Lane>,
    held_heads: Vec<String>,
}

impl Rows {
    fn of(
        all: &[&NewDelivery],
        sequences: &mut HashMap<String, Sequences>,
        held: Vec<bool>,
    ) -> Self {
        let mut out = Self {
            rows: Vec::with_capacity(all.len()),
            lanes: Vec::new(),
            held_heads: Vec::new(),
        };
        for (new, held) in all.iter().zip(held) {
            let (sequence_id, is_head) = match task_of(new) {
                Some(task) => {
                    let seq = sequences.get_mut(task).expect("every task was bumped");
                    seq.next += 1;
                    (Some(seq.next - 1), seq.next - 1 == seq.head)
                }
                None => (None, new.ignored.is_none()),
            };
            let status = match (&new.ignored, held) {
                (Some(_), _) => DeliveryStatus::Ignored,
                (None, true) => DeliveryStatus::Held,
                (None, false) => DeliveryStatus::Pending,
            };
            out.push(delivery_row(new, sequence_id, status), is_head);
        }
        out
    }

    fn push(&mut self, row: Delivery, is_head: bool) {
        // A held event never heads its task; its task's head is found again.
        if is_head && row.status == DeliveryStatus::Held {
            self.held_heads.extend(row.task_id.clone());
        } else if is_head {
            let lane = lane_of(row.task_id.as_deref(), &row.id);
            let lane = Lane::new(&lane, &row.agent_id, &row.id, row.next_attempt_at);
            self.lanes.push(lane);
        }
        self.rows.push(row);
    }
}

/// The answers to the batch's calls (not their shadow copies).
fn answers(all: &[&NewDelivery], rows: &[Delivery]) -> Vec<Accepted> {
    rows.iter()
        .zip(all)
        .filter(|(_, new)| !new.is_shadow)
        .map(|(row, _)| Accepted {
            event_id: row.id.clone(),
            task_id: row.task_id.clone(),
            duplicate: false,
            held: row.status == DeliveryStatus::Held,
        })
        .collect()
}

/// The tasks of pending rows whose route coalesces, each once.
fn gathering(all: &[&NewDelivery], rows: &[Delivery]) -> Vec<(String, Coalesce)> {
    let mut gathering: Vec<(String, Coalesce)> = rows
        .iter()
        .zip(all)
        .filter(|(row, _)| row.status == DeliveryStatus::Pending)
        .filter_map(|(row, new)| Some((row.task_id.clone()?, new.coalesce?)))
        .collect();
    gathering.dedup_by(|a, b| a.0 == b.0);
    gathering
}

fn task_of(new: &NewDelivery) -> Option<&str> {
    new.task.as_ref().map(|(id, _)| id.as_str())
}

/// The row for `new`, pending from now (or ignored).
fn delivery_row(new: &NewDelivery, sequence_id: Option<i64>, status: DeliveryStatus) -> Delivery {
    let at = now();
    Delivery {
        id: new.id.clone(),
        agent_id: new.agent_id.clone(),
        route_id: new.route_id.clone(),
        mode: new.mode,
        task_id: new.task.as_ref().map(|(id, _)| id.clone()),
        sequence_id,
        dedup_key: None,
        method: new.method.clone(),
        path: new.path.clone(),
        headers: new.headers.clone(),
        body: new.body.clone(),
        content: new.content.clone(),
        status,
        attempts: 0,
        next_attempt_at: at,
        claimed_by: None,
        claimed_until: None,
        last_error: new.ignored.clone(),
        created_at: at,
        updated_at: at,
        delivered_at: None,
        budget_base: 0,
    }
}

/// A body as base64 in a spooled delivery's JSON (a third larger, not four times
/// as a JSON array of numbers would be).
pub mod base64_bytes {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        STANDARD
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}
