//! Claiming deliverable task heads. Each agent with room gets its own
//! limited subquery over `deliveries_ready` (agent, due time), so a claim
//! costs the same however many events wait behind heads or sit with busy
//! or paused agents; PostgreSQL skips rows another instance is claiming.
//! A claim writes only columns no index reads (token, owner, lease end), so
//! PostgreSQL can make it a heap-only update; a claimed head stays in the
//! index and is passed over until its lease ends.

use super::{retrying, Delivery, Task};
use crate::crypto::DataKey;
use crate::db::agents::Agent;
use crate::db::raw::{self, Param};
use crate::db::schema::{agent_tasks, deliveries};
use crate::db::{api_keys, now, DbConnection, DbResult};
use crate::domain::Secret;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::HashMap;

/// How many deliveries of one agent a claim may take.
#[derive(Debug, Clone)]
pub struct Room {
    pub agent: Agent,
    pub slots: usize,
}

/// A delivery this process now holds, with what the attempt needs.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub delivery: Delivery,
    pub agent: Agent,
    pub internal_key: Option<Secret>,
    pub task: Option<Task>,
}

/// What a claim stamps on the rows it takes.
#[derive(Debug, Clone, Copy)]
pub struct ClaimStamp<'a> {
    pub token: &'a str,
    pub owner: &'a str,
    pub lease_until: NaiveDateTime,
}

/// Opens agents' internal keys for claimed deliveries, through a cache
/// that outlives one claim.
pub struct InternalKeys<'a> {
    pub data_key: &'a DataKey,
    pub cache: &'a mut HashMap<String, Option<Secret>>,
}

/// Agents per statement: SQLite allows 500 terms in a compound SELECT.
const AGENTS_PER_STATEMENT: usize = 100;

/// Claims due heads, at most `slots` of each room's agent, stamping them.
pub fn claim(
    conn: &mut DbConnection,
    keys: &mut InternalKeys<'_>,
    stamp: ClaimStamp<'_>,
    rooms: &[Room],
) -> DbResult<Vec<Claimed>> {
    let rooms: Vec<&Room> = rooms.iter().filter(|r| r.slots > 0).collect();
    if rooms.is_empty() {
        return Ok(Vec::new());
    }
    let at = now();
    let rows = if rooms.len() <= AGENTS_PER_STATEMENT {
        // One statement commits on its own: no round trips for BEGIN/COMMIT.
        claim_chunk(conn, stamp, at, &rooms)?
    } else {
        retrying(conn, |conn| {
            let mut rows = Vec::new();
            for chunk in rooms.chunks(AGENTS_PER_STATEMENT) {
                rows.extend(claim_chunk(conn, stamp, at, chunk)?);
            }
            Ok(rows)
        })?
    };
    let agents: Vec<&Agent> = rooms.iter().map(|r| &r.agent).collect();
    with_context(conn, keys, &agents, rows)
}

/// Claims the new heads of `task_ids` (tasks whose head was just recorded)
/// when they are due and their agent deliverable: a busy task's next event
/// goes out without waiting for the next full claim.
pub fn claim_next_heads(
    conn: &mut DbConnection,
    keys: &mut InternalKeys<'_>,
    stamp: ClaimStamp<'_>,
    task_ids: &[String],
) -> DbResult<Vec<Claimed>> {
    if task_ids.is_empty() {
        return Ok(Vec::new());
    }
    let at = now();
    let sql = format!(
        "UPDATE deliveries SET claim_token = ?, claimed_by = ?, claimed_until = ? \
         WHERE status = 'pending' AND is_head = TRUE AND next_attempt_at <= ? \
         AND (claimed_until IS NULL OR claimed_until < ?) \
         AND (task_id, sequence_id) IN (SELECT t.id, t.head_sequence FROM agent_tasks t WHERE t.id IN ({})) \
         AND agent_id IN (SELECT a.id FROM agents a WHERE a.acp_url IS NOT NULL \
             AND a.deliveries_paused_at IS NULL) \
         RETURNING *",
        raw::placeholders(task_ids.len())
    );
    let mut params = stamp_params(stamp);
    params.extend([at.into(), at.into()]);
    params.extend(task_ids.iter().map(Param::from));
    let rows: Vec<Delivery> = raw::load(conn, &sql, &params)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let agents = crate::db::agents::deliverable(conn)?;
    let agents: Vec<&Agent> = agents.iter().collect();
    with_context(conn, keys, &agents, rows)
}

