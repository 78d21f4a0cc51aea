//! What verification and delivery read of the keys: the live versions of
//! a kind (by digest for digest-only kinds, opened secrets for the rest)
//! and the agent's internal key. An expired version is never returned.

use crate::crypto::DataKey;
use crate::db::schema::{agent_api_keys, agent_key_versions};
use crate::db::{now, DbConnection, DbResult};
use crate::domain::{HmacConfig, KeyKind, LiveKey, LiveUntil, Secret, TimedSecret};
use diesel::prelude::*;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// At most this many versions are read per lookup (newest first).
const MAX_VERSIONS_READ: i64 = 64;

/// Until when the agent's key of a digest-only `kind` whose value hashes to
/// `digest` verifies; `None` when no live version has that digest. The index
/// finds candidates by digest; the digests are then compared in constant time.
pub fn digest_live_until(
    conn: &mut DbConnection,
    agent_id: &str,
    kind: KeyKind,
    digest: &str,
) -> QueryResult<Option<LiveKey>> {
    let at = now();
    type Row = (
        String,
        String,
        Option<String>,
        Option<chrono::NaiveDateTime>,
    );
    let stored: Vec<Row> = agent_key_versions::table
        .inner_join(agent_api_keys::table)
        .filter(agent_key_versions::agent_id.eq(agent_id))
        .filter(agent_key_versions::api_key_type.eq(kind.as_str()))
        .filter(agent_key_versions::key_digest.eq(digest))
        .select((
            agent_key_versions::key_id,
            agent_api_keys::name,
            agent_key_versions::key_digest,
            agent_key_versions::expires_at,
        ))
        .load(conn)?;
    Ok(stored
        .into_iter()
        .filter(|(_, _, d, _)| {
            d.as_ref()
                .is_some_and(|d| bool::from(d.as_bytes().ct_eq(digest.as_bytes())))
        })
        .map(|(key_id, key_name, _, until)| LiveKey {
            key_id: key_id.into(),
            key_name: key_name.into(),
            until: LiveUntil(until),
        })
        .filter(|key| key.until.is_live(at))
        .reduce(|a, b| LiveKey {
            until: a.until.longest(b.until),
            ..a
        }))
}

/// The live secret versions of the agent's keys of `kind`: of the key
/// named `name` when given, else of every key of that kind; newest first.
pub fn live_secrets(
    conn: &mut DbConnection,
    data_key: &DataKey,
    agent_id: &str,
    kind: KeyKind,
    name: Option<&str>,
) -> DbResult<Vec<TimedSecret>> {
    let mut query = agent_key_versions::table
        .inner_join(agent_api_keys::table)
        .filter(agent_key_versions::agent_id.eq(agent_id))
        .filter(agent_key_versions::api_key_type.eq(kind.as_str()))
        .filter(
            agent_key_versions::expires_at
                .is_null()
                .or(agent_key_versions::expires_at.gt(now())),
        )
        .select((
            agent_key_versions::id,
            agent_key_versions::key_id,
            agent_key_versions::secret,
            agent_key_versions::expires_at,
            agent_api_keys::config,
            agent_api_keys::name,
        ))
        .order((
            agent_key_versions::created_at.desc(),
            agent_key_versions::id.desc(),
        ))
        .limit(MAX_VERSIONS_READ)
        .into_boxed();
    if let Some(name) = name {
        query = query.filter(agent_api_keys::name.eq(name.to_owned()));
    }
    let rows: Vec<SecretRow> = query.load(conn)?;
    let mut secrets = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(secret) = open_secret(data_key, row)? {
            secrets.push(secret);
        }
    }
    Ok(secrets)
}

/// A stored version: its id, its key's id, the sealed value, its expiry,
/// the key's settings and name.
type SecretRow = (
    String,
    String,
    Option<String>,
    Option<chrono::NaiveDateTime>,
    Option<String>,
    String,
);

/// The version's secret, opened; `None` for a version without one or whose
/// settings no longer parse (said, and not fatal to its neighbours).
fn open_secret(data_key: &DataKey, row: SecretRow) -> DbResult<Option<TimedSecret>> {
    let (id, key_id, sealed, until, config, key_name) = row;
    let Some(sealed) = sealed else {
        return Ok(None);
    };
    // Settings were validated when the key was made; validating again
    // parses the signed content once for every call that uses it.
    let parsed = config.map(|c| {
        let config = serde_json::from_str::<HmacConfig>(&c).map_err(|e| e.to_string())?;
        config.validated(|_| None).map_err(|e| e.0)
    });
    let hmac = match parsed {
        Some(Ok(c)) => Some(Arc::new(c)),
        Some(Err(e)) => {
            tracing::error!(key.version = %id, error = %e, "unreadable hmac settings; key skipped");
            return Ok(None);
        }
        None => None,
    };
    Ok(Some(TimedSecret {
        key_id: key_id.into(),
        key_name: key_name.into(),
        secret: data_key.open(&sealed, &id)?,
        until: LiveUntil(until),
        hmac,
    }))
}

/// The agent's internal key (the oldest key, should several have been
/// created; its newest live version, should it have been rotated).
pub fn find_internal_secret(
    conn: &mut DbConnection,
    data_key: &DataKey,
    agent_id: &str,
) -> DbResult<Option<Secret>> {
    find_sent_secret(conn, data_key, agent_id, KeyKind::INTERNAL)
}

/// The bearer token hookgate sends an A2A agent, if it was given one (as
/// [`find_internal_secret`] picks among keys and versions).
pub fn find_outbound_token(
    conn: &mut DbConnection,
    data_key: &DataKey,
    agent_id: &str,
) -> DbResult<Option<Secret>> {
    find_sent_secret(conn, data_key, agent_id, KeyKind::OUTBOUND)
}

/// A secret hookgate sends to the agent: the oldest key of `kind`, its
/// newest live version.
fn find_sent_secret(
    conn: &mut DbConnection,
    data_key: &DataKey,
    agent_id: &str,
    kind: KeyKind,
) -> DbResult<Option<Secret>> {
    let at = now();
    let key_id: Option<String> = agent_api_keys::table
        .filter(agent_api_keys::agent_id.eq(agent_id))
        .filter(agent_api_keys::api_key_type.eq(kind.as_str()))
        .order(agent_api_keys::created_at.asc())
        .select(agent_api_keys::id)
        .first(conn)
        .optional()?;
    let Some(key_id) = key_id else {
        return Ok(None);
    };
    let version: Option<(String, Option<String>)> = agent_key_versions::table
        .filter(agent_key_versions::key_id.eq(key_id))
        .filter(
            agent_key_versions::expires_at
                .is_null()
                .or(agent_key_versions::expires_at.gt(at)),
        )
        .order(agent_key_versions::created_at.desc())
        .select((agent_key_versions::id, agent_key_versions::secret))
        .first(conn)
        .optional()?;
    match version {
        Some((id, Some(sealed))) => Ok(Some(data_key.open(&sealed, &id)?)),
        _ => Ok(None),
    }
}
