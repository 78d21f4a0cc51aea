//! Coalescing: a route may gather the events of one task that arrive close
//! together into one delivery. Every event is its own committed row (a
//! crash loses nothing); only the head's due time moves: each event of the
//! task pushes it to `window_ms` after itself, never past `max_wait_ms`
//! after the head was created. When the head is claimed, the task's pending
//! events behind it (its followers) go out with it in one call and are
//! recorded delivered with it.

use super::{Delivery, DeliveryStatus};
use crate::db::schema::{agent_routes, agent_tasks, deliveries, delivery_lanes};
use crate::db::DbConnection;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use std::collections::HashMap;

/// The most events one coalesced delivery carries; more wait for the next.
pub const MAX_EVENTS: i64 = 100;

/// A route's coalescing setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Coalesce {
    pub window_ms: i64,
    pub max_wait_ms: i64,
}

/// Moves the due time of each task's head (when it was never attempted and
/// is not claimed): `window_ms` after `at`, at most `max_wait_ms` after the
/// head was created.
pub fn hold_heads(
    conn: &mut DbConnection,
    tasks: &[(String, Coalesce)],
    at: NaiveDateTime,
) -> QueryResult<()> {
    for (task_id, coalesce) in tasks {
        let head: Option<(String, NaiveDateTime)> = agent_tasks::table
            .inner_join(
                deliveries::table.on(deliveries::task_id
                    .eq(agent_tasks::id.nullable())
                    .and(deliveries::sequence_id.eq(agent_tasks::head_sequence))),
            )
            .filter(agent_tasks::id.eq(task_id))
            .filter(deliveries::status.eq(DeliveryStatus::Pending))
            .filter(deliveries::attempts.eq(0))
            .select((deliveries::id, deliveries::created_at))
            .first(conn)
            .optional()?;
        let Some((head_id, created_at)) = head else {
            continue;
        };
        let due = (at + Duration::milliseconds(coalesce.window_ms))
            .min(created_at + Duration::milliseconds(coalesce.max_wait_ms));
        let moved = diesel::update(
            delivery_lanes::table
                .filter(delivery_lanes::id.eq(task_id))
                .filter(delivery_lanes::head_id.eq(&head_id))
                .filter(delivery_lanes::claim_token.is_null()),
        )
        .set(delivery_lanes::due_at.eq(due))
        .execute(conn)?;
        if moved > 0 {
            diesel::update(deliveries::table.find(&head_id))
                .set(deliveries::next_attempt_at.eq(due))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// For each claimed head of a coalescing route: its followers, in
/// sequence (the task's later pending events of the same route). Heads of
/// other routes are absent.
pub fn followers(
    conn: &mut DbConnection,
    heads: &[&Delivery],
) -> QueryResult<HashMap<String, Vec<Delivery>>> {
    let route_ids: Vec<&String> = heads.iter().filter_map(|d| d.route_id.as_ref()).collect();
    if route_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let coalescing: Vec<String> = agent_routes::table
        .filter(agent_routes::id.eq_any(&route_ids))
        .filter(agent_routes::coalesce_window_ms.is_not_null())
        .select(agent_routes::id)
        .load(conn)?;
    let mut out = HashMap::new();
    for head in heads {
        let (Some(route), Some(task), Some(sequence)) =
            (&head.route_id, &head.task_id, head.sequence_id)
        else {
            continue;
        };
        if !coalescing.contains(route) {
            continue;
        }
        let rows = deliveries::table
            .filter(deliveries::task_id.eq(task))
            .filter(deliveries::status.eq(DeliveryStatus::Pending))
            .filter(deliveries::sequence_id.gt(sequence))
            .filter(deliveries::route_id.eq(route))
            .order(deliveries::sequence_id.asc())
            .limit(MAX_EVENTS - 1)
            .select(Delivery::as_select())
            .load(conn)?;
        out.insert(head.id.clone(), rows);
    }
    Ok(out)
}

/// The followers of delivered coalesced heads, delivered too (those still
/// pending: an operator may have cancelled one meanwhile); their ids and
/// the number of the attempt that delivered them.
pub fn deliver_followers(
    conn: &mut DbConnection,
    followers: &[&String],
    at: NaiveDateTime,
) -> QueryResult<Vec<(String, i32)>> {
    if followers.is_empty() {
        return Ok(Vec::new());
    }
    let still: Vec<(String, i32)> = deliveries::table
        .filter(deliveries::id.eq_any(followers))
        .filter(deliveries::status.eq(DeliveryStatus::Pending))
        .select((deliveries::id, deliveries::attempts))
        .load(conn)?;
    let ids: Vec<&String> = still.iter().map(|(id, _)| id).collect();
    diesel::update(deliveries::table.filter(deliveries::id.eq_any(&ids)))
        .set((
            deliveries::status.eq(DeliveryStatus::Delivered),
            deliveries::attempts.eq(deliveries::attempts + 1),
            deliveries::delivered_at.eq(Some(at)),
            deliveries::updated_at.eq(at),
            deliveries::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(still.into_iter().map(|(id, n)| (id, n + 1)).collect())
}