/// The values of `SET claim_token = ?, claimed_by = ?, claimed_until = ?`.
fn stamp_params(stamp: ClaimStamp<'_>) -> Vec<Param> {
    vec![
        stamp.token.into(),
        stamp.owner.into(),
        stamp.lease_until.into(),
    ]
}

fn claim_chunk(
    conn: &mut DbConnection,
    stamp: ClaimStamp<'_>,
    at: NaiveDateTime,
    rooms: &[&Room],
) -> QueryResult<Vec<Delivery>> {
    let skip_locked = match conn {
        DbConnection::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        DbConnection::Sqlite(_) => "",
    };
    let mut params = stamp_params(stamp);
    let mut heads = Vec::with_capacity(rooms.len());
    for (i, room) in rooms.iter().enumerate() {
        heads.push(format!(
            "SELECT id FROM (SELECT id FROM deliveries WHERE agent_id = ? AND status = 'pending' \
             AND is_head = TRUE AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until < ?) \
             ORDER BY next_attempt_at LIMIT ?{skip_locked}) h{i}"
        ));
        params.extend([
            Param::from(&room.agent.id),
            at.into(),
            at.into(),
            Param::Int(room.slots as i64),
        ]);
    }
    let sql = format!(
        "UPDATE deliveries SET claim_token = ?, claimed_by = ?, claimed_until = ? \
         WHERE id IN ({}) RETURNING *",
        heads.join(" UNION ALL ")
    );
    raw::load(conn, &sql, &params)
}

/// The claimed rows with their agents, internal keys and tasks, oldest first.
fn with_context(
    conn: &mut DbConnection,
    keys: &mut InternalKeys<'_>,
    agents: &[&Agent],
    rows: Vec<Delivery>,
) -> DbResult<Vec<Claimed>> {
    let task_ids: Vec<&String> = rows.iter().filter_map(|d| d.task_id.as_ref()).collect();
    let mut tasks: HashMap<String, Task> = HashMap::new();
    for chunk in task_ids.chunks(500) {
        let found: Vec<Task> = agent_tasks::table
            .filter(agent_tasks::id.eq_any(chunk))
            .select(Task::as_select())
            .load(conn)?;
        tasks.extend(found.into_iter().map(|t| (t.id.clone(), t)));
    }
    let agents: HashMap<&str, &Agent> = agents.iter().map(|a| (a.id.as_str(), *a)).collect();
    let mut claimed = Vec::with_capacity(rows.len());
    for delivery in rows {
        let Some(agent) = agents.get(delivery.agent_id.as_str()) else {
            continue; // cannot happen: the claim named only deliverable agents
        };
        if !keys.cache.contains_key(&agent.id) {
            let key = api_keys::find_internal_secret(conn, keys.data_key, &agent.id)?;
            keys.cache.insert(agent.id.clone(), key);
        }
        claimed.push(Claimed {
            task: delivery
                .task_id
                .as_ref()
                .and_then(|t| tasks.get(t).cloned()),
            internal_key: keys.cache[&agent.id].clone(),
            agent: (*agent).clone(),
            delivery,
        });
    }
    claimed.sort_by_key(|c| c.delivery.created_at);
    Ok(claimed)
}

/// Gives back claims that were never attempted: claimable again at once,
/// by any instance. A claim that no longer holds its row is left alone.
pub fn release_claims(conn: &mut DbConnection, claims: &[(String, String)]) -> QueryResult<()> {
    if claims.is_empty() {
        return Ok(());
    }
    conn.transaction(|conn| {
        for (id, token) in claims {
            diesel::update(
                deliveries::table
                    .find(id)
                    .filter(deliveries::claim_token.eq(token))
                    .filter(deliveries::status.eq(super::PENDING)),
            )
            .set((
                deliveries::claim_token.eq(None::<String>),
                deliveries::claimed_by.eq(None::<String>),
                deliveries::claimed_until.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?;
        }
        Ok(())
    })
}

/// Drops every claim: run at start-up on SQLite, where one process
/// (holding the database's lock file) owns the queue.
pub fn release_all_claims(conn: &mut DbConnection) -> QueryResult<usize> {
    diesel::update(
        deliveries::table
            .filter(deliveries::claim_token.is_not_null())
            .filter(deliveries::status.eq(super::PENDING)),
    )
    .set((
        deliveries::claim_token.eq(None::<String>),
        deliveries::claimed_by.eq(None::<String>),
        deliveries::claimed_until.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)
}
