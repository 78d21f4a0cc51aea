//! `VerifierActor`: decides whether a forward call may reach its agent.
//! One runs on each HTTP worker; the checks themselves live in `verify/`.
//! It reads through the shared [`KeyCache`] and asks the `KeyStoreActor`
//! only on a miss.

use super::key_store::{CheckKeyDigest, FindSecrets, KeyStoreActor, LookupAgent};
use crate::db::agents::Agent;
use crate::db::routes::Route;
use crate::domain::{digest_hex, KeyKind, TimedSecret};
use crate::key_cache::{AgentEntry, KeyCache, Secrets};
use crate::verify::{
    github, hmac, linear, shopify, slack, standard_webhooks, stripe, Scheme, VerifyError,
};
use actix::prelude::*;
use actix_web::http::header::HeaderMap;
use bytes::Bytes;
use std::sync::Arc;

pub struct VerifierActor {
    lookup: Lookup,
    slack_tolerance_secs: u64,
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
        slack_tolerance_secs: u64,
    ) -> Self {
        Self {
            lookup: Lookup {
                key_store,
                permits,
                cache,
            },
            slack_tolerance_secs,
        }
    }
}

impl Actor for VerifierActor {
    type Context = Context<Self>;
}

/// A call to verify: the agent it names, what its headers present (read on
/// the request's own thread, so the headers themselves never cross) and its
/// raw body.
#[derive(Message)]
#[rtype(result = "Result<Verified, VerifyFailure>")]
pub struct Verify {
    pub agent_name: String,
    pub presented: Presented,
    pub body: Bytes,
}

/// The authentication a call presents, or why it presents none usable.
#[derive(Debug)]
pub struct Presented {
    pub scheme: Result<Scheme, VerifyError>,
    /// `application/x-www-form-urlencoded` (Slack slash commands).
    pub is_form: bool,
    /// Only for a call no built-in scheme claims: its headers, for the
    /// agent's `hmac` keys, whose header names only the keys know.
    pub headers: Option<HeaderMap>,
}

impl Presented {
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let scheme = Scheme::from_headers(headers);
        let unclaimed = matches!(scheme, Err(VerifyError::MissingAuthentication));
        Self {
            scheme,
            is_form: is_form(headers),
            headers: unclaimed.then(|| headers.clone()),
        }
    }
}

/// A call that passed: the agent it may reach and what hookgate must answer itself.
#[derive(Debug)]
pub struct Verified {
    pub entry: AgentEntry,
    pub acp_url: String,
    /// Set for a signed Slack `url_verification`: hookgate answers with it.
    pub slack_challenge: Option<String>,
    pub body: Bytes,
}

impl Verified {
    pub fn agent(&self) -> &Agent {
        &self.entry.0
    }

    /// The agent's routes, to pick how the call is handled.
    pub fn routes(&self) -> &[Route] {
        &self.entry.1
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
}

impl Handler<Verify> for VerifierActor {
    type Result = Response<Result<Verified, VerifyFailure>>;

    fn handle(&mut self, msg: Verify, _: &mut Self::Context) -> Self::Result {
        let lookup = self.lookup.clone();
        let tolerance = self.slack_tolerance_secs;
        let mut verifying = Box::pin(async move { verify(&lookup, tolerance, msg).await });
        // With the keys cached nothing is awaited: answer at once instead of
        // spawning a task. A cache miss waits on the key store as a future.
        let mut first_poll = std::task::Context::from_waker(std::task::Waker::noop());
        match std::future::Future::poll(verifying.as_mut(), &mut first_poll) {
            std::task::Poll::Ready(result) => Response::reply(result),
            std::task::Poll::Pending => Response::fut(verifying),
        }
    }
}

/// The cache in front of the key store.
#[derive(Clone)]
struct Lookup {
    key_store: Addr<KeyStoreActor>,
    permits: KeyStorePermits,
    cache: Arc<KeyCache>,
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

    async fn agent(&self, name: &str) -> Result<Option<AgentEntry>, VerifyFailure> {
        if let Some(hit) = self.cache.agent(name) {
            return Ok(hit);
        }
        let generation = self.cache.generation();
        let found = self
            .ask(LookupAgent {
                name: name.to_owned(),
            })
            .await?
            .map_err(internal)?;
        let entry = found.map(Arc::new);
        self.cache.put_agent(generation, name, entry.clone());
        Ok(entry)
    }

