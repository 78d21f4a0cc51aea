//! `/agent_api_keys`: create (the only answer that shows a value), list, get
//! and delete by id; by name in `by_name.rs`; rotation (which also shows
//! the new value) in `rotation.rs`.

mod by_name;
mod rotation;

pub use by_name::*;
pub use rotation::*;

use super::agents::{find, AgentRef, Page};
use super::caller::Caller;
use super::errors::{run_change, run_db, AdminError};
use super::AppState;
use crate::crypto::DataKey;
use crate::db::agents::utc;
use crate::db::agents::Agent;
use crate::db::api_keys::{self, KeyInfo};
use crate::db::{is_unique_violation, DbConnection};
use crate::domain::{generate_key, HmacConfig, KeyKind, KeyLookup, Revealed, Secret};
use crate::verify::{providers, SecretSource};
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
    /// `external` (default), `internal`, `hmac`, or a provider's type
    /// (the README lists them).
    pub api_key_type: Option<String>,
    /// The value to store; generated in the type's format when omitted
    /// (64 hex characters unless the provider's format differs).
    pub api_key: Option<Secret>,
    /// Required for (and only for) `api_key_type` `hmac`: how the provider signs.
    pub hmac: Option<HmacConfig>,
}

/// A key without its value.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyResponse {
    pub id: String,
    pub agent_id: String,
    pub created_at: DateTime<Utc>,
    pub name: String,
    pub api_key_type: String,
    /// The settings of an `hmac` key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hmac: Option<HmacConfig>,
}

/// The creation answer: the only one that carries the value.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKeyResponse {
    #[serde(flatten)]
    pub key: KeyResponse,
    pub api_key: Revealed,
}

