//! `POST /agent_api_keys/webhook-trigger`: one call that creates a GitHub or
//! Slack signing key and says which URL to give the provider.

use super::agents::AgentRef;
use super::api_keys::{create_key, parse_key_name};
use super::errors::{run_change, AdminError};
use super::AppState;
use crate::domain::{generate_key, KeyKind, Secret};
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
pub struct WebhookTriggerRequest {
    pub agent_name: String,
    /// `github` or `slack`.
    pub source: String,
    /// The repository full name (GitHub) or app id (Slack).
    pub name: String,
    /// The sub-path after `/agents/forward/name/{agent}/`.
    pub forward_path: String,
    /// The signing secret; generated for GitHub when omitted, required for Slack.
    pub secret: Option<String>,
    /// Base URL for `webhook_url`; defaults to `HOOKGATE_PUBLIC_URL`.
    pub base_url: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookTriggerResponse {
    pub key_id: String,
    pub agent_name: String,
    pub source: String,
    pub name: String,
    /// The secret to paste into the provider's settings; shown only here.
    pub secret: String,
    pub webhook_path: String,
    pub webhook_url: Option<String>,
}

#[utoipa::path(operation_id = "create_webhook_trigger", post, path = "/agent_api_keys/webhook-trigger", tag = "agent_api_keys",
    request_body = WebhookTriggerRequest,
    responses((status = 200, body = WebhookTriggerResponse),
              (status = 400, description = "Slack without a secret"),
              (status = 404, description = "Unknown agent"),
              (status = 409, description = "The key already exists")))]
pub async fn create(
    state: web::Data<AppState>,
    body: web::Json<WebhookTriggerRequest>,
) -> Result<HttpResponse, AdminError> {
    let req = body.into_inner();
    let kind = match req.source.as_str() {
        "github" => KeyKind::Github,
        "slack" => KeyKind::Slack,
        other => {
            return Err(AdminError::Unprocessable(format!(
                "Field 'source' must be 'github' or 'slack', got {other:?}."
            )))
        }
    };
    let name = parse_key_name(&req.name)?;
    let secret = match (req.secret.filter(|s| !s.is_empty()), kind) {
        (Some(s), _) => Secret::new(s),
        (None, KeyKind::Github) => generate_key(),
        (None, _) => {
            return Err(AdminError::BadRequest(
                "Field 'secret' is required for source 'slack': use the app's signing secret."
                    .into(),
            ))
        }
    };
    let forward_path = req.forward_path.trim_start_matches('/').to_owned();
    let which = AgentRef::Name(req.agent_name.clone());
    let stored = secret.clone();
    let key_name = name.clone();
    let (agent, info) = run_change(&state, move |conn| {
        create_key(conn, &which, &key_name, kind, &stored)
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
        secret: secret.expose().to_owned(),
        webhook_path,
        webhook_url,
    }))
}
