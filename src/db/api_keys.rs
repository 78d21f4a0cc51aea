//! Queries on `agent_api_keys` and their values, `agent_key_versions`.
//! A key holds one version until it is rotated; then the new version and the
//! old ones (until their `expires_at`) all verify. Digest-only kinds
//! (API keys, tokens compared whole) are stored and found by digest; the other kinds
//! keep their secret so hookgate can sign or verify with it.

mod live;

pub use live::{digest_live_until, find_internal_secret, find_outbound_token, live_secrets};

use super::schema::{agent_api_keys, agent_key_versions};
use super::{now, DbConnection, DbResult};
use crate::crypto::DataKey;
use crate::domain::{digest_hex, KeyKind, Secret};
use diesel::prelude::*;

/// A key row without its value: all that may ever be listed or logged.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = agent_api_keys)]
pub struct KeyInfo {
    pub id: String,
    pub agent_id: String,
    pub name: String,
    pub api_key_type: String,
    pub created_at: chrono::NaiveDateTime,
    /// The `hmac` type's settings, as JSON.
    pub config: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = agent_api_keys)]
struct NewKey<'a> {
    id: &'a str,
    agent_id: &'a str,
    name: &'a str,
    api_key_type: &'a str,
    created_at: chrono::NaiveDateTime,
    config: Option<&'a str>,
}

#[derive(Insertable)]
#[diesel(table_name = agent_key_versions)]
struct NewVersion<'a> {
    id: String,
    key_id: &'a str,
    agent_id: &'a str,
    api_key_type: &'a str,
    key_digest: Option<String>,
    secret: Option<String>,
    created_at: chrono::NaiveDateTime,
    expires_at: Option<chrono::NaiveDateTime>,
}

/// Stores a key with its first version; a duplicate (agent, name, kind)
/// surfaces as a unique violation.
pub fn insert(
    conn: &mut DbConnection,
    data_key: &DataKey,
    agent_id: &str,
    name: &str,
    kind: KeyKind,
    value: &Secret,
    config: Option<&str>,
) -> QueryResult<KeyInfo> {
    let id = uuid::Uuid::new_v4().to_string();
    let created_at = now();
    let row = NewKey {
        id: &id,
        agent_id,
        name,
        api_key_type: kind.as_str(),
        created_at,
        config,
    };
    diesel::insert_into(agent_api_keys::table)
        .values(&row)
        .execute(conn)?;
    let info = KeyInfo {
        id,
        agent_id: agent_id.to_owned(),
        name: name.to_owned(),
        api_key_type: kind.as_str().to_owned(),
        created_at,
        config: config.map(str::to_owned),
    };
    add_version(conn, data_key, &info, kind, value, created_at)?;
    Ok(info)
}

fn add_version(
    conn: &mut DbConnection,
    data_key: &DataKey,
    key: &KeyInfo,
    kind: KeyKind,
    value: &Secret,
    created_at: chrono::NaiveDateTime,
) -> QueryResult<()> {
    let id = uuid::Uuid::new_v4().to_string();
    // Sealed for its row: only digests and sealed values reach the database.
    let (key_digest, secret) = if kind.stores_digest_only() {
        (Some(digest_hex(value.expose())), None)
    } else {
        (None, Some(data_key.seal(value.expose(), &id)))
    };
    diesel::insert_into(agent_key_versions::table)
        .values(NewVersion {
            id,
            key_id: &key.id,
            agent_id: &key.agent_id,
            api_key_type: kind.as_str(),
            key_digest,
            secret,
            created_at,
            expires_at: None,
        })
        .execute(conn)?;
    Ok(())
}

/// Adds `value` as the key's newest version and limits every other version
/// to `old_until` (never lengthening an earlier expiry). Versions already
/// expired are removed. Call inside a transaction.
pub fn rotate(
    conn: &mut DbConnection,
    data_key: &DataKey,
    key: &KeyInfo,
    kind: KeyKind,
    value: &Secret,
    old_until: chrono::NaiveDateTime,
) -> QueryResult<()> {
    let at = now();
    diesel::delete(
        agent_key_versions::table
            .filter(agent_key_versions::key_id.eq(&key.id))
            .filter(agent_key_versions::expires_at.le(at)),
    )
    .execute(conn)?;
    diesel::update(
        agent_key_versions::table
            .filter(agent_key_versions::key_id.eq(&key.id))
            .filter(
                agent_key_versions::expires_at
                    .is_null()
                    .or(agent_key_versions::expires_at.gt(old_until)),
            ),
    )
    .set(agent_key_versions::expires_at.eq(old_until))
    .execute(conn)?;
    add_version(conn, data_key, key, kind, value, at)
}

/// The key types the agent has keys of.
pub fn kinds_of(conn: &mut DbConnection, agent_id: &str) -> QueryResult<Vec<String>> {
    agent_api_keys::table
        .filter(agent_api_keys::agent_id.eq(agent_id))
        .select(agent_api_keys::api_key_type)
        .distinct()
        .load(conn)
}

/// How many keys of `kind` the agent has.
pub fn count_of_kind(conn: &mut DbConnection, agent_id: &str, kind: KeyKind) -> QueryResult<i64> {
    agent_api_keys::table
        .filter(agent_api_keys::agent_id.eq(agent_id))
        .filter(agent_api_keys::api_key_type.eq(kind.as_str()))
        .count()
        .get_result(conn)
}

pub fn find_by_id(conn: &mut DbConnection, id: &str) -> QueryResult<Option<KeyInfo>> {
    agent_api_keys::table
        .find(id)
        .select(KeyInfo::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_name(
    conn: &mut DbConnection,
    agent_id: &str,
    name: &str,
    kind: KeyKind,
) -> QueryResult<Option<KeyInfo>> {
    agent_api_keys::table
        .filter(agent_api_keys::agent_id.eq(agent_id))
        .filter(agent_api_keys::name.eq(name))
        .filter(agent_api_keys::api_key_type.eq(kind.as_str()))
        .select(KeyInfo::as_select())
        .first(conn)
        .optional()
}

pub fn list(
    conn: &mut DbConnection,
    agent_id: &str,
    limit: i64,
    offset: i64,
) -> DbResult<Vec<KeyInfo>> {
    Ok(agent_api_keys::table
        .filter(agent_api_keys::agent_id.eq(agent_id))
        .order((agent_api_keys::created_at.asc(), agent_api_keys::id.asc()))
        .limit(limit)
        .offset(offset)
        .select(KeyInfo::as_select())
        .load(conn)?)
}

/// Deletes one key; false when there was none.
pub fn delete(conn: &mut DbConnection, id: &str) -> DbResult<bool> {
    Ok(diesel::delete(agent_api_keys::table.find(id)).execute(conn)? > 0)
}
