//! `/agent_routes`: how verified calls on one agent path are handled
//! (`forward`, `forward_async`, `acp_event`). What a request may say is
//! checked in `request.rs`; creating one also checks what the database
//! knows (the shadow agent, the agent's key types).

mod request;

pub use request::CreateRouteRequest;

use super::agents::{find, AgentRef};
use super::api_keys::AgentSelector;
use super::caller::Caller;
use super::errors::{run_change, run_db, AdminError};
use super::AppState;
use crate::db::agents::utc;
use crate::db::is_unique_violation;
use crate::db::routes::{self, NewRoute, Route};
use crate::domain::{Conditions, MissingTaskKey, Placeholder, Template};
use crate::verify::{described, providers};
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::Connection;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct RouteResponse {
    pub id: String,
    pub agent_id: String,
    pub path: String,
    pub mode: String,
    pub task_key: Option<String>,
    pub content: String,
    pub text_template: Option<String>,
    /// The route's `filter` conditions (empty: every call).
    #[schema(value_type = Vec<Object>)]
    pub filter: serde_json::Value,
    /// The route's `ignore` conditions.
    #[schema(value_type = Vec<Object>)]
    pub ignore: serde_json::Value,
    /// Fields the route removes (`[]` when none).
    #[schema(value_type = Vec<String>)]
    pub redact: serde_json::Value,
    /// The shadow agent's id, when the route has one.
    pub shadow_agent_id: Option<String>,
    /// The loop breaker's settings as given (null: the defaults).
    pub loop_limit: Option<i32>,
    pub loop_window_secs: Option<i32>,
    /// `{"window_ms", "max_wait_ms"}`, or null.
    #[schema(value_type = Option<Object>)]
    pub coalesce: Option<serde_json::Value>,
    /// `reject` or `ignore` (acp_event routes).
    pub missing_task_key: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<Route> for RouteResponse {
    fn from(r: Route) -> Self {
        let missing_task_key = (r.mode == "acp_event").then(|| {
            r.missing_task_key
                .clone()
                .unwrap_or_else(|| MissingTaskKey::default().as_str().to_owned())
        });
        Self {
            id: r.id,
            agent_id: r.agent_id,
            path: r.path,
            mode: r.mode,
            task_key: r.task_key,
            content: r.content,
            text_template: r.text_template,
            filter: stored_list(r.filter_conditions.as_deref()),
            ignore: stored_list(r.ignore_conditions.as_deref()),
            redact: stored_list(r.redact_fields.as_deref()),
            shadow_agent_id: r.shadow_agent_id,
            loop_limit: r.loop_limit,
            loop_window_secs: r.loop_window_secs,
            coalesce: r.coalesce_window_ms.zip(r.coalesce_max_wait_ms).map(
                |(window_ms, max_wait_ms)| {
                    serde_json::json!({"window_ms": window_ms, "max_wait_ms": max_wait_ms})
                },
            ),
            missing_task_key,
            created_at: utc(r.created_at),
        }
    }
}

/// The id of the shadow agent `name` (one the caller may see, not the
/// route's own agent).
fn shadow_agent_id(
    conn: &mut crate::db::DbConnection,
    caller: &Caller,
    name: &str,
    route_agent: &str,
) -> Result<String, AdminError> {
    let shadow = find(conn, &AgentRef::Name(name.to_owned()), caller).map_err(|_| {
        AdminError::Unprocessable(format!("Field 'shadow_agent' names no agent: {name:?}."))
    })?;
    if shadow.id == route_agent {
        return Err(AdminError::Unprocessable(
            "Field 'shadow_agent' must name another agent than the route's.".into(),
        ));
    }
    Ok(shadow.id)
}

/// Refuses a route whose templates need `{conversation}` (with no
/// alternative) when the agent has keys of a type whose provider has no
/// notion of one, unless the route's filter keeps only providers that do.
fn conversation_sources(
    conn: &mut crate::db::DbConnection,
    agent_id: &str,
    route: &NewRoute,
) -> Result<(), AdminError> {
    let templates = [
        ("task_key", &route.task_key),
        ("text_template", &route.text_template),
    ];
    let Some((field, _)) = templates.into_iter().find(|(field, raw)| {
        raw.as_deref()
            .and_then(|raw| Template::parse(field, raw).ok())
            .is_some_and(|t| t.requires(&Placeholder::Conversation))
    }) else {
        return Ok(());
    };
    let filter = Conditions::from_stored("filter", route.filter_conditions.as_deref());
    let kept = filter
        .map_err(|e| AdminError::Unprocessable(e.0))?
        .providers_kept();
    let mut lacking: Vec<String> = crate::db::api_keys::kinds_of(conn, agent_id)?
        .into_iter()
        .filter(|kind| kept.as_ref().is_none_or(|kept| kept.contains(kind)))
        .filter(|kind| {
            providers::named(kind).is_some_and(|p| !described::has_conversation(p.descriptor()))
        })
        .collect();
    if lacking.is_empty() {
        return Ok(());
    }
    lacking.sort();
    Err(AdminError::Unprocessable(format!(
        "Field '{field}' uses {{conversation}}, which calls verified by the agent's {} keys \
         cannot fill (their providers name no conversation): give an alternative \
         ({{conversation|body.…}}) or keep only providers that have one with a filter \
         such as {{\"field\": \"provider\", \"in\": [\"github\"]}}.",
        lacking.join(", ")
    )))
}

/// A stored JSON list as the API shows it (`[]` when none).
fn stored_list(stored: Option<&str>) -> serde_json::Value {
    stored
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_else(|| serde_json::json!([]))
}

#[utoipa::path(post, path = "/agent_routes", operation_id = "create_agent_route", tag = "agent_routes",
    request_body = CreateRouteRequest,
    responses((status = 200, body = RouteResponse),
              (status = 400, description = "Neither or both of agent_id / agent_name"),
              (status = 404, description = "Unknown agent"),
              (status = 409, description = "The agent already has a route on this path"),
              (status = 422, description = "A field is invalid")))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CreateRouteRequest>,
) -> Result<HttpResponse, AdminError> {
    let (which, mut new, shadow) = body.into_inner().parse()?;
    let route = run_change(&state, move |conn| {
        conn.transaction(|conn| {
            let agent = find(conn, &which, &caller)?;
            conversation_sources(conn, &agent.id, &new)?;
            if let Some(name) = &shadow {
                new.shadow_agent_id = Some(shadow_agent_id(conn, &caller, name, &agent.id)?);
            }
            let path = new.path.clone();
            routes::insert(conn, &agent.id, new.clone()).map_err(|e| {
                if is_unique_violation(&e) {
                    AdminError::Conflict(format!(
                        "A route on path '{path}' already exists for agent '{}'.",
                        agent.name
                    ))
                } else {
                    e.into()
                }
            })
        })
    })
    .await?;
    tracing::info!(route.id = %route.id, route.mode = %route.mode, "route created");
    Ok(HttpResponse::Ok().json(RouteResponse::from(route)))
}

