//! `/agent_routes`: how verified calls on one agent path are handled
//! (`forward`, `forward_async`, `acp_event`).

use super::agents::{find, AgentRef};
use super::api_keys::AgentSelector;
use super::caller::Caller;
use super::errors::{run_change, run_db, AdminError};
use super::AppState;
use crate::db::agents::utc;
use crate::db::is_unique_violation;
use crate::db::routes::{self, NewRoute, Route};
use crate::domain::{
    Conditions, ContentKind, MissingTaskKey, Placeholder, Redaction, RouteMode, RoutePath, Template,
};
use crate::verify::{described, providers};
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::Connection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateRouteRequest {
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
    /// Forward sub-path, exact; a final `*` matches a prefix.
    pub path: String,
    /// `forward` (default), `forward_async` or `acp_event`.
    pub mode: Option<String>,
    /// acp_event: template of the task's key, e.g. `repo:{body.repository.full_name}`.
    pub task_key: Option<String>,
    /// acp_event: `data` (default) or `text`.
    pub content: Option<String>,
    /// Template of the text when `content` is `text`.
    pub text_template: Option<String>,
    /// Conditions that must all hold, e.g.
    /// `[{"field": "header.x-github-event", "in": ["pull_request"]}]`;
    /// a call that fails one is answered 200 `{"ignored": true, …}`.
    #[schema(value_type = Option<Vec<Object>>)]
    pub filter: Option<serde_json::Value>,
    /// Conditions any of which drops the call, e.g.
    /// `[{"field": "body.event.bot_id", "exists": true}]`.
    #[schema(value_type = Option<Vec<Object>>)]
    pub ignore: Option<serde_json::Value>,
    /// Fields removed before the call is stored or delivered, e.g.
    /// `["body.pull_request.user.email", "header.x-customer-email"]`.
    #[schema(value_type = Option<Vec<String>>)]
    pub redact: Option<serde_json::Value>,
    /// Another agent (by name) that also gets every event the route
    /// accepts, in its own tasks; its failures never touch the main delivery.
    pub shadow_agent: Option<String>,
    /// The loop breaker (acp_event): more than this many events of one task
    /// within `loop_window_secs` hold the task's further events until it is
    /// released; 0 turns it off. Default 30, on for an agent that declared
    /// identities.
    pub loop_limit: Option<i64>,
    /// The loop breaker's window in seconds (default 60).
    pub loop_window_secs: Option<i64>,
    /// Coalescing (acp_event): `{"window_ms", "max_wait_ms"}`; events of one
    /// task arriving within `window_ms` of each other (at most `max_wait_ms`
    /// after the first) go out as one `event/send` of `{"events": [...]}`.
    #[schema(value_type = Option<Object>)]
    pub coalesce: Option<serde_json::Value>,
    /// acp_event: what a call its `task_key` cannot be rendered for gets:
    /// `reject` (default: 422) or `ignore` (200 `{"ignored": true,
    /// "reason": "no_task_key"}`, never delivered), so one webhook URL can
    /// take every event type.
    pub missing_task_key: Option<String>,
}

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
            MissingTaskKey::from_stored(r.missing_task_key.as_deref())
                .as_str()
                .to_owned()
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

