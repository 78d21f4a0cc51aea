//! What a request to create a route may say: every field checked, and a
//! refusal naming the field; `CreateRouteRequest::parse` turns it into the
//! row to store.

use super::super::agents::AgentRef;
use super::super::api_keys::AgentSelector;
use super::super::errors::AdminError;
use crate::db::routes::NewRoute;
use crate::domain::{
    Conditions, ContentKind, MissingTaskKey, Redaction, RouteMode, RoutePath, Template,
};
use serde::Deserialize;
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

impl CreateRouteRequest {
    pub fn parse(self) -> Result<(AgentRef, NewRoute, Option<String>), AdminError> {
        let selector = AgentSelector {
            agent_id: self.agent_id,
            agent_name: self.agent_name,
        };
        let which = selector.resolve("create an agent route")?;
        let path = RoutePath::parse(&self.path)?;
        let mode = RouteMode::parse(self.mode.as_deref().unwrap_or("forward"))?;
        let content = ContentKind::parse(self.content.as_deref().unwrap_or("data"))?;
        if mode == RouteMode::AcpEvent {
            required_template("task_key", &self.task_key)?;
            if content == ContentKind::Text {
                required_template("text_template", &self.text_template)?;
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
        let shadow = self.shadow_agent.filter(|s| !s.trim().is_empty());
        fits_mode(&route, mode, shadow.is_some())?;
        Ok((which, route, shadow))
    }
}

/// A template the route needs: present, and one that parses.
fn required_template(field: &str, value: &Option<String>) -> Result<(), AdminError> {
    match value {
        Some(v) if !v.trim().is_empty() => Template::parse(field, v)
            .map(|_| ())
            .map_err(AdminError::from),
        _ => Err(AdminError::Unprocessable(format!(
            "Field '{field}' is required for this route."
        ))),
    }
}

/// Fields only some modes have: the loop breaker counts a task's events
/// (acp_event), a shadow copies stored deliveries (not a plain forward).
fn fits_mode(route: &NewRoute, mode: RouteMode, shadow: bool) -> Result<(), AdminError> {
    let breaker = route.loop_limit.is_some() || route.loop_window_secs.is_some();
    if breaker && mode != RouteMode::AcpEvent {
        return Err(AdminError::Unprocessable(
            "Fields 'loop_limit' and 'loop_window_secs' need mode acp_event (the breaker counts a task's events).".into(),
        ));
    }
    if shadow && mode == RouteMode::Forward {
        return Err(AdminError::Unprocessable(
            "Field 'shadow_agent' needs mode acp_event or forward_async.".into(),
        ));
    }
    Ok(())
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
