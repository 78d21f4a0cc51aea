//! Counts for the dashboard's overview: per agent and per hour, how many
//! deliveries were accepted, delivered and failed, counted in the database
//! (one grouped query) so the cost does not grow with what is read back.

use super::DeliveryStatus;
use crate::db::raw::{self, Param};
use crate::db::DbConnection;
use chrono::NaiveDateTime;
use diesel::sql_types::{BigInt, Text};
use diesel::QueryResult;

/// One agent's count of one kind (`accepted`, `delivered`, `failed`) in one
/// hour, split by whether it falls inside the last hour.
#[derive(Debug, Clone, PartialEq, Eq, diesel::QueryableByName)]
pub struct HourCount {
    #[diesel(sql_type = Text)]
    pub agent_id: String,
    /// `YYYY-MM-DD HH` (UTC).
    #[diesel(sql_type = Text)]
    pub hour: String,
    #[diesel(sql_type = Text)]
    pub kind: String,
    /// 1 when the events counted happened in the last hour.
    #[diesel(sql_type = BigInt)]
    pub recent: i64,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// How many of an agent's pending deliveries have failed an attempt and
/// wait for their next one.
#[derive(Debug, Clone, PartialEq, Eq, diesel::QueryableByName)]
pub struct Retrying {
    #[diesel(sql_type = Text)]
    pub agent_id: String,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// The hour of a timestamp column as `YYYY-MM-DD HH`: SQLite stores
/// timestamps as text that starts that way; PostgreSQL formats it.
fn hour_of(conn: &DbConnection, column: &str) -> String {
    crate::db::dialect::hour_of(conn, column)
}

/// Counts since `since` per agent, hour and kind (`accepted` by creation,
/// ignored calls apart,
/// `delivered` by delivery, `failed` by when the delivery gave up), those
/// at or after `recent_since` apart; only the agents of `account_id` when
/// given, only `agent_id` when given.
pub fn hourly_counts(
    conn: &mut DbConnection,
    since: NaiveDateTime,
    recent_since: NaiveDateTime,
    account_id: Option<&str>,
    agent_id: Option<&str>,
) -> QueryResult<Vec<HourCount>> {
    let (scope, scope_params) = scope_sql(account_id, agent_id);
    let part = |kind: &str, column: &str, extra: &str| {
        let hour = hour_of(conn, column);
        format!(
            "SELECT agent_id, {hour} AS hour, '{kind}' AS kind, \
             CAST(CASE WHEN {column} >= ? THEN 1 ELSE 0 END AS BIGINT) AS recent, \
             COUNT(*) AS n FROM deliveries WHERE {column} >= ? {extra}{scope} \
             GROUP BY 1, 2, 4"
        )
    };
    // A finished delivery's updated_at is at or after its delivered_at, so
    // the `updated_at` condition lets the index of finished rows narrow it.
    let sql = [
        part(
            "accepted",
            "created_at",
            &format!("AND status <> '{}' ", DeliveryStatus::Ignored),
        ),
        part(
            DeliveryStatus::Delivered.as_str(),
            "delivered_at",
            &format!(
                "AND status = '{}' AND updated_at >= ? ",
                DeliveryStatus::Delivered
            ),
        ),
        part(
            DeliveryStatus::Failed.as_str(),
            "updated_at",
            &format!("AND status = '{}' ", DeliveryStatus::Failed),
        ),
    ]
    .join(" UNION ALL ");
    let mut params = Vec::new();
    for extra_since in [false, true, false] {
        params.extend([Param::Time(recent_since), Param::Time(since)]);
        if extra_since {
            params.push(Param::Time(since));
        }
        params.extend(scope_params.iter().cloned());
    }
    raw::load(conn, &sql, &params)
}

/// Pending deliveries with a failed attempt behind them, per agent.
pub fn retrying(
    conn: &mut DbConnection,
    account_id: Option<&str>,
    agent_id: Option<&str>,
) -> QueryResult<Vec<Retrying>> {
    let (scope, params) = scope_sql(account_id, agent_id);
    let sql = format!(
        "SELECT agent_id, COUNT(*) AS n FROM deliveries \
         WHERE status = '{}' AND last_error IS NOT NULL {scope}GROUP BY agent_id",
        DeliveryStatus::Pending
    );
    raw::load(conn, &sql, &params)
}

fn scope_sql(account_id: Option<&str>, agent_id: Option<&str>) -> (String, Vec<Param>) {
    let mut sql = String::new();
    let mut params = Vec::new();
    if let Some(account) = account_id {
        sql.push_str("AND agent_id IN (SELECT id FROM agents WHERE account_id = ?) ");
        params.push(Param::from(account));
    }
    if let Some(agent) = agent_id {
        sql.push_str("AND agent_id = ? ");
        params.push(Param::from(agent));
    }
    (sql, params)
}
