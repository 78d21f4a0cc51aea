//! `GET /metrics`: Prometheus text format. Admin token only: agent names
//! are label values, and an account must not learn another's.

use super::caller::Caller;
use super::errors::AdminError;
use super::health::DATABASE_WAIT;
use super::AppState;
use crate::db::blocking::with_conn_within;
use crate::db::{deliveries, now, DbError};
use actix_web::{web, HttpResponse};

#[utoipa::path(operation_id = "metrics", get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Metrics in the Prometheus text format", content_type = "text/plain"),
              (status = 403, description = "An account key: metrics need the admin token")))]
pub async fn metrics(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, AdminError> {
    caller.require_root("Reading metrics")?;
    if !state.metrics {
        return Err(AdminError::NotFound(
            "Metrics are off (HOOKGATE_METRICS=false).".into(),
        ));
    }
    // Sampled now, so a scrape sees the queue as it is; while the
    // database is away the rest (the spool's gauges above all) still is.
    let sampled = with_conn_within(&state.pool, DATABASE_WAIT, |conn| {
        deliveries::queue_samples(conn, now()).map_err(DbError::from)
    })
    .await;
    crate::metrics::database_up(sampled.is_ok());
    match sampled {
        Ok(samples) => crate::metrics::queues(&samples),
        Err(e) => tracing::warn!(error = %e, "queue gauges keep their last values"),
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::metrics::handle().render()))
}
