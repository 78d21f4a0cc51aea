//! Replays: stored deliveries of one agent over a period, delivered again
//! to another agent (a new version), each pair kept to compare the two
//! agents' answers side by side.

use super::deliveries::{self, Attempt, Delivery, NewDelivery, IGNORED};
use super::schema::{agent_tasks, deliveries as deliveries_table, delivery_attempts};
use super::schema::{replay_items, replays};
use super::{now, DbConnection};
use crate::domain::task_id;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::HashMap;

/// Rows enqueued per transaction, so intake never waits long behind a replay.
const BATCH: usize = 500;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = replays)]
pub struct Replay {
    pub id: String,
    pub from_agent_id: String,
    pub to_agent_id: String,
    pub route_id: Option<String>,
    pub since: NaiveDateTime,
    pub until: NaiveDateTime,
    pub total: i64,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = replay_items)]
struct Item {
    replay_id: String,
    position: i64,
    original_id: String,
    replayed_id: String,
}

/// What to replay: `from`'s deliveries created in `[since, until)` (of
/// `route_id` when given), at most `limit`, oldest first.
#[derive(Debug, Clone)]
pub struct ReplaySpec {
    pub from_agent_id: String,
    pub to_agent_id: String,
    pub route_id: Option<String>,
    pub since: NaiveDateTime,
    pub until: NaiveDateTime,
    pub limit: i64,
}

/// Enqueues the replay's deliveries for the target agent (in the
/// originals' order, so each task keeps its order) and records the pairs.
pub fn create(conn: &mut DbConnection, spec: &ReplaySpec) -> QueryResult<Replay> {
    let originals = originals(conn, spec)?;
    let names = task_names(conn, &originals)?;
    let replay = Replay {
        id: uuid::Uuid::new_v4().to_string(),
        from_agent_id: spec.from_agent_id.clone(),
        to_agent_id: spec.to_agent_id.clone(),
        route_id: spec.route_id.clone(),
        since: spec.since,
        until: spec.until,
        total: originals.len() as i64,
        created_at: now(),
    };
    conn.transaction(|conn| {
        diesel::insert_into(replays::table)
            .values(&replay)
            .execute(conn)
    })?;
    for (chunk_index, chunk) in originals.chunks(BATCH).enumerate() {
        let copies: Vec<NewDelivery> = chunk
            .iter()
            .map(|d| copy_for(d, &spec.to_agent_id, &names))
            .collect();
        let items: Vec<Item> = chunk
            .iter()
            .zip(&copies)
            .enumerate()
            .map(|(i, (original, copy))| Item {
                replay_id: replay.id.clone(),
                position: (chunk_index * BATCH + i) as i64,
                original_id: original.id.clone(),
                replayed_id: copy.id.clone(),
            })
            .collect();
        conn.transaction(|conn| {
            deliveries::enqueue_batch(conn, &copies)?;
            for rows in items.chunks(200) {
                let insert = diesel::insert_into(replay_items::table).values(rows);
                match conn {
                    DbConnection::Postgres(pg) => insert.execute(pg)?,
                    DbConnection::Sqlite(lite) => insert.execute(lite)?,
                };
            }
            QueryResult::Ok(())
        })?;
    }
    Ok(replay)
}

fn originals(conn: &mut DbConnection, spec: &ReplaySpec) -> QueryResult<Vec<Delivery>> {
    let mut query = deliveries_table::table
        .filter(deliveries_table::agent_id.eq(&spec.from_agent_id))
        .filter(deliveries_table::created_at.ge(spec.since))
        .filter(deliveries_table::created_at.lt(spec.until))
        .filter(deliveries_table::status.ne(IGNORED))
        .into_boxed();
    if let Some(route) = &spec.route_id {
        query = query.filter(deliveries_table::route_id.eq(route.clone()));
    }
    query
        .order((
            deliveries_table::created_at.asc(),
            deliveries_table::sequence_id.asc(),
            deliveries_table::id.asc(),
        ))
        .limit(spec.limit)
        .select(Delivery::as_select())
        .load(conn)
}

