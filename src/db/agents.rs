//! Queries on `agents`.

use super::schema::{agent_api_keys, agent_routes, agents};
use super::{api_keys, now, DbConnection, DbResult};
use crate::crypto::DataKey;
use crate::domain::{
    generate_key, A2aVersion, AcpType, AgentName, AgentProtocol, Identities, KeyKind, Secret,
};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

/// A stored agent.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = agents)]
pub struct Agent {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub acp_url: Option<String>,
    pub acp_type: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub registration_metadata: Option<String>,
    pub agent_input_type: Option<String>,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
    pub registered_at: Option<chrono::NaiveDateTime>,
    /// Set while an operator holds this agent's deliveries.
    pub deliveries_paused_at: Option<chrono::NaiveDateTime>,
    /// The account that owns the agent; None for the root admin's agents.
    pub account_id: Option<String>,
    /// The agent's own identities at its providers (a JSON list), for the
    /// loop guard.
    pub identities: Option<String>,
    /// `acp` or `a2a` ([`AgentProtocol`]).
    pub protocol: String,
    /// Where an A2A agent's card is read from.
    pub agent_card_url: Option<String>,
    /// The card's JSON-RPC interface: where an A2A agent is called.
    pub a2a_url: Option<String>,
    /// The A2A version whose shapes the agent is sent ("1.0" or "0.3").
    pub a2a_version: Option<String>,
    /// When the card was last read.
    pub card_read_at: Option<NaiveDateTime>,
}

impl Agent {
    pub fn protocol(&self) -> AgentProtocol {
        AgentProtocol::from_stored(&self.protocol)
    }

    /// Where the agent is called: its ACP URL, or its card's A2A interface.
    pub fn address(&self) -> Option<&str> {
        match self.protocol() {
            AgentProtocol::Acp => self.acp_url.as_deref(),
            AgentProtocol::A2a => self.a2a_url.as_deref(),
        }
    }
}

/// An A2A agent's card as last read: where it is and what it declared.
#[derive(Debug, Clone)]
pub struct CardRead {
    pub card_url: String,
    pub interface_url: String,
    pub version: A2aVersion,
}

/// What a registration sets; everything else is kept or derived.
#[derive(Debug, Clone)]
pub struct Registration {
    pub name: AgentName,
    pub description: Option<String>,
    pub acp_url: Option<String>,
    pub acp_type: AcpType,
    pub registration_metadata: Option<String>,
    pub agent_input_type: Option<String>,
    /// Used as the id when the agent is new.
    pub requested_id: Option<String>,
    /// The account a new agent belongs to; an existing agent keeps its own.
    pub account_id: Option<String>,
    /// Identities declared with the registration (stored form); None keeps
    /// what the agent had.
    pub identities: Option<String>,
    pub protocol: AgentProtocol,
    /// An A2A agent's card (None for ACP agents).
    pub card: Option<CardRead>,
    /// The bearer token an A2A agent accepts; None keeps the one it has.
    pub outbound_token: Option<Secret>,
}

/// The name of the key that holds an A2A agent's bearer token.
pub const OUTBOUND_TOKEN_NAME: &str = "a2a-bearer";

/// Creates or updates the agent named in `reg` (keeping its id) and returns
/// it with its internal key, creating that key the first time.
pub fn register(
    conn: &mut DbConnection,
    data_key: &DataKey,
    reg: Registration,
) -> DbResult<(Agent, Secret)> {
    conn.transaction(|conn| {
        let existing = find_by_name(conn, reg.name.as_str())?;
        let token = reg.outbound_token.clone();
        let agent = agent_row(reg, existing.as_ref());
        if existing.is_some() {
            diesel::update(agents::table.find(&agent.id))
                .set(&agent)
                .execute(conn)?;
        } else {
            diesel::insert_into(agents::table)
                .values(&agent)
                .execute(conn)?;
        }
        let key = internal_key(conn, data_key, &agent)?;
        if let Some(token) = token {
            set_outbound_token(conn, data_key, &agent, &token)?;
        }
        Ok((agent, key))
    })
}

