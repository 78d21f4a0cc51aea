//! The database: one portable schema over SQLite and PostgreSQL, a pool of
//! [`DbConnection`]s, embedded migrations per backend, and one query module
//! per table.

pub mod accounts;
pub mod agents;
pub mod api_keys;
pub mod blocking;
pub mod checkpointer;
pub mod deliveries;
mod dialect;
pub mod keyring;
pub mod notify;
mod pool;
pub mod process_lock;
pub mod raw;
pub mod replays;
pub mod routes;
pub mod schema;
mod text_columns;

pub use pool::{
    connect, migrate, open_pool, outage_suspected, redact, run_migrations, suspect_connections,
    use_commits, Backend, Commits, DbConnection, DbPool, DbPooled,
};

/// A database failure, kept apart from "not found" and conflicts.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("no database connection available: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("database task did not finish: {0}")]
    Canceled(String),
    /// An outage told to several waiters (errors do not clone).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Crypto(#[from] crate::crypto::CryptoError),
}

pub type DbResult<T> = Result<T, DbError>;

impl DbError {
    /// The database cannot answer now (unreachable, restarting, failing
    /// over, read-only, out of connections or of space): a fault that is
    /// nobody's request's, to be answered 503 and tried again, never 500.
    pub fn is_outage(&self) -> bool {
        match self {
            Self::Pool(_) | Self::Unavailable(_) => true,
            Self::Query(e) => is_outage(e),
            Self::Canceled(_) | Self::Crypto(_) => false,
        }
    }
}

/// See [`DbError::is_outage`]: a statement's own faults (a constraint, a
/// row that does not decode) are not one.
pub fn is_outage(err: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind as Kind, Error};
    const SAID: [&str; 12] = [
        "terminating connection",
        "server closed the connection",
        "the database system is",
        "read-only transaction",
        "too many clients",
        "database or disk is full",
        "disk i/o error",
        "database is locked",
        "no connection to the server",
        "could not connect",
        "connection refused",
        "recovery is in progress",
    ];
    match err {
        Error::DatabaseError(
            Kind::UniqueViolation
            | Kind::ForeignKeyViolation
            | Kind::NotNullViolation
            | Kind::CheckViolation,
            _,
        ) => false,
        Error::DatabaseError(
            Kind::ClosedConnection | Kind::ReadOnlyTransaction | Kind::SerializationFailure,
            _,
        ) => true,
        Error::DatabaseError(_, info) => {
            let said = info.message().to_ascii_lowercase();
            SAID.iter().any(|s| said.contains(s))
        }
        Error::BrokenTransactionManager => true,
        _ => false,
    }
}

/// A new id for a row written at the rate events arrive (deliveries, their
/// attempts): a UUID v7, whose leading timestamp makes each insert land at
/// the right edge of the primary-key index. A random v4 id touches a
/// different index page per row, which on SQLite is a 4 KiB WAL frame per
/// event; in a batch, v7 ids share pages.
pub fn time_ordered_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Now, as stored: UTC without offset, to the microsecond (what both backends keep).
pub fn now() -> chrono::NaiveDateTime {
    let now = chrono::Utc::now().naive_utc();
    now.with_nanosecond((now.nanosecond() / 1_000) * 1_000)
        .unwrap_or(now)
}

use chrono::Timelike;

/// True for a conflict that running the transaction again resolves: a
/// serialization failure or deadlock (PostgreSQL), the writer lock taken
/// under a reading transaction (SQLite).
pub fn is_transient(err: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match err {
        Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        Error::DatabaseError(_, info) => {
            let message = info.message();
            message.contains("deadlock detected") || message.contains("database is locked")
        }
        _ => false,
    }
}

/// Opens the current transaction as a writer. SQLite starts transactions
/// as readers, and a reader that later writes after another connection
/// committed fails at once ("database is locked", no waiting); a write as
/// the first statement (this one changes nothing) takes the writer lock
/// up front, waiting its turn under `busy_timeout`. PostgreSQL needs
/// nothing.
pub fn write_first(conn: &mut DbConnection) -> diesel::QueryResult<()> {
    dialect::write_first(conn)
}

/// True for a unique-constraint violation (a concurrent or repeated insert).
pub fn is_unique_violation(err: &diesel::result::Error) -> bool {
    matches!(
        err,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}
