//! `VerifierActor`: decides whether a forward call may reach its agent.
//! One runs on each HTTP worker; the checks themselves live in `verify/`.
//! It reads through the shared [`KeyCache`] and asks the `KeyStoreActor`
//! only on a miss.

mod lookup;

use super::key_store::KeyStoreActor;
use crate::db::agents::Agent;
use crate::db::routes::Route;
use crate::domain::{Identities, KeyLookup, RouteRules, TimedSecret};
use crate::key_cache::{AgentEntry, KeyCache};
use crate::verify::{providers, Answer, Provider, Reading, Refusal, VerifyError};
use actix::prelude::*;
use bytes::Bytes;
use lookup::Lookup;
use std::sync::Arc;

pub struct VerifierActor {
    lookup: Lookup,
}

/// The key store's requests in flight, shared by every worker's verifier:
/// when all are taken, a call that misses the cache is answered 503 at once
/// instead of queueing, so a flood of unknown keys cannot hold every
/// database connection while intake waits.
pub type KeyStorePermits = Arc<tokio::sync::Semaphore>;

impl VerifierActor {
    pub fn new(
        key_store: Addr<KeyStoreActor>,
        permits: KeyStorePermits,
        cache: Arc<KeyCache>,
    ) -> Self {
        Self {
            lookup: Lookup {
                key_store,
                permits,
                cache,
            },
        }
    }
}

impl Actor for VerifierActor {
    type Context = Context<Self>;
}

/// A call to verify: the agent it names, its provider, what the provider
/// read from it on the request's own thread (so the headers themselves
/// never cross; a refusal is reported after the agent is found), and its
/// raw body.
#[derive(Message)]
#[rtype(result = "Result<Verified, VerifyFailure>")]
pub struct Verify {
    pub agent_name: String,
    /// The call's canonical sub-path, for the agent's route.
    pub sub_path: String,
    pub provider: &'static dyn Provider,
    pub reading: Result<Reading, VerifyError>,
    /// What generic HMAC read, for a provider whose header a generic key
    /// may also use (see `Descriptor::selected_by_prefix`).
    pub shared_header: Option<Reading>,
    pub body: Bytes,
    /// The request's span, when traces are exported: the `verify` span is
    /// its child though it runs on the verifier (else `Span::none()`).
    pub parent: tracing::Span,
}

/// A call that passed: the agent it may reach, its route, and what hookgate
/// must answer itself.
#[derive(Debug)]
pub struct Verified {
    pub entry: AgentEntry,
    /// The index of the agent's route for the call's path, if one matches.
    route: Option<usize>,
    /// Where the agent is called (its ACP URL or A2A interface).
    pub address: String,
    /// What hookgate answers itself instead of forwarding (a provider's
    /// URL verification challenge, a ping), once the call verified.
    pub answer: Option<Answer>,
    pub body: Bytes,
    /// The name of the key that passed the call.
    pub key_name: Arc<str>,
}

impl Verified {
    pub fn agent(&self) -> &Agent {
        &self.entry.agent
    }

    /// The agent's route for the call's path, with its parsed rules.
    pub fn route(&self) -> Option<(&Route, &RouteRules)> {
        let i = self.route?;
        Some((&self.entry.routes[i], &self.entry.rules[i]))
    }