    /// Whether the value presented for a digest-only `kind` is a live key.
    async fn digest_is_live(
        &self,
        agent_id: &str,
        kind: KeyKind,
        presented: &str,
    ) -> Result<bool, VerifyFailure> {
        let digest = digest_hex(presented);
        let until = match self.cache.digest(agent_id, kind, &digest) {
            Some(hit) => hit,
            None => {
                let generation = self.cache.generation();
                let check = CheckKeyDigest {
                    agent_id: agent_id.to_owned(),
                    kind,
                    digest: digest.clone(),
                };
                let until = self.ask(check).await?.map_err(internal)?;
                self.cache
                    .put_digest(generation, agent_id, kind, &digest, until);
                until
            }
        };
        Ok(until.is_some_and(|u| u.is_live(chrono::Utc::now().naive_utc())))
    }

    /// The secret versions of the agent's `kind` keys (of the key `name`,
    /// when the payload names one), newest first, judged live at the moment
    /// of the call: a cached version stops the moment it expires.
    async fn secrets(
        &self,
        agent_id: &str,
        kind: KeyKind,
        name: Option<&str>,
    ) -> Result<LiveSecrets, VerifyFailure> {
        let versions = match self.cache.secrets(agent_id, kind, name) {
            Some(hit) => hit,
            None => {
                let generation = self.cache.generation();
                let msg = FindSecrets {
                    agent_id: agent_id.to_owned(),
                    kind,
                    name: name.map(str::to_owned),
                };
                let found: Secrets = self.ask(msg).await?.map_err(internal)?.into();
                self.cache
                    .put_secrets(generation, agent_id, kind, name, found.clone());
                found
            }
        };
        Ok(LiveSecrets {
            versions,
            at: chrono::Utc::now().naive_utc(),
        })
    }
}

/// The versions read for one call (shared with the cache, not copied) and
/// the moment they are judged live at.
struct LiveSecrets {
    versions: Secrets,
    at: chrono::NaiveDateTime,
}

impl LiveSecrets {
    fn iter(&self) -> impl Iterator<Item = &TimedSecret> {
        self.versions.iter().filter(|v| v.until.is_live(self.at))
    }

    fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// Passes when a live secret passes `check` (each one is tried, each
    /// check in constant time); else `no_key` when there is none, `bad` when
    /// none passes.
    fn require(
        &self,
        no_key: impl FnOnce() -> VerifyError,
        bad: VerifyError,
        check: impl Fn(&[u8]) -> bool,
    ) -> Result<(), VerifyError> {
        if self.is_empty() {
            return Err(no_key());
        }
        let passed = self
            .iter()
            .fold(false, |any, v| check(v.secret.expose().as_bytes()) | any);
        passed.then_some(()).ok_or(bad)
    }
}

async fn verify(
    lookup: &Lookup,
    slack_tolerance_secs: u64,
    msg: Verify,
) -> Result<Verified, VerifyFailure> {
    let not_found = || VerifyError::AgentNotFound(msg.agent_name.clone());
    let entry = lookup.agent(&msg.agent_name).await?.ok_or_else(not_found)?;
    let agent = &entry.0;
    let acp_url = agent
        .acp_url
        .clone()
        .filter(|u| !u.is_empty())
        .ok_or_else(not_found)?;
    let body = &msg.body;

    let mut slack_challenge = None;
    let scheme = match msg.presented.scheme {
        Err(VerifyError::MissingAuthentication) => {
            let headers = msg.presented.headers.as_ref();
            verify_hmac(lookup, agent, headers, body).await?;
            return Ok(Verified {
                entry: entry.clone(),
                acp_url,
                slack_challenge,
                body: msg.body,
            });
        }
        other => other?,
    };
    match scheme {
        Scheme::ApiKey(key) => {
            if !lookup
                .digest_is_live(&agent.id, KeyKind::External, key.expose())
                .await?
            {
                return Err(VerifyError::InvalidApiKey(agent.id.clone()).into());
            }
        }
        Scheme::Github { signature } => {
            let repo = github::repository_name(body)?;
            let secrets = lookup
                .secrets(&agent.id, KeyKind::Github, Some(&repo))
                .await?;
            secrets.require(
                || VerifyError::GithubNoKey(repo),
                VerifyError::GithubBadSignature,
                |s| github::check_signature(s, body, signature.expose()),
            )?;
        }
        Scheme::Slack {
            signature,
            timestamp,
        } => {
            let now = chrono::Utc::now().timestamp();
            slack::check_timestamp(timestamp.as_deref(), now, slack_tolerance_secs)?;
            let timestamp = timestamp.unwrap_or_default();
            let payload = slack::parse_payload(body, msg.presented.is_form)?;
            let app = payload.api_app_id;
            let secrets = lookup
                .secrets(&agent.id, KeyKind::Slack, Some(&app))
                .await?;
            secrets.require(
                || VerifyError::SlackNoKey(app),
                VerifyError::SlackBadSignature,
                |s| slack::check_signature(s, &timestamp, body, signature.expose()),
            )?;
            slack_challenge = payload.challenge;
        }
        Scheme::StandardWebhooks(presented) => {
            let (id, timestamp) = presented.check(chrono::Utc::now().timestamp())?;
            let secrets = lookup
                .secrets(&agent.id, KeyKind::StandardWebhooks, None)
                .await?;
            let header = &presented.signature;
            secrets.require(
                || VerifyError::StandardWebhooksNoKey(agent.id.clone()),
                VerifyError::StandardWebhooksBadSignature,
                |s| standard_webhooks::check_with_secret(s, id, timestamp, body, header.expose()),
            )?;
        }
        Scheme::Stripe { header } => {
            let parsed = stripe::parse(header.expose(), chrono::Utc::now().timestamp())?;
            let secrets = lookup.secrets(&agent.id, KeyKind::Stripe, None).await?;
            secrets.require(
                || VerifyError::StripeNoKey(agent.id.clone()),
                VerifyError::StripeBadSignature,
                |s| stripe::check_signature(s, &parsed, body),
            )?;
        }
        Scheme::Shopify { signature, shop } => {
            let shop =
                shop.ok_or_else(|| VerifyError::MissingHeader("X-Shopify-Shop-Domain".into()))?;
            let secrets = lookup
                .secrets(&agent.id, KeyKind::Shopify, Some(&shop))
                .await?;
            secrets.require(
                || VerifyError::ShopifyNoKey(shop),
                VerifyError::ShopifyBadSignature,
                |s| shopify::check_signature(s, body, signature.expose()),
            )?;
        }
        Scheme::Gitlab { token } => {
            if !lookup
                .digest_is_live(&agent.id, KeyKind::Gitlab, token.expose())
                .await?
            {
                return Err(VerifyError::GitlabInvalidToken(agent.id.clone()).into());
            }
        }
        Scheme::Linear { signature } => {
            let timestamp = linear::webhook_timestamp(body)?;
            let secrets = lookup.secrets(&agent.id, KeyKind::Linear, None).await?;
            secrets.require(
                || VerifyError::LinearNoKey(agent.id.clone()),
                VerifyError::LinearBadSignature,
                |s| linear::check_signature(s, body, signature.expose()),
            )?;
            linear::check_timestamp(timestamp, chrono::Utc::now().timestamp_millis())?;
        }
    }
    Ok(Verified {
        entry: entry.clone(),
        acp_url,
        slack_challenge,
        body: msg.body,
    })
}

/// The agent's `hmac` keys whose signature header the call carries: one
/// must match. With none present the call presents no authentication.
async fn verify_hmac(
    lookup: &Lookup,
    agent: &Agent,
    headers: Option<&HeaderMap>,
    body: &[u8],
) -> Result<(), VerifyFailure> {
    let headers = headers.ok_or(VerifyError::MissingAuthentication)?;
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let keys = lookup.secrets(&agent.id, KeyKind::Hmac, None).await?;
    let now = chrono::Utc::now().timestamp();
    let mut refusal = None;
    let mut presented_any = false;
    let mut passed = false;
    for key in keys.iter() {
        let Some(config) = &key.hmac else { continue };
        let Some(signature) = text(&config.header) else {
            continue;
        };
        presented_any = true;
        let timestamp_header = config.timestamp_header.as_deref();
        match hmac::check_timestamp(config, timestamp_header.and_then(text), now) {
            Ok(timestamp) => {
                let secret = key.secret.expose().as_bytes();
                passed |= hmac::check_signature(config, secret, timestamp, body, signature);
            }
            Err(e) => refusal = refusal.or(Some(e)),
        }
    }
    match (passed, presented_any, refusal) {
        (true, _, _) => Ok(()),
        (false, false, _) => Err(VerifyError::MissingAuthentication.into()),
        (false, true, Some(e)) => Err(e.into()),
        (false, true, None) => Err(VerifyError::HmacBadSignature.into()),
    }
}

fn internal(e: crate::db::DbError) -> VerifyFailure {
    VerifyFailure::Internal(e.to_string())
}

fn is_form(headers: &HeaderMap) -> bool {
    let content_type = headers
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    crate::domain::payload::is_form(content_type)
}
