//! What a provider is to hookgate: one value (a [`Descriptor`]) and one
//! [`Provider`] impl, in the provider's own module. The verifier, intake,
//! forwarder, key routes and webhook-trigger read these and name no
//! provider; adding one is its module plus a line in `registry.rs`.

pub use super::reading::{Answer, Call, Own, Reading};

use super::described::{ConversationRule, Match};
use super::sample::{Sample, SampleRequest};
use super::VerifyError;
use crate::domain::{Actor, KeyKind, Secret, TimedSecret};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

/// Everything about a provider that is data.
#[derive(Debug)]
pub struct Descriptor {
    /// Its key type: `api_key_type` of its keys, webhook-trigger `source`.
    pub kind: KeyKind,
    /// Headers whose presence picks this provider; providers are asked in
    /// registry order and the first that recognises a call verifies it.
    pub selected_by: &'static [&'static str],
    /// What the selecting header's value starts with, when the header is
    /// shared (`X-Hub-Signature`: `sha1=` for one provider, `sha256=` for
    /// another); empty
    /// when the header alone selects. A provider selected by prefix shares
    /// its header with generic `hmac` keys too: an agent without a key of
    /// its type has its `hmac` keys on that header tried instead.
    pub selected_by_prefix: &'static str,
    /// Headers holding the caller's credential itself (a key or token):
    /// never forwarded, stored with a delivery, or put in an ACP event.
    pub credential_headers: &'static [&'static str],
    /// Headers holding a signature: forwarded and stored (an agent may check
    /// it again; it proves nothing without the secret), never put in an ACP
    /// event.
    pub signature_headers: &'static [&'static str],
    /// Prefixes of the provider's own headers that describe the event and
    /// go into ACP events, besides the `x-…` headers every provider's do.
    pub event_headers: &'static [&'static str],
    /// Every other header the provider reads (a timestamp, a signed id, a
    /// setting, the shop): with the ones above, all it looks at.
    pub reads: &'static [&'static str],
    /// Where the secret comes from, for key creation and webhook-trigger.
    pub secret: SecretSource,
    /// Headers carrying the provider's delivery id, first present wins;
    /// redeliveries of one id are stored once. Providers that put the id in
    /// the body override [`Provider::redelivery_id`].
    pub redelivery_headers: &'static [&'static str],
    /// Prefix of the stored redelivery id (`<prefix>:<id>`).
    pub redelivery_prefix: &'static str,
    /// Where the body names who caused the event (JSON paths; numbers index
    /// arrays). Each one present is an actor `<kind>:<value>`, which the
    /// loop guard compares with the agent's own identities.
    pub actors: &'static [&'static [&'static str]],
    /// What makes the actor a bot (any one holding).
    pub bots: &'static [Match],
    /// How an event names its conversation (`{conversation}`), rules tried
    /// in order; empty for a provider without a notion of one.
    pub conversation: &'static [ConversationRule],
    /// The provider's set-up and liveness calls (a ping), answered by
    /// hookgate on routes that store events; any one holding.
    pub handshakes: &'static [Match],
    /// The refusals every provider has, in its own words.
    pub messages: Messages,
    /// Its timestamp tolerance, when that is a setting.
    pub tolerance: Option<Tolerance>,
}

/// A provider's timestamp tolerance setting: a `hookgate serve` flag and
/// its environment variable.
#[derive(Debug, Clone, Copy)]
pub struct Tolerance {
    /// The flag, without its dashes (`<type>-tolerance-secs`).
    pub flag: &'static str,
    /// The environment variable (`HOOKGATE_<TYPE>_TOLERANCE_SECS`).
    pub env: &'static str,
    /// The flag's help text.
    pub help: &'static str,
    pub default_secs: u64,
}

/// Who makes a provider's secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretSource {
    /// hookgate generates it when none is given ([`Provider::generate_secret`]).
    Generated,
    /// The provider makes it; `found_in` says where the user copies it from.
    ProviderMade { found_in: &'static str },
    /// The provider's public key, which it verifies against (an asymmetric
    /// signature): never generated, so required at key creation too.
    PublicKey { found_in: &'static str },
    /// Not a webhook-trigger source (hookgate's own API keys, generic HMAC):
    /// generated when none is given.
    NotATrigger,
}

/// Refusal messages, the contract's exact words. `{name}` stands for the
/// name the call gives its key (repository, app, shop), `{agent}` for the
/// agent's id.
#[derive(Debug, Clone, Copy)]
pub struct Messages {
    /// No key could have signed the call: 404 (401 for digest kinds, where
    /// an unknown value and a wrong one are the same thing).
    pub no_key: &'static str,
    /// Keys exist but none signed the call: 401.
    pub bad_signature: &'static str,
}

impl SecretSource {
    /// Where the user finds a value hookgate cannot make, if so.
    pub fn found_in(self) -> Option<&'static str> {
        match self {
            Self::ProviderMade { found_in } | Self::PublicKey { found_in } => Some(found_in),
            Self::Generated | Self::NotATrigger => None,
        }
    }
}

impl Messages {
    pub fn no_key(&self, name: &str, agent: &str) -> String {
        fill(self.no_key, name, agent)
    }

