//! Queries on `agent_routes`.

use super::schema::agent_routes;
use super::{now, DbConnection};
use crate::domain::RoutePath;
use diesel::prelude::*;

/// A stored route.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = agent_routes)]
pub struct Route {
    pub id: String,
    pub agent_id: String,
    pub path: String,
    pub mode: String,
    pub task_key: Option<String>,
    pub content: String,
    pub text_template: Option<String>,
    pub created_at: chrono::NaiveDateTime,
    /// JSON list of conditions that must all hold (see `domain::Conditions`).
    pub filter_conditions: Option<String>,
    /// JSON list of conditions any of which drops the call.
    pub ignore_conditions: Option<String>,
    /// JSON list of fields removed before the call is stored or delivered.
    pub redact_fields: Option<String>,
    /// The agent that also gets every event the route accepts.
    pub shadow_agent_id: Option<String>,
    /// The loop breaker's limit (events of one task per window; 0: off);
    /// None: the default, on only for an agent with identities.
    pub loop_limit: Option<i32>,
    pub loop_window_secs: Option<i32>,
    /// Coalescing (acp_event): the window and the longest wait, in ms.
    pub coalesce_window_ms: Option<i32>,
    pub coalesce_max_wait_ms: Option<i32>,
    /// `ignore`: a call its task key cannot be rendered for is answered 200
    /// ignored; None or `reject`: 422.
    pub missing_task_key: Option<String>,
}

/// What a new route sets; id and time are made here.
#[derive(Debug, Clone)]
pub struct NewRoute {
    pub path: String,
    pub mode: String,
    pub task_key: Option<String>,
    pub content: String,
    pub text_template: Option<String>,
    pub filter_conditions: Option<String>,
    pub ignore_conditions: Option<String>,
    pub redact_fields: Option<String>,
    pub shadow_agent_id: Option<String>,
    pub loop_limit: Option<i32>,
    pub loop_window_secs: Option<i32>,
    pub coalesce_window_ms: Option<i32>,
    pub coalesce_max_wait_ms: Option<i32>,
    pub missing_task_key: Option<String>,
}

/// Stores a route; a second route on one (agent, path) is a unique violation.
pub fn insert(conn: &mut DbConnection, agent_id: &str, new: NewRoute) -> QueryResult<Route> {
    let route = Route {
        id: uuid::Uuid::new_v4().to_string(),
        agent_id: agent_id.to_owned(),
        path: new.path,
        mode: new.mode,
        task_key: new.task_key,
        content: new.content,
        text_template: new.text_template,
        created_at: now(),
        filter_conditions: new.filter_conditions,
        ignore_conditions: new.ignore_conditions,
        redact_fields: new.redact_fields,
        shadow_agent_id: new.shadow_agent_id,
        loop_limit: new.loop_limit,
        loop_window_secs: new.loop_window_secs,
        coalesce_window_ms: new.coalesce_window_ms,
        coalesce_max_wait_ms: new.coalesce_max_wait_ms,
        missing_task_key: new.missing_task_key,
    };
    diesel::insert_into(agent_routes::table)
        .values(&route)
        .execute(conn)?;
    Ok(route)
}

pub fn list(conn: &mut DbConnection, agent_id: &str) -> QueryResult<Vec<Route>> {
    agent_routes::table
        .filter(agent_routes::agent_id.eq(agent_id))
        .order((agent_routes::created_at.asc(), agent_routes::id.asc()))
        .select(Route::as_select())
        .load(conn)
}

pub fn find_by_id(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Route>> {
    agent_routes::table
        .find(id)
        .select(Route::as_select())
        .first(conn)
        .optional()
}

pub fn delete(conn: &mut DbConnection, id: &str) -> QueryResult<bool> {
    Ok(diesel::delete(agent_routes::table.find(id)).execute(conn)? > 0)
}

/// The index of the route of `routes` that best covers `sub_path` (exact,
/// then longest prefix).
pub fn best_match_index(routes: &[Route], sub_path: &str) -> Option<usize> {
    routes
        .iter()
        .enumerate()
        .filter_map(|(i, r)| RoutePath::rank(&r.path, sub_path).map(|rank| (rank, i)))
        .max_by_key(|(rank, _)| *rank)
        .map(|(_, i)| i)
}
