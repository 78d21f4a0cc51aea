//! Connections: the URL picks the backend (`postgres://` or `postgresql://`
//! → PostgreSQL, anything else is a SQLite path, `sqlite://` prefix optional).

use crate::domain::SqliteSync;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::R2D2Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// One connection to either backend; queries are written once against it.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

pub type DbPool = r2d2::Pool<Manager>;
/// A connection checked out of a [`DbPool`].
pub type DbPooled = r2d2::PooledConnection<Manager>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a database URL selects, and the URL to hand its driver.
    pub fn from_url(url: &str) -> (Self, &str) {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Self::Postgres, url)
        } else {
            (Self::Sqlite, url.strip_prefix("sqlite://").unwrap_or(url))
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// r2d2 manager that opens the backend the URL names (never guesses by trial).
#[derive(Debug)]
pub struct Manager {
    backend: Backend,
    url: String,
    commits: Commits,
}

/// How a pool's commits reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commits {
    /// Intake and admin changes: on SQLite with this `synchronous` setting;
    /// on PostgreSQL as the server is configured.
    Durable(SqliteSync),
    /// Claims and attempt records: a commit lost to a power cut only means
    /// an attempt is made again (at least once, as promised), so neither
    /// backend waits for the disk (SQLite `NORMAL`, PostgreSQL
    /// `synchronous_commit = off`).
    Relaxed,
}

impl Manager {
    fn open(&self) -> ConnectionResult<DbConnection> {
        match self.backend {
            Backend::Postgres => {
                let mut conn = PgConnection::establish(&self.url)?;
                // Named, so `rekey --data-key` can see a running instance.
                conn.batch_execute("SET application_name = 'hookgate'")
                    .map_err(ConnectionError::CouldntSetupConfiguration)?;
                if self.commits == Commits::Relaxed {
                    // The queue's tables go from empty to large in seconds,
                    // faster than statistics follow: a statement planned
                    // once for an empty table would keep scanning it whole.
                    // Custom plans are made with the table's current size.
                    // The lanes table turns over in seconds, faster than
                    // autovacuum visits: a bitmap scan reads every dead
                    // version of every lane each claim, where an index scan
                    // stops at the limit and marks dead entries to skip.
                    conn.batch_execute(
                        "SET synchronous_commit TO OFF; SET plan_cache_mode TO force_custom_plan; \
                         SET enable_bitmapscan TO off",
                    )
                    .map_err(ConnectionError::CouldntSetupConfiguration)?;
                }
                Ok(DbConnection::Postgres(conn))
            }
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(&self.url)?;
                // WAL lets readers run beside the writer; FULL sync makes a
                // commit survive power loss (NORMAL only a process crash);
                // the intake's group commit keeps FULL fast. busy_timeout
                // queues writers. A statement's undo journal (a statement
                // changing several rows inside a transaction keeps one)
                // stays in memory rather than in a temporary file: a tenth
                // of the intake writer's time went to writing it. WAL
                // checkpoints are the checkpointer's.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = {}; PRAGMA foreign_keys = ON; \
                     PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = {};",
                    match self.commits {
                        Commits::Durable(sync) => sync.pragma(),
                        Commits::Relaxed => SqliteSync::Normal.pragma(),
                    },
                    super::checkpointer::WRITER_BACKSTOP_PAGES
                ))
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = ConnectionError;

    fn connect(&self) -> Result<DbConnection, ConnectionError> {
        self.open()
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ConnectionError> {
        conn.ping()
            .map_err(ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        // Diesel sees a broken transaction, not a dead socket: after an
        // outage a pool that skips check-out pings would hand out the dead
        // connection for ever ("no connection to the server").
        conn.is_broken() || (outage_suspected() && conn.ping().is_err())
    }
}

/// Until when (ms since the Unix epoch) connections given back to a pool
/// are pinged first, and dropped when dead.
static SUSPECT_UNTIL_MS: AtomicU64 = AtomicU64::new(0);
const SUSPECT_FOR_MS: u64 = 30_000;

fn now_ms() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.map_or(0, |d| d.as_millis() as u64)
}

/// A job saw `e`: if the database was away, connections are pinged when
/// given back for the next 30 s, so the dead ones are replaced.
pub fn suspect_connections(e: &super::DbError) {
    if e.is_outage() {
        SUSPECT_UNTIL_MS.store(now_ms() + SUSPECT_FOR_MS, Ordering::Relaxed);
    }
}

/// Whether a job saw the database away in the last 30 s.
pub fn outage_suspected() -> bool {
    now_ms() < SUSPECT_UNTIL_MS.load(Ordering::Relaxed)
}

/// Sets how this connection's next commits reach the disk, where that is a
/// per-connection setting (SQLite; a PostgreSQL pool is made relaxed or
/// not when it connects).
pub fn use_commits(conn: &mut DbConnection, commits: Commits) -> diesel::QueryResult<()> {
    let DbConnection::Sqlite(lite) = conn else {
        return Ok(());
    };
    let sync = match commits {
        Commits::Durable(sync) => sync,
        Commits::Relaxed => SqliteSync::Normal,
    };
    lite.batch_execute(&format!("PRAGMA synchronous = {}", sync.pragma()))
}

/// Opens the database, runs pending migrations, and builds the pool.
/// Fails fast with the driver's message when the database cannot be reached.
pub fn connect(url: &str, pool_size: u32) -> anyhow::Result<(DbPool, Backend)> {
    migrate(url)?;
    open_pool(url, pool_size, Commits::Durable(SqliteSync::Full))
}

/// A pool on an already migrated database; on SQLite its commits use
/// `commits`.
pub fn open_pool(url: &str, pool_size: u32, commits: Commits) -> anyhow::Result<(DbPool, Backend)> {
    let (backend, driver_url) = Backend::from_url(url);
    let manager = Manager {
        backend,
        url: driver_url.to_owned(),
        commits,
    };
    let pool = r2d2::Pool::builder()
        .max_size(pool_size)
        // The queue's connections are checked out for every claim and write;
        // a broken one fails that job (retried) and is dropped: no ping.
        .test_on_check_out(commits != Commits::Relaxed)
        .min_idle(Some(1))
        .connection_timeout(Duration::from_secs(10))
        .build(manager)
        .map_err(|e| anyhow::anyhow!("cannot open database {}: {e}", redact(url)))?;
    Ok((pool, backend))
}

/// `hookgate migrate`: opens the database and applies pending migrations.
pub fn migrate(url: &str) -> anyhow::Result<usize> {
    let (backend, driver_url) = Backend::from_url(url);
    let manager = Manager {
        backend,
        url: driver_url.to_owned(),
        commits: Commits::Durable(SqliteSync::Full),
    };
    let mut conn = manager
        .open()
        .map_err(|e| anyhow::anyhow!("cannot open database {}: {e}", redact(url)))?;
    run_migrations(&mut conn)
}

/// Applies every embedded migration of the connection's backend.
pub fn run_migrations(conn: &mut DbConnection) -> anyhow::Result<usize> {
    let applied = match conn {
        DbConnection::Postgres(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
    }
    .map_err(|e| anyhow::anyhow!("database migration failed: {e}"))?;
    Ok(applied.len())
}

/// The URL with any password replaced, fit for an error message.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(redact("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("hookgate.db"), "hookgate.db");
    }

    #[test]
    fn url_scheme_picks_backend() {
        assert_eq!(Backend::from_url("postgresql://x/y").0, Backend::Postgres);
        assert_eq!(
            Backend::from_url("sqlite://a.db"),
            (Backend::Sqlite, "a.db")
        );
    }
}
