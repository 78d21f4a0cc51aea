//! An in-memory cache of what verification reads (agents with their routes,
//! external-key digests, signing secrets), with exact invalidation.
//!
//! Every admin change clears the whole cache on this instance before the
//! admin call returns, and (on PostgreSQL) notifies the other instances,
//! whose listener clears theirs. Each entry carries the generation its
//! database read started in, and is served only while that generation is
//! current, so a read that raced a delete can never put a deleted key back.
//! Misses are cached too, so unknown keys and names cannot hammer the
//! database; each map is bounded in bytes and evicts what is least used
//! (moka), so strangers' misses push out only other misses' room, never
//! clear what is in use.

use crate::db::agents::Agent;
use crate::db::routes::Route;
use crate::domain::{Identities, KeyKind, LiveKey, RouteRules, StoredRoute, TimedSecret};
use moka::sync::Cache;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// An agent as verification needs it: its routes with their rules and its
/// identities parsed once, when read, so no call parses them again.
pub type AgentEntry = Arc<CachedAgent>;

#[derive(Debug)]
pub struct CachedAgent {
    pub agent: Agent,
    pub routes: Vec<Route>,
    /// `rules[i]` are `routes[i]`'s.
    pub rules: Vec<RouteRules>,
    pub identities: Identities,
}

impl CachedAgent {
    /// The agent with its routes' rules parsed; a stored route that no
    /// longer parses names itself in the error.
    pub fn new(agent: Agent, routes: Vec<Route>) -> Result<Self, String> {
        let rules = routes
            .iter()
            .map(|r| {
                RouteRules::from_stored(&StoredRoute {
                    mode: &r.mode,
                    content: &r.content,
                    task_key: r.task_key.as_deref(),
                    text_template: r.text_template.as_deref(),
                    missing_task_key: r.missing_task_key.as_deref(),
                    filter: r.filter_conditions.as_deref(),
                    ignore: r.ignore_conditions.as_deref(),
                    redact: r.redact_fields.as_deref(),
                })
                .map_err(|e| format!("route {} is unreadable: {e}", r.id))
            })
            .collect::<Result<_, _>>()?;
        let identities = Identities::from_stored(agent.identities.as_deref());
        Ok(Self {
            agent,
            routes,
            rules,
            identities,
        })
    }
}

/// Secret versions as read, each with its expiry (checked at use, so an
/// expired version stops verifying at once even while cached).
pub type Secrets = Arc<[TimedSecret]>;

type SecretsKey = (String, KeyKind, Option<String>);
type DigestKey = (String, KeyKind, String);

/// A cached value and the generation its read started in.
#[derive(Clone)]
struct Stamped<V> {
    generation: u64,
    value: V,
}

/// What an entry's bookkeeping costs beyond its strings (hash table slot,
/// moka's node, the `Arc`s): a round figure, so the byte bound holds.
const ENTRY_OVERHEAD: usize = 160;

/// The cache; share it as `Arc<KeyCache>`.
pub struct KeyCache {
    generation: AtomicU64,
    enabled: AtomicBool,
    agents: Cache<String, Stamped<Option<AgentEntry>>>,
    /// (agent id, kind, hex digest of a presented value) → until when it
    /// verifies, or `None`: no such key.
    digests: Cache<DigestKey, Stamped<Option<LiveKey>>>,
    /// (agent id, kind, key name or all of that kind) → live versions.
    secrets: Cache<SecretsKey, Stamped<Secrets>>,
}

/// A moka cache of at most `bytes`, entries weighed by `weigh`.
fn bounded<K, V>(bytes: usize, weigh: fn(&K, &V) -> usize) -> Cache<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    Cache::builder()
        .max_capacity(bytes as u64)
        .weigher(move |k, v| u32::try_from(weigh(k, v) + ENTRY_OVERHEAD).unwrap_or(u32::MAX))
        .build()
}

#[expect(clippy::ptr_arg, reason = "a moka weigher takes &K, and K is String")]
fn agent_bytes(name: &String, entry: &Stamped<Option<AgentEntry>>) -> usize {
    let found = entry.value.as_ref().map_or(0, |entry| {
        let CachedAgent { agent, routes, .. } = &**entry;
        let texts = [
            &agent.id,
            &agent.name,
            &agent.acp_type,
            &agent.status,
            &agent.protocol,
        ];
        let optional = [
            &agent.description,
            &agent.acp_url,
            &agent.status_reason,
            &agent.registration_metadata,
            &agent.agent_input_type,
            &agent.identities,
            &agent.agent_card_url,
            &agent.a2a_url,
            &agent.a2a_version,
        ];
        let routes: usize = routes
            .iter()
            .map(|r| {
                r.id.len()
                    + r.agent_id.len()
                    + r.path.len()
                    + r.mode.len()
                    + r.content.len()
                    + r.task_key.as_ref().map_or(0, String::len)
                    + r.text_template.as_ref().map_or(0, String::len)
                    // Stored rules, and about twice that once parsed.
                    + 3 * [&r.filter_conditions, &r.ignore_conditions, &r.redact_fields]
                        .iter()
                        .map(|t| t.as_ref().map_or(0, String::len))
                        .sum::<usize>()
                    + 128
            })
            .sum();
        texts.iter().map(|t| t.len()).sum::<usize>()
            + optional
                .iter()
                .map(|t| t.as_ref().map_or(0, String::len))
                .sum::<usize>()
            + routes
            + 256
    });
    name.len() + found
}

