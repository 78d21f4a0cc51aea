//! Intake's writes: a delivery row, its task's next sequence number (and
//! whether it is the task's head), and its provider redelivery id.

use super::{insert_lanes, is_transient, lane_of, Delivery, Lane, Task, PENDING};
use crate::db::raw::{self, Param};
use crate::db::schema::{agent_tasks, deliveries, delivery_dedup};
use crate::db::{is_unique_violation, now, DbConnection, DbResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// What intake stores; ids, sequence and times are made here.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub agent_id: String,
    pub route_id: String,
    pub mode: String,
    /// `(task id, task name)` for `acp_event`.
    pub task: Option<(String, String)>,
    pub dedup_key: Option<String>,
    pub method: String,
    pub path: String,
    pub headers: String,
    pub body: Vec<u8>,
    pub content: Option<String>,
}

/// The answer intake gives: the first call's ids for a redelivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub event_id: String,
    pub task_id: Option<String>,
    pub duplicate: bool,
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

/// The writes of one intake transaction. Task rows are bumped (and so
/// locked) in id order, as `lock_tasks` takes them; the first statement writes, so SQLite takes its
/// write lock at once (waiting on busy_timeout) instead of failing to upgrade.
fn insert_all(conn: &mut DbConnection, batch: &[NewDelivery]) -> QueryResult<Vec<Accepted>> {
    let mut order: Vec<usize> = (0..batch.len()).collect();
    order.sort_by_key(|&i| task_of(&batch[i]));
    let mut rows: Vec<Option<Delivery>> = vec![None; batch.len()];
    let mut lanes = Vec::new();
    for i in order {
        let (row, head) = delivery_row(conn, &batch[i])?;
        if head {
            let lane = lane_of(row.task_id.as_deref(), &row.id);
            lanes.push(Lane::new(
                &lane,
                &row.agent_id,
                &row.id,
                row.next_attempt_at,
            ));
        }
        rows[i] = Some(row);
    }
    let rows: Vec<Delivery> = rows.into_iter().flatten().collect();
    let dedup: Vec<DedupRow> = batch
        .iter()
        .zip(&rows)
        .filter_map(|(new, row)| {
            Some(DedupRow {
                agent_id: row.agent_id.clone(),
                dedup_key: new.dedup_key.clone()?,
                delivery_id: row.id.clone(),
                task_id: row.task_id.clone(),
                created_at: row.created_at,
            })
        })
        .collect();
    // One multi-row INSERT per chunk (SQLite allows 32766 bound values).
    for chunk in dedup.chunks(256) {
        let insert = diesel::insert_into(delivery_dedup::table).values(chunk);
        match conn {
            DbConnection::Postgres(pg) => insert.execute(pg)?,
            DbConnection::Sqlite(lite) => insert.execute(lite)?,
        };
    }
    for chunk in rows.chunks(128) {
        let insert = diesel::insert_into(deliveries::table).values(chunk);
        match conn {
            DbConnection::Postgres(pg) => insert.execute(pg)?,
            DbConnection::Sqlite(lite) => insert.execute(lite)?,
        };
    }
    insert_lanes(conn, &lanes)?;
    Ok(rows
        .into_iter()
        .map(|row| Accepted {
            event_id: row.id,
            task_id: row.task_id,
            duplicate: false,
        })
        .collect())
}

fn task_of(new: &NewDelivery) -> Option<&str> {
    new.task.as_ref().map(|(id, _)| id.as_str())
}

/// The row for `new`, with its task's next sequence number taken, and
/// whether it heads its lane (nothing else of its task is pending).
fn delivery_row(conn: &mut DbConnection, new: &NewDelivery) -> QueryResult<(Delivery, bool)> {
    let (sequence_id, is_head) = match &new.task {
        Some((id, name)) => {
            let (sequence, head) = next_sequence(conn, &new.agent_id, id, name)?;
            (Some(sequence), sequence == head)
        }
        None => (None, true),
    };
    let at = now();
    let row = Delivery {
        id: uuid::Uuid::new_v4().to_string(),
        agent_id: new.agent_id.clone(),
        route_id: Some(new.route_id.clone()),
        mode: new.mode.clone(),
        task_id: new.task.as_ref().map(|(id, _)| id.clone()),
        sequence_id,
        dedup_key: None,
        method: new.method.clone(),
        path: new.path.clone(),
        headers: new.headers.clone(),
        body: new.body.clone(),
        content: new.content.clone(),
        status: PENDING.to_owned(),
        attempts: 0,
        next_attempt_at: at,
        claimed_by: None,
        claimed_until: None,
        last_error: None,
        created_at: at,
        updated_at: at,
        delivered_at: None,
        budget_base: 0,
    };
    Ok((row, is_head))
}

#[derive(QueryableByName)]
struct Sequence {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    last_sequence: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    head_sequence: i64,
}

/// The task's next sequence number and its head's, in one round trip.
fn next_sequence(
    conn: &mut DbConnection,
    agent_id: &str,
    id: &str,
    name: &str,
) -> QueryResult<(i64, i64)> {
    const BUMP: &str = "UPDATE agent_tasks SET last_sequence = last_sequence + 1, \
        head_sequence = COALESCE(head_sequence, last_sequence + 1) \
        WHERE id = ? RETURNING last_sequence, head_sequence";
    let bumped: Vec<Sequence> = raw::load(conn, BUMP, &[Param::from(id)])?;
    if let Some(s) = bumped.first() {
        return Ok((s.last_sequence, s.head_sequence));
    }
    let task = Task {
        id: id.to_owned(),
        agent_id: agent_id.to_owned(),
        name: name.to_owned(),
        last_sequence: 1,
        created_on_agent_at: None,
        created_at: now(),
        head_sequence: Some(1),
    };
    diesel::insert_into(agent_tasks::table)
        .values(&task)
        .execute(conn)?;
    Ok((1, 1))
}
