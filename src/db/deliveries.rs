//! The delivery queue: `deliveries` rows committed before the 202, claimed
//! with a lease for each attempt, and every attempt kept in
//! `delivery_attempts`. Claims are conditional updates, so several processes
//! on one database never attempt one delivery at once.

use super::agents::{self, Agent};
use super::schema::{agent_tasks, deliveries, delivery_attempts};
use super::{api_keys, is_unique_violation, now, DbConnection, DbResult};
use crate::crypto::DataKey;
use crate::domain::Secret;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::{HashMap, HashSet};

pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";

/// A stored delivery.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = deliveries, treat_none_as_default_value = false)]
pub struct Delivery {
    pub id: String,
    pub agent_id: String,
    pub route_id: Option<String>,
    pub mode: String,
    pub task_id: Option<String>,
    pub sequence_id: Option<i64>,
    pub dedup_key: Option<String>,
    pub method: String,
    pub path: String,
    /// JSON array of `[name, value]` pairs, credentials already removed.
    pub headers: String,
    pub body: Vec<u8>,
    /// The ACP event content (JSON) for `acp_event` deliveries.
    pub content: Option<String>,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub delivered_at: Option<NaiveDateTime>,
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
    pub outcome: String,
    pub status_code: Option<i32>,
    pub error: Option<String>,
}

/// A task key's row: its sequence counter and whether the agent knows it.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = agent_tasks)]
pub struct Task {
    pub id: String,
    pub agent_id: String,
    pub name: String,
    pub last_sequence: i64,
    pub created_on_agent_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

/// What intake stores; ids, sequence and times are made by [`enqueue`].
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
        let stored = conn.transaction(|conn| insert_delivery(conn, new));
        let err = match stored {
            Ok(accepted) => return Ok(accepted),
            Err(e) if is_transient(&e) && tries < 5 => continue,
            Err(e) if is_unique_violation(&e) && tries < 5 => e,
            Err(e) => return Err(e.into()),
        };
        tracing::debug!(error = %err, "enqueue conflict, checking for a redelivery");
        let Some(key) = &new.dedup_key else { continue };
        let existing: Option<Delivery> = deliveries::table
            .filter(deliveries::agent_id.eq(&new.agent_id))
            .filter(deliveries::dedup_key.eq(key))
            .select(Delivery::as_select())
            .first(conn)
            .optional()?;
        match existing {
            Some(first) if first.created_at > now() - dedup_window => {
                return Ok(Accepted {
                    event_id: first.id,
                    task_id: first.task_id,
                    duplicate: true,
                })
            }
            Some(expired) => {
                diesel::update(deliveries::table.find(&expired.id))
                    .set(deliveries::dedup_key.eq(None::<String>))
                    .execute(conn)?;
            }
            None => {}
        }
    }
}

/// Commits several deliveries in one transaction (one fsync for all), in
/// order. Any conflict (a redelivery, a racing first event of a task) fails
/// the whole batch; the caller then enqueues its items one by one.
pub fn enqueue_batch(conn: &mut DbConnection, batch: &[NewDelivery]) -> QueryResult<Vec<Accepted>> {
    conn.transaction(|conn| {
        let rows = batch
            .iter()
            .map(|new| delivery_row(conn, new))
            .collect::<QueryResult<Vec<_>>>()?;
        // One multi-row INSERT per chunk (SQLite allows 32766 bound values).
        for chunk in rows.chunks(128) {
            let insert = diesel::insert_into(deliveries::table).values(chunk);
            match conn {
                DbConnection::Postgres(pg) => insert.execute(pg)?,
                DbConnection::Sqlite(lite) => insert.execute(lite)?,
            };
        }
        Ok(rows.into_iter().map(accepted).collect())
    })
}

/// The writes of one intake. The first statement writes, so SQLite takes its
/// write lock at once (waiting on busy_timeout) instead of failing to upgrade.
fn insert_delivery(conn: &mut DbConnection, new: &NewDelivery) -> QueryResult<Accepted> {
    let row = delivery_row(conn, new)?;
    diesel::insert_into(deliveries::table)
        .values(&row)
        .execute(conn)?;
    Ok(accepted(row))
}

