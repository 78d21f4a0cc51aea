//! `/agents`: registration (idempotent by name, returns the internal key;
//! who may register what is `registrant.rs`), list, get and delete.

pub mod card;
mod registrant;

use registrant::Registrant;

use super::caller::Caller;
use super::errors::{run_change, run_db, AdminError};
use super::identities::parse_identities;
use super::AppState;
use crate::db::agents::{self, Agent, AgentResponse, Registration};
use crate::db::{is_unique_violation, DbConnection};
use crate::domain::{absolute_http_url, AcpType, AgentName, AgentProtocol, Revealed, Secret};
use actix_web::{web, HttpRequest, HttpResponse};
use diesel::Connection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /agents/register` body, as the Agentex SDK sends it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterAgentRequest {
    pub name: String,
    pub description: Option<String>,
    pub acp_url: Option<String>,
    pub acp_type: Option<String>,
    /// Accepted for Agentex compatibility; hookgate has no principals.
    #[expect(dead_code, reason = "accepted so Agentex SDK bodies parse; unused")]
    pub principal_context: Option<serde_json::Value>,
    pub registration_metadata: Option<serde_json::Value>,
    pub agent_id: Option<String>,
    pub agent_input_type: Option<String>,
    /// `acp` (the default: Agentex's protocol, at `acp_url`) or `a2a`
    /// (registered from its Agent Card at `agent_card_url`).
    pub protocol: Option<String>,
    /// An A2A agent's card, or the server that serves it at
    /// `/.well-known/agent-card.json`.
    pub agent_card_url: Option<String>,
    /// The bearer token an A2A agent accepts (its card's security scheme);
    /// stored encrypted, sent as `Authorization: Bearer`, never shown.
    #[schema(value_type = Option<String>)]
    pub outbound_token: Option<Secret>,
}

/// The registration answer: the agent plus its internal key.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegisteredAgent {
    #[serde(flatten)]
    pub agent: AgentResponse,
    /// The agent's internal key, sent by hookgate as `x-agent-api-key`.
    pub agent_api_key: Revealed,
}

impl RegisterAgentRequest {
    /// The registration, and for an A2A agent the card to read before it
    /// is stored.
    fn parse(
        self,
        account_id: Option<String>,
    ) -> Result<(Registration, Option<String>), AdminError> {
        let name = AgentName::parse(&self.name)?;
        let acp_type = AcpType::parse(self.acp_type.as_deref().unwrap_or("async"))?;
        let (protocol, acp_url, card_url) = self.address()?;
        if self
            .registration_metadata
            .as_ref()
            .is_some_and(|m| !m.is_object() && !m.is_null())
        {
            return Err(AdminError::Unprocessable(
                "Field 'registration_metadata' must be a JSON object or null.".into(),
            ));
        }
        if let Some(kind) = self.agent_input_type.as_deref() {
            if !matches!(kind, "text" | "json") {
                return Err(AdminError::Unprocessable(format!(
                    "Field 'agent_input_type' must be 'text' or 'json', got {kind:?}."
                )));
            }
        }
        let requested_id = match self.agent_id {
            Some(id) => Some(
                uuid::Uuid::parse_str(&id)
                    .map_err(|_| {
                        AdminError::Unprocessable(format!(
                            "Field 'agent_id' must be a UUID, got {id:?}."
                        ))
                    })?
                    .to_string(),
            ),
            None => None,
        };
        let identities = self
            .registration_metadata
            .as_ref()
            .and_then(|m| m.get("hookgate_identities"))
            .map(|v| parse_identities("registration_metadata.hookgate_identities", v))
            .transpose()?;
        let registration = Registration {
            identities: identities.map(|i| i.to_stored()),
            protocol,
            card: None,
            outbound_token: self.outbound_token.filter(|t| !t.expose().is_empty()),
            name,
            description: self.description,
            acp_url,
            acp_type,
            registration_metadata: self
                .registration_metadata
                .filter(|m| m.is_object())
                .map(|m| m.to_string()),
            agent_input_type: self.agent_input_type,
            requested_id,
            account_id,
        };
        Ok((registration, card_url))
    }

    /// The protocol and where the agent is: an ACP agent's `acp_url`, an
    /// A2A agent's card URL; each field refused where it does not belong.
    fn address(&self) -> Result<(AgentProtocol, Option<String>, Option<String>), AdminError> {
        let protocol = AgentProtocol::parse(self.protocol.as_deref().unwrap_or("acp"))?;
        let given = |field: &Option<String>| field.clone().filter(|u| !u.trim().is_empty());
        let (acp_url, card_url) = (given(&self.acp_url), given(&self.agent_card_url));
        let not_for =
            |field: &str, why: &str| AdminError::Unprocessable(format!("Field '{field}' {why}."));
        match protocol {
            AgentProtocol::Acp => {
                let url = acp_url.ok_or_else(|| not_for("acp_url", "is required: it is where hookgate delivers to an ACP agent (an A2A agent is registered with \"protocol\": \"a2a\" and its \"agent_card_url\")"))?;
                absolute_http_url("acp_url", &url)?;
                if card_url.is_some() || self.outbound_token.is_some() {
                    let field = if card_url.is_some() {
                        "agent_card_url"
                    } else {
                        "outbound_token"
                    };
                    return Err(not_for(
                        field,
                        "applies only to A2A agents (\"protocol\": \"a2a\")",
                    ));
                }
                Ok((protocol, Some(url), None))
            }
            AgentProtocol::A2a => {
                if acp_url.is_some() {
                    return Err(not_for("acp_url", "applies only to ACP agents: an A2A agent is called at the interface its Agent Card names"));
                }
                let url = card_url.ok_or_else(|| not_for("agent_card_url", "is required for an A2A agent: hookgate reads the agent's JSON-RPC interface from its Agent Card"))?;
                Ok((protocol, None, Some(card::card_url(&url)?)))
            }
        }
    }
}

#[utoipa::path(operation_id = "register_agent", post, path = "/agents/register", tag = "agents", request_body = RegisterAgentRequest,
    responses((status = 200, body = RegisteredAgent), (status = 401, description = "Wrong x-agent-api-key for an existing agent"),
        (status = 409, description = "The agent exists and the caller is neither the admin nor the agent"), (status = 422, description = "A field is invalid")))]
pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<RegisterAgentRequest>,
) -> Result<HttpResponse, AdminError> {
    let registrant = Registrant::of(&req);
    let (mut registration, card_url) = body
        .into_inner()
        .parse(registrant.account().map(str::to_owned))?;
    if let Some(url) = &registration.acp_url {
        if let Some(why) = state.forwarding.refusal_for_url(url) {
            return Err(AdminError::Unprocessable(format!(
                "Field 'acp_url' is refused: {why}."
            )));
        }
    }
    if let Some(url) = card_url {
        registration.card = Some(card::read(&state, &url).await?);
    }
    let data_key = state.data_key.clone();
    let (agent, key) = run_change(&state, move |conn| {
        // Two first registrations of one name can race; the loser retries as
        // an update, and so must pass the same check.
        let mut register = || {
            conn.transaction(|conn| {
                registrant.may_register(conn, &data_key, &registration.name)?;
                refuse_taken_id(conn, &registration)?;
                Ok::<_, AdminError>(agents::register(conn, &data_key, registration.clone())?)
            })
        };
        match register() {
            Err(AdminError::Internal(crate::db::DbError::Query(e))) if is_unique_violation(&e) => {
                register()
            }
            other => other,
        }
        .map_err(|e| match e {
            AdminError::Internal(crate::db::DbError::Query(e)) if is_unique_violation(&e) => {
                AdminError::Conflict("The agent was registered concurrently; retry.".into())
            }
            other => other,
        })
    })
    .await?;
    tracing::info!(agent.name = %agent.name, agent.id = %agent.id, "agent registered");
    Ok(HttpResponse::Ok().json(RegisteredAgent {
        agent: agent.into(),
        agent_api_key: Revealed(key),
    }))
}

/// A new agent may take the `agent_id` it asks for only when no agent has
/// it: 409, saying nothing of whose it is (another account's ids must not
/// be probed). An existing agent keeps its id; the field is then unused.
fn refuse_taken_id(conn: &mut DbConnection, registration: &Registration) -> Result<(), AdminError> {
    let Some(id) = &registration.requested_id else {
        return Ok(());
    };
    if agents::find_by_name(conn, registration.name.as_str())?.is_some()
        || agents::find_by_id(conn, id)?.is_none()
    {
        return Ok(());
    }
    Err(AdminError::Conflict(format!(
        "Field 'agent_id' {id:?} is not available: agent ids are unique across accounts. \
         Omit it to have one assigned."
    )))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct Page {
    /// Rows per page, 1 to 1000 (default 50).
    pub limit: Option<i64>,
    /// 1-based page number (default 1).
    pub page_number: Option<i64>,
}

impl Page {
    /// `(limit, offset)`, or a 422 naming the bad parameter.
    pub fn bounds(&self) -> Result<(i64, i64), AdminError> {
        let limit = super::params::limit_param(self.limit, 50, 1000)?;
        let page = self.page_number.unwrap_or(1);
        if page < 1 {
            return Err(AdminError::Unprocessable(format!(
                "Parameter 'page_number' must be at least 1, got {page}."
            )));
        }
        Ok((limit, (page - 1) * limit))
    }
}

#[utoipa::path(operation_id = "list_agents", get, path = "/agents", tag = "agents", params(Page),
    responses((status = 200, body = [AgentResponse])))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    page: web::Query<Page>,
) -> Result<HttpResponse, AdminError> {
    let (limit, offset) = page.bounds()?;
    let agents = run_db(&state.pool, move |conn| {
        Ok(agents::list(conn, caller.account(), limit, offset)?)
    })
    .await?;
    let body: Vec<AgentResponse> = agents.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(body))
}

/// Which agent a request names.
#[derive(Debug, Clone)]
pub enum AgentRef {
    Id(String),
    Name(String),
}

/// The agent named, or a 404 naming the id or name (also when the agent
/// belongs to an account other than the caller's).
pub fn find(
    conn: &mut DbConnection,
    which: &AgentRef,
    caller: &Caller,
) -> Result<Agent, AdminError> {
    let found = match which {
        AgentRef::Id(id) => agents::find_by_id(conn, id)?,
        AgentRef::Name(name) => agents::find_by_name(conn, name)?,
    }
    .filter(|agent| caller.may_see(agent));
    found.ok_or_else(|| {
        AdminError::NotFound(match which {
            AgentRef::Id(id) => format!("Agent with ID {id} not found."),
            AgentRef::Name(name) => format!("Agent with name '{name}' not found."),
        })
    })
}

async fn get_one(
    state: &AppState,
    caller: Caller,
    which: AgentRef,
) -> Result<HttpResponse, AdminError> {
    let agent = run_db(&state.pool, move |conn| find(conn, &which, &caller)).await?;
    Ok(HttpResponse::Ok().json(AgentResponse::from(agent)))
}

async fn delete_one(
    state: &AppState,
    caller: Caller,
    which: AgentRef,
) -> Result<HttpResponse, AdminError> {
    let agent = run_change(state, move |conn| {
        let agent = find(conn, &which, &caller)?;
        agents::delete(conn, &agent)?;
        Ok(agent)
    })
    .await?;
    tracing::info!(agent.name = %agent.name, agent.id = %agent.id, "agent deleted");
    Ok(HttpResponse::Ok().json(AgentResponse::from(agent)))
}

#[utoipa::path(operation_id = "get_agent", get, path = "/agents/{id}", tag = "agents",
    responses((status = 200, body = AgentResponse), (status = 404, description = "No such agent")))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    get_one(&state, caller, AgentRef::Id(id.into_inner())).await
}

#[utoipa::path(operation_id = "get_agent_by_name", get, path = "/agents/name/{name}", tag = "agents",
    responses((status = 200, body = AgentResponse), (status = 404, description = "No such agent")))]
pub async fn get_by_name(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    get_one(&state, caller, AgentRef::Name(name.into_inner())).await
}

#[utoipa::path(operation_id = "delete_agent", delete, path = "/agents/{id}", tag = "agents",
    responses((status = 200, body = AgentResponse, description = "The deleted agent; its keys are gone too"),
              (status = 404, description = "No such agent")))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    delete_one(&state, caller, AgentRef::Id(id.into_inner())).await
}

#[utoipa::path(operation_id = "delete_agent_by_name", delete, path = "/agents/name/{name}", tag = "agents",
    responses((status = 200, body = AgentResponse, description = "The deleted agent; its keys are gone too"),
              (status = 404, description = "No such agent")))]
pub async fn delete_by_name(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    delete_one(&state, caller, AgentRef::Name(name.into_inner())).await
}
