//! `/healthz` (the process answers) and `/readyz` (the database answers,
//! intake and the dispatcher run, and shutdown has not begun).

use super::AppState;
use crate::db::DbError;
use actix_web::{web, HttpResponse};
use diesel::connection::SimpleConnection;

#[utoipa::path(operation_id = "healthz", get, path = "/healthz", tag = "health",
    responses((status = 200, description = "The process is up")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

#[utoipa::path(operation_id = "readyz", get, path = "/readyz", tag = "health",
    responses((status = 200, description = "The database answers, intake and the dispatcher run"),
              (status = 503, description = "Not ready: `detail` says why (draining at shutdown, \
               intake writer or dispatcher not running, database unreachable); `problems` lists \
               every reason")))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let mut problems: Vec<&str> = state
        .readiness
        .problems()
        .into_iter()
        .map(|p| p.detail())
        .collect();
    let pool = state.pool.clone();
    let database = crate::db::blocking::with_conn(&pool, |conn| {
        conn.batch_execute("SELECT 1").map_err(DbError::from)
    })
    .await;
    if let Err(e) = database {
        tracing::warn!(error = %e, "readiness check failed");
        problems.push("database unreachable");
    }
    match problems.first() {
        None => HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })),
        Some(first) => HttpResponse::ServiceUnavailable().json(serde_json::json!({
            "status": "unavailable",
            "detail": first,
            "problems": problems,
        })),
    }
}
