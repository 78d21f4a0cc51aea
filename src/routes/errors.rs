//! Admin-route errors: `{"message": …}` bodies with the contract's codes, and
//! JSON/query extractor errors turned into 422s that name the bad field.

use crate::db::{DbConnection, DbError, DbPool};
use actix_web::{http::StatusCode, web, HttpResponse, ResponseError};
use diesel::Connection;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[from] DbError),
}

impl From<diesel::result::Error> for AdminError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Internal(e.into())
    }
}

impl From<crate::domain::ParseError> for AdminError {
    fn from(e: crate::domain::ParseError) -> Self {
        Self::Unprocessable(e.0)
    }
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Internal(e) if e.is_outage() => StatusCode::SERVICE_UNAVAILABLE,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let message = match self {
            Self::Internal(e) if e.is_outage() => {
                tracing::warn!(error = %e, "database unavailable; admin request refused with 503");
                super::DATABASE_UNAVAILABLE.to_owned()
            }
            Self::Internal(e) => {
                tracing::error!(error = %e, "admin request failed");
                self.to_string()
            }
            _ => self.to_string(),
        };
        let mut answer = HttpResponse::build(self.status_code());
        if self.status_code() == StatusCode::SERVICE_UNAVAILABLE {
            let wait = super::RETRY_AFTER_SECS.to_string();
            answer.insert_header((actix_web::http::header::RETRY_AFTER, wait));
        }
        answer.json(serde_json::json!({ "message": message }))
    }
}

/// Runs blocking database work off the async workers.
pub async fn run_db<T, F>(pool: &DbPool, work: F) -> Result<T, AdminError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, AdminError> + Send + 'static,
{
    crate::db::blocking::with_conn(pool, work).await
}

/// Runs a change to agents, keys or routes, then drops every cached key
/// here and tells the other instances to do the same, before the admin call
/// can answer. The change is one transaction that takes the writer lock
/// before it reads (delivery writes beside admin changes all the time); one
/// that still meets a transient conflict (a PostgreSQL serialization
/// failure or deadlock) rolled back whole and is run again.
pub async fn run_change<T, F>(state: &super::AppState, mut work: F) -> Result<T, AdminError>
where
    T: Send + 'static,
    F: FnMut(&mut DbConnection) -> Result<T, AdminError> + Send + 'static,
{
    let done = run_db(&state.pool, move |conn| {
        let done = again_when_transient(conn, &mut work)?;
        if let Err(e) = crate::db::notify::announce_change(conn) {
            // The change is committed; other instances still stop caching
            // on their own if they lose their listener.
            tracing::error!(error = %e, "could not notify other instances of a key change");
        }
        Ok(done)
    })
    .await;
    state.cache.invalidate_all();
    done
}

/// `work`, again (up to five times in all) while it fails with a transient
/// conflict.
fn again_when_transient<T>(
    conn: &mut DbConnection,
    work: &mut impl FnMut(&mut DbConnection) -> Result<T, AdminError>,
) -> Result<T, AdminError> {
    let mut tries = 0;
    loop {
        tries += 1;
        let done = conn.transaction(|conn| {
            crate::db::write_first(conn)?;
            work(conn)
        });
        match done {
            Err(AdminError::Internal(DbError::Query(e)))
                if crate::db::is_transient(&e) && tries < 5 =>
            {
                tracing::debug!(error = %e, "transient database conflict; admin change again");
            }
            other => return other,
        }
    }
}

/// A malformed or incomplete JSON body is a 422 naming what serde found wrong.
/// An optional JSON body: empty (or blank) is the default request.
pub fn optional_json<T: Default + serde::de::DeserializeOwned>(
    body: &[u8],
) -> Result<T, AdminError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| AdminError::Unprocessable(format!("Invalid JSON body: {e}")))
}

pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(1 << 20)
        // The browser guard has already refused admin bodies of any other
        // type (415); the check is not repeated here.
        .content_type_required(false)
        .error_handler(|err, _| {
            let message = format!("Invalid request body: {err}");
            let response =
                HttpResponse::UnprocessableEntity().json(serde_json::json!({ "message": message }));
            actix_web::error::InternalError::from_response(err, response).into()
        })
}

/// A malformed query string is a 422 naming the parameter.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _| {
        let message = format!("Invalid query string: {err}");
        let response =
            HttpResponse::UnprocessableEntity().json(serde_json::json!({ "message": message }));
        actix_web::error::InternalError::from_response(err, response).into()
    })
}
