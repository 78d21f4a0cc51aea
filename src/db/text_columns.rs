//! Enums stored as text: each is written as its `as_str` and read back
//! through its parser, on PostgreSQL, SQLite and the pool's multi-backend
//! connection alike. A value no parser knows is a read error naming it,
//! never a silent default.

use super::pool::MultiBackend;
use crate::domain::RouteMode;
use crate::row::status::{AttemptOutcome, DeliveryStatus};
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;

/// The stored text of `value`, parsed by `parse`.
fn read<T>(value: String, parse: impl Fn(&str) -> Option<T>, what: &str) -> deserialize::Result<T> {
    parse(&value).ok_or_else(|| format!("unknown {what} {value:?} in the database").into())
}

macro_rules! text_column {
    ($ty:ty, $what:literal, $parse:expr) => {
        impl ToSql<Text, Pg> for $ty {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                <str as ToSql<Text, Pg>>::to_sql(self.as_str(), &mut out.reborrow())
            }
        }

        impl ToSql<Text, Sqlite> for $ty {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
                out.set_value(self.as_str());
                Ok(IsNull::No)
            }
        }

        impl ToSql<Text, MultiBackend> for $ty {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
                out.set_value((Text, self));
                Ok(IsNull::No)
            }
        }

        impl FromSql<Text, Pg> for $ty {
            fn from_sql(value: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                read(
                    <String as FromSql<Text, Pg>>::from_sql(value)?,
                    $parse,
                    $what,
                )
            }
        }

        impl FromSql<Text, Sqlite> for $ty {
            fn from_sql(value: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                read(
                    <String as FromSql<Text, Sqlite>>::from_sql(value)?,
                    $parse,
                    $what,
                )
            }
        }

        impl FromSql<Text, MultiBackend> for $ty {
            fn from_sql(
                value: <MultiBackend as Backend>::RawValue<'_>,
            ) -> deserialize::Result<Self> {
                value.from_sql::<Self, Text>()
            }
        }
    };
}

text_column!(DeliveryStatus, "delivery status", DeliveryStatus::parse);
text_column!(AttemptOutcome, "attempt outcome", AttemptOutcome::parse);
text_column!(RouteMode, "route mode", |raw: &str| RouteMode::parse(raw)
    .ok());
