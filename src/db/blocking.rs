//! The one way hookgate runs blocking database work off its async threads:
//! a call's worth of work goes to the runtime's blocking pool ([`run`],
//! [`with_conn`]); a loop that waits on its input for the life of the
//! process (the intake's group commit, the change listener) gets a named
//! thread of its own ([`spawn_loop`]).

use super::{DbConnection, DbError, DbPool};

/// Runs `work` on the blocking pool and waits for it.
pub async fn run<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, DbError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| DbError::Canceled(e.to_string()))
}

/// Runs `work` with a pooled connection on the blocking pool.
pub async fn with_conn<T, E>(
    pool: &DbPool,
    work: impl FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
) -> Result<T, E>
where
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
{
    with_conn_within(pool, pool.connection_timeout(), work).await
}

/// [`with_conn`] waiting at most `wait` for a connection: for probes and
/// scrapes, which must answer sooner than the pool's own wait.
pub async fn with_conn_within<T, E>(
    pool: &DbPool,
    wait: std::time::Duration,
    work: impl FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
) -> Result<T, E>
where
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
{
    let pool = pool.clone();
    run(move || {
        let mut conn = pool.get_timeout(wait).map_err(DbError::from)?;
        work(&mut conn)
    })
    .await
    .map_err(E::from)?
}

/// Starts a loop that lives as long as the process, on a thread named `name`.
pub fn spawn_loop(name: &str, work: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(work)
        .unwrap_or_else(|e| panic!("cannot start the {name} thread: {e}"));
}
