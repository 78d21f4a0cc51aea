//! What operators do to queued deliveries: send one or many again with a
//! fresh attempt budget, cancel a pending one, and hold or release an
//! agent's deliveries while intake goes on.

use super::agents::{find as find_agent, AgentRef};
use super::caller::Caller;
use super::deliveries::{no_such_delivery, DeliveryResponse};
use super::errors::{run_db, AdminError};
use super::params::{agent_filter, parse_status, parse_time};
use super::AppState;
use crate::db::agents::{self, AgentResponse};
use crate::db::deliveries::{self, admin::Cancelled, DeliveryStatus, RetryFilter, Scope};
use crate::db::now;
use crate::queue::dispatcher::{DispatcherActor, Wake};
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The dispatcher, to wake when operators make deliveries due.
pub type Dispatcher = web::Data<actix::Addr<DispatcherActor>>;

#[utoipa::path(post, path = "/deliveries/{id}/retry", operation_id = "retry_delivery", tag = "deliveries",
    responses((status = 200, body = DeliveryResponse,
        description = "Pending again, due now, with a fresh attempt budget"),
              (status = 404, description = "No such delivery"),
              (status = 409, description = "The delivery is neither failed nor cancelled")))]
pub async fn retry(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    dispatcher: Dispatcher,
) -> Result<HttpResponse, AdminError> {
    let id = id.into_inner();
    let delivery = run_db(&state.pool, move |conn| {
        let found = deliveries::find(conn, &id)?;
        caller.only_own(conn, found, || no_such_delivery(&id))?;
        if let Some(moved) = deliveries::retry_one(conn, &id)? {
            return Ok(moved);
        }
        let (current, _) = deliveries::find(conn, &id)?.ok_or_else(|| no_such_delivery(&id))?;
        Err(AdminError::Conflict(format!(
            "Delivery {id} is {}; only failed or cancelled deliveries can be retried.",
            current.status
        )))
    })
    .await?;
    dispatcher.do_send(Wake);
    tracing::info!(delivery.id = %delivery.id, "delivery queued again");
    Ok(HttpResponse::Ok().json(DeliveryResponse::from(delivery)))
}

/// `POST /deliveries/retry` body: which deliveries to send again.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRetryRequest {
    pub agent_name: Option<String>,
    pub agent_id: Option<String>,
    /// `failed` (default), `cancelled`, or `pending` (due now, fresh budget).
    pub status: Option<String>,
    pub task_id: Option<String>,
    /// Created at or after this time (RFC 3339).
    pub since: Option<String>,
    /// Created before this time (RFC 3339).
    pub until: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkRetryResponse {
    /// How many deliveries were moved back to pending.
    pub moved: usize,
}

#[utoipa::path(post, path = "/deliveries/retry", operation_id = "retry_deliveries", tag = "deliveries",
    request_body = BulkRetryRequest,
    responses((status = 200, body = BulkRetryResponse), (status = 404, description = "No such agent"),
              (status = 422, description = "A filter is malformed")))]
pub async fn retry_many(
    state: web::Data<AppState>,
    caller: Caller,
    body: Option<web::Json<BulkRetryRequest>>,
    dispatcher: Dispatcher,
) -> Result<HttpResponse, AdminError> {
    let body = body.map(web::Json::into_inner).unwrap_or_default();
    let status = parse_status(body.status.as_deref().unwrap_or("failed"))?;
    let retriable = [
        DeliveryStatus::Failed,
        DeliveryStatus::Cancelled,
        DeliveryStatus::Pending,
    ];
    if !retriable.contains(&status) {
        return Err(AdminError::Unprocessable(format!(
            "Field 'status' must be failed, cancelled or pending; {status} deliveries cannot be retried."
        )));
    }
    let mut filter = RetryFilter {
        scope: Scope {
            account_id: caller.account().map(str::to_owned),
            agent_id: None,
            task_id: body.task_id,
            since: parse_time("since", body.since.as_deref())?,
            until: parse_time("until", body.until.as_deref())?,
        },
        statuses: vec![status],
    };
    let moved = run_db(&state.pool, move |conn| {
        filter.scope.agent_id = agent_filter(conn, &caller, body.agent_id, body.agent_name)?;
        Ok(deliveries::retry_matching(conn, &filter)?)
    })
    .await?;
    dispatcher.do_send(Wake);
    tracing::info!(moved, "deliveries queued again");
    Ok(HttpResponse::Ok().json(BulkRetryResponse { moved }))
}

#[utoipa::path(post, path = "/deliveries/{id}/cancel", operation_id = "cancel_delivery", tag = "deliveries",
    responses((status = 200, body = DeliveryResponse, description = "Cancelled: never attempted again"),
              (status = 404, description = "No such delivery"),
              (status = 409, description = "The delivery is not pending")))]
pub async fn cancel(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    dispatcher: Dispatcher,
) -> Result<HttpResponse, AdminError> {
    let id = id.into_inner();
    let delivery = run_db(&state.pool, move |conn| {
        let found = deliveries::find(conn, &id)?;
        caller.only_own(conn, found, || no_such_delivery(&id))?;
        match deliveries::cancel(conn, &id)? {
            Cancelled::Done(d) => Ok(*d),
            Cancelled::NotPending(status) => Err(AdminError::Conflict(format!(
                "Delivery {id} is {status}; only pending deliveries can be cancelled."
            ))),
            Cancelled::Missing => Err(no_such_delivery(&id)),
        }
    })
    .await?;
    // The task's next event may now be its head.
    dispatcher.do_send(Wake);
    tracing::info!(delivery.id = %delivery.id, "delivery cancelled");
    Ok(HttpResponse::Ok().json(DeliveryResponse::from(delivery)))
}

#[utoipa::path(post, path = "/agents/{id}/pause", operation_id = "pause_agent_deliveries", tag = "agents",
    responses((status = 200, body = AgentResponse,
        description = "Deliveries held (intake goes on); `deliveries_paused_at` is set"),
              (status = 404, description = "No such agent")))]
pub async fn pause(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    set_paused(&state, caller, id.into_inner(), true).await
}

#[utoipa::path(post, path = "/agents/{id}/resume", operation_id = "resume_agent_deliveries", tag = "agents",
    responses((status = 200, body = AgentResponse, description = "Deliveries flow again"),
              (status = 404, description = "No such agent")))]
pub async fn resume(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    dispatcher: Dispatcher,
) -> Result<HttpResponse, AdminError> {
    let answer = set_paused(&state, caller, id.into_inner(), false).await;
    dispatcher.do_send(Wake);
    answer
}

async fn set_paused(
    state: &AppState,
    caller: Caller,
    id: String,
    paused: bool,
) -> Result<HttpResponse, AdminError> {
    let agent = run_db(&state.pool, move |conn| {
        let current = find_agent(conn, &AgentRef::Id(id.clone()), &caller)?;
        // Pausing twice keeps the first time.
        let at = if paused {
            current.deliveries_paused_at.or(Some(now()))
        } else {
            None
        };
        agents::set_deliveries_paused(conn, &id, at)?
            .ok_or_else(|| AdminError::NotFound(format!("Agent with ID {id} not found.")))
    })
    .await?;
    tracing::info!(agent.id = %agent.id, paused, "agent deliveries paused or resumed");
    Ok(HttpResponse::Ok().json(AgentResponse::from(agent)))
}