fn accepted(row: Delivery) -> Accepted {
    Accepted {
        event_id: row.id,
        task_id: row.task_id,
        duplicate: false,
    }
}

/// The row for `new`, with its task's next sequence number taken.
fn delivery_row(conn: &mut DbConnection, new: &NewDelivery) -> QueryResult<Delivery> {
    let sequence_id = match &new.task {
        Some((id, name)) => Some(next_sequence(conn, &new.agent_id, id, name)?),
        None => None,
    };
    let at = now();
    let row = Delivery {
        id: uuid::Uuid::new_v4().to_string(),
        agent_id: new.agent_id.clone(),
        route_id: Some(new.route_id.clone()),
        mode: new.mode.clone(),
        task_id: new.task.as_ref().map(|(id, _)| id.clone()),
        sequence_id,
        dedup_key: new.dedup_key.clone(),
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
    };
    Ok(row)
}

fn next_sequence(
    conn: &mut DbConnection,
    agent_id: &str,
    id: &str,
    name: &str,
) -> QueryResult<i64> {
    if let Some(bumped) = bump_sequence(conn, id)? {
        return Ok(bumped);
    }
    let task = Task {
        id: id.to_owned(),
        agent_id: agent_id.to_owned(),
        name: name.to_owned(),
        last_sequence: 1,
        created_on_agent_at: None,
        created_at: now(),
    };
    diesel::insert_into(agent_tasks::table)
        .values(&task)
        .execute(conn)?;
    Ok(1)
}

#[derive(QueryableByName)]
struct Sequence {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    last_sequence: i64,
}

/// The task's next sequence number in one round trip (`RETURNING`, which
/// both backends have but the portable query builder does not offer).
fn bump_sequence(conn: &mut DbConnection, id: &str) -> QueryResult<Option<i64>> {
    use diesel::sql_types::Text;
    const SQL: &str = "UPDATE agent_tasks SET last_sequence = last_sequence + 1 WHERE id = {} RETURNING last_sequence";
    let bumped: Option<Sequence> = match conn {
        DbConnection::Postgres(pg) => diesel::sql_query(SQL.replace("{}", "$1"))
            .bind::<Text, _>(id)
            .get_result(pg)
            .optional()?,
        DbConnection::Sqlite(lite) => diesel::sql_query(SQL.replace("{}", "?"))
            .bind::<Text, _>(id)
            .get_result(lite)
            .optional()?,
    };
    Ok(bumped.map(|s| s.last_sequence))
}

/// A delivery this process now holds, with what the attempt needs.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub delivery: Delivery,
    pub agent: Agent,
    pub internal_key: Option<Secret>,
    pub task: Option<Task>,
}

/// No live claim at `at`: never claimed, released, or its lease ran out.
#[diesel::dsl::auto_type]
fn unclaimed_at(at: NaiveDateTime) -> _ {
    deliveries::claimed_until
        .is_null()
        .or(deliveries::claimed_until.lt(at))
}

