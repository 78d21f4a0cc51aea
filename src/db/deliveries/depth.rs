//! How deep each agent's queue is, sampled when metrics are read: pending
//! and failed deliveries per agent and the age of the oldest pending one.

use super::DeliveryStatus;
use crate::db::schema::{agents, deliveries};
use crate::db::DbConnection;
use crate::metrics::QueueSample;
use chrono::NaiveDateTime;
use diesel::dsl::{count, min};
use diesel::prelude::*;
use std::collections::BTreeMap;

/// Every agent's queue (zeros for an agent with nothing waiting, so a
/// drained queue reads 0, not its last depth).
pub fn queue_samples(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<Vec<QueueSample>> {
    let agents: Vec<(String, String)> = agents::table
        .select((agents::id, agents::name))
        .load(conn)?;
    let mut samples: BTreeMap<String, QueueSample> = agents
        .into_iter()
        .map(|(id, agent)| {
            let empty = QueueSample {
                agent,
                pending: 0,
                failed: 0,
                oldest_pending_secs: 0.0,
            };
            (id, empty)
        })
        .collect();
    let rows: Vec<(String, DeliveryStatus, i64, Option<NaiveDateTime>)> = deliveries::table
        .filter(deliveries::status.eq_any([DeliveryStatus::Pending, DeliveryStatus::Failed]))
        .group_by((deliveries::agent_id, deliveries::status))
        .select((
            deliveries::agent_id,
            deliveries::status,
            count(deliveries::id),
            min(deliveries::created_at),
        ))
        .load(conn)?;
    for (agent_id, status, n, oldest) in rows {
        let Some(sample) = samples.get_mut(&agent_id) else {
            continue;
        };
        if status == DeliveryStatus::Pending {
            sample.pending = n;
            let age = oldest.map_or(0, |t| (now - t).num_milliseconds().max(0));
            sample.oldest_pending_secs = age as f64 / 1000.0;
        } else {
            sample.failed = n;
        }
    }
    Ok(samples.into_values().collect())
}
