//! `POST /agent_api_keys/{id}/test_call`: a sample call signed with the key
//! as its provider would sign it, ready to send to the forward route
//! (`hookgate send-test`). The value itself is never answered; a signature
//! proves nothing about it.

use super::caller::Caller;
use super::errors::{run_db, AdminError};
use super::AppState;
use crate::db::{agents, api_keys};
use crate::domain::{KeyKind, KeyLookup, SubPath, TimedSecret};
use crate::verify::provider::SecretSource;
use crate::verify::providers;
use crate::verify::sample::SampleRequest;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What to sign; every field optional.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestCallRequest {
    /// The sub-path after `/agents/forward/name/{agent}/` (default `test`).
    pub path: Option<String>,
    /// The body to sign (default: the provider's sample event).
    pub body: Option<String>,
    /// The base URL the call will be sent to, for providers that sign the
    /// URL (default: `HOOKGATE_PUBLIC_URL`, else `http://127.0.0.1:5003`).
    pub base_url: Option<String>,
}

/// A signed call: send `body` with `headers` to `path`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestCall {
    pub method: &'static str,
    /// The forward route's path.
    pub path: String,
    /// The full URL the signature was made for.
    pub url: String,
    /// `[name, value]` pairs, the signature among them.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

#[utoipa::path(operation_id = "agent_api_key_test_call", post, path = "/agent_api_keys/{id}/test_call", tag = "agent_api_keys",
    request_body(content = TestCallRequest, description = "Optional"),
    responses((status = 200, body = TestCall),
              (status = 404, description = "No such key"),
              (status = 409, description = "The key has no live value"),
              (status = 422, description = "hookgate cannot sign for this key type, or a bad field")))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let id = id.into_inner();
    let req: TestCallRequest = super::errors::optional_json(&body)?;
    let sub_path = sub_path(req.path.as_deref())?;
    let base = state
        .public_url
        .clone()
        .or(req.base_url.map(|b| b.trim_end_matches('/').to_owned()))
        .unwrap_or_else(|| "http://127.0.0.1:5003".to_owned());
    let data_key = state.data_key.clone();
    let (agent_name, key_name, kind, secret) = run_db(&state.pool, move |conn| {
        let found = api_keys::find_by_id(conn, &id)?;
        let key = caller.only_own(conn, found, || super::api_keys::no_such_id(&id))?;
        let kind = providers::key_kind(&key.api_key_type)?;
        if let Some(refusal) = cannot_sign(kind) {
            return Err(refusal);
        }
        let agent = agents::find_by_id(conn, &key.agent_id)?
            .ok_or_else(|| AdminError::NotFound(format!("Agent {} not found.", key.agent_id)))?;
        let versions =
            api_keys::live_secrets(conn, &data_key, &key.agent_id, kind, Some(&key.name))?;
        let newest = versions.into_iter().find(|v| *v.key_id == *key.id);
        Ok((agent.name, key.name, kind, newest))
    })
    .await?;
    let secret = secret.ok_or_else(|| {
        AdminError::Conflict(format!(
            "The {} key {key_name:?} has no live value to sign with.",
            kind.as_str()
        ))
    })?;
    let path = format!("/agents/forward/name/{agent_name}/{sub_path}");
    let url = format!("{base}{path}");
    let signed = sign(kind, &key_name, &secret, req.body.as_deref(), &url)?;
    tracing::info!(key.kind = kind.as_str(), agent = %agent_name, "test call signed");
    Ok(HttpResponse::Ok().json(TestCall {
        method: "POST",
        path,
        url,
        headers: signed.headers,
        body: String::from_utf8_lossy(&signed.body).into_owned(),
    }))
}

fn sign(
    kind: KeyKind,
    key_name: &str,
    secret: &TimedSecret,
    body: Option<&str>,
    url: &str,
) -> Result<crate::verify::sample::Sample, AdminError> {
    let refused = || {
        AdminError::Unprocessable(format!(
            "hookgate cannot sign a test call for this {} key: its settings do not say how.",
            kind.as_str()
        ))
    };
    let provider = providers::of_kind(kind).ok_or_else(refused)?;
    let request = SampleRequest {
        key_name,
        secret,
        body: body.map(str::as_bytes),
        url,
        now: chrono::Utc::now().timestamp(),
    };
    provider.sample(&request).ok_or_else(refused)
}

/// Why hookgate cannot sign for any key of a type, if it cannot.
fn cannot_sign(kind: KeyKind) -> Option<AdminError> {
    let holds = match providers::of_kind(kind).map(|p| p.descriptor().secret) {
        _ if kind.lookup() == KeyLookup::NotPresented => {
            "it is sent by hookgate to the agent, not by a provider"
        }
        _ if kind.lookup() == KeyLookup::Digest => "it stores only a digest of the value",
        Some(SecretSource::PublicKey { .. }) => "it holds only the provider's public key",
        _ => return None,
    };
    Some(AdminError::Unprocessable(format!(
        "hookgate cannot sign a test call for {} keys: {holds}.",
        kind.as_str()
    )))
}

/// The sub-path given, in its canonical form without a leading `/` (the
/// form the forward route matches routes in); `test` when none.
fn sub_path(path: Option<&str>) -> Result<String, AdminError> {
    let path = path.unwrap_or("test").trim_start_matches('/');
    if path.is_empty()
        || path.len() > 1024
        || path.contains(|c: char| c.is_whitespace() || c == '?' || c == '#')
    {
        return Err(AdminError::Unprocessable(
            "Field 'path' must be a sub-path without spaces, '?' or '#' (at most 1024 characters)."
                .into(),
        ));
    }
    let canonical = SubPath::parse(&format!("/{path}"))
        .map_err(|e| AdminError::Unprocessable(format!("Field 'path' is refused: {e}")))?;
    Ok(canonical.relative().to_owned())
}
