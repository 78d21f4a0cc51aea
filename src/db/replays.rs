//! Replays: stored deliveries of one agent over a period, delivered again
//! to another agent (a new version), each pair kept to compare the two
//! agents' answers side by side.

mod report;

pub use report::{counts, page, Counts, Outline};

use super::deliveries::{self, Delivery, DeliveryStatus, NewDelivery};
use super::schema::{agent_tasks, deliveries as deliveries_table};
use super::schema::{replay_items, replays};
use super::{now, DbConnection};
use crate::db::dialect::insert_chunked;
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
/// The originals' ids are read first, their rows (bodies and all) a batch
/// at a time: a replay holds one batch of bodies, not all of them.
pub fn create(conn: &mut DbConnection, spec: &ReplaySpec) -> QueryResult<Replay> {
    let original_ids = original_ids(conn, spec)?;
    let replay = Replay {
        id: uuid::Uuid::new_v4().to_string(),
        from_agent_id: spec.from_agent_id.clone(),
        to_agent_id: spec.to_agent_id.clone(),
        route_id: spec.route_id.clone(),
        since: spec.since,
        until: spec.until,
        total: original_ids.len() as i64,
        created_at: now(),
    };
    conn.transaction(|conn| {
        diesel::insert_into(replays::table)
            .values(&replay)
            .execute(conn)
    })?;
    let mut replayed = 0;
    for (chunk_index, ids) in original_ids.chunks(BATCH).enumerate() {
        let chunk = &originals_by_id(conn, ids)?;
        replayed += chunk.len() as i64;
        let names = task_names(conn, chunk)?;
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
            insert_chunked::<_, Item>(conn, replay_items::table, &items, 200)
        })?;
    }
    if replayed != replay.total {
        // Retention purged some between the two reads.
        diesel::update(replays::table.find(&replay.id))
            .set(replays::total.eq(replayed))
            .execute(conn)?;
    }
    Ok(Replay {
        total: replayed,
        ..replay
    })
}

/// The ids of what `spec` replays, in order.
fn original_ids(conn: &mut DbConnection, spec: &ReplaySpec) -> QueryResult<Vec<String>> {
    let mut query = deliveries_table::table
        .filter(deliveries_table::agent_id.eq(&spec.from_agent_id))
        .filter(deliveries_table::created_at.ge(spec.since))
        .filter(deliveries_table::created_at.lt(spec.until))
        .filter(deliveries_table::status.ne(DeliveryStatus::Ignored))
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
        .select(deliveries_table::id)
        .load(conn)
}

/// The deliveries `ids`, in that order (one retention purged is left out).
fn originals_by_id(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<Delivery>> {
    let mut rows: HashMap<String, Delivery> = deliveries_table::table
        .filter(deliveries_table::id.eq_any(ids))
        .select(Delivery::as_select())
        .load(conn)?
        .into_iter()
        .map(|d| (d.id.clone(), d))
        .collect();
    Ok(ids.iter().filter_map(|id| rows.remove(id)).collect())
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
        mode: original.mode,
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
