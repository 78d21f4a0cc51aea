//! `/agent_api_keys/name/{name}`: a key found by its agent, type and name
//! (the Agentex SDK's way), to read or delete.

use super::{AgentSelector, KeyResponse};
use crate::db::api_keys::{self, KeyInfo};
use crate::routes::agents::find;
use crate::routes::caller::Caller;
use crate::routes::errors::{run_change, run_db, AdminError};
use crate::routes::AppState;
use crate::verify::providers;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

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
