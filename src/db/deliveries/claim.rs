//! Claiming lanes. Each agent with room gets its own limited subquery over
//! `delivery_lanes_ready` (agent, due time), so a claim costs the same
//! however many events wait behind heads or sit with busy or paused agents;
//! PostgreSQL skips lanes another instance is claiming. A claim writes only
//! the narrow lane row (token, owner, lease end) and makes it due when the
//! lease ends, so later claims never scan past held lanes, and a lane whose
//! holder died comes due by itself. On PostgreSQL the claim and the loading
//! of the claimed deliveries are one statement.

use super::{coalesce, lane_of, retrying, Delivery};
use crate::crypto::DataKey;
use crate::db::agents::Agent;
use crate::db::raw::{self, Param};
use crate::db::schema::delivery_lanes;
use crate::db::{api_keys, dialect, now, DbConnection, DbResult};
use crate::domain::Secret;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text, Timestamp};
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
    pub secrets: AgentSecrets,
    pub task: Option<ClaimedTask>,
    /// Set when its route coalesces: the task's pending events behind it,
    /// in sequence, sent with it in one call.
    pub followers: Option<Vec<Delivery>>,
}

/// The task a claimed `acp_event` delivery belongs to.
#[derive(Debug, Clone)]
pub struct ClaimedTask {
    pub id: String,
    pub name: String,
    /// None until the agent answered its `task/create`.
    pub created_on_agent_at: Option<NaiveDateTime>,
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
    pub cache: &'a mut HashMap<String, AgentSecrets>,
}

/// What an attempt sends to prove itself to the agent: its internal key
/// (`x-agent-api-key`, ACP) and the bearer token an A2A agent asked for.
/// Cached per agent until the agent's row changes (a registration sets
/// them) or the dispatcher's minute passes.
#[derive(Debug, Clone, Default)]
pub struct AgentSecrets {
    pub internal: Option<Secret>,
    pub outbound: Option<Secret>,
    /// The agent's `updated_at` when they were read.
    read_for: Option<NaiveDateTime>,
}

impl AgentSecrets {
    fn read(conn: &mut DbConnection, data_key: &DataKey, agent: &Agent) -> DbResult<Self> {
        Ok(Self {
            internal: api_keys::find_internal_secret(conn, data_key, &agent.id)?,
            outbound: api_keys::find_outbound_token(conn, data_key, &agent.id)?,
            read_for: Some(agent.updated_at),
        })
    }
}

/// Agents per statement: SQLite allows 500 terms in a compound SELECT.
const AGENTS_PER_STATEMENT: usize = 100;

#[derive(QueryableByName)]
pub(in crate::db) struct HeadRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub head_id: String,
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
    with_context(conn, keys, stamp, &agents, rows)
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
    let lanes = format!(
        "id IN ({}) AND due_at <= ? AND agent_id IN (SELECT a.id FROM agents a \
         WHERE (a.acp_url IS NOT NULL OR a.a2a_url IS NOT NULL) \
         AND a.deliveries_paused_at IS NULL)",
        raw::placeholders(task_ids.len())
    );
    let mut params: Vec<Param> = task_ids.iter().map(Param::from).collect();
    params.push(now().into());
    let rows = stamp_lanes(conn, stamp, &lanes, params)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let agents = crate::db::agents::deliverable(conn)?;
    let agents: Vec<&Agent> = agents.iter().collect();
    with_context(conn, keys, stamp, &agents, rows)
}

/// Claims up to each room's slots of its agent's due lanes.
fn claim_chunk(
    conn: &mut DbConnection,
    stamp: ClaimStamp<'_>,
    at: NaiveDateTime,
    rooms: &[&Room],
) -> QueryResult<Vec<ClaimedRow>> {
    let rooms: Vec<(&str, usize)> = rooms
        .iter()
        .map(|r| (r.agent.id.as_str(), r.slots))
        .collect();
    let mut params = Vec::with_capacity(rooms.len() * 3);
    let lanes = dialect::due_lanes(conn, &rooms, at, &mut params);
    stamp_lanes(conn, stamp, &lanes, params)
}

/// A claimed lane's head delivery, with its task's name and whether the
/// agent knows the task.
#[derive(QueryableByName)]
pub(in crate::db) struct ClaimedRow {
    #[diesel(embed)]
    delivery: Delivery,
    #[diesel(sql_type = Nullable<Text>)]
    task_name: Option<String>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    task_created_on_agent_at: Option<NaiveDateTime>,
}

