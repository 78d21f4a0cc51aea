//! `POST /agent_api_keys/webhook-trigger`: one call that creates a
//! provider's signing key and says which URL to give the provider.

use super::agents::AgentRef;
use super::api_keys::{create_key, key_value, parse_key_name};
use super::caller::Caller;
use super::errors::{run_change, AdminError};
use super::AppState;
use crate::domain::{KeyKind, Revealed, Secret};
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
pub struct WebhookTriggerRequest {
    pub agent_name: String,
    /// `github`, `slack`, `standard_webhooks`, `stripe`, `shopify`,
    /// `gitlab` or `linear`.
    pub source: String,
    /// The repository full name (GitHub), app id (Slack), shop domain
    /// (Shopify); any name for the others.
    pub name: String,
    /// The sub-path after `/agents/forward/name/{agent}/`.
    pub forward_path: String,
    /// The signing secret; generated for GitHub, GitLab and Standard
    /// Webhooks when omitted, required for the providers that make their own
    /// (Slack, Stripe, Shopify, Linear).
    pub secret: Option<Secret>,
    /// Base URL for `webhook_url`; defaults to `HOOKGATE_PUBLIC_URL`.
    pub base_url: Option<String>,
}

/// The key types a trigger can be made for.
const SOURCES: [KeyKind; 7] = [
    KeyKind::Github,
    KeyKind::Slack,
    KeyKind::StandardWebhooks,
    KeyKind::Stripe,
    KeyKind::Shopify,
    KeyKind::Gitlab,
    KeyKind::Linear,
];

/// Providers that generate the secret themselves: it must be given.
const PROVIDER_MADE: [KeyKind; 4] = [
    KeyKind::Slack,
    KeyKind::Stripe,
    KeyKind::Shopify,
    KeyKind::Linear,
];

fn provider_name(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Slack => "the Slack app's settings (signing secret)",
        KeyKind::Stripe => "Stripe's endpoint page (whsec_…)",
        KeyKind::Shopify => "the Shopify app's settings (client secret)",
        KeyKind::Linear => "Linear's webhook settings",
        _ => "the provider",
    }
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
              (status = 400, description = "A provider-made secret (Slack, Stripe, Shopify, Linear) not given"),
              (status = 404, description = "Unknown agent"),
              (status = 409, description = "The key already exists")))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<WebhookTriggerRequest>,
) -> Result<HttpResponse, AdminError> {
    let req = body.into_inner();
    let kind = KeyKind::parse(&req.source)
        .ok()
        .filter(|k| SOURCES.contains(k))
        .ok_or_else(|| {
            let names: Vec<&str> = SOURCES.iter().map(|k| k.as_str()).collect();
            AdminError::Unprocessable(format!(
                "Field 'source' must be one of {}, got {:?}.",
                names.join(", "),
                req.source
            ))
        })?;
    let name = parse_key_name(&req.name)?;
    let given = req.secret.filter(|s| !s.expose().is_empty());
    if given.is_none() && PROVIDER_MADE.contains(&kind) {
        return Err(AdminError::BadRequest(format!(
            "Field 'secret' is required for source '{}': use the secret {} gives you.",
            kind.as_str(),
            provider_name(kind)
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