#[utoipa::path(get, path = "/agent_routes", operation_id = "list_agent_routes", tag = "agent_routes",
    params(AgentSelector), responses((status = 200, body = [RouteResponse])))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    selector: web::Query<AgentSelector>,
) -> Result<HttpResponse, AdminError> {
    let which = selector.into_inner().resolve("list agent routes")?;
    let found = run_db(&state.pool, move |conn| {
        let agent = find(conn, &which, &caller)?;
        Ok(routes::list(conn, &agent.id)?)
    })
    .await?;
    let body: Vec<RouteResponse> = found.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(body))
}

fn no_such_route(id: &str) -> AdminError {
    AdminError::NotFound(format!("Agent route with ID {id} does not exist."))
}

#[utoipa::path(get, path = "/agent_routes/{id}", operation_id = "get_agent_route", tag = "agent_routes",
    responses((status = 200, body = RouteResponse), (status = 404, description = "No such route")))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let id = id.into_inner();
    let route = run_db(&state.pool, move |conn| {
        let found = routes::find_by_id(conn, &id)?;
        caller.only_own(conn, found, || no_such_route(&id))
    })
    .await?;
    Ok(HttpResponse::Ok().json(RouteResponse::from(route)))
}

#[utoipa::path(delete, path = "/agent_routes/{id}", operation_id = "delete_agent_route", tag = "agent_routes",
    responses((status = 200, body = String), (status = 404, description = "No such route")))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let id = id.into_inner();
    let deleted = id.clone();
    run_change(&state, move |conn| {
        let found = routes::find_by_id(conn, &id)?;
        caller.only_own(conn, found, || no_such_route(&id))?;
        if routes::delete(conn, &id)? {
            Ok(())
        } else {
            Err(no_such_route(&id))
        }
    })
    .await?;
    tracing::info!(route.id = %deleted, "route deleted");
    Ok(HttpResponse::Ok().json(format!("Agent route with ID {deleted} deleted")))
}
