//! Claiming lanes. Each agent with room gets its own limited subquery over
//! `delivery_lanes_ready` (agent, due time), so a claim costs the same
//! however many events wait behind heads or sit with busy or paused agents;
//! PostgreSQL skips lanes another instance is claiming. A claim writes only
//! the narrow lane row (token, owner, lease end); a claimed lane stays in
//! the index and is passed over until its lease ends.

use super::{lane_of, retrying, Delivery, Task};
use crate::crypto::DataKey;
use crate::db::agents::Agent;
use crate::db::raw::{self, Param};
use crate::db::schema::{agent_tasks, deliveries, delivery_lanes};
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
    /// The token that holds its lane; outcomes are recorded under it.
    pub claim_token: String,
    pub agent: Agent,
    pub internal_key: Option<Secret>,
    pub task: Option<Task>,
}

impl Claimed {
    /// The lane the claim holds.
    pub fn lane(&self) -> String {
        lane_of(self.delivery.task_id.as_deref(), &self.delivery.id)
    }
}

/// What a claim stamps on the lanes it takes.
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

#[derive(QueryableByName)]
struct HeadRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    head_id: String,
}

/// Claims due lanes, at most `slots` of each room's agent, stamping them.
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
    let heads = if rooms.len() <= AGENTS_PER_STATEMENT {
        // One statement commits on its own: no round trips for BEGIN/COMMIT.
        claim_chunk(conn, stamp, at, &rooms)?
    } else {
        retrying(conn, |conn| {
            let mut heads = Vec::new();
            for chunk in rooms.chunks(AGENTS_PER_STATEMENT) {
                heads.extend(claim_chunk(conn, stamp, at, chunk)?);
            }
            Ok(heads)
        })?
    };
    let agents: Vec<&Agent> = rooms.iter().map(|r| &r.agent).collect();
    with_context(conn, keys, stamp, &agents, &heads)
}

/// Claims the lanes of `task_ids` (tasks whose head was just recorded) when
/// they are due and their agent deliverable: a busy task's next event goes
/// out without waiting for the next full claim.
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
        "UPDATE delivery_lanes SET claim_token = ?, claimed_by = ?, claimed_until = ? \
         WHERE id IN ({}) AND due_at <= ? AND (claimed_until IS NULL OR claimed_until < ?) \
         AND agent_id IN (SELECT a.id FROM agents a WHERE a.acp_url IS NOT NULL \
             AND a.deliveries_paused_at IS NULL) \
         RETURNING head_id",
        raw::placeholders(task_ids.len())
    );
    let mut params = stamp_params(stamp);
    params.extend(task_ids.iter().map(Param::from));
    params.extend([at.into(), at.into()]);
    let heads: Vec<HeadRow> = raw::load(conn, &sql, &params)?;
    if heads.is_empty() {
        return Ok(Vec::new());
    }
    let agents = crate::db::agents::deliverable(conn)?;
    let agents: Vec<&Agent> = agents.iter().collect();
    let heads: Vec<String> = heads.into_iter().map(|h| h.head_id).collect();
    with_context(conn, keys, stamp, &agents, &heads)
}

/// The values of `SET claim_token = ?, claimed_by = ?, claimed_until = ?`.
fn stamp_params(stamp: ClaimStamp<'_>) -> Vec<Param> {
    vec![
        stamp.token.into(),
        stamp.owner.into(),
        stamp.lease_until.into(),
    ]
}

/// Claims up to each room's slots of its agent's due lanes; returns the
/// claimed lanes' head deliveries.
fn claim_chunk(
    conn: &mut DbConnection,
    stamp: ClaimStamp<'_>,
    at: NaiveDateTime,
    rooms: &[&Room],
) -> QueryResult<Vec<String>> {
    let skip_locked = match conn {
        DbConnection::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        DbConnection::Sqlite(_) => "",
    };
    let mut params = stamp_params(stamp);
    let mut lanes = Vec::with_capacity(rooms.len());
    for (i, room) in rooms.iter().enumerate() {
        lanes.push(format!(
            "SELECT id FROM (SELECT id FROM delivery_lanes WHERE agent_id = ? AND due_at <= ? \
             AND (claimed_until IS NULL OR claimed_until < ?) \
             ORDER BY due_at LIMIT ?{skip_locked}) l{i}"
        ));
        params.extend([
            Param::from(&room.agent.id),
            at.into(),
            at.into(),
            Param::Int(room.slots as i64),
        ]);
    }
    let sql = format!(
        "UPDATE delivery_lanes SET claim_token = ?, claimed_by = ?, claimed_until = ? \
         WHERE id IN ({}) RETURNING head_id",
        lanes.join(" UNION ALL ")
    );
    let heads: Vec<HeadRow> = raw::load(conn, &sql, &params)?;
    Ok(heads.into_iter().map(|h| h.head_id).collect())
}

/// The claimed deliveries with their agents, internal keys and tasks,
/// oldest first.
fn with_context(
    conn: &mut DbConnection,
    keys: &mut InternalKeys<'_>,
    stamp: ClaimStamp<'_>,
    agents: &[&Agent],
    heads: &[String],
) -> DbResult<Vec<Claimed>> {
    let mut rows: Vec<Delivery> = Vec::with_capacity(heads.len());
    for chunk in heads.chunks(500) {
        rows.extend(
            deliveries::table
                .filter(deliveries::id.eq_any(chunk))
                .select(Delivery::as_select())
                .load::<Delivery>(conn)?,
        );
    }
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
            claim_token: stamp.token.to_owned(),
            agent: (*agent).clone(),
            delivery,
        });
    }
    claimed.sort_by_key(|c| c.delivery.created_at);
    Ok(claimed)
}

/// Gives back claims that were never attempted, as `(lane, token)`:
/// claimable again at once, by any instance. A claim that no longer holds
/// its lane is left alone.
pub fn release_claims(conn: &mut DbConnection, claims: &[(String, String)]) -> QueryResult<()> {
    if claims.is_empty() {
        return Ok(());
    }
    conn.transaction(|conn| {
        for (lane, token) in claims {
            diesel::update(
                delivery_lanes::table
                    .find(lane)
                    .filter(delivery_lanes::claim_token.eq(token)),
            )
            .set(unclaimed())
            .execute(conn)?;
        }
        Ok(())
    })
}

/// The columns of a lane nobody holds.
#[allow(clippy::type_complexity)]
fn unclaimed() -> (
    diesel::dsl::Eq<delivery_lanes::claim_token, Option<String>>,
    diesel::dsl::Eq<delivery_lanes::claimed_by, Option<String>>,
    diesel::dsl::Eq<delivery_lanes::claimed_until, Option<NaiveDateTime>>,
) {
    (
        delivery_lanes::claim_token.eq(None::<String>),
        delivery_lanes::claimed_by.eq(None::<String>),
        delivery_lanes::claimed_until.eq(None::<NaiveDateTime>),
    )
}

/// Drops every claim: run at start-up on SQLite, where one process
/// (holding the database's lock file) owns the queue.
pub fn release_all_claims(conn: &mut DbConnection) -> QueryResult<usize> {
    diesel::update(delivery_lanes::table.filter(delivery_lanes::claim_token.is_not_null()))
        .set(unclaimed())
        .execute(conn)
}