/// Stores the token hookgate sends the agent, replacing the one it had at
/// once (the agent asked for the new one).
fn set_outbound_token(
    conn: &mut DbConnection,
    data_key: &DataKey,
    agent: &Agent,
    token: &Secret,
) -> DbResult<()> {
    let kind = KeyKind::OUTBOUND;
    match api_keys::find_by_name(conn, &agent.id, OUTBOUND_TOKEN_NAME, kind)? {
        Some(key) => api_keys::rotate(conn, data_key, &key, kind, token, now())?,
        None => {
            api_keys::insert(
                conn,
                data_key,
                &agent.id,
                OUTBOUND_TOKEN_NAME,
                kind,
                token,
                None,
            )?;
        }
    }
    Ok(())
}

/// The agent as `reg` describes it; what a registration does not set (id,
/// creation time, pause, account, identities when not given) is kept from
/// the `existing` agent of that name.
fn agent_row(reg: Registration, existing: Option<&Agent>) -> Agent {
    let now = now();
    Agent {
        id: match existing {
            Some(e) => e.id.clone(),
            None => reg
                .requested_id
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        },
        name: reg.name.as_str().to_owned(),
        description: reg.description,
        acp_url: reg.acp_url,
        acp_type: reg.acp_type.as_str().to_owned(),
        status: "Ready".to_owned(),
        status_reason: None,
        registration_metadata: reg.registration_metadata,
        agent_input_type: reg.agent_input_type,
        created_at: existing.map_or(now, |e| e.created_at),
        updated_at: now,
        registered_at: Some(now),
        deliveries_paused_at: existing.and_then(|e| e.deliveries_paused_at),
        account_id: match existing {
            Some(e) => e.account_id.clone(),
            None => reg.account_id,
        },
        identities: reg
            .identities
            .or_else(|| existing.and_then(|e| e.identities.clone())),
        protocol: reg.protocol.as_str().to_owned(),
        agent_card_url: reg.card.as_ref().map(|c| c.card_url.clone()),
        a2a_url: reg.card.as_ref().map(|c| c.interface_url.clone()),
        a2a_version: reg.card.as_ref().map(|c| c.version.as_str().to_owned()),
        card_read_at: reg.card.as_ref().map(|_| now),
    }
}

/// The agent's internal key, created the first time.
fn internal_key(conn: &mut DbConnection, data_key: &DataKey, agent: &Agent) -> DbResult<Secret> {
    if let Some(key) = api_keys::find_internal_secret(conn, data_key, &agent.id)? {
        return Ok(key);
    }
    let key = generate_key();
    let kind = KeyKind::INTERNAL;
    api_keys::insert(conn, data_key, &agent.id, &agent.name, kind, &key, None)?;
    Ok(key)
}

