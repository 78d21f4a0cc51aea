//! One process per SQLite database: `serve` holds `<database>.lock` while
//! it runs (a second process would attempt the first one's claimed
//! deliveries again), and `rekey --data-key` takes it while it works.

use super::Backend;

/// Takes `<database>.lock` for a SQLite database, or says who has it: a
/// second process would attempt the first one's claimed deliveries again.
pub fn sqlite(url: &str) -> anyhow::Result<Option<std::fs::File>> {
    let (Backend::Sqlite, path) = Backend::from_url(url) else {
        return Ok(None);
    };
    let lock_path = format!("{path}.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| anyhow::anyhow!("cannot open the lock file {lock_path}: {e}"))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(anyhow::anyhow!(
            "another hookgate is already serving the SQLite database {path} (it holds {lock_path}); \
             stop it first, or use PostgreSQL to run several instances"
        )),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(anyhow::anyhow!("cannot lock {lock_path}: {e}"))
        }
    }
}
