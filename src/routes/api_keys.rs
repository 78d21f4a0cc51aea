//! `/agent_api_keys`: create (the only answer that shows a value), list, get
//! and delete, by id or by name.

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

/// `POST /agent_api_keys/{id}/rotate`: both fields optional, the body too.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateKeyRequest {
    /// The new value; generated in the type's format when omitted.
    pub api_key: Option<Secret>,
    /// How long the values in use until now keep verifying: default 86400
    /// (24 h); 0 stops them at once.
    pub expires_in_secs: Option<i64>,
}

/// The rotation answer: the new value, shown only here.
#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedKeyResponse {
    #[serde(flatten)]
    pub key: KeyResponse,
    pub api_key: Revealed,
    /// When the values in use before this rotation stop verifying.
    pub previous_expires_at: DateTime<Utc>,
}

/// The longest overlap a rotation may give the old values (a year).
const MAX_OVERLAP_SECS: i64 = 365 * 24 * 3600;
const DEFAULT_OVERLAP_SECS: i64 = 24 * 3600;

#[utoipa::path(operation_id = "rotate_agent_api_key", post, path = "/agent_api_keys/{id}/rotate", tag = "agent_api_keys",
    request_body(content = RotateKeyRequest, description = "Optional"),
    responses((status = 200, body = RotatedKeyResponse),
              (status = 404, description = "No such key"),
              (status = 422, description = "A field out of range, or an internal key")))]
pub async fn rotate(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let id = id.into_inner();
    let req: RotateKeyRequest = super::errors::optional_json(&body)?;
    let overlap = req.expires_in_secs.unwrap_or(DEFAULT_OVERLAP_SECS);
    if !(0..=MAX_OVERLAP_SECS).contains(&overlap) {
        return Err(AdminError::Unprocessable(format!(
            "Field 'expires_in_secs' must be 0 to {MAX_OVERLAP_SECS}; got {overlap}."
        )));
    }
    let given = req.api_key;
    let data_key = state.data_key.clone();
    let (key, value, until) = run_change(&state, move |conn| {
        conn.transaction(|conn| {
            let found = api_keys::find_by_id(conn, &id)?;
            let key = caller.only_own(conn, found, || no_such_id(&id))?;
            let kind = providers::key_kind(&key.api_key_type)?;
            if kind == KeyKind::INTERNAL {
                return Err(AdminError::Unprocessable(
                    "Internal keys are not rotated here: hookgate sends them to the agent, which would refuse a new one it has not been given.".into(),
                ));
            }
            let value = key_value(kind, given.clone(), "api_key")?;
            let until = crate::db::now() + chrono::Duration::seconds(overlap);
            api_keys::rotate(conn, &data_key, &key, kind, &value, until)?;
            Ok((key, value, until))
        })
    })
    .await?;
    tracing::info!(key.id = %key.id, key.kind = %key.api_key_type, previous_expires_in_secs = overlap, "key rotated");
    Ok(HttpResponse::Ok().json(RotatedKeyResponse {
        key: key.into(),
        api_key: Revealed(value),
        previous_expires_at: utc(until),
    }))
}

/// Names one key: the agent, and the type (default `external`).
#[derive(Debug, Deserialize, IntoParams)]
pub struct KeyTypeParam {
    pub api_key_type: Option<String>,
}

async fn find_named(
    state: &AppState,
    caller: Caller,
    name: String,
    selector: AgentSelector,
    kind: KeyTypeParam,
    action: &str,
) -> Result<KeyInfo, AdminError> {
    let which = selector.resolve(action)?;
    let kind = providers::key_kind(kind.api_key_type.as_deref().unwrap_or("external"))?;
    run_db(&state.pool, move |conn| {
        let agent = find(conn, &which, &caller)?;
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
    caller: Caller,
    name: web::Path<String>,
    selector: web::Query<AgentSelector>,
    kind: web::Query<KeyTypeParam>,
) -> Result<HttpResponse, AdminError> {
    let (name, selector, kind) = (name.into_inner(), selector.into_inner(), kind.into_inner());
    let key = find_named(&state, caller, name, selector, kind, "get an agent api_key").await?;
    Ok(HttpResponse::Ok().json(KeyResponse::from(key)))
}

#[utoipa::path(operation_id = "delete_agent_api_key_by_name", delete, path = "/agent_api_keys/name/{name}", tag = "agent_api_keys",
    params(AgentSelector, KeyTypeParam),
    responses((status = 200, body = String), (status = 404, description = "No such key")))]
pub async fn delete_by_name(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
    selector: web::Query<AgentSelector>,
    kind: web::Query<KeyTypeParam>,
) -> Result<HttpResponse, AdminError> {
    let (name, selector, kind) = (name.into_inner(), selector.into_inner(), kind.into_inner());
    let key = find_named(
        &state,
        caller,
        name,
        selector,
        kind,
        "delete an agent api_key",
    )
    .await?;
    let id = key.id.clone();
    run_change(&state, move |conn| {
        api_keys::delete(conn, &id)?;
        Ok(())
    })
    .await?;
    tracing::info!(key.id = %key.id, "key deleted");
    Ok(HttpResponse::Ok().json(format!("Agent api_key '{}' deleted", key.name)))
}
