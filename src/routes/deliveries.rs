//! `/deliveries`: the durable queue, for operators: pages of deliveries
//! with filters and a stable cursor, one delivery with its attempts, and the
//! stored request it carries.

use super::caller::Caller;
use super::errors::{run_db, AdminError};
use super::params::{agent_filter, limit_param, parse_status, parse_time};
use super::AppState;
use crate::db::agents::utc;
use crate::db::deliveries::{self, Attempt, Cursor, Delivery, DeliveryStatus, ListFilter, Scope};
use crate::db::DbConnection;
use actix_web::{web, HttpRequest, HttpResponse};
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
    /// The task's name: its rendered key (`github:octo/repo#42`).
    pub task_name: Option<String>,
    pub sequence_id: Option<i64>,
    pub method: String,
    pub path: String,
    /// `pending`, `delivered`, `failed` or `cancelled`.
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
    /// What the agent answered (JSON-RPC result or error, or the body), at
    /// most 4 KiB.
    pub response: Option<String>,
    /// The hookgate process that made the attempt.
    pub instance: Option<String>,
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
            next_attempt_at: (d.status == DeliveryStatus::Pending).then(|| utc(d.next_attempt_at)),
            id: d.id,
            agent_id: d.agent_id,
            route_id: d.route_id,
            mode: d.mode.as_str().to_owned(),
            task_id: d.task_id,
            task_name: None,
            sequence_id: d.sequence_id,
            method: d.method,
            path: d.path,
            status: d.status.as_str().to_owned(),
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
            outcome: a.outcome.as_str().to_owned(),
            status_code: a.status_code,
            error: a.error,
            response: a.response,
            instance: a.instance,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    pub agent_name: Option<String>,
    pub agent_id: Option<String>,
    /// `pending`, `delivered`, `failed` or `cancelled`.
    pub status: Option<String>,
    pub task_id: Option<String>,
    pub route_id: Option<String>,
    /// Created at or after this time (RFC 3339).
    pub since: Option<String>,
    /// Created before this time (RFC 3339).
    pub until: Option<String>,
    /// 1 to 1000 (default 50), newest first.
    pub limit: Option<i64>,
    /// The `X-Next-Cursor` of the previous page.
    pub cursor: Option<String>,
}

fn list_filter(query: &ListQuery, caller: &Caller) -> Result<ListFilter, AdminError> {
    let after = query
        .cursor
        .as_deref()
        .map(|c| {
            Cursor::decode(c).ok_or_else(|| {
                AdminError::Unprocessable(
                    "Parameter 'cursor' is not a cursor this API gave out.".into(),
                )
            })
        })
        .transpose()?;
    Ok(ListFilter {
        scope: Scope {
            account_id: caller.account().map(str::to_owned),
            agent_id: None,
            task_id: query.task_id.clone(),
            since: parse_time("since", query.since.as_deref())?,
            until: parse_time("until", query.until.as_deref())?,
        },
        status: query.status.as_deref().map(parse_status).transpose()?,
        route_id: query.route_id.clone(),
        after,
    })
}

#[utoipa::path(get, path = "/deliveries", operation_id = "list_deliveries", tag = "deliveries",
    params(ListQuery), responses((status = 200, body = [DeliveryResponse],
        description = "Newest first. When more rows follow, `X-Next-Cursor` holds the `cursor` \
                       of the next page and `Link` its URL (rel=\"next\").")))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AdminError> {
    let query = query.into_inner();
    let mut filter = list_filter(&query, &caller)?;
    let limit = limit_param(query.limit, 50, 1000)?;
    let (rows, next) = run_db(&state.pool, move |conn| {
        filter.scope.agent_id = agent_filter(conn, &caller, query.agent_id, query.agent_name)?;
        let (rows, next) = deliveries::list(conn, &filter, limit)?;
        Ok((named(conn, rows)?, next))
    })
    .await?;
    let body = rows;
    let mut response = HttpResponse::Ok();
    if let Some(next) = next {
        let cursor = next.encode();
        response.insert_header(("x-next-cursor", cursor.as_str()));
        response.insert_header(("link", next_link(&request, &cursor)));
    }
    Ok(response.json(body))
}

