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
use crate::domain::{KeyKind, Secret};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// An agent as verification needs it.
pub type AgentEntry = Arc<(Agent, Vec<Route>)>;

/// The cache; share it as `Arc<KeyCache>`.
pub struct KeyCache {
    generation: AtomicU64,
    enabled: AtomicBool,
    capacity: usize,
    agents: Mutex<HashMap<String, Option<AgentEntry>>>,
    /// (agent id, hex digest of a presented key) → is it a live external key.
    external: Mutex<HashMap<(String, String), bool>>,
    secrets: Mutex<HashMap<(String, KeyKind, String), Option<Secret>>>,
}

impl KeyCache {
    /// A cache holding at most `capacity` entries of each kind.
    pub fn new(capacity: usize) -> Self {
        Self {
            generation: AtomicU64::new(0),
            enabled: AtomicBool::new(true),
            capacity,
            agents: Mutex::default(),
            external: Mutex::default(),
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
        self.external.lock().expect("cache lock").clear();
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

    pub fn external_key(&self, agent_id: &str, digest: &str) -> Option<bool> {
        self.get(&self.external, &(agent_id.to_owned(), digest.to_owned()))
    }

    pub fn put_external_key(&self, generation: u64, agent_id: &str, digest: &str, live: bool) {
        let key = (agent_id.to_owned(), digest.to_owned());
        self.put(&self.external, generation, key, live);
    }

    pub fn secret(&self, agent_id: &str, kind: KeyKind, name: &str) -> Option<Option<Secret>> {
        self.get(&self.secrets, &(agent_id.to_owned(), kind, name.to_owned()))
    }

    pub fn put_secret(
        &self,
        generation: u64,
        agent_id: &str,
        kind: KeyKind,
        name: &str,
        secret: Option<Secret>,
    ) {
        let key = (agent_id.to_owned(), kind, name.to_owned());
        self.put(&self.secrets, generation, key, secret);
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
        cache.put_external_key(before, "a", "d", true);
        assert_eq!(cache.external_key("a", "d"), None);
        cache.put_external_key(cache.generation(), "a", "d", false);
        assert_eq!(
            cache.external_key("a", "d"),
            Some(false),
            "misses are cached too"
        );
    }

    #[test]
    fn disabled_cache_stores_and_serves_nothing_and_size_is_bounded() {
        let cache = KeyCache::new(2);
        for i in 0..5 {
            cache.put_external_key(cache.generation(), "a", &i.to_string(), true);
        }
        assert!(cache.external.lock().unwrap().len() <= 2);
        cache.set_enabled(false);
        cache.put_external_key(cache.generation(), "a", "x", true);
        assert_eq!(cache.external_key("a", "x"), None);
    }
}
