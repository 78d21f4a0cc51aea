//! `/replays`: deliver one agent's stored events of a period again to
//! another agent (a new version), and read both agents' answers side by
//! side.

use super::agents::{find, AgentRef};
use super::caller::Caller;
use super::delivery_actions::Dispatcher;
use super::errors::{run_db, AdminError};
use super::params::{limit_param, parse_time};
use super::AppState;
use crate::db::agents::utc;
use crate::db::replays::{self, Outline, Replay, ReplaySpec};
use crate::db::routes;
use crate::db::DbConnection;
use crate::queue::dispatcher::Wake;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateReplay {
    /// The agent whose stored deliveries are replayed (name).
    pub from_agent: String,
    /// The agent that receives them (name).
    pub to_agent: String,
    /// Only this route's deliveries.
    pub route_id: Option<String>,
    /// Deliveries created at or after this time (RFC 3339).
    pub since: String,
    /// Deliveries created before this time (RFC 3339).
    pub until: String,
    /// At most this many, oldest first (1 to 10000, default 1000).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayResponse {
    pub id: String,
    pub from_agent_id: String,
    pub to_agent_id: String,
    pub route_id: Option<String>,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Deliveries replayed.
    pub total: i64,
    pub created_at: DateTime<Utc>,
}

impl From<Replay> for ReplayResponse {
    fn from(r: Replay) -> Self {
        Self {
            id: r.id,
            from_agent_id: r.from_agent_id,
            to_agent_id: r.to_agent_id,
            route_id: r.route_id,
            since: utc(r.since),
            until: utc(r.until),
            total: r.total,
            created_at: utc(r.created_at),
        }
    }
}

/// One side of a pair as shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct Side {
    pub delivery_id: String,
    /// The delivery's status (`purged` when retention removed it).
    pub status: String,
    /// The last attempt's HTTP status code.
    pub status_code: Option<i32>,
    /// The last attempt's answer: the JSON-RPC result or error (JSON), or
    /// the body of a replayed request.
    pub response: Option<String>,
    pub error: Option<String>,
    /// The last attempt's duration.
    pub latency_ms: Option<i64>,
}