/// The task names (keys) of the originals' tasks.
fn task_names(
    conn: &mut DbConnection,
    originals: &[Delivery],
) -> QueryResult<HashMap<String, String>> {
    let mut ids: Vec<&String> = originals
        .iter()
        .filter_map(|d| d.task_id.as_ref())
        .collect();
    ids.sort();
    ids.dedup();
    let mut names = HashMap::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<(String, String)> = agent_tasks::table
            .filter(agent_tasks::id.eq_any(chunk))
            .select((agent_tasks::id, agent_tasks::name))
            .load(conn)?;
        names.extend(rows);
    }
    Ok(names)
}

/// The original delivered again to `agent_id`: the same request or
/// content, the same task key in the agent's own namespace, provenance
/// naming the copy and what it replays.
fn copy_for(original: &Delivery, agent_id: &str, names: &HashMap<String, String>) -> NewDelivery {
    let id = uuid::Uuid::new_v4().to_string();
    let task = original
        .task_id
        .as_ref()
        .and_then(|t| names.get(t))
        .map(|name| (task_id(agent_id, name), name.clone()));
    let content = original.content.as_deref().map(|c| {
        let mut value: serde_json::Value = serde_json::from_str(c).unwrap_or_default();
        if let Some(provenance) = value.get_mut("provenance") {
            provenance["delivery_id"] = id.clone().into();
            provenance["replay_of"] = original.id.clone().into();
        }
        value.to_string()
    });
    NewDelivery {
        id,
        agent_id: agent_id.to_owned(),
        route_id: original.route_id.clone(),
        mode: original.mode.clone(),
        task,
        dedup_key: None,
        method: original.method.clone(),
        path: original.path.clone(),
        headers: original.headers.clone(),
        body: original.body.clone(),
        content,
        ignored: None,
        shadow: None,
        is_shadow: false,
        loop_limit: None,
        coalesce: None,
    }
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Replay>> {
    replays::table
        .find(id)
        .select(Replay::as_select())
        .first(conn)
        .optional()
}

/// One side of a pair: the delivery's status and its last attempt's
/// answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outline {
    pub delivery_id: String,
    /// `purged` when retention removed it.
    pub status: String,
    pub last_error: Option<String>,
    pub status_code: Option<i32>,
    pub response: Option<String>,
    pub latency_ms: Option<i64>,
}

/// Every pair (original, replayed) of the replay, in order.
pub fn pairs(conn: &mut DbConnection, replay_id: &str) -> QueryResult<Vec<(Outline, Outline)>> {
    let items: Vec<Item> = replay_items::table
        .filter(replay_items::replay_id.eq(replay_id))
        .order(replay_items::position.asc())
        .select(Item::as_select())
        .load(conn)?;
    let ids: Vec<&String> = items
        .iter()
        .flat_map(|i| [&i.original_id, &i.replayed_id])
        .collect();
    let outlines = outlines(conn, &ids)?;
    let of = |id: &String| {
        outlines.get(id).cloned().unwrap_or_else(|| Outline {
            delivery_id: id.clone(),
            status: "purged".into(),
            ..Outline::default()
        })
    };
    Ok(items
        .iter()
        .map(|i| (of(&i.original_id), of(&i.replayed_id)))
        .collect())
}

/// Status and last answer of each delivery, read in chunks.
fn outlines(conn: &mut DbConnection, ids: &[&String]) -> QueryResult<HashMap<String, Outline>> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let rows: Vec<(String, String, Option<String>)> = deliveries_table::table
            .filter(deliveries_table::id.eq_any(chunk))
            .select((
                deliveries_table::id,
                deliveries_table::status,
                deliveries_table::last_error,
            ))
            .load(conn)?;
        for (id, status, last_error) in rows {
            let outline = Outline {
                delivery_id: id.clone(),
                status,
                last_error,
                ..Outline::default()
            };
            out.insert(id, outline);
        }
        let attempts: Vec<Attempt> = delivery_attempts::table
            .filter(delivery_attempts::delivery_id.eq_any(chunk))
            .order(delivery_attempts::attempt.asc())
            .select(Attempt::as_select())
            .load(conn)?;
        for attempt in attempts {
            if let Some(outline) = out.get_mut(&attempt.delivery_id) {
                outline.status_code = attempt.status_code;
                outline.response = attempt.response;
                outline.latency_ms =
                    Some((attempt.finished_at - attempt.started_at).num_milliseconds());
            }
        }
    }
    Ok(out)
}
