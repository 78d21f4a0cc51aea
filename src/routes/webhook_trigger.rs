//! `POST /agent_api_keys/webhook-trigger`: one call that creates a
//! provider's signing key and says which URL to give the provider.

use super::agents::AgentRef;
use super::api_keys::{create_key, key_value, parse_key_name};
use super::caller::Caller;
use super::errors::{run_change, AdminError};
use super::AppState;
use crate::domain::{Revealed, Secret};
use crate::verify::{providers, Provider, SecretSource};
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
pub struct WebhookTriggerRequest {
    pub agent_name: String,
    /// A provider's key type (the README lists them).
    pub source: String,
    /// The name the provider's calls give their key (a repository, an app
    /// id, a shop), where they give one; any name for the others.
    pub name: String,
    /// The sub-path after `/agents/forward/name/{agent}/`.
    pub forward_path: String,
    /// The signing secret; generated when omitted, except for providers
    /// that make their own, which require it.
    pub secret: Option<Secret>,
    /// Base URL for `webhook_url`; defaults to `HOOKGATE_PUBLIC_URL`.
    pub base_url: Option<String>,
}

/// The providers a trigger can be made for.
fn sources() -> impl Iterator<Item = &'static dyn Provider> {
    providers::PROVIDERS
        .iter()
        .copied()
        .filter(|p| p.descriptor().secret != SecretSource::NotATrigger)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookTriggerResponse {
    pub key_id: String,
    pub agent_name: String,
    pub source: String,
    pub name: String,
    /// The secret to paste into the provider's settings; shown only here.
    pub secret: Revealed,
    pub webhook_path: String,
    pub webhook_url: Option<String>,
}

#[utoipa::path(operation_id = "create_webhook_trigger", post, path = "/agent_api_keys/webhook-trigger", tag = "agent_api_keys",
    request_body = WebhookTriggerRequest,
    responses((status = 200, body = WebhookTriggerResponse),
              (status = 400, description = "A provider-made secret not given"),
              (status = 404, description = "Unknown agent"),
              (status = 409, description = "The key already exists")))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<WebhookTriggerRequest>,
) -> Result<HttpResponse, AdminError> {
    let req = body.into_inner();
    let provider = sources()
        .find(|p| p.descriptor().kind.as_str() == req.source)
        .ok_or_else(|| {
            let names: Vec<&str> = sources().map(|p| p.descriptor().kind.as_str()).collect();
            AdminError::Unprocessable(format!(
                "Field 'source' must be one of {}, got {:?}.",
                names.join(", "),
                req.source
            ))
        })?;
    let kind = provider.descriptor().kind;
    let name = parse_key_name(&req.name)?;
    let given = req.secret.filter(|s| !s.expose().is_empty());
    if let (None, Some(found_in)) = (&given, provider.descriptor().secret.found_in()) {
        return Err(AdminError::BadRequest(format!(
            "Field 'secret' is required for source '{}': use the secret {found_in} gives you.",
            kind.as_str(),
        )));
    }
    let secret = key_value(kind, given, "secret")?;
    let forward_path = req.forward_path.trim_start_matches('/').to_owned();
    let which = AgentRef::Name(req.agent_name.clone());
    let stored = secret.clone();
    let key_name = name.clone();
    let data_key = state.data_key.clone();
    let (agent, info) = run_change(&state, move |conn| {
        create_key(
            conn, &data_key, &caller, &which, &key_name, kind, &stored, None,
        )
    })
    .await?;
    let webhook_path = format!("/agents/forward/name/{}/{forward_path}", agent.name);
    let base = req.base_url.or_else(|| state.public_url.clone());
    let webhook_url = base.map(|b| format!("{}{webhook_path}", b.trim_end_matches('/')));
    tracing::info!(agent.name = %agent.name, key.id = %info.id, source = %req.source, "webhook trigger created");
    Ok(HttpResponse::Ok().json(WebhookTriggerResponse {
        key_id: info.id,
        agent_name: agent.name,
        source: req.source,
        name,
        secret: Revealed(secret),
        webhook_path,
        webhook_url,
    }))
}