pub fn find_by_name(conn: &mut DbConnection, name: &str) -> QueryResult<Option<Agent>> {
    agents::table
        .filter(agents::name.eq(name))
        .select(Agent::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_id(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Agent>> {
    agents::table
        .find(id)
        .select(Agent::as_select())
        .first(conn)
        .optional()
}

/// Records what the agent's card said when it was read again.
pub fn set_card(conn: &mut DbConnection, id: &str, card: &CardRead) -> QueryResult<Option<Agent>> {
    diesel::update(agents::table.find(id))
        .set((
            agents::agent_card_url.eq(&card.card_url),
            agents::a2a_url.eq(&card.interface_url),
            agents::a2a_version.eq(card.version.as_str()),
            agents::card_read_at.eq(now()),
        ))
        .execute(conn)?;
    find_by_id(conn, id)
}

/// Every A2A agent, to read their cards again at start.
pub fn a2a_agents(conn: &mut DbConnection) -> QueryResult<Vec<Agent>> {
    agents::table
        .filter(agents::protocol.eq(AgentProtocol::A2a.as_str()))
        .filter(agents::agent_card_url.is_not_null())
        .select(Agent::as_select())
        .load(conn)
}

/// Agents whose deliveries may be attempted now: an address, not paused.
pub fn deliverable(conn: &mut DbConnection) -> QueryResult<Vec<Agent>> {
    agents::table
        .filter(
            agents::acp_url
                .is_not_null()
                .or(agents::a2a_url.is_not_null()),
        )
        .filter(agents::deliveries_paused_at.is_null())
        .order(agents::id.asc())
        .select(Agent::as_select())
        .load(conn)
}

/// Holds (`Some(now)`) or releases (`None`) the agent's deliveries.
pub fn set_deliveries_paused(
    conn: &mut DbConnection,
    id: &str,
    paused_at: Option<NaiveDateTime>,
) -> QueryResult<Option<Agent>> {
    diesel::update(agents::table.find(id))
        .set(agents::deliveries_paused_at.eq(paused_at))
        .execute(conn)?;
    find_by_id(conn, id)
}

/// Replaces the agent's identities (stored form); returns the agent.
pub fn set_identities(
    conn: &mut DbConnection,
    id: &str,
    identities: &str,
) -> QueryResult<Option<Agent>> {
    diesel::update(agents::table.find(id))
        .set(agents::identities.eq(identities))
        .execute(conn)?;
    find_by_id(conn, id)
}

/// A page of agents; only `account`'s when one is given.
pub fn list(
    conn: &mut DbConnection,
    account: Option<&str>,
    limit: i64,
    offset: i64,
) -> DbResult<Vec<Agent>> {
    let mut query = agents::table.into_boxed();
    if let Some(account) = account {
        query = query.filter(agents::account_id.eq(account.to_owned()));
    }
    Ok(query
        .order((agents::created_at.asc(), agents::id.asc()))
        .limit(limit)
        .offset(offset)
        .select(Agent::as_select())
        .load(conn)?)
}

/// Deletes the agent and every key of it; returns the deleted agent.
pub fn delete(conn: &mut DbConnection, agent: &Agent) -> DbResult<()> {
    conn.transaction(|conn| {
        diesel::delete(agent_api_keys::table.filter(agent_api_keys::agent_id.eq(&agent.id)))
            .execute(conn)?;
        // Routes that shadowed to it go on without a shadow.
        diesel::update(agent_routes::table.filter(agent_routes::shadow_agent_id.eq(&agent.id)))
            .set(agent_routes::shadow_agent_id.eq(None::<String>))
            .execute(conn)?;
        diesel::delete(agents::table.find(&agent.id)).execute(conn)?;
        Ok(())
    })
}

/// An agent as the API shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AgentResponse {
    pub id: String,
    pub name: String,
    /// Empty when none was registered (the Agentex SDK requires a string).
    pub description: String,
    pub acp_url: Option<String>,
    pub acp_type: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub registered_at: Option<DateTime<Utc>>,
    pub registration_metadata: Option<serde_json::Value>,
    pub agent_input_type: Option<String>,
    /// When an operator paused this agent's deliveries (absent when not paused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliveries_paused_at: Option<DateTime<Utc>>,
    /// The account that owns the agent (absent for the root admin's agents).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The agent's own identities at its providers (`github:my-agent[bot]`):
    /// events they caused are dropped by the loop guard.
    pub identities: Vec<String>,
    /// `acp` (Agentex's protocol, at `acp_url`) or `a2a` (at the JSON-RPC
    /// interface of the Agent Card read from `agent_card_url`).
    pub protocol: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_card_url: Option<String>,
    /// The card's JSON-RPC interface, where deliveries go.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub a2a_url: Option<String>,
    /// The A2A version the card declares ("1.0", or "0.3" for older agents).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub a2a_version: Option<String>,
    /// When the card was last read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_read_at: Option<DateTime<Utc>>,
}

pub fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

impl From<Agent> for AgentResponse {
    fn from(a: Agent) -> Self {
        Self {
            registration_metadata: a
                .registration_metadata
                .as_deref()
                .and_then(|m| serde_json::from_str(m).ok()),
            id: a.id,
            name: a.name,
            description: a.description.unwrap_or_default(),
            acp_url: a.acp_url,
            acp_type: a.acp_type,
            status: a.status,
            status_reason: a.status_reason,
            created_at: utc(a.created_at),
            updated_at: utc(a.updated_at),
            registered_at: a.registered_at.map(utc),
            agent_input_type: a.agent_input_type,
            deliveries_paused_at: a.deliveries_paused_at.map(utc),
            identities: Identities::from_stored(a.identities.as_deref())
                .as_slice()
                .to_vec(),
            account_id: a.account_id,
            protocol: a.protocol,
            agent_card_url: a.agent_card_url,
            a2a_url: a.a2a_url,
            a2a_version: a.a2a_version,
            card_read_at: a.card_read_at.map(utc),
        }
    }
}
