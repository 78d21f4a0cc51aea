//! Every statement whose SQL differs by backend, written once per backend
//! side by side: `dialect/sqlite.rs` and `dialect/postgres.rs` hold the
//! same functions under the same names; the functions here pick by the
//! connection. Queries that read the same on both backends stay with their
//! table's module.

mod postgres;
mod sqlite;

use super::deliveries::{ClaimedRow, NewLanes};
use super::raw::Param;
use super::DbConnection;
use diesel::prelude::*;
use diesel::query_builder::InsertStatement;
use diesel::query_dsl::methods::ExecuteDsl;
use diesel::{Insertable, PgConnection, SqliteConnection, Table};

/// Inserts `rows` into `table`: on PostgreSQL one multi-row INSERT per
/// `chunk` rows (one round trip each); on SQLite, in process, one row at a
/// time with a statement prepared once per connection, which spares the
/// parse of a statement with thousands of parameters and the undo journal
/// a multi-row statement keeps.
pub fn insert_chunked<'a, T, R>(
    conn: &mut DbConnection,
    table: T,
    rows: &'a [R],
    chunk: usize,
) -> QueryResult<()>
where
    T: Table + Copy,
    &'a [R]: Insertable<T>,
    &'a R: Insertable<T>,
    InsertStatement<T, <&'a [R] as Insertable<T>>::Values>: ExecuteDsl<PgConnection>,
    InsertStatement<T, <&'a R as Insertable<T>>::Values>: ExecuteDsl<SqliteConnection>,
{
    match conn {
        DbConnection::Postgres(pg) => {
            for part in rows.chunks(chunk.max(1)) {
                diesel::insert_into(table).values(part).execute(pg)?;
            }
        }
        DbConnection::Sqlite(lite) => {
            for row in rows {
                diesel::insert_into(table).values(row).execute(lite)?;
            }
        }
    }
    Ok(())
}

/// Locks these task rows, in id order (PostgreSQL; SQLite has one writer
/// at a time and needs nothing).
pub fn lock_tasks(conn: &mut DbConnection, task_ids: &[String]) -> QueryResult<()> {
    match conn {
        DbConnection::Postgres(_) => postgres::lock_tasks(conn, task_ids),
        DbConnection::Sqlite(_) => sqlite::lock_tasks(conn, task_ids),
    }
}

/// Gives tasks whose head is no longer pending their next head, and their
/// lanes with it (see `deliveries::advance_tasks`).
pub fn advance_tasks(
    conn: &mut DbConnection,
    task_ids: &[String],
    lanes: NewLanes,
) -> QueryResult<()> {
    match conn {
        DbConnection::Postgres(_) => postgres::advance_tasks(conn, task_ids, lanes),
        DbConnection::Sqlite(_) => sqlite::advance_tasks(conn, task_ids, lanes),
    }
}

/// The condition over `delivery_lanes` naming, for each `(agent, slots)`,
/// up to `slots` of the agent's lanes due at `at`; its parameters are
/// pushed onto `params`.
pub fn due_lanes(
    conn: &DbConnection,
    rooms: &[(&str, usize)],
    at: chrono::NaiveDateTime,
    params: &mut Vec<Param>,
) -> String {
    match conn {
        DbConnection::Postgres(_) => postgres::due_lanes(rooms, at, params),
        DbConnection::Sqlite(_) => sqlite::due_lanes(rooms, at, params),
    }
}

/// Runs a claim's stamping `update` (which returns `head_id`) and reads
/// the claimed heads with their tasks' columns.
pub fn claimed_heads(
    conn: &mut DbConnection,
    update: &str,
    params: &[Param],
) -> QueryResult<Vec<ClaimedRow>> {
    match conn {
        DbConnection::Postgres(_) => postgres::claimed_heads(conn, update, params),
        DbConnection::Sqlite(_) => sqlite::claimed_heads(conn, update, params),
    }
}

/// The hour of a timestamp column as `YYYY-MM-DD HH`.
pub fn hour_of(conn: &DbConnection, column: &str) -> String {
    match conn {
        DbConnection::Postgres(_) => postgres::hour_of(column),
        DbConnection::Sqlite(_) => sqlite::hour_of(column),
    }
}

/// Rewrites what held plaintext secrets, so none lingers on disk.
pub fn rewrite_freed_pages(conn: &mut DbConnection) -> QueryResult<()> {
    match conn {
        DbConnection::Postgres(_) => postgres::rewrite_freed_pages(conn),
        DbConnection::Sqlite(_) => sqlite::rewrite_freed_pages(conn),
    }
}

/// Makes the current transaction a writer from its first statement (see
/// `db::write_first`).
pub fn write_first(conn: &mut DbConnection) -> QueryResult<()> {
    match conn {
        DbConnection::Postgres(_) => postgres::write_first(conn),
        DbConnection::Sqlite(_) => sqlite::write_first(conn),
    }
}
