//! `/agent_api_keys`: create (the only answer that shows a value), list, get
//! and delete, by id or by name.

use super::agents::{find, AgentRef, Page};
use super::errors::{run_change, run_db, AdminError};
use super::AppState;
use crate::db::agents::utc;
use crate::db::agents::Agent;
use crate::db::api_keys::{self, KeyInfo};
use crate::db::{is_unique_violation, DbConnection};
use crate::domain::{generate_value, KeyKind, KeyLookup, Secret};
use crate::verify::standard_webhooks;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::Connection;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateKeyRequest {
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
    pub name: String,
    /// `external` (default), `internal`, `github`, `slack`,
    /// `standard_webhooks`, `stripe`, `shopify`, `gitlab`, `linear` or `hmac`.
    pub api_key_type: Option<String>,
    /// The value to store; generated when omitted (64 hex chars;
    /// `whsec_` + base64 for `standard_webhooks`).
    pub api_key: Option<String>,
}

/// A key without its value.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyResponse {
    pub id: String,
    pub agent_id: String,
    pub created_at: DateTime<Utc>,
    pub name: String,
    pub api_key_type: String,
}

/// The creation answer: the only one that carries the value.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKeyResponse {
    #[serde(flatten)]
    pub key: KeyResponse,
    pub api_key: String,
}

impl From<KeyInfo> for KeyResponse {
    fn from(k: KeyInfo) -> Self {
        Self {
            id: k.id,
            agent_id: k.agent_id,
            created_at: utc(k.created_at),
            name: k.name,
            api_key_type: k.api_key_type,
        }
    }
}

/// `agent_id` or `agent_name`, exactly one of them.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AgentSelector {
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
}

impl AgentSelector {
    /// `action` completes the contract's message, e.g. "create an agent api_key".
    pub fn resolve(self, action: &str) -> Result<AgentRef, AdminError> {
        match (self.agent_id, self.agent_name) {
            (Some(id), None) => Ok(AgentRef::Id(id)),
            (None, Some(name)) => Ok(AgentRef::Name(name)),
            (None, None) => Err(AdminError::BadRequest(format!(
                "Either 'agent_id' or 'agent_name' must be provided to {action}."
            ))),
            (Some(_), Some(_)) => Err(AdminError::BadRequest(format!(
                "Only one of 'agent_id' or 'agent_name' should be provided to {action}."
            ))),
        }
    }
}

/// Checks a key or secret name: what GitHub repos and Slack app ids need.
pub fn parse_key_name(name: &str) -> Result<String, AdminError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 255 {
        return Err(AdminError::Unprocessable(
            "Field 'name' must be 1 to 255 characters.".into(),
        ));
    }
    Ok(name.to_owned())
}

/// Stores a key for the agent, mapping a duplicate to the contract's 409.
pub fn create_key(
    conn: &mut DbConnection,
    which: &AgentRef,
    name: &str,
    kind: KeyKind,
    value: &Secret,
) -> Result<(Agent, KeyInfo), AdminError> {
    conn.transaction(|conn| {
        let agent = find(conn, which)?;
        if kind.lookup() == KeyLookup::AllOfType
            && api_keys::count_of_kind(conn, &agent.id, kind)? >= KeyKind::MAX_TRIED_KEYS as i64
        {
            return Err(AdminError::Conflict(format!(
                "Agent '{}' already has {} keys of type '{}', the most hookgate tries per call; delete one first.",
                agent.name,
                KeyKind::MAX_TRIED_KEYS,
                kind.as_str()
            )));
        }
        match api_keys::insert(conn, &agent.id, name, kind, value, None) {
            Ok(info) => Ok((agent, info)),
            Err(e) if is_unique_violation(&e) => Err(AdminError::Conflict(format!(
                "Agent API key '{name}' of type '{}' already exists for agent '{}'.",
                kind.as_str(),
                agent.name
            ))),
            Err(e) => Err(e.into()),
        }
    })
}

/// The value to store for a key of `kind`: the one given (checked to suit
/// the type) or, when omitted, a new one in the type's format.
pub fn key_value(kind: KeyKind, given: Option<String>, field: &str) -> Result<Secret, AdminError> {
    match given {
        None => Ok(generate_value(kind)),
        Some(v) if v.is_empty() => Err(AdminError::Unprocessable(format!(
            "Field '{field}' must not be empty; omit it to have one generated."
        ))),
        Some(v)
            if kind == KeyKind::StandardWebhooks && standard_webhooks::key_bytes(&v).is_none() =>
        {
            Err(AdminError::Unprocessable(format!(
                "Field '{field}' must be a Standard Webhooks secret: 'whsec_' followed by base64."
            )))
        }
        Some(v) => Ok(Secret::new(v)),
    }
}

#[utoipa::path(operation_id = "create_agent_api_key", post, path = "/agent_api_keys", tag = "agent_api_keys", request_body = CreateKeyRequest,
    responses((status = 200, body = CreatedKeyResponse),
              (status = 400, description = "Neither or both of agent_id / agent_name"),
              (status = 404, description = "Unknown agent"),
              (status = 409, description = "The (agent, name, type) key already exists")))]
