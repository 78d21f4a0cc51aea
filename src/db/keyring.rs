//! The data key, wrapped under the master key in `hookgate_keyring`, and the
//! sealing of plaintext secrets left by releases before encryption at rest.

use super::schema::{agent_key_versions, hookgate_keyring};
use super::{is_unique_violation, now, DbConnection};
use crate::crypto::{self, CryptoError, DataKey, MasterKey};
use diesel::prelude::*;

const ROW: &str = "data";

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
}

/// True once the database holds a data key (its secrets are sealed).
pub fn exists(conn: &mut DbConnection) -> QueryResult<bool> {
    Ok(wrapped(conn)?.is_some())
}

fn wrapped(conn: &mut DbConnection) -> QueryResult<Option<String>> {
    hookgate_keyring::table
        .find(ROW)
        .select(hookgate_keyring::wrapped_key)
        .first(conn)
        .optional()
}

/// The data key under `master`, made on the first start; then every
/// plaintext secret left by an earlier release is sealed. Returns the key
/// and how many rows were sealed now.
pub fn open(conn: &mut DbConnection, master: &MasterKey) -> Result<(DataKey, usize), KeyringError> {
    // Two instances starting together on one new database both try to make
    // the key; the loser reads the winner's.
    for _ in 0..3 {
        let made = conn.transaction(|conn| {
            if wrapped(conn)?.is_none() {
                diesel::insert_into(hookgate_keyring::table)
                    .values((
                        hookgate_keyring::id.eq(ROW),
                        hookgate_keyring::wrapped_key.eq(master.wrap(&DataKey::generate())),
                        hookgate_keyring::created_at.eq(now()),
                    ))
                    .execute(conn)?;
            }
            QueryResult::Ok(())
        });
        match made {
            Ok(()) => break,
            Err(e) if is_unique_violation(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    let (data_key, sealed) = conn.transaction(|conn| {
        let stored = wrapped(conn)?.ok_or(diesel::result::Error::NotFound)?;
        let data_key = master.unwrap(&stored)?;
        let sealed = seal_plaintext(conn, &data_key)?;
        Ok::<_, KeyringError>((data_key, sealed))
    })?;
    if sealed > 0 {
        // The plaintext may linger on disk in freed pages (SQLite, and its
        // WAL) or dead row versions (PostgreSQL): rewrite what held it.
        super::dialect::rewrite_freed_pages(conn)?;
    }
    Ok((data_key, sealed))
}

/// Seals every secret still stored in plaintext.
fn seal_plaintext(conn: &mut DbConnection, data_key: &DataKey) -> QueryResult<usize> {
    rewrite_secrets(conn, |id, stored| {
        Ok((!crypto::is_sealed(stored)).then(|| data_key.seal(stored, id)))
    })
}

/// Every stored secret through `change` (its row id, what is stored):
/// a new value is written, None leaves the row. How many were written.
fn rewrite_secrets<E: From<diesel::result::Error>>(
    conn: &mut DbConnection,
    mut change: impl FnMut(&str, &str) -> Result<Option<String>, E>,
) -> Result<usize, E> {
    let rows: Vec<(String, Option<String>)> = agent_key_versions::table
        .filter(agent_key_versions::secret.is_not_null())
        .select((agent_key_versions::id, agent_key_versions::secret))
        .load(conn)?;
    let mut written = 0;
    for (id, stored) in rows {
        let Some(new) = stored.map(|s| change(&id, &s)).transpose()?.flatten() else {
            continue;
        };
        diesel::update(agent_key_versions::table.find(&id))
            .set(agent_key_versions::secret.eq(new))
            .execute(conn)?;
        written += 1;
    }
    Ok(written)
}

/// Wraps the data key under `new` instead of `current`, in one update.
/// Sealed secrets do not change, so running instances go on verifying.
pub fn rewrap(
    conn: &mut DbConnection,
    current: &MasterKey,
    new: &MasterKey,
) -> Result<(), KeyringError> {
    conn.transaction(|conn| {
        let stored = wrapped(conn)?.ok_or(diesel::result::Error::NotFound)?;
        let data_key = current.unwrap(&stored)?;
        diesel::update(hookgate_keyring::table.find(ROW))
            .set((
                hookgate_keyring::wrapped_key.eq(new.wrap(&data_key)),
                hookgate_keyring::rewrapped_at.eq(Some(now())),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// Seals every secret again under a fresh data key, wrapped under `new`
/// (which may be `current`), in one transaction; then rewrites what held
/// the old ciphertexts and wrapped key. Returns how many were sealed.
pub fn reseal(
    conn: &mut DbConnection,
    current: &MasterKey,
    new: &MasterKey,
) -> Result<usize, KeyringError> {
    let resealed = conn.transaction(|conn| {
        let stored = wrapped(conn)?.ok_or(diesel::result::Error::NotFound)?;
        let old = current.unwrap(&stored)?;
        let fresh = DataKey::generate();
        let resealed = rewrite_secrets(conn, |id, sealed| {
            let secret = old.open(sealed, id)?;
            Ok::<_, KeyringError>(Some(fresh.seal(secret.expose(), id)))
        })?;
        diesel::update(hookgate_keyring::table.find(ROW))
            .set((
                hookgate_keyring::wrapped_key.eq(new.wrap(&fresh)),
                hookgate_keyring::rewrapped_at.eq(Some(now())),
            ))
            .execute(conn)?;
        Ok::<_, KeyringError>(resealed)
    })?;
    super::dialect::rewrite_freed_pages(conn)?;
    Ok(resealed)
}

#[derive(QueryableByName)]
struct Sessions {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// PostgreSQL: how many other sessions of hookgate (its connections name
/// themselves `hookgate`) are connected to this database.
pub fn other_hookgate_sessions(conn: &mut DbConnection) -> QueryResult<i64> {
    let sql = "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
               AND application_name = 'hookgate' AND pid <> pg_backend_pid()";
    let counted = super::raw::load::<Sessions>(conn, sql, &[])?;
    Ok(counted.first().map_or(0, |c| c.n))
}