impl From<KeyInfo> for KeyResponse {
    fn from(k: KeyInfo) -> Self {
        Self {
            id: k.id,
            agent_id: k.agent_id,
            created_at: utc(k.created_at),
            name: k.name,
            api_key_type: k.api_key_type,
            hmac: k.config.and_then(|c| serde_json::from_str(&c).ok()),
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

/// Checks a key or secret name: what repository names and app ids need.
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
#[expect(
    clippy::too_many_arguments,
    reason = "one key's every part; grouped by the provider descriptor in issue 12"
)]
pub fn create_key(
    conn: &mut DbConnection,
    data_key: &DataKey,
    caller: &Caller,
    which: &AgentRef,
    name: &str,
    kind: KeyKind,
    value: &Secret,
    config: Option<&str>,
) -> Result<(Agent, KeyInfo), AdminError> {
    conn.transaction(|conn| {
        let agent = find(conn, which, caller)?;
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
        match api_keys::insert(conn, data_key, &agent.id, name, kind, value, config) {
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
pub fn key_value(kind: KeyKind, given: Option<Secret>, field: &str) -> Result<Secret, AdminError> {
    let provider = providers::of_kind(kind);
    let Some(value) = given else {
        if kind == KeyKind::OUTBOUND {
            return Err(AdminError::Unprocessable(format!(
                "Field '{field}' is required for type 'outbound': it is the token the A2A agent accepts, sent as 'Authorization: Bearer'."
            )));
        }
        if let Some(SecretSource::PublicKey { found_in }) = provider.map(|p| p.descriptor().secret)
        {
            return Err(AdminError::Unprocessable(format!(
                "Field '{field}' is required for type '{}': use the public key {found_in} shows.",
                kind.as_str()
            )));
        }
        return Ok(provider.map_or_else(generate_key, |p| p.generate_secret()));
    };
    if value.expose().is_empty() {
        return Err(AdminError::Unprocessable(format!(
            "Field '{field}' must not be empty; omit it to have one generated."
        )));
    }
    match provider.and_then(|p| p.secret_refusal(value.expose())) {
        Some(what) => Err(AdminError::Unprocessable(format!(
            "Field '{field}' must be {what}."
        ))),
        None => Ok(value),
    }
}

#[utoipa::path(operation_id = "create_agent_api_key", post, path = "/agent_api_keys", tag = "agent_api_keys", request_body = CreateKeyRequest,
    responses((status = 200, body = CreatedKeyResponse),
              (status = 400, description = "Neither or both of agent_id / agent_name"),
              (status = 404, description = "Unknown agent"),
              (status = 409, description = "The (agent, name, type) key already exists")))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CreateKeyRequest>,
) -> Result<HttpResponse, AdminError> {
    let req = body.into_inner();
    let selector = AgentSelector {
        agent_id: req.agent_id,
        agent_name: req.agent_name,
    };
    let which = selector.resolve("create an agent api_key")?;
    let name = parse_key_name(&req.name)?;
    let kind = providers::key_kind(req.api_key_type.as_deref().unwrap_or("external"))?;
    let value = key_value(kind, req.api_key, "api_key")?;
    let takes_settings = providers::of_kind(kind).is_some_and(|p| p.takes_hmac_settings());
    let config = match (takes_settings, req.hmac) {
        (true, Some(config)) => Some(config.validated(providers::claimed_by)?),
        (true, None) => {
            return Err(AdminError::Unprocessable(
                "Field 'hmac' is required for api_key_type 'hmac': it says which header carries the signature and how it is made.".into(),
            ))
        }
        (false, Some(_)) => {
            return Err(AdminError::Unprocessable(
                "Field 'hmac' applies only to api_key_type 'hmac'.".into(),
            ))
        }
        (false, None) => None,
    };
    let config = config.map(|c| serde_json::to_string(&c).expect("settings serialise"));
    let shown = value.clone();
    let data_key = state.data_key.clone();
    let (agent, info) = run_change(&state, move |conn| {
        create_key(
            conn,
            &data_key,
            &caller,
            &which,
            &name,
            kind,
            &value,
            config.as_deref(),
        )
    })
    .await?;
    tracing::info!(agent.name = %agent.name, key.id = %info.id, key.kind = kind.as_str(), "key created");
    Ok(HttpResponse::Ok().json(CreatedKeyResponse {
        key: info.into(),
        api_key: Revealed(shown),
    }))
}

#[utoipa::path(operation_id = "list_agent_api_keys", get, path = "/agent_api_keys", tag = "agent_api_keys", params(AgentSelector, Page),
    responses((status = 200, body = [KeyResponse])))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    selector: web::Query<AgentSelector>,
    page: web::Query<Page>,
) -> Result<HttpResponse, AdminError> {
    let which = selector.into_inner().resolve("list agent api_keys")?;
    let (limit, offset) = page.bounds()?;
    let keys = run_db(&state.pool, move |conn| {
        let agent = find(conn, &which, &caller)?;
        Ok(api_keys::list(conn, &agent.id, limit, offset)?)
    })
    .await?;
    let body: Vec<KeyResponse> = keys.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(body))
}

pub(super) fn no_such_id(id: &str) -> AdminError {
    AdminError::NotFound(format!("Agent API key with ID {id} does not exist."))
}

#[utoipa::path(operation_id = "get_agent_api_key", get, path = "/agent_api_keys/{id}", tag = "agent_api_keys",
    responses((status = 200, body = KeyResponse), (status = 404, description = "No such key")))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let id = id.into_inner();
    let key = run_db(&state.pool, move |conn| {
        let found = api_keys::find_by_id(conn, &id)?;
        caller.only_own(conn, found, || no_such_id(&id))
    })
    .await?;
    Ok(HttpResponse::Ok().json(KeyResponse::from(key)))
}

#[utoipa::path(operation_id = "delete_agent_api_key", delete, path = "/agent_api_keys/{id}", tag = "agent_api_keys",
    responses((status = 200, body = String), (status = 404, description = "No such key")))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let id = id.into_inner();
    let deleted_id = id.clone();
    run_change(&state, move |conn| {
        let found = api_keys::find_by_id(conn, &id)?;
        caller.only_own(conn, found, || no_such_id(&id))?;
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
