//! `GET /deliveries/stats`: per agent, what was accepted, delivered and
//! failed over the last hour and day (and per hour, for a chart), the queue
//! depth and its oldest pending age, and whether deliveries are failing.

use super::caller::Caller;
use super::errors::{run_db, AdminError};
use super::params::agent_filter;
use super::AppState;
use crate::db::agents::{self, utc, Agent};
use crate::db::deliveries::{self, stats, DeliveryStatus};
use crate::db::DbConnection;
use crate::metrics::QueueSample;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Duration, DurationRound, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};

/// The most agents one answer covers (the agent list's own page limit).
const MAX_AGENTS: i64 = 1000;

#[derive(Debug, Deserialize, IntoParams)]
pub struct StatsQuery {
    pub agent_name: Option<String>,
    pub agent_id: Option<String>,
}

/// Deliveries counted in a period.
#[derive(Debug, Default, Clone, Copy, Serialize, ToSchema)]
pub struct Counts {
    /// Committed by intake (created).
    pub accepted: i64,
    /// Delivered to the agent.
    pub delivered: i64,
    /// Gave up (attempts exhausted or refused).
    pub failed: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HourCounts {
    /// The hour's start (UTC).
    pub hour: DateTime<Utc>,
    #[serde(flatten)]
    pub counts: Counts,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentStats {
    pub agent_id: String,
    pub agent_name: String,
    pub deliveries_paused: bool,
    /// Pending deliveries now.
    pub pending: i64,
    /// Age of the oldest pending delivery, seconds (0 when none).
    pub oldest_pending_secs: f64,
    /// Pending deliveries whose last attempt failed (waiting for a retry).
    pub retrying: i64,
    /// Failed deliveries still kept (see the retention setting).
    pub failed_kept: i64,
    /// True when a delivery failed in the last hour or one is being retried.
    pub failing: bool,
    pub last_hour: Counts,
    pub last_day: Counts,
    /// The 25 hours that cover the last day, oldest first.
    pub hourly: Vec<HourCounts>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatsResponse {
    pub generated_at: DateTime<Utc>,
    pub agents: Vec<AgentStats>,
}

#[utoipa::path(get, path = "/deliveries/stats", operation_id = "delivery_stats",
    tag = "deliveries", params(StatsQuery),
    responses((status = 200, body = StatsResponse), (status = 404, description = "No such agent")))]
pub async fn stats(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, AdminError> {
    let query = query.into_inner();
    let now = crate::db::now();
    let body = run_db(&state.pool, move |conn| {
        let only = agent_filter(conn, &caller, query.agent_id, query.agent_name)?;
        read(conn, caller.account(), only.as_deref(), now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

fn read(
    conn: &mut DbConnection,
    account: Option<&str>,
    only: Option<&str>,
    now: NaiveDateTime,
) -> Result<StatsResponse, AdminError> {
    let day_ago = now - Duration::hours(24);
    let counts = stats::hourly_counts(conn, day_ago, now - Duration::hours(1), account, only)?;
    let retrying: HashMap<String, i64> = stats::retrying(conn, account, only)?
        .into_iter()
        .map(|r| (r.agent_id, r.n))
        .collect();
    let queues: HashMap<String, QueueSample> = deliveries::queue_samples(conn, now)?
        .into_iter()
        .map(|q| (q.agent.clone(), q))
        .collect();
    let agents = agents::list(conn, account, MAX_AGENTS, 0)?
        .into_iter()
        .filter(|a| only.is_none_or(|id| a.id == id))
        .map(|agent| {
            let queue = queues.get(&agent.name);
            let retrying = retrying.get(&agent.id).copied().unwrap_or(0);
            agent_stats(agent, &counts, queue, retrying, day_ago)
        })
        .collect();
    Ok(StatsResponse {
        generated_at: utc(now),
        agents,
    })
}

fn agent_stats(
    agent: Agent,
    counts: &[stats::HourCount],
    queue: Option<&QueueSample>,
    retrying: i64,
    day_ago: NaiveDateTime,
) -> AgentStats {
    let first_hour = day_ago
        .duration_trunc(Duration::hours(1))
        .unwrap_or(day_ago);
    let mut hourly: Vec<HourCounts> = (0..25)
        .map(|h| HourCounts {
            hour: utc(first_hour + Duration::hours(h)),
            counts: Counts::default(),
        })
        .collect();
    let (mut last_hour, mut last_day) = (Counts::default(), Counts::default());
    for count in counts.iter().filter(|c| c.agent_id == agent.id) {
        let kind = count.kind.as_str();
        add(&mut last_day, kind, count.n);
        if count.recent == 1 {
            add(&mut last_hour, kind, count.n);
        }
        let slot = hour_index(&count.hour, first_hour).and_then(|i| hourly.get_mut(i));
        if let Some(slot) = slot {
            add(&mut slot.counts, kind, count.n);
        }
    }
    AgentStats {
        agent_id: agent.id,
        agent_name: agent.name,
        deliveries_paused: agent.deliveries_paused_at.is_some(),
        pending: queue.map_or(0, |q| q.pending),
        oldest_pending_secs: queue.map_or(0.0, |q| q.oldest_pending_secs),
        retrying,
        failed_kept: queue.map_or(0, |q| q.failed),
        failing: last_hour.failed > 0 || retrying > 0,
        last_hour,
        last_day,
        hourly,
    }
}

fn add(counts: &mut Counts, kind: &str, n: i64) {
    match DeliveryStatus::parse(kind) {
        Some(DeliveryStatus::Delivered) => counts.delivered += n,
        Some(DeliveryStatus::Failed) => counts.failed += n,
        _ => counts.accepted += n,
    }
}

/// Which of the hourly slots starting at `first_hour` a `YYYY-MM-DD HH`
/// label falls in.
fn hour_index(label: &str, first_hour: NaiveDateTime) -> Option<usize> {
    let hour =
        NaiveDateTime::parse_from_str(&format!("{label}:00:00"), "%Y-%m-%d %H:%M:%S").ok()?;
    usize::try_from((hour - first_hour).num_hours()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hour_labels_map_to_slots() {
        let first = NaiveDateTime::parse_from_str("2026-11-28 15:00:00", "%Y-%m-%d %H:%M:%S")
            .expect("time");
        assert_eq!(hour_index("2026-11-28 15", first), Some(0));
        assert_eq!(hour_index("2026-11-29 15", first), Some(24));
        assert_eq!(hour_index("2026-11-28 14", first), None);
        assert_eq!(hour_index("garbage", first), None);
    }
}
