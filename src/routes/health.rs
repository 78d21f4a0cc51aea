//! `/healthz` (the process answers) and `/readyz` (the database answers).

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
    responses((status = 200, description = "The database answers"),
              (status = 503, description = "The database does not answer")))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let pool = state.pool.clone();
    let ready = crate::db::blocking::with_conn(&pool, |conn| {
        conn.batch_execute("SELECT 1").map_err(DbError::from)
    })
    .await;
    match ready {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            HttpResponse::ServiceUnavailable().json(
                serde_json::json!({ "status": "unavailable", "detail": "database unreachable" }),
            )
        }
    }
}
