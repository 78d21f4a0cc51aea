//! The registry: every provider hookgate verifies, one module each under
//! `providers/`, in the order they are asked whether a call is theirs.
//! Adding a provider is its module, its `mod` line and one line in
//! [`PROVIDERS`].

use super::provider::{Call, Provider, Reading, Tolerance};
use crate::domain::{KeyKind, ParseError};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

pub mod api_key;
pub mod discord;
pub mod github;
pub mod gitlab;
pub mod hmac;
pub mod intercom;
pub mod jira;
pub mod linear;
pub mod notion;
pub mod pagerduty;
pub mod sentry;
pub mod shopify;
pub mod slack;
pub mod standard_webhooks;
pub mod stripe;
pub mod twilio;
pub mod zendesk;

/// The providers, in the contract's order of schemes: the first whose
/// headers a call carries verifies it. Generic HMAC comes last: it claims
/// what no other provider does, by the headers its keys name.
pub static PROVIDERS: &[&dyn Provider] = &[
    &api_key::ApiKey,
    &github::Github,
    &slack::Slack,
    &standard_webhooks::StandardWebhooks,
    &stripe::Stripe,
    &shopify::Shopify,
    &gitlab::Gitlab,
    &linear::Linear,
    &sentry::Sentry,
    &pagerduty::PagerDuty,
    &zendesk::Zendesk,
    &notion::Notion,
    &intercom::Intercom,
    &jira::Jira,
    &twilio::Twilio,
    &discord::Discord,
    &hmac::GenericHmac,
];

/// The provider that verifies a call with these headers.
pub fn selected(headers: &HeaderMap) -> &'static dyn Provider {
    PROVIDERS
        .iter()
        .copied()
        .find(|p| p.selects(headers))
        .unwrap_or(generic())
}

/// Generic HMAC: the provider of calls no other claims, and of calls on a
/// shared header for agents without the claiming provider's key.
pub fn generic() -> &'static dyn Provider {
    &hmac::GenericHmac
}

/// What generic HMAC reads from a call `provider` selected, when that
/// provider shares its header with generic keys (it selects by prefix).
pub fn shared_header_reading(provider: &dyn Provider, call: &Call<'_>) -> Option<Reading> {
    if provider.descriptor().selected_by_prefix.is_empty() {
        return None;
    }
    generic().read(call).ok()
}

/// Each provider whose timestamp tolerance is a setting, with it.
pub fn tolerances() -> impl Iterator<Item = (KeyKind, Tolerance)> {
    PROVIDERS
        .iter()
        .filter_map(|p| Some((p.descriptor().kind, p.descriptor().tolerance?)))
}

/// The provider whose keys are of `kind` (none for internal keys).
pub fn of_kind(kind: KeyKind) -> Option<&'static dyn Provider> {
    PROVIDERS
        .iter()
        .copied()
        .find(|p| p.descriptor().kind == kind)
}

/// The provider whose key type is named `name`.
pub fn named(name: &str) -> Option<&'static dyn Provider> {
    PROVIDERS
        .iter()
        .copied()
        .find(|p| p.descriptor().kind.as_str() == name)
}

/// Every key type name, hookgate's `internal` and `outbound` included.
pub fn kinds() -> impl Iterator<Item = KeyKind> {
    PROVIDERS
        .iter()
        .map(|p| p.descriptor().kind)
        .chain([KeyKind::INTERNAL, KeyKind::OUTBOUND])
}

/// The key type named `raw` (`api_key_type`), or a message listing them.
pub fn key_kind(raw: &str) -> Result<KeyKind, ParseError> {
    kinds().find(|k| k.as_str() == raw).ok_or_else(|| {
        let names: Vec<&str> = kinds().map(KeyKind::as_str).collect();
        ParseError(format!(
            "Field 'api_key_type' must be one of {}; got {raw:?}.",
            names.join(", ")
        ))
    })
}

