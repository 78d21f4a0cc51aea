//! Which directory under the spool root is this instance's: several
//! instances on one PostgreSQL (or one started from the same working
//! directory) each keep their own spool. An instance takes the first
//! `instance-N` it can lock whose events, if any, belong to its database;
//! a restarted instance finds what its predecessor left.

use anyhow::Context as _;
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

/// More instances than anyone runs from one directory.
const MAX_SLOTS: usize = 1000;

/// Names the database a slot's events are for.
const DATABASE_FILE: &str = "database";

/// This instance's spool directory, locked while the returned file lives.
pub fn take(root: &Path, database: &str) -> anyhow::Result<(PathBuf, File)> {
    fs::create_dir_all(root)
        .with_context(|| format!("cannot create the spool directory {}", root.display()))?;
    for n in 0..MAX_SLOTS {
        let dir = root.join(format!("instance-{n}"));
        fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create the spool directory {}", dir.display()))?;
        let Some(lock) = try_lock(&dir)? else {
            continue;
        };
        match fs::read_to_string(dir.join(DATABASE_FILE)) {
            Ok(owner) if owner != database && holds_events(&dir)? => {
                tracing::warn!(spool = %dir.display(), database = %owner,
                    "a spool holds events for another database; it is left for an instance of that one");
                continue;
            }
            _ => {}
        }
        fs::write(dir.join(DATABASE_FILE), database)
            .with_context(|| format!("cannot write to the spool directory {}", dir.display()))?;
        return Ok((dir, lock));
    }
    anyhow::bail!(
        "no free spool directory under {} (HOOKGATE_SPOOL_DIR): {MAX_SLOTS} are in use",
        root.display()
    )
}

/// The slot's lock, or None when another process holds it.
fn try_lock(dir: &Path) -> anyhow::Result<Option<File>> {
    let path = dir.join("lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open the spool lock {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

fn holds_events(dir: &Path) -> anyhow::Result<bool> {
    Ok(!super::segment_files(dir)?.is_empty())
}