/// Deliveries as the API shows them, each with its task's name (one
/// query for the page).
fn named(
    conn: &mut DbConnection,
    rows: Vec<Delivery>,
) -> Result<Vec<DeliveryResponse>, AdminError> {
    let ids: Vec<&str> = rows.iter().filter_map(|d| d.task_id.as_deref()).collect();
    let names = deliveries::task_names(conn, &ids)?;
    Ok(rows
        .into_iter()
        .map(|d| {
            let task_name = d.task_id.as_ref().and_then(|t| names.get(t)).cloned();
            DeliveryResponse {
                task_name,
                ..d.into()
            }
        })
        .collect())
}

/// This request's URL with `cursor` replaced, as a `Link` header value.
fn next_link(request: &HttpRequest, cursor: &str) -> String {
    let kept: Vec<(String, String)> =
        serde_urlencoded::from_str::<Vec<(String, String)>>(request.query_string())
            .unwrap_or_default()
            .into_iter()
            .filter(|(name, _)| name != "cursor")
            .chain([("cursor".to_owned(), cursor.to_owned())])
            .collect();
    let query = serde_urlencoded::to_string(kept).unwrap_or_default();
    format!("<{}?{query}>; rel=\"next\"", request.path())
}

pub fn no_such_delivery(id: &str) -> AdminError {
    AdminError::NotFound(format!("Delivery with ID {id} does not exist."))
}

#[utoipa::path(get, path = "/deliveries/{id}", operation_id = "get_delivery", tag = "deliveries",
    responses((status = 200, body = DeliveryWithAttempts), (status = 404, description = "No such delivery")))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let id = id.into_inner();
    let (delivery, attempts) = run_db(&state.pool, move |conn| {
        let found = deliveries::find(conn, &id)?;
        let (delivery, attempts) = caller.only_own(conn, found, || no_such_delivery(&id))?;
        let delivery = named(conn, vec![delivery])?.remove(0);
        Ok((delivery, attempts))
    })
    .await?;
    Ok(HttpResponse::Ok().json(DeliveryWithAttempts {
        delivery,
        attempt_log: attempts.into_iter().map(Into::into).collect(),
    }))
}

/// What a delivery carries: the request to replay (`forward_async`) or the
/// ACP event content (`acp_event`).
#[derive(Debug, Serialize, ToSchema)]
pub struct PayloadResponse {
    pub delivery_id: String,
    pub mode: String,
    pub method: String,
    pub path: String,
    /// `[name, value]` pairs as stored (credentials were never stored).
    pub headers: Vec<(String, String)>,
    /// The body as text when it is UTF-8, else null (see `body_base64`).
    pub body: Option<String>,
    pub body_base64: String,
    /// The ACP event content for `acp_event` deliveries.
    pub content: Option<serde_json::Value>,
}

#[utoipa::path(get, path = "/deliveries/{id}/payload", operation_id = "get_delivery_payload",
    tag = "deliveries", responses((status = 200, body = PayloadResponse),
        (status = 404, description = "No such delivery")))]
pub async fn payload(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    use base64::Engine;
    let id = id.into_inner();
    let (d, _) = run_db(&state.pool, move |conn| {
        let found = deliveries::find(conn, &id)?;
        caller.only_own(conn, found, || no_such_delivery(&id))
    })
    .await?;
    Ok(HttpResponse::Ok().json(PayloadResponse {
        headers: serde_json::from_str(&d.headers).unwrap_or_default(),
        body_base64: base64::engine::general_purpose::STANDARD.encode(&d.body),
        body: String::from_utf8(d.body).ok(),
        content: d
            .content
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok()),
        delivery_id: d.id,
        mode: d.mode.as_str().to_owned(),
        method: d.method,
        path: d.path,
    }))
}
