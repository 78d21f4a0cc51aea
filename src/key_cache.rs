//! An in-memory cache of what verification reads (agents with their routes,
//! external-key digests, signing secrets), with exact invalidation.
//!
//! Every admin change clears the whole cache on this instance before the
//! admin call returns, and (on PostgreSQL) notifies the other instances,
//! whose listener clears theirs. A reader notes the generation before its
//! database read and stores the result only if no clear happened since, so a
//! read that raced a delete can never put a deleted key back. Misses are
//! cached too (bounded), so unknown keys cannot hammer the database.

use crate::db::agents::Agent;
use crate::db::routes::Route;
use crate::domain::{KeyKind, LiveUntil, TimedSecret};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// An agent as verification needs it.
pub type AgentEntry = Arc<(Agent, Vec<Route>)>;

/// Secret versions as read, each with its expiry (checked at use, so an
/// expired version stops verifying at once even while cached).
pub type Secrets = Arc<[TimedSecret]>;

type SecretsKey = (String, KeyKind, Option<String>);

/// The cache; share it as `Arc<KeyCache>`.
pub struct KeyCache {
    generation: AtomicU64,
    enabled: AtomicBool,
    capacity: usize,
    agents: Mutex<HashMap<String, Option<AgentEntry>>>,
    /// (agent id, kind, hex digest of a presented value) → until when it
    /// verifies, or `None`: no such key.
    digests: Mutex<HashMap<(String, KeyKind, String), Option<LiveUntil>>>,
    /// (agent id, kind, key name or all of that kind) → live versions.
    secrets: Mutex<HashMap<SecretsKey, Secrets>>,
}

impl KeyCache {
    /// A cache holding at most `capacity` entries of each kind.
    pub fn new(capacity: usize) -> Self {
        Self {
            generation: AtomicU64::new(0),
            enabled: AtomicBool::new(true),
            capacity,
            agents: Mutex::default(),
            digests: Mutex::default(),
            secrets: Mutex::default(),
        }
    }

    /// Read before a database lookup; hand back to the matching `put_*`.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Forget everything (an admin change here or on another instance).
    pub fn invalidate_all(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.agents.lock().expect("cache lock").clear();
        self.digests.lock().expect("cache lock").clear();
        self.secrets.lock().expect("cache lock").clear();
    }

    /// Turns caching off (while notifications from other instances may be
    /// missed) or back on; either way the cache starts empty.
    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::SeqCst);
        self.invalidate_all();
    }

    pub fn agent(&self, name: &str) -> Option<Option<AgentEntry>> {
        self.get(&self.agents, name)
    }

    pub fn put_agent(&self, generation: u64, name: &str, entry: Option<AgentEntry>) {
        self.put(&self.agents, generation, name.to_owned(), entry);
    }

    pub fn digest(&self, agent_id: &str, kind: KeyKind, digest: &str) -> Option<Option<LiveUntil>> {
        self.get(
            &self.digests,
            &(agent_id.to_owned(), kind, digest.to_owned()),
        )
    }

    pub fn put_digest(
        &self,
        generation: u64,
        agent_id: &str,
        kind: KeyKind,
        digest: &str,
        until: Option<LiveUntil>,
    ) {
        let key = (agent_id.to_owned(), kind, digest.to_owned());
        self.put(&self.digests, generation, key, until);
    }

    pub fn secrets(&self, agent_id: &str, kind: KeyKind, name: Option<&str>) -> Option<Secrets> {
        self.get(
            &self.secrets,
            &(agent_id.to_owned(), kind, name.map(str::to_owned)),
        )
    }

    pub fn put_secrets(
        &self,
        generation: u64,
        agent_id: &str,
        kind: KeyKind,
        name: Option<&str>,
        secrets: Secrets,
    ) {
        let key = (agent_id.to_owned(), kind, name.map(str::to_owned));
        self.put(&self.secrets, generation, key, secrets);
    }

    fn get<K, Q, V>(&self, map: &Mutex<HashMap<K, V>>, key: &Q) -> Option<V>
    where
        K: Eq + Hash + std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
        V: Clone,
    {
        if !self.enabled.load(Ordering::SeqCst) {
            return None;
        }
        map.lock().expect("cache lock").get(key).cloned()
    }

    fn put<K: Eq + Hash, V>(&self, map: &Mutex<HashMap<K, V>>, generation: u64, key: K, value: V) {
        if !self.enabled.load(Ordering::SeqCst) {
            return;
        }
        let mut map = map.lock().expect("cache lock");
        // Checked under the lock: a clear bumps the generation before it
        // takes this lock, so a stale read is either refused here or cleared.
        if self.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        if map.len() >= self.capacity {
            map.clear(); // bounded: crude, but never wrong
        }
        map.insert(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_that_raced_an_invalidation_is_not_stored() {
        let cache = KeyCache::new(10);
        let before = cache.generation();
        cache.invalidate_all(); // e.g. the key was deleted meanwhile
        let live = Some(LiveUntil(None));
        cache.put_digest(before, "a", KeyKind::External, "d", live);
        assert_eq!(cache.digest("a", KeyKind::External, "d"), None);
        cache.put_digest(cache.generation(), "a", KeyKind::External, "d", None);
        assert_eq!(
            cache.digest("a", KeyKind::External, "d"),
            Some(None),
            "misses are cached too"
        );
        assert_eq!(
            cache.digest("a", KeyKind::Gitlab, "d"),
            None,
            "kinds are apart"
        );
    }

    #[test]
    fn disabled_cache_stores_and_serves_nothing_and_size_is_bounded() {
        let cache = KeyCache::new(2);
        let live = Some(LiveUntil(None));
        for i in 0..5 {
            cache.put_digest(
                cache.generation(),
                "a",
                KeyKind::External,
                &i.to_string(),
                live,
            );
        }
        assert!(cache.digests.lock().unwrap().len() <= 2);
        cache.set_enabled(false);
        cache.put_digest(cache.generation(), "a", KeyKind::External, "x", live);
        assert_eq!(cache.digest("a", KeyKind::External, "x"), None);
    }
}