/// Claims due deliveries for `owner` until `lease_until`: at most `limit`,
/// at most `free(agent_id)` per agent, and for each task only its earliest
/// pending event.
pub fn claim(
    conn: &mut DbConnection,
    data_key: &DataKey,
    owner: &str,
    lease_until: NaiveDateTime,
    limit: usize,
    free: &dyn Fn(&str) -> usize,
) -> DbResult<Vec<Claimed>> {
    let at = now();
    let due: Vec<(String, String, Option<String>, Option<i64>)> = deliveries::table
        .filter(deliveries::status.eq(PENDING))
        .filter(deliveries::next_attempt_at.le(at))
        .filter(unclaimed_at(at))
        // The partial index on pending rows serves this order with no sort;
        // per-task order is kept by the head check below, not by this order.
        .order(deliveries::next_attempt_at.asc())
        .limit(256)
        .select((
            deliveries::id,
            deliveries::agent_id,
            deliveries::task_id,
            deliveries::sequence_id,
        ))
        .load(conn)?;
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let task_ids: Vec<&String> = due.iter().filter_map(|d| d.2.as_ref()).collect();
    let heads: HashMap<String, Option<i64>> = deliveries::table
        .filter(deliveries::status.eq(PENDING))
        .filter(deliveries::task_id.eq_any(&task_ids))
        .group_by(deliveries::task_id)
        .select((
            deliveries::task_id,
            diesel::dsl::min(deliveries::sequence_id),
        ))
        .load::<(Option<String>, Option<i64>)>(conn)?
        .into_iter()
        .filter_map(|(task, min)| task.map(|t| (t, min)))
        .collect();

    // One transaction for all claims: one commit instead of one per row.
    let won = conn.transaction(|conn| -> QueryResult<Vec<String>> {
        relaxed_commit(conn)?;
        let mut per_agent: HashMap<&str, usize> = HashMap::new();
        let mut tasks_taken: HashSet<&str> = HashSet::new();
        let mut won = Vec::new();
        for (id, agent_id, task_id, sequence_id) in &due {
            if won.len() >= limit {
                break;
            }
            if let Some(task) = task_id {
                let is_head = heads.get(task).copied().flatten() == *sequence_id;
                if !is_head || !tasks_taken.insert(task) {
                    continue;
                }
            }
            let taken = per_agent.entry(agent_id).or_default();
            if *taken >= free(agent_id) {
                continue;
            }
            let claimed = diesel::update(
                deliveries::table
                    .find(id)
                    .filter(deliveries::status.eq(PENDING))
                    .filter(unclaimed_at(at)),
            )
            .set((
                deliveries::claimed_by.eq(owner),
                deliveries::claimed_until.eq(lease_until),
            ))
            .execute(conn)?;
            if claimed == 1 {
                *taken += 1;
                won.push(id.clone());
            }
        }
        Ok(won)
    })?;
    load_claimed(conn, data_key, &won)
}

fn load_claimed(
    conn: &mut DbConnection,
    data_key: &DataKey,
    ids: &[String],
) -> DbResult<Vec<Claimed>> {
    let rows: Vec<Delivery> = deliveries::table
        .filter(deliveries::id.eq_any(ids))
        .select(Delivery::as_select())
        .load(conn)?;
    let mut agents_by_id: HashMap<String, (Agent, Option<Secret>)> = HashMap::new();
    let mut claimed = Vec::with_capacity(rows.len());
    for delivery in rows {
        if !agents_by_id.contains_key(&delivery.agent_id) {
            let Some(agent) = agents::find_by_id(conn, &delivery.agent_id)? else {
                continue; // deleted since: its deliveries went with it
            };
            let key = api_keys::find_internal_secret(conn, data_key, &agent.id)?;
            agents_by_id.insert(agent.id.clone(), (agent, key));
        }
        let (agent, internal_key) = agents_by_id[&delivery.agent_id].clone();
        let task = match &delivery.task_id {
            Some(id) => agent_tasks::table
                .find(id)
                .select(Task::as_select())
                .first(conn)
                .optional()?,
            None => None,
        };
        claimed.push(Claimed {
            delivery,
            agent,
            internal_key,
            task,
        });
    }
    claimed.sort_by_key(|c| c.delivery.created_at);
    Ok(claimed)
}

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
    pub attempt: i32,
    pub started_at: NaiveDateTime,
    pub outcome: Outcome,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    /// Set when this attempt's `task/create` succeeded.
    pub task_created: Option<String>,
}

/// Records the attempt and moves the delivery on; releases the claim.
pub fn record(conn: &mut DbConnection, rec: &AttemptRecord) -> DbResult<()> {
    let mut tries = 0;
    loop {
        tries += 1;
        match record_once(conn, rec) {
            Err(e) if is_transient(&e) && tries < 5 => {
                tracing::debug!(error = %e, "recording an attempt met a transient conflict; again");
            }
            other => return Ok(other?),
        }
    }
}

