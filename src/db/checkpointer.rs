//! SQLite's WAL checkpoints, on a thread of their own. Left to SQLite, the
//! connection whose commit fills the WAL past its threshold copies the WAL
//! back into the database and syncs it before that commit returns; that
//! connection is usually the intake writer, so a batch of callers waited
//! for a checkpoint (a sixth of the writer's time under load). Here a
//! dedicated connection checkpoints in the background (`PASSIVE`: it never
//! blocks a writer or reader), and writers checkpoint themselves only past
//! a much larger WAL, a backstop should this thread fall behind.

use super::{blocking, DbPool};
use diesel::prelude::*;
use std::sync::Arc;
use std::time::Duration;

/// How often the WAL is copied back: at intake's peak it grows by about
/// 2,500 pages (10 MiB) in this time.
const INTERVAL: Duration = Duration::from_millis(100);

/// WAL pages past which a writer checkpoints on its own (SQLite's default
/// is 1,000): 16 MiB with 4 KiB pages. Under a steady stream of commits the
/// background checkpoints rarely find the WAL with nothing left to copy,
/// which is when SQLite may start it over; the writer's checkpoint, with
/// no other writer beside it, finishes the copy (mostly done already) and
/// lets the WAL start over, so this bounds the file.
pub const WRITER_BACKSTOP_PAGES: u32 = 4_000;

/// Keeps the checkpointer running; it stops within [`INTERVAL`] of this
/// being dropped (with the application that holds it).
pub struct Checkpointing {
    _running: Arc<()>,
}

/// Checkpoints the database behind `pool` (a pool of its own, one
/// connection) every [`INTERVAL`] while the returned handle lives.
pub fn start(pool: DbPool) -> Checkpointing {
    let running = Arc::new(());
    let alive = Arc::downgrade(&running);
    blocking::spawn_loop("hookgate-checkpoint", move || loop {
        std::thread::sleep(INTERVAL);
        if alive.strong_count() == 0 {
            break;
        }
        if let Err(e) = checkpoint(&pool) {
            tracing::warn!(error = %e, "WAL checkpoint failed; writers checkpoint instead");
        }
    });
    Checkpointing { _running: running }
}

fn checkpoint(pool: &DbPool) -> Result<(), super::DbError> {
    let mut conn = pool.get()?;
    diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").execute(&mut *conn)?;
    Ok(())
}
