//! A replay's report, read a page at a time: the page's pairs (original,
//! replayed) with each side's status and last answer, and the summary
//! counted by the database. Reading one line of a 10,000-event replay
//! must not load the other 9,999 pairs and their answers (issue 26: 20
//! concurrent reads had RSS 122 -> 501 MiB).

use super::replay_items;
use crate::db::raw::{self, placeholders, Param};
use crate::db::DbConnection;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamp};
use std::collections::HashMap;

/// One side of a pair: the delivery's status and its last attempt's
/// answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outline {
    pub delivery_id: String,
    /// `purged` when retention removed it.
    pub status: String,
    pub last_error: Option<String>,
    pub status_code: Option<i32>,
    pub response: Option<String>,
    pub latency_ms: Option<i64>,
}

/// How many pairs compare each way (see [`VERDICT`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub same: i64,
    pub different: i64,
    pub failed: i64,
    pub pending: i64,
}

/// The last attempt of the delivery `{d}.id` joined as `{a}`.
fn last_attempt(d: &str, a: &str) -> String {
    format!(
        "LEFT JOIN delivery_attempts {a} ON {a}.delivery_id = {d}.id AND {a}.attempt = \
         (SELECT MAX(attempt) FROM delivery_attempts WHERE delivery_id = {d}.id)"
    )
}

/// How a replayed delivery `r` (last attempt `ra`) compares with its
/// original `o` (`oa`): `pending` while it waits, `failed` when it failed,
/// was cancelled or purged, `same` when status, status code and answer
/// match, else `different`.
const VERDICT: &str = "CASE \
    WHEN r.status IS NULL OR r.status IN ('failed', 'cancelled') THEN 'failed' \
    WHEN r.status IN ('pending', 'held') THEN 'pending' \
    WHEN COALESCE(o.status, 'purged') = r.status \
     AND (oa.status_code = ra.status_code OR (oa.status_code IS NULL AND ra.status_code IS NULL)) \
     AND (oa.response = ra.response OR (oa.response IS NULL AND ra.response IS NULL)) \
    THEN 'same' ELSE 'different' END";

#[derive(QueryableByName)]
struct CountsRow {
    #[diesel(sql_type = BigInt)]
    same: i64,
    #[diesel(sql_type = BigInt)]
    different: i64,
    #[diesel(sql_type = BigInt)]
    failed: i64,
    #[diesel(sql_type = BigInt)]
    pending: i64,
}

/// Every pair's verdict, counted by the database in one pass. Sums, not a
/// `GROUP BY`: SQLite would sort every row with the answers the verdict
/// reads (80 MiB of them for 10,000 pairs, in memory with temp_store =
/// MEMORY).
pub fn counts(conn: &mut DbConnection, replay_id: &str) -> QueryResult<Counts> {
    let count = |verdict: &str| {
        format!("COALESCE(SUM(CASE WHEN verdict = '{verdict}' THEN 1 ELSE 0 END), 0) AS {verdict}")
    };
    let sql = format!(
        "SELECT {}, {}, {}, {} FROM (SELECT {VERDICT} AS verdict \
         FROM replay_items i \
         LEFT JOIN deliveries o ON o.id = i.original_id \
         LEFT JOIN deliveries r ON r.id = i.replayed_id {} {} \
         WHERE i.replay_id = ?) verdicts",
        count("same"),
        count("different"),
        count("failed"),
        count("pending"),
        last_attempt("o", "oa"),
        last_attempt("r", "ra"),
    );
    let rows: Vec<CountsRow> = raw::load(conn, &sql, &[replay_id.into()])?;
    Ok(rows
        .into_iter()
        .next()
        .map_or_else(Counts::default, |row| Counts {
            same: row.same,
            different: row.different,
            failed: row.failed,
            pending: row.pending,
        }))
}

/// The pairs at `offset..offset + limit` in replay order.
pub fn page(
    conn: &mut DbConnection,
    replay_id: &str,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<(Outline, Outline)>> {
    let items: Vec<(String, String)> = replay_items::table
        .filter(replay_items::replay_id.eq(replay_id))
        .order(replay_items::position.asc())
        .offset(offset)
        .limit(limit)
        .select((replay_items::original_id, replay_items::replayed_id))
        .load(conn)?;
    let ids: Vec<&String> = items.iter().flat_map(|(o, r)| [o, r]).collect();
    let mut outlines = outlines(conn, &ids)?;
    let mut take = |id: &String| {
        outlines.remove(id).unwrap_or_else(|| Outline {
            delivery_id: id.clone(),
            status: "purged".into(),
            ..Outline::default()
        })
    };
    Ok(items.iter().map(|(o, r)| (take(o), take(r))).collect())
}

#[derive(QueryableByName)]
struct OutlineRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Nullable<Text>)]
    last_error: Option<String>,
    #[diesel(sql_type = Nullable<Integer>)]
    status_code: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    response: Option<String>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    started_at: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    finished_at: Option<NaiveDateTime>,
}

/// Status and last answer of each delivery (only its last attempt is read).
fn outlines(conn: &mut DbConnection, ids: &[&String]) -> QueryResult<HashMap<String, Outline>> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let sql = format!(
            "SELECT d.id, d.status, d.last_error, a.status_code, a.response, a.started_at, \
             a.finished_at FROM deliveries d {} WHERE d.id IN ({})",
            last_attempt("d", "a"),
            placeholders(chunk.len())
        );
        let params: Vec<Param> = chunk.iter().map(|id| Param::from(*id)).collect();
        let rows: Vec<OutlineRow> = raw::load(conn, &sql, &params)?;
        for row in rows {
            let latency_ms = row
                .started_at
                .zip(row.finished_at)
                .map(|(started, finished)| (finished - started).num_milliseconds());
            let outline = Outline {
                delivery_id: row.id.clone(),
                status: row.status,
                last_error: row.last_error,
                status_code: row.status_code,
                response: row.response,
                latency_ms,
            };
            out.insert(row.id, outline);
        }
    }
    Ok(out)
}
