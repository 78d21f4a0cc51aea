//! `GET /metrics`: Prometheus text format. Admin token only: agent names
//! are label values, and an account must not learn another's.

use super::caller::Caller;
use super::errors::{run_db, AdminError};
use super::AppState;
use crate::db::{deliveries, now};
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
    // Sampled now, so a scrape sees the queue as it is.
    let samples = run_db(&state.pool, |conn| {
        Ok(deliveries::queue_samples(conn, now())?)
    })
    .await?;
    crate::metrics::queues(&samples);
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::metrics::handle().render()))
}