impl CreateRouteRequest {
    fn parse(self) -> Result<(AgentRef, NewRoute, Option<String>), AdminError> {
        let selector = AgentSelector {
            agent_id: self.agent_id,
            agent_name: self.agent_name,
        };
        let which = selector.resolve("create an agent route")?;
        let path = RoutePath::parse(&self.path)?;
        let mode = RouteMode::parse(self.mode.as_deref().unwrap_or("forward"))?;
        let content = ContentKind::parse(self.content.as_deref().unwrap_or("data"))?;
        let required = |field: &str, value: &Option<String>| match value {
            Some(v) if !v.trim().is_empty() => Template::parse(field, v)
                .map(|_| ())
                .map_err(AdminError::from),
            _ => Err(AdminError::Unprocessable(format!(
                "Field '{field}' is required for this route."
            ))),
        };
        if mode == RouteMode::AcpEvent {
            required("task_key", &self.task_key)?;
            if content == ContentKind::Text {
                required("text_template", &self.text_template)?;
            }
        }
        let route = NewRoute {
            path: path.as_str().to_owned(),
            mode: mode.as_str().to_owned(),
            task_key: self.task_key.filter(|_| mode == RouteMode::AcpEvent),
            content: content.as_str().to_owned(),
            text_template: self.text_template,
            filter_conditions: conditions("filter", self.filter.as_ref())?,
            ignore_conditions: conditions("ignore", self.ignore.as_ref())?,
            redact_fields: redaction(self.redact.as_ref())?,
            shadow_agent_id: None,
            loop_limit: bounded("loop_limit", self.loop_limit, 0, 100_000)?,
            loop_window_secs: bounded("loop_window_secs", self.loop_window_secs, 1, 86_400)?,
            coalesce_window_ms: None,
            coalesce_max_wait_ms: None,
            missing_task_key: missing_task_key(self.missing_task_key.as_deref(), mode)?,
        };
        let mut route = route;
        if let Some((window_ms, max_wait_ms)) = coalesce(self.coalesce.as_ref())? {
            if mode != RouteMode::AcpEvent {
                return Err(AdminError::Unprocessable(
                    "Field 'coalesce' needs mode acp_event (events of one task are gathered)."
                        .into(),
                ));
            }
            route.coalesce_window_ms = Some(window_ms);
            route.coalesce_max_wait_ms = Some(max_wait_ms);
        }
        let breaker = route.loop_limit.is_some() || route.loop_window_secs.is_some();
        if breaker && mode != RouteMode::AcpEvent {
            return Err(AdminError::Unprocessable(
                "Fields 'loop_limit' and 'loop_window_secs' need mode acp_event (the breaker counts a task's events).".into(),
            ));
        }
        let shadow = self.shadow_agent.filter(|s| !s.trim().is_empty());
        if shadow.is_some() && mode == RouteMode::Forward {
            return Err(AdminError::Unprocessable(
                "Field 'shadow_agent' needs mode acp_event or forward_async.".into(),
            ));
        }
        Ok((which, route, shadow))
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
    let kept = Conditions::from_stored(route.filter_conditions.as_deref()).providers_kept();
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

/// `coalesce` as `(window_ms, max_wait_ms)`: a window of 1 ms to 10 min,
/// a longest wait from the window to an hour (default ten windows).
fn coalesce(value: Option<&serde_json::Value>) -> Result<Option<(i32, i32)>, AdminError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let bad = |what: &str| AdminError::Unprocessable(format!("Field 'coalesce' {what}"));
    let object = value.as_object().ok_or_else(|| {
        bad("must be an object such as {\"window_ms\": 5000, \"max_wait_ms\": 60000}.")
    })?;
    if let Some(other) = object
        .keys()
        .find(|k| *k != "window_ms" && *k != "max_wait_ms")
    {
        return Err(bad(&format!("has an unknown field {other:?}.")));
    }
    let int = |name: &str| object.get(name).map(|v| v.as_i64().ok_or(()));
    let window = match int("window_ms") {
        Some(Ok(w)) => w,
        _ => return Err(bad("needs 'window_ms', a whole number of milliseconds.")),
    };
    let window = bounded("coalesce.window_ms", Some(window), 1, 600_000)?.unwrap_or(1);
    let max_wait = match int("max_wait_ms") {
        None => i64::from(window).saturating_mul(10).min(3_600_000),
        Some(Ok(m)) => m,
        Some(Err(_)) => return Err(bad("has a 'max_wait_ms' that is not a whole number.")),
    };
    let max_wait = bounded(
        "coalesce.max_wait_ms",
        Some(max_wait),
        i64::from(window),
        3_600_000,
    )?
    .unwrap_or(window);
    Ok(Some((window, max_wait)))
}

/// The stored `missing_task_key` (None: the default), for acp_event only.
fn missing_task_key(raw: Option<&str>, mode: RouteMode) -> Result<Option<String>, AdminError> {
    let Some(policy) = raw.map(MissingTaskKey::parse).transpose()? else {
        return Ok(None);
    };
    if mode != RouteMode::AcpEvent {
        return Err(AdminError::Unprocessable(
            "Field 'missing_task_key' needs mode acp_event (only it renders a task key).".into(),
        ));
    }
    Ok(Some(policy.as_str().to_owned()))
}

/// An optional integer field between `min` and `max`.
fn bounded(field: &str, value: Option<i64>, min: i64, max: i64) -> Result<Option<i32>, AdminError> {
    match value {
        None => Ok(None),
        Some(v) if (min..=max).contains(&v) => Ok(Some(v as i32)),
        Some(v) => Err(AdminError::Unprocessable(format!(
            "Field '{field}' must be between {min} and {max}, got {v}."
        ))),
    }
}

/// A condition list as stored: checked, normalised JSON, or None when
/// absent or empty.
fn conditions(list: &str, value: Option<&serde_json::Value>) -> Result<Option<String>, AdminError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let parsed = Conditions::parse(list, value)?;
    Ok((!parsed.is_empty()).then(|| parsed.to_json().to_string()))
}

/// A redact list as stored: checked, normalised JSON, or None when absent
/// or empty.
fn redaction(value: Option<&serde_json::Value>) -> Result<Option<String>, AdminError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let parsed = Redaction::parse(value)?;
    Ok((!parsed.is_empty()).then(|| parsed.to_json().to_string()))
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