fn record_once(conn: &mut DbConnection, rec: &AttemptRecord) -> QueryResult<()> {
    conn.transaction(|conn| {
        relaxed_commit(conn)?;
        let at = now();
        // The task row first, as intake locks it first: intake bumps the
        // sequence and then inserts (whose dedup check may wait on this
        // delivery's row), so taking the task row last here could deadlock.
        if let Some(task_id) = &rec.task_created {
            diesel::update(agent_tasks::table.find(task_id))
                .set(agent_tasks::created_on_agent_at.eq(Some(at)))
                .execute(conn)?;
        }
        let (outcome, status, next) = match &rec.outcome {
            Outcome::Delivered => ("delivered", DELIVERED, at),
            Outcome::Retry { at: next } => ("retry", PENDING, *next),
            Outcome::Failed => ("failed", FAILED, at),
        };
        diesel::insert_into(delivery_attempts::table)
            .values(&Attempt {
                id: uuid::Uuid::new_v4().to_string(),
                delivery_id: rec.delivery_id.clone(),
                attempt: rec.attempt,
                started_at: rec.started_at,
                finished_at: at,
                outcome: outcome.to_owned(),
                status_code: rec.status_code,
                error: rec.error.clone(),
            })
            .execute(conn)?;
        diesel::update(deliveries::table.find(&rec.delivery_id))
            .set((
                deliveries::attempts.eq(rec.attempt),
                deliveries::status.eq(status),
                deliveries::next_attempt_at.eq(next),
                deliveries::last_error.eq(&rec.error),
                deliveries::claimed_by.eq(None::<String>),
                deliveries::claimed_until.eq(None::<NaiveDateTime>),
                deliveries::updated_at.eq(at),
                deliveries::delivered_at.eq((rec.outcome == Outcome::Delivered).then_some(at)),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// A deadlock, serialization failure or busy database: the same work may
/// simply be tried again.
fn is_transient(err: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match err {
        Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        Error::DatabaseError(_, info) => {
            let message = info.message();
            message.contains("deadlock detected") || message.contains("database is locked")
        }
        _ => false,
    }
}

/// Claims and attempt records need not wait for the WAL flush on PostgreSQL:
/// a claim lost to a database crash is only a lease that vanishes, and a lost
/// record means the delivery is attempted again (at least once, as promised).
/// Intake never uses this: its 202 means committed.
fn relaxed_commit(conn: &mut DbConnection) -> QueryResult<()> {
    use diesel::connection::SimpleConnection;
    match conn {
        DbConnection::Postgres(pg) => pg.batch_execute("SET LOCAL synchronous_commit TO OFF"),
        DbConnection::Sqlite(_) => Ok(()),
    }
}

/// Drops every claim: run at start-up on SQLite, where one process owns the queue.
pub fn release_all_claims(conn: &mut DbConnection) -> QueryResult<usize> {
    diesel::update(deliveries::table.filter(deliveries::claimed_by.is_not_null()))
        .set((
            deliveries::claimed_by.eq(None::<String>),
            deliveries::claimed_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
}

/// Deliveries for the admin list, newest first.
pub fn list(
    conn: &mut DbConnection,
    agent_id: Option<&str>,
    status: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<Delivery>> {
    let mut query = deliveries::table.select(Delivery::as_select()).into_boxed();
    if let Some(agent_id) = agent_id {
        query = query.filter(deliveries::agent_id.eq(agent_id.to_owned()));
    }
    if let Some(status) = status {
        query = query.filter(deliveries::status.eq(status.to_owned()));
    }
    query
        .order((deliveries::created_at.desc(), deliveries::id.desc()))
        .limit(limit)
        .load(conn)
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<(Delivery, Vec<Attempt>)>> {
    let Some(delivery) = deliveries::table
        .find(id)
        .select(Delivery::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let attempts = delivery_attempts::table
        .filter(delivery_attempts::delivery_id.eq(id))
        .order(delivery_attempts::attempt.asc())
        .select(Attempt::as_select())
        .load(conn)?;
    Ok(Some((delivery, attempts)))
}

/// A failed delivery back to pending, due now; false unless it was failed.
pub fn retry(conn: &mut DbConnection, id: &str) -> QueryResult<bool> {
    let at = now();
    let changed = diesel::update(
        deliveries::table
            .find(id)
            .filter(deliveries::status.eq(FAILED)),
    )
    .set((
        deliveries::status.eq(PENDING),
        deliveries::next_attempt_at.eq(at),
        deliveries::updated_at.eq(at),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}
