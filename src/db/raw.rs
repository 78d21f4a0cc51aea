//! Hand-written SQL run on either backend: statements the portable query
//! builder cannot express (`RETURNING`, `UNION ALL` of limited subqueries,
//! row values, `FOR UPDATE SKIP LOCKED`) are written once with `?`
//! placeholders and numbered for PostgreSQL here.

use super::DbConnection;
use crate::row::status::DeliveryStatus;
use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::query_builder::BoxedSqlQuery;
use diesel::query_builder::SqlQuery;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamp};
use diesel::sqlite::Sqlite;
use diesel::{QueryResult, QueryableByName, RunQueryDsl};

/// One bound value.
#[derive(Debug, Clone)]
pub enum Param {
    Text(String),
    OptText(Option<String>),
    Time(NaiveDateTime),
    Int(i64),
    Bool(bool),
}

impl From<&str> for Param {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}

impl From<&String> for Param {
    fn from(s: &String) -> Self {
        Self::Text(s.clone())
    }
}

impl From<DeliveryStatus> for Param {
    fn from(s: DeliveryStatus) -> Self {
        Self::Text(s.as_str().to_owned())
    }
}

impl From<NaiveDateTime> for Param {
    fn from(t: NaiveDateTime) -> Self {
        Self::Time(t)
    }
}

impl From<i64> for Param {
    fn from(n: i64) -> Self {
        Self::Int(n)
    }
}

/// One `id` column, for `RETURNING id`.
#[derive(Debug, QueryableByName)]
pub struct IdRow {
    #[diesel(sql_type = Text)]
    pub id: String,
}

/// `WITH name(a, b) AS (VALUES (?, ?), (?, ?))`: `rows` rows of bound
/// values to join a statement against, one plan node however many rows
/// (a `UNION ALL` of `SELECT`s was one subquery each to plan).
pub fn values_table(name: &str, columns: &[&str], rows: usize) -> String {
    let row = format!("({})", placeholders(columns.len()));
    format!(
        "WITH {name}({}) AS (VALUES {})",
        columns.join(", "),
        vec![row.as_str(); rows].join(", ")
    )
}

/// `?, ?, ?` for a list of `n` values.
pub fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// `?` placeholders numbered `$1, $2, …` as PostgreSQL wants them.
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

fn bind_all<'a, DB>(
    mut query: BoxedSqlQuery<'a, DB, SqlQuery>,
    params: &'a [Param],
) -> BoxedSqlQuery<'a, DB, SqlQuery>
where
    String: diesel::serialize::ToSql<Text, DB>,
    Option<String>: diesel::serialize::ToSql<Nullable<Text>, DB>,
    NaiveDateTime: diesel::serialize::ToSql<Timestamp, DB>,
    i64: diesel::serialize::ToSql<BigInt, DB>,
    bool: diesel::serialize::ToSql<Bool, DB>,
    DB: diesel::backend::Backend
        + diesel::sql_types::HasSqlType<Text>
        + diesel::sql_types::HasSqlType<Timestamp>
        + diesel::sql_types::HasSqlType<BigInt>
        + diesel::sql_types::HasSqlType<Bool>,
{
    for param in params {
        query = match param {
            Param::Text(s) => query.bind::<Text, _>(s),
            Param::OptText(s) => query.bind::<Nullable<Text>, _>(s),
            Param::Time(t) => query.bind::<Timestamp, _>(t),
            Param::Int(n) => query.bind::<BigInt, _>(n),
            Param::Bool(b) => query.bind::<Bool, _>(b),
        };
    }
    query
}

/// Runs a statement; returns the number of rows it touched.
pub fn execute(conn: &mut DbConnection, sql: &str, params: &[Param]) -> QueryResult<usize> {
    match conn {
        DbConnection::Postgres(pg) => {
            bind_all(diesel::sql_query(numbered(sql)).into_boxed::<Pg>(), params).execute(pg)
        }
        DbConnection::Sqlite(lite) => {
            bind_all(diesel::sql_query(sql).into_boxed::<Sqlite>(), params).execute(lite)
        }
    }
}

/// Runs a query (or a statement with `RETURNING`) and reads its rows by name.
pub fn load<T>(conn: &mut DbConnection, sql: &str, params: &[Param]) -> QueryResult<Vec<T>>
where
    T: QueryableByName<Pg> + QueryableByName<Sqlite> + 'static,
{
    match conn {
        DbConnection::Postgres(pg) => {
            bind_all(diesel::sql_query(numbered(sql)).into_boxed::<Pg>(), params).load(pg)
        }
        DbConnection::Sqlite(lite) => {
            bind_all(diesel::sql_query(sql).into_boxed::<Sqlite>(), params).load(lite)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_are_numbered_in_order() {
        assert_eq!(
            super::numbered("a = ? AND b IN (?, ?)"),
            "a = $1 AND b IN ($2, $3)"
        );
        assert_eq!(super::placeholders(3), "?, ?, ?");
    }
}
