//! `hookgate rekey`: wraps the data key under a new master key and, with
//! `--data-key`, seals every secret again under a fresh data key. With the
//! automatic key file, a new master key is staged beside it first and moved
//! into place once the database holds the rewrapped key, so a crash at any
//! point leaves a key that opens the database.

use super::{
    beside, given_key, read_key_file, write_key_file, MasterKeySetting, POSTGRES_NEEDS_KEY,
};
use crate::crypto::{CryptoError, MasterKey};
use crate::db::keyring::{self, KeyringError};
use crate::db::{Backend, DbConnection};
use crate::domain::Secret;
use anyhow::{anyhow, bail};
use std::path::PathBuf;

/// What a rekey changes.
#[derive(Debug, Default)]
pub struct NewKeys {
    /// `HOOKGATE_NEW_MASTER_KEY`.
    pub value: Option<Secret>,
    /// `--new-master-key-file`, made with a random key when missing.
    pub file: Option<PathBuf>,
    /// `--data-key`: every secret sealed again under a fresh data key.
    pub data_key: bool,
}

pub fn rekey(
    conn: &mut DbConnection,
    current: &MasterKeySetting,
    new: NewKeys,
    database_url: &str,
    backend: Backend,
) -> anyhow::Result<String> {
    if !keyring::exists(conn)? {
        bail!("this database holds no encrypted secrets yet: `hookgate serve` encrypts them on its first start");
    }
    // Held until the end: no instance starts on the database meanwhile.
    let _served_by_none = match new.data_key {
        true => refuse_while_served(conn, database_url, backend)?,
        false => None,
    };
    let new_key = new_master_key(current, &new)?;
    let Some((current_key, source)) = given_key(current)? else {
        return rekey_auto(conn, database_url, backend, new_key, new.data_key);
    };
    let target = new_key.as_ref().unwrap_or(&current_key);
    let resealed = change(conn, &current_key, target, new.data_key, &source)?;
    let mut said = match (new_key.is_some(), new.file) {
        (false, _) => "secrets still encrypted under the same master key".to_owned(),
        (true, Some(path)) => format!(
            "secrets now encrypted under the new master key in {}: restart every instance with HOOKGATE_MASTER_KEY_FILE={}",
            path.display(),
            path.display()
        ),
        (true, None) => "secrets now encrypted under HOOKGATE_NEW_MASTER_KEY: restart every instance with it as HOOKGATE_MASTER_KEY".to_owned(),
    };
    said.push_str(&resealed_note(new.data_key, resealed));
    Ok(said)
}

/// The new master key; None keeps the current one (`--data-key` alone).
fn new_master_key(current: &MasterKeySetting, new: &NewKeys) -> anyhow::Result<Option<MasterKey>> {
    Ok(Some(match (&new.value, &new.file) {
        (Some(_), Some(_)) => bail!("give the new master key one way: HOOKGATE_NEW_MASTER_KEY or --new-master-key-file"),
        (Some(v), None) => MasterKey::parse(v.expose(), "HOOKGATE_NEW_MASTER_KEY")?,
        (None, Some(path)) if path.exists() => read_key_file(path)?,
        (None, Some(path)) => {
            let key = MasterKey::generate();
            write_key_file(path, &key)?;
            key
        }
        (None, None) if new.data_key => return Ok(None),
        (None, None) if matches!(current, MasterKeySetting::Auto) => MasterKey::generate(),
        (None, None) => bail!("give the new master key: HOOKGATE_NEW_MASTER_KEY or --new-master-key-file PATH (made if missing), or --data-key to keep it and change the data key"),
    }))
}

/// With the automatic key file beside a SQLite database.
fn rekey_auto(
    conn: &mut DbConnection,
    database_url: &str,
    backend: Backend,
    new_key: Option<MasterKey>,
    data_key: bool,
) -> anyhow::Result<String> {
    if backend == Backend::Postgres {
        bail!(POSTGRES_NEEDS_KEY);
    }
    let (path, staged) = beside(database_url)
        .ok_or_else(|| anyhow!("an in-memory database has no key to change"))?;
    let current_key = read_key_file(&path)?;
    let source = path.display().to_string();
    let Some(new_key) = new_key else {
        let resealed = change(conn, &current_key, &current_key, true, &source)?;
        return Ok(format!(
            "the master key in {source} is unchanged{}",
            resealed_note(true, resealed)
        ));
    };
    std::fs::remove_file(&staged).ok();
    write_key_file(&staged, &new_key)?;
    let resealed = match change(conn, &current_key, &new_key, data_key, &source) {
        Ok(resealed) => resealed,
        Err(e) => {
            std::fs::remove_file(&staged).ok();
            return Err(e);
        }
    };
    std::fs::rename(&staged, &path)?;
    Ok(format!(
        "secrets now encrypted under a new master key, written to {}{}",
        path.display(),
        resealed_note(data_key, resealed)
    ))
}

fn resealed_note(data_key: bool, resealed: usize) -> String {
    match data_key {
        true => format!("; {resealed} secret(s) sealed again under a fresh data key"),
        false => String::new(),
    }
}

/// Wraps the data key under `new`; with `data_key`, seals every secret
/// again under a fresh data key wrapped under `new`. Returns how many
/// secrets were sealed again.
fn change(
    conn: &mut DbConnection,
    current: &MasterKey,
    new: &MasterKey,
    data_key: bool,
    source: &str,
) -> anyhow::Result<usize> {
    let changed = match data_key {
        true => keyring::reseal(conn, current, new),
        false => keyring::rewrap(conn, current, new).map(|()| 0),
    };
    changed.map_err(|e| match e {
        KeyringError::Crypto(CryptoError::WrongMasterKey) => {
            anyhow!("{source} does not open this database's secrets: nothing was changed")
        }
        other => other.into(),
    })
}

/// A running instance holds the data key it opened at start and could not
/// open what is sealed under a fresh one: `--data-key` is refused while
/// any serves the database. On SQLite its lock is taken (and returned, to
/// be held); on PostgreSQL no other hookgate session may be connected.
fn refuse_while_served(
    conn: &mut DbConnection,
    database_url: &str,
    backend: Backend,
) -> anyhow::Result<Option<std::fs::File>> {
    if backend == Backend::Sqlite {
        return crate::db::process_lock::sqlite(database_url);
    }
    let others = keyring::other_hookgate_sessions(conn)?;
    if others > 0 {
        bail!(
            "{others} other hookgate connection(s) use this database: stop every instance before `rekey --data-key` (a running instance keeps the old data key and could not open the secrets sealed under the new one)"
        );
    }
    Ok(None)
}
