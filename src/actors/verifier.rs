//! `VerifierActor`: decides whether a forward call may reach its agent.
//! One runs on each HTTP worker; the checks themselves live in `verify/`.

use super::key_store::{CheckExternalKey, FindSigningSecret, KeyStoreActor, LookupAgent};
use crate::db::agents::Agent;
use crate::db::routes::Route;
use crate::domain::{KeyKind, Secret};
use crate::verify::{github, slack, Scheme, VerifyError};
use actix::prelude::*;
use actix_web::http::header::HeaderMap;
use bytes::Bytes;

pub struct VerifierActor {
    key_store: Addr<KeyStoreActor>,
    slack_tolerance_secs: u64,
}

impl VerifierActor {
    pub fn new(key_store: Addr<KeyStoreActor>, slack_tolerance_secs: u64) -> Self {
        Self {
            key_store,
            slack_tolerance_secs,
        }
    }
}

impl Actor for VerifierActor {
    type Context = Context<Self>;
}

/// A call to verify: the agent it names, its headers and raw body.
#[derive(Message)]
#[rtype(result = "Result<Verified, VerifyFailure>")]
pub struct Verify {
    pub agent_name: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A call that passed: the agent it may reach and what hookgate must answer itself.
#[derive(Debug)]
pub struct Verified {
    pub agent: Agent,
    /// The agent's routes, to pick how the call is handled.
    pub routes: Vec<Route>,
    pub acp_url: String,
    /// Set for a signed Slack `url_verification`: hookgate answers with it.
    pub slack_challenge: Option<String>,
    pub body: Bytes,
    pub headers: HeaderMap,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyFailure {
    #[error(transparent)]
    Refused(#[from] VerifyError),
    #[error("key store unavailable: {0}")]
    Internal(String),
}

impl Handler<Verify> for VerifierActor {
    type Result = ResponseFuture<Result<Verified, VerifyFailure>>;

    fn handle(&mut self, msg: Verify, _: &mut Self::Context) -> Self::Result {
        let key_store = self.key_store.clone();
        let tolerance = self.slack_tolerance_secs;
        Box::pin(async move { verify(key_store, tolerance, msg).await })
    }
}

async fn ask<M>(key_store: &Addr<KeyStoreActor>, msg: M) -> Result<M::Result, VerifyFailure>
where
    M: Message + Send + 'static,
    M::Result: Send,
    KeyStoreActor: Handler<M>,
{
    key_store
        .send(msg)
        .await
        .map_err(|e| VerifyFailure::Internal(e.to_string()))
}

async fn verify(
    key_store: Addr<KeyStoreActor>,
    slack_tolerance_secs: u64,
    msg: Verify,
) -> Result<Verified, VerifyFailure> {
    let not_found = || VerifyError::AgentNotFound(msg.agent_name.clone());
    let (agent, routes) = ask(
        &key_store,
        LookupAgent {
            name: msg.agent_name.clone(),
        },
    )
    .await?
    .map_err(internal)?
    .ok_or_else(not_found)?;
    let acp_url = agent
        .acp_url
        .clone()
        .filter(|u| !u.is_empty())
        .ok_or_else(not_found)?;

    let mut slack_challenge = None;
    match Scheme::from_headers(&msg.headers)? {
        Scheme::ApiKey(key) => {
            let check = CheckExternalKey {
                agent_id: agent.id.clone(),
                key: Secret::new(key),
            };
            if !ask(&key_store, check).await?.map_err(internal)? {
                return Err(VerifyError::InvalidApiKey(agent.id.clone()).into());
            }
        }
        Scheme::Github { signature } => {
            let repo = github::repository_name(&msg.body)?;
            let secret = find_secret(&key_store, &agent, KeyKind::Github, &repo)
                .await?
                .ok_or(VerifyError::GithubNoKey(repo))?;
            if !github::check_signature(secret.expose().as_bytes(), &msg.body, &signature) {
                return Err(VerifyError::GithubBadSignature.into());
            }
        }
        Scheme::Slack {
            signature,
            timestamp,
        } => {
            let now = chrono::Utc::now().timestamp();
            slack::check_timestamp(timestamp.as_deref(), now, slack_tolerance_secs)?;
            let timestamp = timestamp.unwrap_or_default();
            let payload = slack::parse_payload(&msg.body, is_form(&msg.headers))?;
            let secret = find_secret(&key_store, &agent, KeyKind::Slack, &payload.api_app_id)
                .await?
                .ok_or(VerifyError::SlackNoKey(payload.api_app_id))?;
            if !slack::check_signature(
                secret.expose().as_bytes(),
                &timestamp,
                &msg.body,
                &signature,
            ) {
                return Err(VerifyError::SlackBadSignature.into());
            }
            slack_challenge = payload.challenge;
        }
    }
    Ok(Verified {
        agent,
        routes,
        acp_url,
        slack_challenge,
        body: msg.body,
        headers: msg.headers,
    })
}

async fn find_secret(
    key_store: &Addr<KeyStoreActor>,
    agent: &Agent,
    kind: KeyKind,
    name: &str,
) -> Result<Option<Secret>, VerifyFailure> {
    let msg = FindSigningSecret {
        agent_id: agent.id.clone(),
        kind,
        name: name.to_owned(),
    };
    ask(key_store, msg).await?.map_err(internal)
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