pub async fn create(
    state: web::Data<AppState>,
    body: web::Json<CreateKeyRequest>,
) -> Result<HttpResponse, AdminError> {
    let req = body.into_inner();
    let selector = AgentSelector {
        agent_id: req.agent_id,
        agent_name: req.agent_name,
    };
    let which = selector.resolve("create an agent api_key")?;
    let name = parse_key_name(&req.name)?;
    let kind = KeyKind::parse(req.api_key_type.as_deref().unwrap_or("external"))?;
    let value = key_value(kind, req.api_key, "api_key")?;
    let shown = value.clone();
    let (agent, info) = run_change(&state, move |conn| {
        create_key(conn, &which, &name, kind, &value)
    })
    .await?;
    tracing::info!(agent.name = %agent.name, key.id = %info.id, key.kind = kind.as_str(), "key created");
    Ok(HttpResponse::Ok().json(CreatedKeyResponse {
        key: info.into(),
        api_key: shown.expose().to_owned(),
    }))
}

#[utoipa::path(operation_id = "list_agent_api_keys", get, path = "/agent_api_keys", tag = "agent_api_keys", params(AgentSelector, Page),
    responses((status = 200, body = [KeyResponse])))]
pub async fn list(
    state: web::Data<AppState>,
    selector: web::Query<AgentSelector>,
    page: web::Query<Page>,
) -> Result<HttpResponse, AdminError> {
    let which = selector.into_inner().resolve("list agent api_keys")?;
    let (limit, offset) = page.bounds()?;
    let keys = run_db(&state.pool, move |conn| {
        let agent = find(conn, &which)?;
        Ok(api_keys::list(conn, &agent.id, limit, offset)?)
    })
    .await?;
    let body: Vec<KeyResponse> = keys.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(body))
}

fn no_such_id(id: &str) -> AdminError {
    AdminError::NotFound(format!("Agent API key with ID {id} does not exist."))
}

#[utoipa::path(operation_id = "get_agent_api_key", get, path = "/agent_api_keys/{id}", tag = "agent_api_keys",
    responses((status = 200, body = KeyResponse), (status = 404, description = "No such key")))]
pub async fn get(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let id = id.into_inner();
    let key = run_db(&state.pool, move |conn| {
        api_keys::find_by_id(conn, &id)?.ok_or_else(|| no_such_id(&id))
    })
    .await?;
    Ok(HttpResponse::Ok().json(KeyResponse::from(key)))
}

#[utoipa::path(operation_id = "delete_agent_api_key", delete, path = "/agent_api_keys/{id}", tag = "agent_api_keys",
    responses((status = 200, body = String), (status = 404, description = "No such key")))]
pub async fn delete(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let id = id.into_inner();
    let deleted_id = id.clone();
    run_change(&state, move |conn| {
        if api_keys::delete(conn, &id)? {
            Ok(())
        } else {
            Err(no_such_id(&id))
        }
    })
    .await?;
    tracing::info!(key.id = %deleted_id, "key deleted");
    Ok(HttpResponse::Ok().json(format!("Agent API key with ID {deleted_id} deleted")))
}

/// Names one key: the agent, and the type (default `external`).
#[derive(Debug, Deserialize, IntoParams)]
pub struct KeyTypeParam {
    pub api_key_type: Option<String>,
}

async fn find_named(
    state: &AppState,
    name: String,
    selector: AgentSelector,
    kind: KeyTypeParam,
    action: &str,
) -> Result<KeyInfo, AdminError> {
    let which = selector.resolve(action)?;
    let kind = KeyKind::parse(kind.api_key_type.as_deref().unwrap_or("external"))?;
    run_db(&state.pool, move |conn| {
        let agent = find(conn, &which)?;
        api_keys::find_by_name(conn, &agent.id, &name, kind)?.ok_or_else(|| {
            AdminError::NotFound(format!(
                "Agent API key '{name}' of type '{}' not found for agent '{}'.",
                kind.as_str(),
                agent.name
            ))
        })
    })
    .await
}

#[utoipa::path(operation_id = "get_agent_api_key_by_name", get, path = "/agent_api_keys/name/{name}", tag = "agent_api_keys",
    params(AgentSelector, KeyTypeParam),
    responses((status = 200, body = KeyResponse), (status = 404, description = "No such key")))]
pub async fn get_by_name(
    state: web::Data<AppState>,
    name: web::Path<String>,
    selector: web::Query<AgentSelector>,
    kind: web::Query<KeyTypeParam>,
) -> Result<HttpResponse, AdminError> {
    let (name, selector, kind) = (name.into_inner(), selector.into_inner(), kind.into_inner());
    let key = find_named(&state, name, selector, kind, "get an agent api_key").await?;
    Ok(HttpResponse::Ok().json(KeyResponse::from(key)))
}

#[utoipa::path(operation_id = "delete_agent_api_key_by_name", delete, path = "/agent_api_keys/name/{name}", tag = "agent_api_keys",
    params(AgentSelector, KeyTypeParam),
    responses((status = 200, body = String), (status = 404, description = "No such key")))]
pub async fn delete_by_name(
    state: web::Data<AppState>,
    name: web::Path<String>,
    selector: web::Query<AgentSelector>,
    kind: web::Query<KeyTypeParam>,
) -> Result<HttpResponse, AdminError> {
    let (name, selector, kind) = (name.into_inner(), selector.into_inner(), kind.into_inner());
    let key = find_named(&state, name, selector, kind, "delete an agent api_key").await?;
    let id = key.id.clone();
    run_change(&state, move |conn| {
        api_keys::delete(conn, &id)?;
        Ok(())
    })
    .await?;
    tracing::info!(key.id = %key.id, "key deleted");
    Ok(HttpResponse::Ok().json(format!("Agent api_key '{}' deleted", key.name)))
}