fn digest_bytes(key: &DigestKey, entry: &Stamped<Option<LiveKey>>) -> usize {
    let key_id = entry
        .value
        .as_ref()
        .map_or(0, |live| live.key_id.len() + 16);
    key.0.len() + key.2.len() + 16 + key_id
}

fn secrets_bytes(key: &SecretsKey, entry: &Stamped<Secrets>) -> usize {
    let versions: usize = entry
        .value
        .iter()
        .map(|v| v.secret.expose().len() + 96)
        .sum();
    key.0.len() + key.2.as_ref().map_or(0, String::len) + versions
}

impl KeyCache {
    /// A cache of at most about `bytes` (a third for each kind of entry).
    pub fn new(bytes: usize) -> Self {
        let each = bytes / 3;
        Self {
            generation: AtomicU64::new(0),
            enabled: AtomicBool::new(true),
            agents: bounded(each, agent_bytes),
            digests: bounded(each, digest_bytes),
            secrets: bounded(each, secrets_bytes),
        }
    }

    /// Read before a database lookup; hand back to the matching `put_*`.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Forget everything (an admin change here or on another instance).
    pub fn invalidate_all(&self) {
        // The bump alone makes every entry stale; clearing frees the room.
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.agents.invalidate_all();
        self.digests.invalidate_all();
        self.secrets.invalidate_all();
    }

    /// Turns caching off (while notifications from other instances may be
    /// missed) or back on; either way the cache starts empty.
    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::SeqCst);
        self.invalidate_all();
    }

    /// Turns caching off but keeps what it holds, for the `stale_*` reads
    /// while the database is away (its listener lost it): nothing can
    /// change keys through a database nobody reaches. Any change made here
    /// still clears it, and turning caching on again starts empty.
    pub fn suspend(&self) {
        self.enabled.store(false, Ordering::SeqCst);
    }

    /// What the cache held for `name`, even while suspended.
    pub fn stale_agent(&self, name: &str) -> Option<Option<AgentEntry>> {
        self.current(&self.agents, name)
    }

    pub fn stale_digest(
        &self,
        agent_id: &str,
        kind: KeyKind,
        digest: &str,
    ) -> Option<Option<LiveKey>> {
        self.current(
            &self.digests,
            &(agent_id.to_owned(), kind, digest.to_owned()),
        )
    }

    pub fn stale_secrets(
        &self,
        agent_id: &str,
        kind: KeyKind,
        name: Option<&str>,
    ) -> Option<Secrets> {
        self.current(
            &self.secrets,
            &(agent_id.to_owned(), kind, name.map(str::to_owned)),
        )
    }

    pub fn agent(&self, name: &str) -> Option<Option<AgentEntry>> {
        self.get(&self.agents, name)
    }

    pub fn put_agent(&self, generation: u64, name: &str, entry: Option<AgentEntry>) {
        self.put(&self.agents, generation, name.to_owned(), entry);
    }

    pub fn digest(&self, agent_id: &str, kind: KeyKind, digest: &str) -> Option<Option<LiveKey>> {
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
        live: Option<LiveKey>,
    ) {
        let key = (agent_id.to_owned(), kind, digest.to_owned());
        self.put(&self.digests, generation, key, live);
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

    fn get<K, Q, V>(&self, map: &Cache<K, Stamped<V>>, key: &Q) -> Option<V>
    where
        K: std::hash::Hash + Eq + Send + Sync + std::borrow::Borrow<Q> + 'static,
        Q: std::hash::Hash + Eq + ?Sized,
        V: Clone + Send + Sync + 'static,
    {
        if !self.enabled.load(Ordering::SeqCst) {
            crate::metrics::key_cache(false);
            return None;
        }
        let found = self.current(map, key);
        crate::metrics::key_cache(found.is_some());
        found
    }

    /// The entry for `key` if read in the current generation.
    fn current<K, Q, V>(&self, map: &Cache<K, Stamped<V>>, key: &Q) -> Option<V>
    where
        K: std::hash::Hash + Eq + Send + Sync + std::borrow::Borrow<Q> + 'static,
        Q: std::hash::Hash + Eq + ?Sized,
        V: Clone + Send + Sync + 'static,
    {
        map.get(key)
            .filter(|entry| entry.generation == self.generation())
            .map(|entry| entry.value)
    }

    fn put<K, V>(&self, map: &Cache<K, Stamped<V>>, generation: u64, key: K, value: V)
    where
        K: std::hash::Hash + Eq + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        // A read that started before a clear is refused here, or, if the
        // clear comes between this check and the insert, never served.
        if self.enabled.load(Ordering::SeqCst) && generation == self.generation() {
            map.insert(key, Stamped { generation, value });
        }
    }
}