impl From<Outline> for Side {
    fn from(o: Outline) -> Self {
        Self {
            delivery_id: o.delivery_id,
            status: o.status,
            status_code: o.status_code,
            response: o.response,
            error: o.last_error,
            latency_ms: o.latency_ms,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Pair {
    pub original: Side,
    pub replayed: Side,
    /// `same` (same status, status code and answer), `different`, `failed`
    /// (the replay failed or was cancelled) or `pending`.
    pub comparison: &'static str,
}

/// Every pair's comparison, counted by the database.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Summary {
    pub same: i64,
    pub different: i64,
    pub failed: i64,
    pub pending: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayReport {
    #[serde(flatten)]
    pub replay: ReplayResponse,
    /// Replayed deliveries finished (delivered, failed or cancelled).
    pub finished: i64,
    pub summary: Summary,
    /// This page of pairs, in replay order.
    pub events: Vec<Pair>,
}

/// Replay reports read at once, in this process.
static REPORTS_AT_ONCE: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// The most pairs one report page shows: each side carries an answer of
/// up to 4 KiB, so a page holds at most about 8 MiB of them.
const MAX_PAGE: i64 = 1000;

#[derive(Debug, Deserialize, IntoParams)]
pub struct ReportQuery {
    /// Pairs to skip (default 0).
    pub offset: Option<i64>,
    /// Pairs to show, 1 to 1000 (default 50).
    pub limit: Option<i64>,
}

fn agent_id(
    conn: &mut DbConnection,
    caller: &Caller,
    field: &str,
    name: &str,
) -> Result<String, AdminError> {
    find(conn, &AgentRef::Name(name.to_owned()), caller)
        .map(|a| a.id)
        .map_err(|_| {
            AdminError::Unprocessable(format!("Field '{field}' names no agent: {name:?}."))
        })
}

#[utoipa::path(post, path = "/replays", operation_id = "create_replay", tag = "replays",
    request_body = CreateReplay,
    responses((status = 200, body = ReplayResponse),
              (status = 422, description = "A field is invalid (an unknown agent, a bad time)")))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CreateReplay>,
    dispatcher: Dispatcher,
) -> Result<HttpResponse, AdminError> {
    let body = body.into_inner();
    let required = |name: &str, value: &str| {
        parse_time(name, Some(value))?
            .ok_or_else(|| AdminError::Unprocessable(format!("Field '{name}' is required.")))
    };
    let since = required("since", &body.since)?;
    let until = required("until", &body.until)?;
    let limit = limit_param(body.limit, 1000, 10_000)?;
    let replay = run_db(&state.pool, move |conn| {
        let from = agent_id(conn, &caller, "from_agent", &body.from_agent)?;
        let to = agent_id(conn, &caller, "to_agent", &body.to_agent)?;
        if from == to {
            return Err(AdminError::Unprocessable(
                "Field 'to_agent' must name another agent than 'from_agent'.".into(),
            ));
        }
        if let Some(route) = &body.route_id {
            let found = routes::find_by_id(conn, route)?.filter(|r| r.agent_id == from);
            if found.is_none() {
                return Err(AdminError::Unprocessable(format!(
                    "Field 'route_id' names no route of {:?}.",
                    body.from_agent
                )));
            }
        }
        let spec = ReplaySpec {
            from_agent_id: from,
            to_agent_id: to,
            route_id: body.route_id,
            since,
            until,
            limit,
        };
        Ok(replays::create(conn, &spec)?)
    })
    .await?;
    dispatcher.do_send(Wake);
    tracing::info!(replay.id = %replay.id, total = replay.total, "replay created");
    Ok(HttpResponse::Ok().json(ReplayResponse::from(replay)))
}

#[utoipa::path(get, path = "/replays/{id}", operation_id = "get_replay", tag = "replays",
    params(ReportQuery),
    responses((status = 200, body = ReplayReport), (status = 404, description = "No such replay")))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, AdminError> {
    let id = id.into_inner();
    let limit = limit_param(query.limit, 50, MAX_PAGE)?;
    let offset = query.offset.unwrap_or(0).max(0);
    // A report reads every pair's verdict: at most two are read at once (a
    // burst of reads waits here rather than taking a thread, a connection
    // and its page cache each).
    let _turn = REPORTS_AT_ONCE
        .acquire()
        .await
        .map_err(|e| AdminError::Internal(crate::db::DbError::Canceled(e.to_string())))?;
    let (replay, counts, pairs) = run_db(&state.pool, move |conn| {
        let missing = || AdminError::NotFound(format!("Replay with ID {id} does not exist."));
        let replay = replays::find(conn, &id)?.ok_or_else(missing)?;
        // Seen by whoever may see the agent it replays from.
        find(conn, &AgentRef::Id(replay.from_agent_id.clone()), &caller).map_err(|_| missing())?;
        let counts = replays::counts(conn, &replay.id)?;
        let pairs = replays::page(conn, &replay.id, offset, limit)?;
        Ok((replay, counts, pairs))
    })
    .await?;
    let events = pairs
        .into_iter()
        .map(|(original, replayed)| Pair {
            comparison: compare(&original, &replayed),
            original: original.into(),
            replayed: replayed.into(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(ReplayReport {
        replay: replay.into(),
        finished: counts.same + counts.different + counts.failed,
        summary: Summary {
            same: counts.same,
            different: counts.different,
            failed: counts.failed,
            pending: counts.pending,
        },
        events,
    }))
}

/// How a replayed delivery compares with its original.
fn compare(original: &Outline, replayed: &Outline) -> &'static str {
    match replayed.status.as_str() {
        "pending" | "held" => "pending",
        "failed" | "cancelled" | "purged" => "failed",
        _ if original.status == replayed.status
            && original.status_code == replayed.status_code
            && original.response == replayed.response =>
        {
            "same"
        }
        _ => "different",
    }
}
