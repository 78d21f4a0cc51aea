//! `POST /agent_api_keys/{id}/rotate`: a new value for a key, shown once,
//! while the values in use until now keep verifying for an overlap.

use super::{key_value, no_such_id, KeyResponse};
use crate::db::agents::utc;
use crate::db::api_keys;
use crate::domain::{KeyKind, Revealed, Secret};
use crate::routes::caller::Caller;
use crate::routes::errors::{run_change, AdminError};
use crate::routes::AppState;
use crate::verify::providers;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::Connection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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
    let req: RotateKeyRequest = crate::routes::errors::optional_json(&body)?;
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
