//! Opening the database at start-up: migrations, the pool, the keyring's
//! data key; for SQLite the process's lock on it, the previous run's
//! claims released, and the WAL checkpointer.

use crate::config::Settings;
use crate::db::{self, Backend, Commits};
use std::sync::Arc;

/// The database, opened: migrated, its pool, and the data key that seals
/// secrets; a SQLite database also locked to this process, with the
/// previous run's claims released.
pub(super) struct Database {
    pub pool: db::DbPool,
    pub backend: Backend,
    pub data_key: Arc<crate::crypto::DataKey>,
    pub sqlite_lock: Option<std::fs::File>,
    pub checkpointing: Option<db::checkpointer::Checkpointing>,
}

impl Database {
    pub(super) fn open(settings: &Settings, threads: usize) -> anyhow::Result<Self> {
        db::migrate(&settings.database_url)?;
        let sqlite_lock = db::process_lock::sqlite(&settings.database_url)?;
        let (pool, backend) = db::open_pool(
            &settings.database_url,
            threads as u32 * 2 + 2,
            Commits::Durable(settings.sqlite_synchronous),
        )?;
        let mut conn = pool.get()?;
        if backend == Backend::Sqlite {
            // One process owns a SQLite queue: claims left by a crash are stale.
            let released = db::deliveries::release_all_claims(&mut conn)?;
            if released > 0 {
                tracing::info!(
                    released,
                    "released delivery claims left by the previous run"
                );
            }
        }
        let data_key = Arc::new(crate::master_key::open_keyring(
            &mut conn,
            &settings.master_key,
            &settings.database_url,
            backend,
        )?);
        drop(conn);
        let checkpointing = match backend {
            Backend::Sqlite => {
                let durable = Commits::Durable(settings.sqlite_synchronous);
                let (own, _) = db::open_pool(&settings.database_url, 1, durable)?;
                Some(db::checkpointer::start(own))
            }
            Backend::Postgres => None,
        };
        Ok(Self {
            pool,
            backend,
            data_key,
            sqlite_lock,
            checkpointing,
        })
    }
}
