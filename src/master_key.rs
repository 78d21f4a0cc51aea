//! Where the master key comes from, and opening the database's keyring with
//! it: `HOOKGATE_MASTER_KEY`, a key file (`HOOKGATE_MASTER_KEY_FILE`), or, on
//! SQLite with neither, a key file beside the database that hookgate makes
//! (mode 0600) on the first start.

mod rekey;

pub use crate::config::MasterKeySetting;
use crate::crypto::{CryptoError, DataKey, MasterKey};
use crate::db::keyring::{self, KeyringError};
use crate::db::{Backend, DbConnection};
use anyhow::{anyhow, bail, Context};
pub use rekey::{rekey, NewKeys};
use std::io::Write;
use std::path::{Path, PathBuf};

const POSTGRES_NEEDS_KEY: &str = "PostgreSQL needs a master key that every hookgate instance shares: \
set HOOKGATE_MASTER_KEY (32 bytes as base64 or hex; `openssl rand -base64 32` makes one) or HOOKGATE_MASTER_KEY_FILE";

/// The key file hookgate keeps beside a SQLite database, and where a
/// `rekey` stages the next one.
pub fn beside(database_url: &str) -> Option<(PathBuf, PathBuf)> {
    let path = database_url
        .strip_prefix("sqlite://")
        .unwrap_or(database_url);
    if path.is_empty() || path.contains(":memory:") || path.starts_with("file:") {
        return None;
    }
    Some((
        PathBuf::from(format!("{path}.key")),
        PathBuf::from(format!("{path}.key.new")),
    ))
}

/// The database's data key, opened with the configured master key (made on
/// the first start). Plaintext secrets from earlier releases are sealed.
pub fn open_keyring(
    conn: &mut DbConnection,
    setting: &MasterKeySetting,
    database_url: &str,
    backend: Backend,
) -> anyhow::Result<DataKey> {
    match given_key(setting)? {
        Some((key, source)) => open_with(conn, &key, &source),
        None => open_auto(conn, database_url, backend),
    }
}

/// The key given by `HOOKGATE_MASTER_KEY` or a key file, with where it came
/// from (for error messages); `None` for the automatic key file.
fn given_key(setting: &MasterKeySetting) -> anyhow::Result<Option<(MasterKey, String)>> {
    Ok(match setting {
        MasterKeySetting::Value(v) => Some((
            MasterKey::parse(v.expose(), "HOOKGATE_MASTER_KEY")?,
            "HOOKGATE_MASTER_KEY".to_owned(),
        )),
        MasterKeySetting::File(path) => Some((
            read_key_file(path)?,
            format!("the key file {}", path.display()),
        )),
        MasterKeySetting::Auto => None,
    })
}

fn open_with(conn: &mut DbConnection, key: &MasterKey, source: &str) -> anyhow::Result<DataKey> {
    match keyring::open(conn, key) {
        Ok((data_key, sealed)) => {
            if sealed > 0 {
                tracing::info!(sealed, "encrypted secrets stored in plaintext by an earlier release");
            }
            Ok(data_key)
        }
        Err(KeyringError::Crypto(CryptoError::WrongMasterKey)) => Err(anyhow!(
            "the master key from {source} does not open this database's secrets: they were encrypted under another key"
        )),
        Err(e) => Err(e.into()),
    }
}

fn open_auto(
    conn: &mut DbConnection,
    database_url: &str,
    backend: Backend,
) -> anyhow::Result<DataKey> {
    if backend == Backend::Postgres {
        bail!(POSTGRES_NEEDS_KEY);
    }
    let Some((path, staged)) = beside(database_url) else {
        // An in-memory database lives and dies with the process: so may its key.
        return open_with(
            conn,
            &MasterKey::generate(),
            "a key made for this in-memory database",
        );
    };
    if staged.exists() {
        // A rekey stopped between writing the new key and moving it into
        // place: whichever of the two opens the database is the key.
        let staged_key = read_key_file(&staged)?;
        if path.exists() {
            let current = read_key_file(&path)?;
            if let Ok(data_key) = open_with(conn, &current, "") {
                std::fs::remove_file(&staged).ok();
                return Ok(data_key);
            }
        }
        let data_key = open_with(
            conn,
            &staged_key,
            &format!("the key file {}", staged.display()),
        )?;
        std::fs::rename(&staged, &path)
            .with_context(|| format!("moving {} into place", staged.display()))?;
        tracing::info!(key_file = %path.display(), "finished an interrupted rekey");
        return Ok(data_key);
    }
    if path.exists() {
        return open_with(
            conn,
            &read_key_file(&path)?,
            &format!("the key file {}", path.display()),
        );
    }
    if keyring::exists(conn)? {
        bail!(
            "the secrets in {database_url} are encrypted, but their key file {} is missing: restore it, or set HOOKGATE_MASTER_KEY / HOOKGATE_MASTER_KEY_FILE to the key",
            path.display()
        );
    }
    let key = MasterKey::generate();
    write_key_file(&path, &key)?;
    tracing::info!(key_file = %path.display(),
        "created the master key file that encrypts this database's secrets; keep it with every backup of the database: without it the secrets cannot be read");
    open_with(conn, &key, &format!("the key file {}", path.display()))
}

pub fn read_key_file(path: &Path) -> anyhow::Result<MasterKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the master key file {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(key_file = %path.display(), "the master key file is readable by other users; chmod 600 it");
            }
        }
    }
    Ok(MasterKey::parse(
        &text,
        &format!("the key file {}", path.display()),
    )?)
}

/// Writes a new key file readable by its owner only; never overwrites one.
pub fn write_key_file(path: &Path, key: &MasterKey) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create the master key file {}", path.display()))?;
    writeln!(file, "{}", key.encoded())?;
    file.sync_all()?;
    Ok(())
}
