//! Query parameters the admin routes share, each refused with a 422 (or
//! 400) naming the parameter: a page's `limit`, a delivery `status`, an
//! RFC 3339 time, and an agent named by id or by name.

use super::agents::{find as find_agent, AgentRef};
use super::caller::Caller;
use super::errors::AdminError;
use crate::db::deliveries::DeliveryStatus;
use crate::db::DbConnection;
use chrono::{DateTime, NaiveDateTime};

/// A `limit` parameter (`default` when absent), or a 422 unless it is
/// between 1 and `max`.
pub fn limit_param(limit: Option<i64>, default: i64, max: i64) -> Result<i64, AdminError> {
    let limit = limit.unwrap_or(default);
    if (1..=max).contains(&limit) {
        return Ok(limit);
    }
    Err(AdminError::Unprocessable(format!(
        "Parameter 'limit' must be between 1 and {max}, got {limit}."
    )))
}

/// Checks a `status` parameter against the statuses a delivery can have.
pub fn parse_status(status: &str) -> Result<DeliveryStatus, AdminError> {
    DeliveryStatus::parse(status).ok_or_else(|| {
        AdminError::Unprocessable(format!(
            "Parameter 'status' must be pending, delivered, failed, cancelled or ignored; got {status:?}."
        ))
    })
}

/// Parses an RFC 3339 time parameter named `name`.
pub fn parse_time(name: &str, value: Option<&str>) -> Result<Option<NaiveDateTime>, AdminError> {
    value
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.naive_utc())
                .map_err(|_| {
                    AdminError::Unprocessable(format!(
                        "Parameter '{name}' must be an RFC 3339 time such as 2026-11-29T12:00:00Z; got {v:?}."
                    ))
                })
        })
        .transpose()
}

/// The agent id an `agent_id` / `agent_name` pair names (either, not both);
/// None when neither is given.
pub fn agent_filter(
    conn: &mut DbConnection,
    caller: &Caller,
    agent_id: Option<String>,
    agent_name: Option<String>,
) -> Result<Option<String>, AdminError> {
    let which = match (agent_id, agent_name) {
        (Some(_), Some(_)) => {
            return Err(AdminError::BadRequest(
                "Only one of 'agent_id' or 'agent_name' should be provided.".into(),
            ))
        }
        (Some(id), None) => AgentRef::Id(id),
        (None, Some(name)) => AgentRef::Name(name),
        (None, None) => return Ok(None),
    };
    Ok(Some(find_agent(conn, &which, caller)?.id))
}
