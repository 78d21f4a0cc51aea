//! The verifier's reads: the shared [`KeyCache`] first, the
//! `KeyStoreActor` on a miss (bounded by the shared permits), the answer
//! cached under the generation read before asking, so a change made
//! meanwhile is never cached over.

use super::{internal, KeyStorePermits, VerifyFailure};
use crate::actors::key_store::{CheckKeyDigest, FindSecrets, KeyStoreActor, LookupAgent};
use crate::domain::{digest_hex, KeyKind, LiveKey, TimedSecret};
use crate::key_cache::{AgentEntry, CachedAgent, KeyCache, Secrets};
use actix::prelude::*;
use std::sync::Arc;

/// The cache in front of the key store.
#[derive(Clone)]
pub(super) struct Lookup {
    pub(super) key_store: Addr<KeyStoreActor>,
    pub(super) permits: KeyStorePermits,
    pub(super) cache: Arc<KeyCache>,
}

impl Lookup {
    async fn ask<M>(&self, msg: M) -> Result<M::Result, VerifyFailure>
    where
        M: Message + Send + 'static,
        M::Result: Send,
        KeyStoreActor: Handler<M>,
    {
        let Ok(_permit) = self.permits.try_acquire() else {
            return Err(VerifyFailure::Busy);
        };
        self.key_store
            .send(msg)
            .await
            .map_err(|e| VerifyFailure::Internal(e.to_string()))
    }

    pub(super) async fn agent(&self, name: &str) -> Result<Option<AgentEntry>, VerifyFailure> {
        if let Some(hit) = self.cache.agent(name) {
            return Ok(hit);
        }
        let read = async {
            let generation = self.cache.generation();
            let msg = LookupAgent {
                name: name.to_owned(),
            };
            let entry = match self.ask(msg).await?.map_err(internal)? {
                Some((agent, routes)) => Some(Arc::new(
                    CachedAgent::new(agent, routes).map_err(VerifyFailure::Internal)?,
                )),
                None => None,
            };
            self.cache.put_agent(generation, name, entry.clone());
            Ok(entry)
        };
        or_stale(read, || self.cache.stale_agent(name)).await
    }

    /// The live key whose value was presented, for a digest-only `kind`.
    pub(super) async fn live_digest_key(
        &self,
        agent_id: &str,
        kind: KeyKind,
        presented: &str,
    ) -> Result<Option<LiveKey>, VerifyFailure> {
        let digest = digest_hex(presented);
        let found = match self.cache.digest(agent_id, kind, &digest) {
            Some(hit) => hit,
            None => {
                let read = async {
                    let generation = self.cache.generation();
                    let check = CheckKeyDigest {
                        agent_id: agent_id.to_owned(),
                        kind,
                        digest: digest.clone(),
                    };
                    let found = self.ask(check).await?.map_err(internal)?;
                    self.cache
                        .put_digest(generation, agent_id, kind, &digest, found.clone());
                    Ok(found)
                };
                let stale = || self.cache.stale_digest(agent_id, kind, &digest);
                or_stale(read, stale).await?
            }
        };
        let now = chrono::Utc::now().naive_utc();
        Ok(found.filter(|key| key.until.is_live(now)))
    }

    /// The secret versions of the agent's `kind` keys (of the key `name`,
    /// when the payload names one), newest first, judged live at the moment
    /// of the call: a cached version stops the moment it expires.
    pub(super) async fn secrets(
        &self,
        agent_id: &str,
        kind: KeyKind,
        name: Option<&str>,
    ) -> Result<LiveSecrets, VerifyFailure> {
        let versions = match self.cache.secrets(agent_id, kind, name) {
            Some(hit) => hit,
            None => {
                let read = async {
                    let generation = self.cache.generation();
                    let msg = FindSecrets {
                        agent_id: agent_id.to_owned(),
                        kind,
                        name: name.map(str::to_owned),
                    };
                    let found: Secrets = self.ask(msg).await?.map_err(internal)?.into();
                    self.cache
                        .put_secrets(generation, agent_id, kind, name, found.clone());
                    Ok(found)
                };
                or_stale(read, || self.cache.stale_secrets(agent_id, kind, name)).await?
            }
        };
        Ok(LiveSecrets {
            versions,
            at: chrono::Utc::now().naive_utc(),
        })
    }
}

/// A database read, or while the database is away what the cache held
/// when it went (see `KeyCache::suspend`): served at once while an outage
/// is suspected (a read would wait for the pool's timeout), and when the
/// read fails for one. The synchronous forward route keeps forwarding the
/// calls whose keys it knew.
async fn or_stale<T>(
    read: impl std::future::Future<Output = Result<T, VerifyFailure>>,
    stale: impl Fn() -> Option<T>,
) -> Result<T, VerifyFailure> {
    if crate::db::outage_suspected() {
        if let Some(known) = stale() {
            return Ok(known);
        }
    }
    match read.await {
        Err(VerifyFailure::DatabaseUnavailable(e)) => {
            stale().ok_or(VerifyFailure::DatabaseUnavailable(e))
        }
        done => done,
    }
}

/// The versions read for one call (shared with the cache, not copied) and
/// the moment they are judged live at.
pub(super) struct LiveSecrets {
    versions: Secrets,
    at: chrono::NaiveDateTime,
}

impl LiveSecrets {
    pub(super) fn iter(&self) -> impl Iterator<Item = &TimedSecret> {
        self.versions.iter().filter(|v| v.until.is_live(self.at))
    }
}