/// Changes made by other instances clear the cache; while they cannot be
/// heard, nothing is cached (what was is kept for the `stale_*` reads).
impl crate::db::notify::ChangeListener for KeyCache {
    fn connected(&self, connected: bool) {
        match connected {
            true => self.set_enabled(true),
            false => self.suspend(),
        }
    }

    fn changed(&self) {
        self.invalidate_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two digest-only kinds (as hookgate's API keys and a provider's tokens are).
    const DIGEST_A: KeyKind = KeyKind::new("digest-a", crate::domain::KeyLookup::Digest);
    const DIGEST_B: KeyKind = KeyKind::new("digest-b", crate::domain::KeyLookup::Digest);

    fn live_key() -> LiveKey {
        LiveKey {
            key_id: "key-1".into(),
            key_name: "key".into(),
            until: crate::domain::LiveUntil(None),
        }
    }

    #[test]
    fn a_read_that_raced_an_invalidation_is_not_stored() {
        let cache = KeyCache::new(1 << 20);
        let before = cache.generation();
        cache.invalidate_all(); // e.g. the key was deleted meanwhile
        let live = Some(live_key());
        cache.put_digest(before, "a", DIGEST_A, "d", live.clone());
        assert_eq!(cache.digest("a", DIGEST_A, "d"), None);
        cache.put_digest(cache.generation(), "a", DIGEST_A, "d", None);
        assert_eq!(
            cache.digest("a", DIGEST_A, "d"),
            Some(None),
            "misses are cached too"
        );
        assert_eq!(cache.digest("a", DIGEST_B, "d"), None, "kinds are apart");
    }

    #[test]
    fn a_suspended_cache_keeps_what_it_held_for_stale_reads_only() {
        let cache = KeyCache::new(1 << 20);
        let live = Some(live_key());
        cache.put_digest(cache.generation(), "a", DIGEST_A, "d", live.clone());
        cache.suspend();
        assert_eq!(cache.digest("a", DIGEST_A, "d"), None, "no fresh hit");
        assert_eq!(cache.stale_digest("a", DIGEST_A, "d"), Some(live.clone()));
        cache.put_digest(cache.generation(), "a", DIGEST_A, "e", live.clone());
        assert_eq!(cache.stale_digest("a", DIGEST_A, "e"), None, "nothing new");
        // A change made here clears it, as does turning it on again.
        cache.invalidate_all();
        assert_eq!(cache.stale_digest("a", DIGEST_A, "d"), None);
        cache.put_digest(cache.generation(), "a", DIGEST_A, "d", live);
        cache.set_enabled(true);
        assert_eq!(cache.stale_digest("a", DIGEST_A, "d"), None);
    }

    #[test]
    fn disabled_cache_stores_and_serves_nothing_and_size_is_bounded() {
        let cache = KeyCache::new(3 * 1024);
        let live = Some(live_key());
        for i in 0..500 {
            cache.put_digest(
                cache.generation(),
                "a",
                DIGEST_A,
                &i.to_string(),
                live.clone(),
            );
        }
        cache.digests.run_pending_tasks();
        assert!(cache.digests.weighted_size() <= 3 * 1024 / 3);
        cache.set_enabled(false);
        cache.put_digest(cache.generation(), "a", DIGEST_A, "x", live);
        assert_eq!(cache.digest("a", DIGEST_A, "x"), None);
    }

    #[test]
    fn a_flood_of_misses_does_not_push_out_a_key_in_use() {
        let cache = KeyCache::new(3 * 64 * 1024);
        let live = Some(live_key());
        cache.put_digest(cache.generation(), "a", DIGEST_A, "good", live.clone());
        for i in 0..20_000 {
            if i % 100 == 0 {
                assert_eq!(
                    cache.digest("a", DIGEST_A, "good"),
                    Some(live.clone()),
                    "{i}"
                );
            }
            let unknown = format!("{i:064}");
            cache.put_digest(cache.generation(), "a", DIGEST_A, &unknown, None);
        }
        cache.digests.run_pending_tasks();
        assert!(cache.digests.weighted_size() <= 64 * 1024);
        assert_eq!(cache.digest("a", DIGEST_A, "good"), Some(live));
    }
}
