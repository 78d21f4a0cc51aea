//! Reading the queue for operators: pages of deliveries, newest first, with
//! a cursor that stays put while new rows arrive; one delivery with its
//! attempts.

use super::{Attempt, Delivery, DeliveryStatus};
use crate::db::schema::{agents, deliveries, delivery_attempts};
use crate::db::DbConnection;
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// Where a page ends: the last row's creation time and id. Rows created
/// later sort before it, so new arrivals never shift the pages after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: NaiveDateTime,
    pub id: String,
}

impl Cursor {
    /// Opaque to callers: URL-safe base64 of `micros:id`.
    pub fn encode(&self) -> String {
        use base64::Engine;
        let raw = format!(
            "{}:{}",
            self.created_at.and_utc().timestamp_micros(),
            self.id
        );
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }

    pub fn decode(text: &str) -> Option<Self> {
        use base64::Engine;
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()?;
        let raw = String::from_utf8(raw).ok()?;
        let (micros, id) = raw.split_once(':')?;
        let created_at = chrono::DateTime::from_timestamp_micros(micros.parse().ok()?)?.naive_utc();
        Some(Self {
            created_at,
            id: id.to_owned(),
        })
    }
}

/// Which deliveries an operator means: an agent's, a task's, created in a
/// time range. Listing and bulk retry narrow the table the same way.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Only agents of this account (an account caller's view).
    pub account_id: Option<String>,
    pub agent_id: Option<String>,
    pub task_id: Option<String>,
    /// Created at or after.
    pub since: Option<NaiveDateTime>,
    /// Created before.
    pub until: Option<NaiveDateTime>,
}

type Backend = <DbConnection as diesel::Connection>::Backend;

impl Scope {
    /// `deliveries` narrowed to this scope.
    pub(super) fn query(&self) -> deliveries::BoxedQuery<'static, Backend> {
        let mut query = deliveries::table.into_boxed();
        if let Some(account) = &self.account_id {
            let owned = agents::table
                .filter(agents::account_id.eq(account.clone()))
                .select(agents::id);
            query = query.filter(deliveries::agent_id.eq_any(owned));
        }
        if let Some(agent_id) = &self.agent_id {
            query = query.filter(deliveries::agent_id.eq(agent_id.clone()));
        }
        if let Some(task) = &self.task_id {
            query = query.filter(deliveries::task_id.eq(task.clone()));
        }
        if let Some(since) = self.since {
            query = query.filter(deliveries::created_at.ge(since));
        }
        if let Some(until) = self.until {
            query = query.filter(deliveries::created_at.lt(until));
        }
        query
    }
}

/// What `GET /deliveries` filters on.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub scope: Scope,
    pub status: Option<DeliveryStatus>,
    pub route_id: Option<String>,
    pub after: Option<Cursor>,
}

/// One page of deliveries, newest first, and the cursor of the next page
/// (None on the last).
pub fn list(
    conn: &mut DbConnection,
    filter: &ListFilter,
    limit: i64,
) -> QueryResult<(Vec<Delivery>, Option<Cursor>)> {
    let mut query = filter.scope.query();
    if let Some(status) = &filter.status {
        query = query.filter(deliveries::status.eq(*status));
    }
    if let Some(route) = &filter.route_id {
        query = query.filter(deliveries::route_id.eq(route.clone()));
    }
    if let Some(after) = &filter.after {
        query = query.filter(
            deliveries::created_at
                .lt(after.created_at)
                .or(deliveries::created_at
                    .eq(after.created_at)
                    .and(deliveries::id.lt(after.id.clone()))),
        );
    }
    let mut rows = query
        .select(Delivery::as_select())
        .order((deliveries::created_at.desc(), deliveries::id.desc()))
        .limit(limit + 1)
        .load(conn)?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|d| Cursor {
            created_at: d.created_at,
            id: d.id.clone(),
        })
    } else {
        None
    };
    Ok((rows, next))
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<(Delivery, Vec<Attempt>)>> {
    let Some(delivery) = deliveries::table
        .find(id)
        .select(Delivery::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let attempts = delivery_attempts::table
        .filter(delivery_attempts::delivery_id.eq(id))
        .order(delivery_attempts::attempt.asc())
        .select(Attempt::as_select())
        .load(conn)?;
    Ok(Some((delivery, attempts)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let cursor = Cursor {
            created_at: crate::db::now(),
            id: "0b1c-id".into(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("not a cursor!"), None);
        assert_eq!(Cursor::decode("bm9jb2xvbg"), None);
    }
}