/// The built-in key type that reads `header` (lower case), if any: a
/// generic `hmac` key on it would never be consulted. A header selected by
/// its value's prefix is shared: generic keys on it are consulted for
/// agents without the provider's key.
pub fn claimed_by(header: &str) -> Option<&'static str> {
    PROVIDERS
        .iter()
        .map(|p| p.descriptor())
        .find(|d| {
            (d.selected_by_prefix.is_empty() && d.selected_by.contains(&header))
                || d.credential_headers.contains(&header)
        })
        .map(|d| d.kind.as_str())
}

/// Whether a request header carries a caller's credential (a key or token,
/// never forwarded or stored).
pub fn is_credential(name: &HeaderName, value: &HeaderValue) -> bool {
    PROVIDERS.iter().any(|p| p.is_credential(name, value))
}

/// Whether a header carries a credential or signature of some provider:
/// never put in an ACP event.
pub fn is_secret_header(name: &str) -> bool {
    PROVIDERS.iter().map(|p| p.descriptor()).any(|d| {
        [d.selected_by, d.credential_headers, d.signature_headers]
            .iter()
            .any(|headers| headers.contains(&name))
    })
}

/// Whether a header (not `x-…`) is one a provider sends to describe the
/// event: kept in ACP events unless it carries a secret.
pub fn is_event_header(name: &str) -> bool {
    PROVIDERS.iter().any(|p| {
        p.descriptor()
            .event_headers
            .iter()
            .any(|prefix| name.starts_with(prefix))
    })
}

/// The providers whose events name their actor: what an agent identity
/// (`github:my-agent[bot]`) may start with.
pub fn identity_providers() -> Vec<&'static str> {
    PROVIDERS
        .iter()
        .map(|p| p.descriptor())
        .filter(|d| !d.actors.is_empty())
        .map(|d| d.kind.as_str())
        .collect()
}

/// Who caused an event, as identities (`github:octocat`): each of the
/// provider's actor fields the body has.
pub fn actors(provider: &dyn Provider, body: &Value) -> Vec<String> {
    let descriptor = provider.descriptor();
    descriptor
        .actors
        .iter()
        .filter_map(|path| {
            let text = match super::described::value_at(body, path.iter().copied())? {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return None,
            };
            Some(format!("{}:{text}", descriptor.kind.as_str()))
        })
        .collect()
}

/// The provider's own delivery id of a call (the first provider that finds
/// one), which marks redeliveries.
pub fn redelivery_id(headers: &HeaderMap, body: Option<&Value>) -> Option<String> {
    PROVIDERS
        .iter()
        .find_map(|p| p.redelivery_id(headers, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::headers;

    #[test]
    fn key_kinds_round_trip_through_their_names() {
        for kind in kinds() {
            assert_eq!(key_kind(kind.as_str()).unwrap(), kind);
        }
        assert!(key_kind("GitHub").unwrap_err().0.contains("api_key_type"));
    }

    #[test]
    fn redelivery_ids_come_from_each_providers_delivery_id() {
        let github = headers(&[("x-github-delivery", "d1"), ("x-hub-signature-256", "s")]);
        assert_eq!(redelivery_id(&github, None).as_deref(), Some("github:d1"));
        let webhook = headers(&[("webhook-id", "msg_1")]);
        assert_eq!(
            redelivery_id(&webhook, None).as_deref(),
            Some("webhook:msg_1")
        );
        let slack = headers(&[("x-slack-signature", "v0=00")]);
        let body = serde_json::json!({"event_id": "Ev1", "api_app_id": "A1"});
        assert_eq!(
            redelivery_id(&slack, Some(&body)).as_deref(),
            Some("slack:Ev1")
        );
        assert_eq!(
            redelivery_id(&HeaderMap::new(), Some(&body)),
            None,
            "event_id counts only for Slack"
        );
    }

    #[test]
    fn kinds_and_selecting_headers_are_unique() {
        let names: Vec<&str> = kinds().map(KeyKind::as_str).collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        for p in PROVIDERS {
            for header in p.descriptor().selected_by {
                assert_eq!(header.to_ascii_lowercase(), *header, "lower case");
            }
        }
    }
}