    pub fn bad_signature(&self, name: &str, agent: &str) -> String {
        fill(self.bad_signature, name, agent)
    }
}

fn fill(template: &str, name: &str, agent: &str) -> String {
    template.replace("{name}", name).replace("{agent}", agent)
}

/// A delivery id the provider puts in the body at `path`, prefixed, for a
/// call the provider selects.
pub fn body_redelivery_id(
    provider: &dyn Provider,
    headers: &HeaderMap,
    body: Option<&Value>,
    path: &[&str],
) -> Option<String> {
    if !provider.selects(headers) {
        return None;
    }
    let id = path.iter().try_fold(body?, |v, key| v.get(key))?.as_str()?;
    let prefix = provider.descriptor().redelivery_prefix;
    (!id.is_empty()).then(|| format!("{prefix}:{id}"))
}

/// A provider: its descriptor and the checks only it knows.
pub trait Provider: Sync + std::fmt::Debug {
    fn descriptor(&self) -> &'static Descriptor;

    /// Whether the call is this provider's (default: one of the
    /// descriptor's `selected_by` headers is present, readable, and starts
    /// with `selected_by_prefix`).
    fn selects(&self, headers: &HeaderMap) -> bool {
        let d = self.descriptor();
        d.selected_by.iter().any(|name| {
            headers
                .get(*name)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with(d.selected_by_prefix))
        })
    }

    /// Reads what the call presents, before any key: the key's name, the
    /// credential, timestamps. Refuses a malformed or stale call. The
    /// default reads the first signature header's value as the credential.
    fn read(&self, call: &Call<'_>) -> Result<Reading, VerifyError> {
        let header = self.descriptor().signature_headers.first();
        let signature = header
            .and_then(|name| call.header(name))
            .unwrap_or_default();
        Ok(Reading {
            credential: Some(Secret::new(signature.to_owned())),
            ..Reading::default()
        })
    }

    /// Whether `key` signed the call, in constant time. Digest kinds are
    /// never asked: their credential is found by its digest.
    fn signed_by(&self, reading: &Reading, body: &[u8], key: &TimedSecret) -> bool;

    /// Which of `keys` (live, possibly none) passes the call, by its
    /// index: the default refuses with `no_key` when there are none and
    /// `bad_signature` when none signed it. Every key is tried, so timing
    /// says nothing of which.
    fn judge(
        &self,
        reading: &Reading,
        body: &[u8],
        keys: &[&TimedSecret],
        agent_id: &str,
        _now: i64,
    ) -> Result<usize, VerifyError> {
        let messages = &self.descriptor().messages;
        let name = reading.key_name.as_deref().unwrap_or("");
        if keys.is_empty() {
            return Err(VerifyError::not_found(messages.no_key(name, agent_id)));
        }
        let passed = keys.iter().enumerate().fold(None, |found, (i, key)| {
            let signed = self.signed_by(reading, body, key);
            found.or(signed.then_some(i))
        });
        passed.ok_or_else(|| VerifyError::unauthorized(messages.bad_signature(name, agent_id)))
    }

    /// A check made only once a key matched (a body timestamp is believed
    /// only when signed); `now_ms` is Unix milliseconds.
    fn after_match(&self, _reading: &Reading, _now_ms: i64) -> Result<(), VerifyError> {
        Ok(())
    }

    /// The provider's delivery id (default: the first `redelivery_headers`
    /// present), prefixed.
    fn redelivery_id(&self, headers: &HeaderMap, _body: Option<&Value>) -> Option<String> {
        let d = self.descriptor();
        d.redelivery_headers.iter().find_map(|name| {
            let id = headers.get(*name)?.to_str().ok()?;
            (!id.is_empty()).then(|| format!("{}:{id}", d.redelivery_prefix))
        })
    }

    /// Who caused the event (default: from the descriptor's `actors` and
    /// `bots`); a provider that says more about trust adds it.
    fn actor(&self, body: &Value) -> Option<Actor> {
        super::described::actor_from_descriptor(self.descriptor(), body)
    }

    /// Whether a request header carries the caller's credential (default:
    /// it is one of `credential_headers`).
    fn is_credential(&self, name: &HeaderName, _value: &HeaderValue) -> bool {
        self.descriptor()
            .credential_headers
            .contains(&name.as_str())
    }

    /// A new secret in the provider's format (64 hex characters unless it
    /// says otherwise).
    fn generate_secret(&self) -> Secret {
        crate::domain::generate_key()
    }

    /// Why a given secret cannot be this provider's: the end of "Field
    /// 'api_key' must be …".
    fn secret_refusal(&self, _secret: &str) -> Option<&'static str> {
        None
    }

    /// Whether its keys carry `hmac` settings (which header, algorithm,
    /// signed content) given at creation.
    fn takes_hmac_settings(&self) -> bool {
        false
    }

    /// A sample call signed with a key as the provider would sign it
    /// (`send-test`); `None` when hookgate cannot sign for the provider
    /// (it holds only a digest or a public key).
    fn sample(&self, _request: &SampleRequest<'_>) -> Option<Sample> {
        None
    }
}
