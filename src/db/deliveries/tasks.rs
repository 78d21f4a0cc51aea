//! Reading tasks for operators: an agent's tasks, newest first, and one
//! task's events in sequence order (how its conversation reached the agent).

use super::{Delivery, Task};
use crate::db::schema::{agent_tasks, agents, deliveries};
use crate::db::DbConnection;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer, Text};

/// Which tasks [`list_tasks`] shows: only `account`'s agents' when given,
/// only `agent_id`'s when given, only names starting with `name_prefix`.
#[derive(Debug, Default)]
pub struct TaskFilter<'a> {
    pub account: Option<&'a str>,
    pub agent_id: Option<&'a str>,
    /// Names starting with this, literally and case-sensitively.
    pub name_prefix: Option<&'a str>,
}

/// A page of tasks, newest first.
pub fn list_tasks(
    conn: &mut DbConnection,
    filter: &TaskFilter<'_>,
    limit: i64,
) -> QueryResult<Vec<Task>> {
    let TaskFilter {
        account,
        agent_id,
        name_prefix,
    } = *filter;
    let mut query = agent_tasks::table.into_boxed();
    if let Some(prefix) = name_prefix {
        // A literal, case-sensitive prefix on both backends (LIKE would
        // need escaping, and ignores ASCII case on SQLite).
        let length = prefix.chars().count() as i32;
        query = query.filter(
            diesel::dsl::sql::<Bool>("substr(name, 1, ")
                .bind::<Integer, _>(length)
                .sql(") = ")
                .bind::<Text, _>(prefix.to_owned()),
        );
    }
    if let Some(account) = account {
        let owned = agents::table
            .filter(agents::account_id.eq(account.to_owned()))
            .select(agents::id);
        query = query.filter(agent_tasks::agent_id.eq_any(owned));
    }
    if let Some(agent_id) = agent_id {
        query = query.filter(agent_tasks::agent_id.eq(agent_id.to_owned()));
    }
    query
        .order((agent_tasks::created_at.desc(), agent_tasks::id.desc()))
        .limit(limit)
        .select(Task::as_select())
        .load(conn)
}

/// The names of the tasks `ids` (those that exist), by id.
pub fn task_names(
    conn: &mut DbConnection,
    ids: &[&str],
) -> QueryResult<std::collections::HashMap<String, String>> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<(String, String)> = agent_tasks::table
        .filter(agent_tasks::id.eq_any(ids))
        .select((agent_tasks::id, agent_tasks::name))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

pub fn find_task(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Task>> {
    agent_tasks::table
        .find(id)
        .select(Task::as_select())
        .first(conn)
        .optional()
}

/// Up to `limit` of a task's events after `after_sequence`, in sequence
/// order (through the task-order index).
pub fn task_events(
    conn: &mut DbConnection,
    task_id: &str,
    after_sequence: i64,
    limit: i64,
) -> QueryResult<Vec<Delivery>> {
    deliveries::table
        .filter(deliveries::task_id.eq(task_id))
        .filter(deliveries::sequence_id.gt(after_sequence))
        .order(deliveries::sequence_id.asc())
        .limit(limit)
        .select(Delivery::as_select())
        .load(conn)
}
