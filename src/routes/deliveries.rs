//! `/deliveries`: the durable queue, for operators: list, inspect with
//! attempts, and send a failed delivery again.

use super::errors::{run_db, AdminError};
use super::AppState;
use crate::db::agents::{self, utc};
use crate::db::deliveries::{self, Attempt, Delivery, DELIVERED, FAILED, PENDING};
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryResponse {
    pub id: String,
    pub agent_id: String,
    pub route_id: Option<String>,
    pub mode: String,
    pub task_id: Option<String>,
    pub sequence_id: Option<i64>,
    pub method: String,
    pub path: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptResponse {
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// `delivered`, `retry` or `failed`.
    pub outcome: String,
    pub status_code: Option<i32>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryWithAttempts {
    #[serde(flatten)]
    pub delivery: DeliveryResponse,
    pub attempt_log: Vec<AttemptResponse>,
}

impl From<Delivery> for DeliveryResponse {
    fn from(d: Delivery) -> Self {
        Self {
            next_attempt_at: (d.status == PENDING).then(|| utc(d.next_attempt_at)),
            id: d.id,
            agent_id: d.agent_id,
            route_id: d.route_id,
            mode: d.mode,
            task_id: d.task_id,
            sequence_id: d.sequence_id,
            method: d.method,
            path: d.path,
            status: d.status,
            attempts: d.attempts,
            last_error: d.last_error,
            created_at: utc(d.created_at),
            updated_at: utc(d.updated_at),
            delivered_at: d.delivered_at.map(utc),
        }
    }
}

impl From<Attempt> for AttemptResponse {
    fn from(a: Attempt) -> Self {
        Self {
            attempt: a.attempt,
            started_at: utc(a.started_at),
            finished_at: utc(a.finished_at),
            outcome: a.outcome,
            status_code: a.status_code,
            error: a.error,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    pub agent_name: Option<String>,
    /// `pending`, `delivered` or `failed`.
    pub status: Option<String>,
    /// 1 to 1000 (default 50), newest first.
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/deliveries", operation_id = "list_deliveries", tag = "deliveries",
    params(ListQuery), responses((status = 200, body = [DeliveryResponse])))]
pub async fn list(
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AdminError> {
    let query = query.into_inner();
    if let Some(status) = &query.status {
        if ![PENDING, DELIVERED, FAILED].contains(&status.as_str()) {
            return Err(AdminError::Unprocessable(format!(
                "Parameter 'status' must be pending, delivered or failed; got {status:?}."
            )));
        }
    }
    let limit = query.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(AdminError::Unprocessable(format!(
            "Parameter 'limit' must be between 1 and 1000, got {limit}."
        )));
    }
    let rows = run_db(&state.pool, move |conn| {
        let agent_id = match &query.agent_name {
            Some(name) => Some(
                agents::find_by_name(conn, name)?
                    .ok_or_else(|| {
                        AdminError::NotFound(format!("Agent with name '{name}' not found."))
                    })?
                    .id,
            ),
            None => None,
        };
        Ok(deliveries::list(
            conn,
            agent_id.as_deref(),
            query.status.as_deref(),
            limit,
        )?)
    })
    .await?;
    let body: Vec<DeliveryResponse> = rows.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(body))
}

fn no_such_delivery(id: &str) -> AdminError {
    AdminError::NotFound(format!("Delivery with ID {id} does not exist."))
}

#[utoipa::path(get, path = "/deliveries/{id}", operation_id = "get_delivery", tag = "deliveries",
    responses((status = 200, body = DeliveryWithAttempts), (status = 404, description = "No such delivery")))]
pub async fn get(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let id = id.into_inner();
    let (delivery, attempts) = run_db(&state.pool, move |conn| {
        deliveries::find(conn, &id)?.ok_or_else(|| no_such_delivery(&id))
    })
    .await?;
    Ok(HttpResponse::Ok().json(DeliveryWithAttempts {
        delivery: delivery.into(),
        attempt_log: attempts.into_iter().map(Into::into).collect(),
    }))
}

#[utoipa::path(post, path = "/deliveries/{id}/retry", operation_id = "retry_delivery", tag = "deliveries",
    responses((status = 200, body = DeliveryResponse, description = "Pending again, due now"),
              (status = 404, description = "No such delivery"),
              (status = 409, description = "The delivery has not failed")))]
pub async fn retry(
    state: web::Data<AppState>,
    id: web::Path<String>,
    dispatcher: web::Data<actix::Addr<crate::actors::dispatcher::DispatcherActor>>,
) -> Result<HttpResponse, AdminError> {
    let id = id.into_inner();
    let delivery = run_db(&state.pool, move |conn| {
        let (current, _) = deliveries::find(conn, &id)?.ok_or_else(|| no_such_delivery(&id))?;
        if !deliveries::retry(conn, &id)? {
            return Err(AdminError::Conflict(format!(
                "Delivery {id} is {}; only failed deliveries can be retried.",
                current.status
            )));
        }
        Ok(deliveries::find(conn, &id)?
            .ok_or_else(|| no_such_delivery(&id))?
            .0)
    })
    .await?;
    dispatcher.do_send(crate::actors::dispatcher::Wake);
    tracing::info!(delivery.id = %delivery.id, "delivery queued again");
    Ok(HttpResponse::Ok().json(DeliveryResponse::from(delivery)))
}
