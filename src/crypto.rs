//! Encryption at rest. Signing secrets and internal keys are sealed with
//! XChaCha20-Poly1305 under a data key; the data key is stored in the
//! database wrapped (sealed) under the master key, which never touches the
//! database. A wrong master key fails to unwrap the data key (the AEAD tag
//! does not verify), so hookgate refuses to start rather than read garbage.
//! `hookgate rekey` re-wraps the data key under a new master key in one
//! statement: running instances keep their unwrapped data key and go on
//! verifying throughout.

use crate::domain::Secret;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use std::fmt;

/// Marks a sealed value in a text column: `enc:v1:` + base64(nonce ‖ ciphertext).
pub const SEALED_PREFIX: &str = "enc:v1:";
/// Binds a wrapped data key to its purpose.
const WRAP_AAD: &[u8] = b"hookgate data key v1";
const NONCE_LEN: usize = 24;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("{0}")]
    BadMasterKey(String),
    #[error("the master key does not open this database's secrets (it is not the key they were encrypted with)")]
    WrongMasterKey,
    #[error("a stored secret could not be decrypted: {0}")]
    Corrupt(String),
}

/// 32 bytes from `HOOKGATE_MASTER_KEY` or a key file. `Debug` hides them.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl Drop for MasterKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

impl MasterKey {
    /// 32 bytes written as base64 (44 characters) or hex (64 characters).
    pub fn parse(text: &str, source: &str) -> Result<Self, CryptoError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).ok()
        } else {
            BASE64.decode(text).ok()
        };
        let bytes = bytes.filter(|b| b.len() == 32).ok_or_else(|| {
            CryptoError::BadMasterKey(format!(
                "{source} must hold 32 bytes as base64 or hex (e.g. the output of `openssl rand -base64 32`)"
            ))
        })?;
        Ok(Self(bytes.try_into().expect("32 bytes")))
    }

    pub fn generate() -> Self {
        Self(XChaCha20Poly1305::generate_key(&mut OsRng).into())
    }

    /// The key as written to a key file.
    pub fn encoded(&self) -> String {
        BASE64.encode(self.0)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.0.into())
    }

    /// The data key sealed under this master key, for the database.
    pub fn wrap(&self, data_key: &DataKey) -> String {
        seal(&self.cipher(), &data_key.raw, WRAP_AAD)
    }

    /// The data key from its wrapped form; `WrongMasterKey` when this is not
    /// the key that wrapped it.
    pub fn unwrap(&self, wrapped: &str) -> Result<DataKey, CryptoError> {
        let raw =
            open(&self.cipher(), wrapped, WRAP_AAD).map_err(|_| CryptoError::WrongMasterKey)?;
        let raw: [u8; 32] = raw.try_into().map_err(|_| {
            CryptoError::Corrupt("the wrapped data key has the wrong length".into())
        })?;
        Ok(DataKey::from_raw(raw))
    }
}

/// The key that seals every secret in the database.
#[derive(Clone)]
pub struct DataKey {
    raw: [u8; 32],
    cipher: XChaCha20Poly1305,
}

impl Drop for DataKey {
    fn drop(&mut self) {
        // The cipher zeroizes its own copy when it drops.
        zeroize::Zeroize::zeroize(&mut self.raw);
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(***)")
    }
}

impl DataKey {
    pub fn generate() -> Self {
        Self::from_raw(XChaCha20Poly1305::generate_key(&mut OsRng).into())
    }

    fn from_raw(raw: [u8; 32]) -> Self {
        Self {
            raw,
            cipher: XChaCha20Poly1305::new(&raw.into()),
        }
    }

    /// `value` sealed for the row `row_id` (the id is authenticated, so a
    /// sealed value copied to another row does not open there).
    pub fn seal(&self, value: &str, row_id: &str) -> String {
        seal(&self.cipher, value.as_bytes(), row_id.as_bytes())
    }

    pub fn open(&self, stored: &str, row_id: &str) -> Result<Secret, CryptoError> {
        let plain = open(&self.cipher, stored, row_id.as_bytes())
            .map_err(|why| CryptoError::Corrupt(format!("row {row_id}: {why}")))?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| CryptoError::Corrupt(format!("row {row_id}: not UTF-8")))
    }
}

/// True for a value already sealed (anything else is a plaintext row from
/// before encryption, to be sealed at start-up).
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(SEALED_PREFIX)
}

fn seal(cipher: &XChaCha20Poly1305, plain: &[u8], aad: &[u8]) -> String {
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let sealed = cipher
        .encrypt(&nonce, Payload { msg: plain, aad })
        .expect("XChaCha20-Poly1305 encryption does not fail");
    let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    format!("{SEALED_PREFIX}{}", BASE64.encode(out))
}

fn open(cipher: &XChaCha20Poly1305, stored: &str, aad: &[u8]) -> Result<Vec<u8>, &'static str> {
    let encoded = stored.strip_prefix(SEALED_PREFIX).ok_or("not sealed")?;
    let bytes = BASE64.decode(encoded).map_err(|_| "not base64")?;
    if bytes.len() < NONCE_LEN {
        return Err("too short");
    }
    let (nonce, sealed) = bytes.split_at(NONCE_LEN);
    cipher
        .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad })
        .map_err(|_| "authentication failed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_row() {
        let key = DataKey::generate();
        let sealed = key.seal("gh-secret", "row-1");
        assert!(is_sealed(&sealed) && !sealed.contains("gh-secret"));
        assert_eq!(key.open(&sealed, "row-1").unwrap().expose(), "gh-secret");
        assert!(key.open(&sealed, "row-2").is_err(), "bound to its row");
        assert!(DataKey::generate().open(&sealed, "row-1").is_err());
        assert_ne!(
            sealed,
            key.seal("gh-secret", "row-1"),
            "fresh nonce each time"
        );
    }

    #[test]
    fn a_wrong_master_key_is_refused_not_misread() {
        let (master, data) = (MasterKey::generate(), DataKey::generate());
        let wrapped = master.wrap(&data);
        let opened = master.unwrap(&wrapped).unwrap();
        assert_eq!(opened.raw, data.raw);
        let other = MasterKey::generate();
        assert_eq!(
            other.unwrap(&wrapped).unwrap_err(),
            CryptoError::WrongMasterKey
        );
    }

    #[test]
    fn master_keys_parse_from_base64_or_hex() {
        let key = MasterKey::generate();
        let again = MasterKey::parse(&key.encoded(), "test").unwrap();
        assert_eq!(again.0, key.0);
        assert_eq!(
            MasterKey::parse(&hex::encode(key.0), "test").unwrap().0,
            key.0
        );
        let short = MasterKey::parse("c2hvcnQ=", "HOOKGATE_MASTER_KEY").unwrap_err();
        assert!(short.to_string().contains("HOOKGATE_MASTER_KEY"));
        assert!(!format!("{key:?}").contains(&key.encoded()));
    }
}
