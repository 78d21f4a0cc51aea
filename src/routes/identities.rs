//! `PUT /agents/{id}/identities`: who the agent is at its providers
//! (`github:my-agent[bot]`, `slack:B0123ABC`), so the loop guard drops the
//! events it caused itself.

use super::agents::{find, AgentRef};
use super::caller::Caller;
use super::errors::{run_change, AdminError};
use super::AppState;
use crate::db::agents::{self, AgentResponse};
use crate::domain::Identities;
use crate::verify::providers::identity_providers;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentitiesRequest {
    /// `provider:id` strings, e.g. `["github:my-agent[bot]", "slack:B0123ABC"]`.
    #[schema(value_type = Vec<String>)]
    pub identities: serde_json::Value,
}

/// Parses identities named by `field`, for this route and registration.
pub fn parse_identities(field: &str, value: &serde_json::Value) -> Result<Identities, AdminError> {
    Ok(Identities::parse(field, value, &identity_providers())?)
}

#[utoipa::path(put, path = "/agents/{id}/identities", operation_id = "set_agent_identities",
    tag = "agents", request_body = IdentitiesRequest,
    responses((status = 200, body = AgentResponse), (status = 404, description = "No such agent"),
              (status = 422, description = "An identity is not `provider:id`")))]
pub async fn set(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<IdentitiesRequest>,
) -> Result<HttpResponse, AdminError> {
    let identities = parse_identities("identities", &body.identities)?;
    let id = id.into_inner();
    let agent = run_change(&state, move |conn| {
        let agent = find(conn, &AgentRef::Id(id.clone()), &caller)?;
        let updated = agents::set_identities(conn, &agent.id, &identities.to_stored())?;
        updated.ok_or_else(|| AdminError::NotFound(format!("Agent with ID {id} not found.")))
    })
    .await?;
    tracing::info!(agent.name = %agent.name, "agent identities set");
    Ok(HttpResponse::Ok().json(AgentResponse::from(agent)))
}