/// Selects claimed head deliveries `d` (from `heads`, narrowed by `filter`)
/// with their task's columns.
pub(in crate::db) fn claimed_rows(heads: &str, filter: &str) -> String {
    format!(
        "SELECT d.*, t.name AS task_name, t.created_on_agent_at AS task_created_on_agent_at \
         {heads} LEFT JOIN agent_tasks t ON t.id = d.task_id {filter}"
    )
}

/// Stamps the lanes `lanes` (a condition over `delivery_lanes`, with its
/// parameters) and returns their heads. A claimed lane is due again when its
/// lease ends, so claims scanning due lanes never pass over held ones.
/// How the heads are read back differs by backend (`dialect::claimed_heads`).
fn stamp_lanes(
    conn: &mut DbConnection,
    stamp: ClaimStamp<'_>,
    lanes: &str,
    lane_params: Vec<Param>,
) -> QueryResult<Vec<ClaimedRow>> {
    let update = format!(
        "UPDATE delivery_lanes SET claim_token = ?, claimed_by = ?, claimed_until = ?, \
         due_at = ? WHERE {lanes} RETURNING head_id"
    );
    let mut params: Vec<Param> = vec![
        stamp.token.into(),
        stamp.owner.into(),
        stamp.lease_until.into(),
        stamp.lease_until.into(),
    ];
    params.extend(lane_params);
    dialect::claimed_heads(conn, &update, &params)
}

/// The claimed deliveries with their agents and internal keys, oldest first.
fn with_context(
    conn: &mut DbConnection,
    keys: &mut InternalKeys<'_>,
    stamp: ClaimStamp<'_>,
    agents: &[&Agent],
    rows: Vec<ClaimedRow>,
) -> DbResult<Vec<Claimed>> {
    let agents: HashMap<&str, &Agent> = agents.iter().map(|a| (a.id.as_str(), *a)).collect();
    let mut claimed = Vec::with_capacity(rows.len());
    for row in rows {
        let delivery = row.delivery;
        let Some(agent) = agents.get(delivery.agent_id.as_str()) else {
            continue; // cannot happen: the claim named only deliverable agents
        };
        let current = keys.cache.get(&agent.id);
        if current.is_none_or(|s| s.read_for != Some(agent.updated_at)) {
            let secrets = AgentSecrets::read(conn, keys.data_key, agent)?;
            keys.cache.insert(agent.id.clone(), secrets);
        }
        let task = match (&delivery.task_id, row.task_name) {
            (Some(id), Some(name)) => Some(ClaimedTask {
                id: id.clone(),
                name,
                created_on_agent_at: row.task_created_on_agent_at,
            }),
            _ => None,
        };
        claimed.push(Claimed {
            task,
            secrets: keys.cache[&agent.id].clone(),
            claim_token: stamp.token.to_owned(),
            agent: (*agent).clone(),
            delivery,
            followers: None,
        });
    }
    let heads: Vec<&Delivery> = claimed.iter().map(|c| &c.delivery).collect();
    let mut followers = coalesce::followers(conn, &heads)?;
    for claim in &mut claimed {
        claim.followers = followers.remove(&claim.delivery.id);
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
    let at = now();
    conn.transaction(|conn| {
        for (lane, token) in claims {
            diesel::update(
                delivery_lanes::table
                    .find(lane)
                    .filter(delivery_lanes::claim_token.eq(token)),
            )
            .set(unclaimed(at))
            .execute(conn)?;
        }
        Ok(())
    })
}

/// The columns of a lane nobody holds, due at `at` (a claim had set its
/// due time to the lease's end).
#[allow(clippy::type_complexity)]
fn unclaimed(
    at: NaiveDateTime,
) -> (
    diesel::dsl::Eq<delivery_lanes::claim_token, Option<String>>,
    diesel::dsl::Eq<delivery_lanes::claimed_by, Option<String>>,
    diesel::dsl::Eq<delivery_lanes::claimed_until, Option<NaiveDateTime>>,
    diesel::dsl::Eq<delivery_lanes::due_at, NaiveDateTime>,
) {
    (
        delivery_lanes::claim_token.eq(None::<String>),
        delivery_lanes::claimed_by.eq(None::<String>),
        delivery_lanes::claimed_until.eq(None::<NaiveDateTime>),
        delivery_lanes::due_at.eq(at),
    )
}

/// Drops every claim: run at start-up on SQLite, where one process
/// (holding the database's lock file) owns the queue.
pub fn release_all_claims(conn: &mut DbConnection) -> QueryResult<usize> {
    diesel::update(delivery_lanes::table.filter(delivery_lanes::claim_token.is_not_null()))
        .set(unclaimed(now()))
        .execute(conn)
}
