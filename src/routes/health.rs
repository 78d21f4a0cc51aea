//! `/healthz` (the process answers) and `/readyz` (the database answers,
//! or the spool takes what it cannot; intake and the dispatcher run; and
//! shutdown has not begun).

use super::AppState;
use crate::db::DbError;
use actix_web::{web, HttpResponse};
use diesel::connection::SimpleConnection;
use std::time::Duration;

/// How long `/readyz` and `/metrics` wait for a database connection.
pub const DATABASE_WAIT: Duration = Duration::from_secs(1);

#[utoipa::path(operation_id = "healthz", get, path = "/healthz", tag = "health",
    responses((status = 200, description = "The process is up")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

#[utoipa::path(operation_id = "readyz", get, path = "/readyz", tag = "health",
    responses((status = 200, description = "Ready: `status` is `ready`, or `spooling` while \
               accepted calls wait in the local spool for the database (still accepting; \
               `spool` says how much waits)"),
              (status = 503, description = "Not ready: `detail` says why (draining at shutdown, \
               intake writer or dispatcher not running, database unreachable with no room in \
               the spool); `problems` lists every reason")))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let mut problems: Vec<&str> = state
        .readiness
        .problems()
        .into_iter()
        .map(|p| p.detail())
        .collect();
    let database = database_answers(&state.pool).await;
    let spool = state.spool.as_ref().map(|s| s.status());
    // While the database is away the spool takes calls, if it has room.
    let spool_takes = spool.is_some_and(|s| s.bytes < s.max_bytes);
    if !database && !spool_takes {
        problems.push("database unreachable");
    }
    let spooling = spool.is_some_and(|s| s.events > 0) || !database;
    match problems.first() {
        None if spooling => HttpResponse::Ok().json(serde_json::json!({
            "status": "spooling",
            "detail": match database {
                true => "accepted calls are being moved from the spool into the database",
                false => "the database is unreachable: accepted calls are spooled to local disk",
            },
            "spool": spool,
        })),
        None => HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })),
        Some(first) => HttpResponse::ServiceUnavailable().json(serde_json::json!({
            "status": "unavailable",
            "detail": first,
            "problems": problems,
            "spool": spool,
        })),
    }
}

/// Whether the database answers a query within [`DATABASE_WAIT`] (a
/// probe gives up sooner than the pool's own wait).
pub async fn database_answers(pool: &crate::db::DbPool) -> bool {
    let answered = crate::db::blocking::with_conn_within(pool, DATABASE_WAIT, |conn| {
        conn.batch_execute("SELECT 1").map_err(DbError::from)
    })
    .await;
    if let Err(e) = &answered {
        tracing::warn!(error = %e, "the database does not answer a probe");
    }
    answered.is_ok()
}
