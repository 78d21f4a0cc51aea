//! Queries on `agent_api_keys`. External keys are stored and found by digest;
//! the other kinds keep their secret so hookgate can sign or verify with it.

use super::schema::agent_api_keys;
use super::{now, DbConnection, DbResult};
use crate::domain::{digest_hex, KeyKind, Secret};
use diesel::prelude::*;
use subtle::ConstantTimeEq;

/// A key row without its value: all that may ever be listed or logged.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = agent_api_keys)]
pub struct KeyInfo {
    pub id: String,
    pub agent_id: String,
    pub name: String,
    pub api_key_type: String,
    pub created_at: chrono::NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = agent_api_keys)]
struct NewKey<'a> {
    id: &'a str,
    agent_id: &'a str,
    name: &'a str,
    api_key_type: &'a str,
    key_digest: Option<String>,
    secret: Option<&'a str>,
    created_at: chrono::NaiveDateTime,
}

/// Stores a key; a duplicate (agent, name, kind) surfaces as a unique violation.
pub fn insert(
    conn: &mut DbConnection,
    agent_id: &str,
    name: &str,
    kind: KeyKind,
    value: &Secret,
) -> QueryResult<KeyInfo> {
    let id = uuid::Uuid::new_v4().to_string();
    let (key_digest, secret) = if kind.stores_digest_only() {
        (Some(digest_hex(value.expose())), None)
    } else {
        (None, Some(value.expose()))
    };
    let row = NewKey {
        id: &id,
        agent_id,
        name,
        api_key_type: kind.as_str(),
        key_digest,
        secret,
        created_at: now(),
    };
    diesel::insert_into(agent_api_keys::table)
        .values(&row)
        .execute(conn)?;
    Ok(KeyInfo {
        id: id.clone(),
        agent_id: agent_id.to_owned(),
        name: name.to_owned(),
        api_key_type: kind.as_str().to_owned(),
        created_at: row.created_at,
    })
}

/// True when `digest` (hex SHA-256 of a presented key) is that of a live
/// external key of the agent. The index finds candidates by digest; the
/// digests are then compared in constant time.
pub fn external_digest_matches(
    conn: &mut DbConnection,
    agent_id: &str,
    digest: &str,
) -> QueryResult<bool> {
    let stored: Vec<Option<String>> = agent_api_keys::table
        .filter(agent_api_keys::agent_id.eq(agent_id))
        .filter(agent_api_keys::api_key_type.eq(KeyKind::External.as_str()))
        .filter(agent_api_keys::key_digest.eq(digest))
        .select(agent_api_keys::key_digest)
        .load(conn)?;
    Ok(stored
        .iter()
        .flatten()
        .any(|d| bool::from(d.as_bytes().ct_eq(digest.as_bytes()))))
}

/// The secret of the agent's key of `kind` named `name` (GitHub repo, Slack app).
pub fn find_secret(
    conn: &mut DbConnection,
    agent_id: &str,
    kind: KeyKind,
    name: &str,
) -> QueryResult<Option<Secret>> {
    let secret: Option<Option<String>> = agent_api_keys::table
        .filter(agent_api_keys::agent_id.eq(agent_id))
        .filter(agent_api_keys::api_key_type.eq(kind.as_str()))
        .filter(agent_api_keys::name.eq(name))
        .select(agent_api_keys::secret)
        .first(conn)
        .optional()?;
    Ok(secret.flatten().map(Secret::new))
}

/// The agent's internal key (the oldest, should several have been created).
pub fn find_internal_secret(
    conn: &mut DbConnection,
    agent_id: &str,
) -> QueryResult<Option<Secret>> {
    let secret: Option<Option<String>> = agent_api_keys::table
        .filter(agent_api_keys::agent_id.eq(agent_id))
        .filter(agent_api_keys::api_key_type.eq(KeyKind::Internal.as_str()))
        .order(agent_api_keys::created_at.asc())
        .select(agent_api_keys::secret)
        .first(conn)
        .optional()?;
    Ok(secret.flatten().map(Secret::new))
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