    /// The agent's own identities (for the loop guard).
    pub fn identities(&self) -> &Identities {
        &self.entry.identities
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyFailure {
    #[error(transparent)]
    Refused(#[from] VerifyError),
    #[error("key store unavailable: {0}")]
    Internal(String),
    /// Every key-store request is taken.
    #[error("key store busy")]
    Busy,
    /// The database did not answer the key lookup (see `DbError::is_outage`).
    #[error("database unavailable: {0}")]
    DatabaseUnavailable(String),
}

impl Handler<Verify> for VerifierActor {
    type Result = Response<Result<Verified, VerifyFailure>>;

    fn handle(&mut self, msg: Verify, _: &mut Self::Context) -> Self::Result {
        let lookup = self.lookup.clone();
        let mut verifying = Box::pin(async move { verify(&lookup, msg).await });
        // With the keys cached nothing is awaited: answer at once instead of
        // spawning a task. A cache miss waits on the key store as a future.
        let mut first_poll = std::task::Context::from_waker(std::task::Waker::noop());
        match std::future::Future::poll(verifying.as_mut(), &mut first_poll) {
            std::task::Poll::Ready(result) => Response::reply(result),
            std::task::Poll::Pending => Response::fut(verifying),
        }
    }
}

/// Debug level: a span per forward call costs the hot path nothing unless
/// asked for (`RUST_LOG=hookgate=debug`). Fields name things, never values:
/// the key that passed is named by its id.
#[tracing::instrument(name = "verify", level = "debug", skip_all, parent = &msg.parent,
    fields(agent.name = %msg.agent_name, key.kind = msg.provider.descriptor().kind.as_str(),
        key.id = tracing::field::Empty))]
async fn verify(lookup: &Lookup, msg: Verify) -> Result<Verified, VerifyFailure> {
    let not_found = || VerifyError::agent_not_found(&msg.agent_name);
    let entry = lookup.agent(&msg.agent_name).await?.ok_or_else(not_found)?;
    let agent = &entry.agent;
    let address = agent
        .address()
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .ok_or_else(not_found)?;
    let reading = msg.reading.as_ref().map_err(Clone::clone)?;
    let key = matched_key(lookup, &agent.id, &msg, reading).await?;
    tracing::Span::current().record("key.id", &*key.id);
    msg.provider
        .after_match(reading, chrono::Utc::now().timestamp_millis())?;
    Ok(Verified {
        route: crate::db::routes::best_match_index(&entry.routes, &msg.sub_path),
        entry: entry.clone(),
        address,
        answer: msg.reading.ok().and_then(|r| r.answer),
        body: msg.body,
        key_name: key.name,
    })
}

/// The key that passed a call: its id and name.
struct MatchedKey {
    id: Arc<str>,
    name: Arc<str>,
}

impl From<&TimedSecret> for MatchedKey {
    fn from(secret: &TimedSecret) -> Self {
        Self {
            id: secret.key_id.clone(),
            name: secret.key_name.clone(),
        }
    }
}

/// The agent's key that passes the call, or the refusal.
async fn matched_key(
    lookup: &Lookup,
    agent_id: &str,
    msg: &Verify,
    reading: &Reading,
) -> Result<MatchedKey, VerifyFailure> {
    let provider = msg.provider;
    let kind = provider.descriptor().kind;
    let now = chrono::Utc::now().timestamp();
    match kind.lookup() {
        KeyLookup::Digest => {
            let found = lookup
                .live_digest_key(agent_id, kind, reading.credential())
                .await?;
            let refusal = || {
                let message = provider.descriptor().messages.bad_signature("", agent_id);
                VerifyError::unauthorized(message)
            };
            let found = found.ok_or_else(refusal)?;
            Ok(MatchedKey {
                id: found.key_id,
                name: found.key_name,
            })
        }
        KeyLookup::Named | KeyLookup::AllOfType => {
            let name = reading
                .key_name
                .as_deref()
                .filter(|_| kind.lookup() == KeyLookup::Named);
            let secrets = lookup.secrets(agent_id, kind, name).await?;
            let live: Vec<&TimedSecret> = secrets.iter().collect();
            let judged = provider.judge(reading, &msg.body, &live, agent_id, now);
            match (&msg.shared_header, live.is_empty()) {
                (Some(generic), true) => {
                    judge_generic(lookup, agent_id, generic, &msg.body, judged).await
                }
                _ => Ok(live[judged?].into()),
            }
        }
        KeyLookup::NotPresented => Err(VerifyError::missing_authentication().into()),
    }
}

/// A call on a shared header, for an agent without a key of the provider
/// that claims it: its generic `hmac` keys on the header decide, and when
/// it has none there, the provider's own refusal stands.
async fn judge_generic(
    lookup: &Lookup,
    agent_id: &str,
    reading: &Reading,
    body: &[u8],
    refusal: Result<usize, VerifyError>,
) -> Result<MatchedKey, VerifyFailure> {
    let generic = providers::generic();
    let secrets = lookup
        .secrets(agent_id, generic.descriptor().kind, None)
        .await?;
    let live: Vec<&TimedSecret> = secrets.iter().collect();
    let now = chrono::Utc::now().timestamp();
    match generic.judge(reading, body, &live, agent_id, now) {
        Ok(index) => Ok(live[index].into()),
        Err(e) if e.reason() == Refusal::NoCredentials => Err(refusal.err().unwrap_or(e).into()),
        Err(e) => Err(e.into()),
    }
}

fn internal(e: crate::db::DbError) -> VerifyFailure {
    crate::db::suspect_connections(&e);
    match e.is_outage() {
        true => VerifyFailure::DatabaseUnavailable(e.to_string()),
        false => VerifyFailure::Internal(e.to_string()),
    }
}
