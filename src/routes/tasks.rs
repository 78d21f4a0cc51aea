//! `/tasks`: the tasks webhooks became (one per task key, e.g. one per pull
//! request) and each task's events in sequence order, so an operator reads
//! how a conversation reached the agent.

use super::caller::Caller;
use super::deliveries::DeliveryResponse;
use super::delivery_actions::Dispatcher;
use super::errors::{run_db, AdminError};
use super::params::{agent_filter, limit_param};
use super::AppState;
use crate::db::agents::utc;
use crate::db::deliveries::{self, loop_breaker, Delivery, Task};
use crate::queue::dispatcher::Wake;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
pub struct TaskListQuery {
    pub agent_name: Option<String>,
    pub agent_id: Option<String>,
    /// Only tasks whose name (the rendered task key) starts with this,
    /// e.g. `github:octo/hello#42` (at most 1024 characters).
    pub name: Option<String>,
    /// 1 to 1000 (default 50), newest first.
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskResponse {
    pub id: String,
    pub agent_id: String,
    /// The rendered task key (`repo:acme/web pr:42`).
    pub name: String,
    /// Events the task has had (the last `sequence_id` given out).
    pub events: i64,
    pub created_at: DateTime<Utc>,
    /// When `task/create` reached the agent; null until then.
    pub created_on_agent_at: Option<DateTime<Utc>>,
    /// Since when the loop breaker holds the task's new events (null: not
    /// held); `POST /tasks/{id}/release` lets them go.
    pub held_since: Option<DateTime<Utc>>,
}

impl From<Task> for TaskResponse {
    fn from(t: Task) -> Self {
        Self {
            id: t.id,
            agent_id: t.agent_id,
            name: t.name,
            events: t.last_sequence,
            created_at: utc(t.created_at),
            created_on_agent_at: t.created_on_agent_at.map(utc),
            held_since: t.held_since.map(utc),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct TaskEventsQuery {
    /// Events with a greater `sequence_id` (default 0: from the first).
    pub after_sequence: Option<i64>,
    /// 1 to 500 (default 100).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskEvent {
    #[serde(flatten)]
    pub delivery: DeliveryResponse,
    /// The ACP event content delivered (or to be delivered).
    pub content: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskWithEvents {
    #[serde(flatten)]
    pub task: TaskResponse,
    /// In `sequence_id` order.
    pub event_log: Vec<TaskEvent>,
    /// The `after_sequence` of the next page; null on the last.
    pub next_after_sequence: Option<i64>,
}

#[utoipa::path(get, path = "/tasks", operation_id = "list_tasks", tag = "tasks",
    params(TaskListQuery), responses((status = 200, body = [TaskResponse]),
        (status = 404, description = "No such agent")))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<TaskListQuery>,
) -> Result<HttpResponse, AdminError> {
    let query = query.into_inner();
    let limit = limit_param(query.limit, 50, 1000)?;
    if query
        .name
        .as_ref()
        .is_some_and(|n| n.chars().count() > 1024)
    {
        return Err(AdminError::Unprocessable(
            "Parameter 'name' must be at most 1024 characters.".into(),
        ));
    }
    let tasks = run_db(&state.pool, move |conn| {
        let agent = agent_filter(conn, &caller, query.agent_id, query.agent_name)?;
        let filter = deliveries::TaskFilter {
            account: caller.account(),
            agent_id: agent.as_deref(),
            name_prefix: query.name.as_deref(),
        };
        Ok(deliveries::list_tasks(conn, &filter, limit)?)
    })
    .await?;
    let body: Vec<TaskResponse> = tasks.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(body))
}

#[utoipa::path(get, path = "/tasks/{id}", operation_id = "get_task", tag = "tasks",
    params(TaskEventsQuery), responses((status = 200, body = TaskWithEvents),
        (status = 404, description = "No such task")))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    query: web::Query<TaskEventsQuery>,
) -> Result<HttpResponse, AdminError> {
    let id = id.into_inner();
    let limit = limit_param(query.limit, 100, 500)?;
    let after = query.after_sequence.unwrap_or(0);
    let (task, events) = run_db(&state.pool, move |conn| {
        let found = deliveries::find_task(conn, &id)?;
        let missing = || AdminError::NotFound(format!("Task with ID {id} does not exist."));
        let task = caller.only_own(conn, found, missing)?;
        let events = deliveries::task_events(conn, &task.id, after, limit)?;
        Ok((task, events))
    })
    .await?;
    let full_page = events.len() as i64 == limit;
    let next_after_sequence = events
        .last()
        .and_then(|e| e.sequence_id)
        .filter(|&last| full_page && last < task.last_sequence);
    Ok(HttpResponse::Ok().json(TaskWithEvents {
        task: task.into(),
        event_log: events.into_iter().map(task_event).collect(),
        next_after_sequence,
    }))
}

fn task_event(mut delivery: Delivery) -> TaskEvent {
    let content = delivery
        .content
        .take()
        .and_then(|c| serde_json::from_str(&c).ok());
    TaskEvent {
        delivery: delivery.into(),
        content,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Released {
    pub task_id: String,
    /// Held events now pending, in their sequence.
    pub released: usize,
}

#[utoipa::path(post, path = "/tasks/{id}/release", operation_id = "release_task", tag = "tasks",
    responses((status = 200, body = Released), (status = 404, description = "No such task")))]
pub async fn release(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    dispatcher: Dispatcher,
) -> Result<HttpResponse, AdminError> {
    let id = id.into_inner();
    let released = run_db(&state.pool, move |conn| {
        let found = deliveries::find_task(conn, &id)?;
        let missing = || AdminError::NotFound(format!("Task with ID {id} does not exist."));
        let task = caller.only_own(conn, found, missing)?;
        let released = loop_breaker::release(conn, &task.id)?;
        Ok(Released {
            task_id: task.id,
            released,
        })
    })
    .await?;
    dispatcher.do_send(Wake);
    tracing::info!(task.id = %released.task_id, released = released.released, "task released");
    Ok(HttpResponse::Ok().json(released))
}
