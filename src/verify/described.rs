//! What a provider's descriptor says about a verified call beyond who sent
//! it: the conversation the event belongs to, whether it is a set-up or
//! liveness call (a handshake), and who caused it. All of it is data in
//! the provider's one file ([`Descriptor::conversation`],
//! [`Descriptor::handshakes`], [`Descriptor::bots`]); this module reads it.

use super::provider::{Descriptor, Provider};
use super::providers::PROVIDERS;
use crate::domain::payload::LazyJson;
use crate::domain::{Actor, CallSource, Template, TemplateInput};
use actix_web::http::header::HeaderMap;
use serde_json::Value;
use std::borrow::Cow;
use std::sync::LazyLock;

/// A test of one call field, written as data: `field` names it as a
/// template does (`header.x-github-event`, `body.event.type`); `is` is the
/// text it must be, a final `*` making it a prefix (`*` alone: present).
#[derive(Debug, Clone, Copy)]
pub struct Match {
    pub field: &'static str,
    pub is: &'static str,
}

/// One way a provider's events name their conversation: when `when` holds
/// (always when None), the conversation is `key` rendered (a template over
/// `body.` and `header.` fields, alternatives allowed); a rule whose key
/// cannot be rendered gives way to the next.
#[derive(Debug, Clone, Copy)]
pub struct ConversationRule {
    pub when: Option<Match>,
    pub key: &'static str,
}

impl Match {
    pub const fn new(field: &'static str, is: &'static str) -> Self {
        Self { field, is }
    }

    /// Whether the call's field has the text (absent and null never do).
    pub fn holds(&self, headers: &HeaderMap, body: Option<&Value>) -> bool {
        let Some(text) = field_text(self.field, headers, body) else {
            return false;
        };
        match self.is.strip_suffix('*') {
            Some(prefix) => text.starts_with(prefix),
            None => text == self.is,
        }
    }

    /// The literal a body must contain for the match to hold: a cheap look
    /// at the raw bytes before the body is parsed.
    fn needle(&self) -> &'static str {
        self.is.trim_end_matches('*')
    }
}

/// A `header.` or `body.` field's text (a JSON string as is, another value
/// as JSON); None when absent or null.
fn field_text<'a>(
    field: &str,
    headers: &'a HeaderMap,
    body: Option<&'a Value>,
) -> Option<Cow<'a, str>> {
    if let Some(name) = field.strip_prefix("header.") {
        return headers.get(name)?.to_str().ok().map(Cow::Borrowed);
    }
    let path = field.strip_prefix("body.")?;
    match value_at(body?, path.split('.'))? {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Null => None,
        other => Some(Cow::Owned(other.to_string())),
    }
}

/// A conversation rule with its key parsed.
type ParsedRule = (Option<Match>, Template);

/// The value at a JSON path (numbers index arrays).
pub fn value_at<'v, 'p>(
    body: &'v Value,
    path: impl IntoIterator<Item = &'p str>,
) -> Option<&'v Value> {
    path.into_iter().try_fold(body, |v, segment| match v {
        Value::Array(items) => items.get(segment.parse::<usize>().ok()?),
        other => other.get(segment),
    })
}

/// Each provider's conversation rules with their keys parsed, in registry
/// order; parsed once (a descriptor's key that does not parse is a bug the
/// unit tests catch, and is skipped).
static RULES: LazyLock<Vec<Vec<ParsedRule>>> = LazyLock::new(|| {
    PROVIDERS
        .iter()
        .map(|p| {
            let rules = p.descriptor().conversation.iter();
            rules
                .filter_map(|r| Some((r.when, Template::parse("conversation", r.key).ok()?)))
                .collect()
        })
        .collect()
});

/// Whether the provider's events name a conversation at all.
pub fn has_conversation(descriptor: &Descriptor) -> bool {
    !descriptor.conversation.is_empty()
}

/// The conversation of a call the provider verified.
fn conversation(provider: &dyn Provider, input: &TemplateInput<'_>) -> Option<String> {
    let kind = provider.descriptor().kind;
    let at = PROVIDERS.iter().position(|p| p.descriptor().kind == kind)?;
    RULES[at].iter().find_map(|(when, key)| {
        if when.is_some_and(|m| !m.holds(input.headers, input.body)) {
            return None;
        }
        key.render(input).ok().filter(|k| !k.is_empty())
    })
}

/// Whether the call is one of the provider's set-up or liveness calls,
/// which hookgate answers itself on routes that store events. The body is
/// parsed only when it holds a handshake's text.
pub fn is_handshake(provider: &dyn Provider, headers: &HeaderMap, body: &LazyJson<'_>) -> bool {
    let handshakes = provider.descriptor().handshakes;
    handshakes.iter().any(|m| {
        if !m.field.starts_with("body.") {
            return m.holds(headers, None);
        }
        // Most calls are no handshake: the body is parsed only when it
        // holds the value looked for.
        contains(body.body(), m.needle().as_bytes()) && body.with(|json| m.holds(headers, json))
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// The actor from the descriptor's data: the first actor field present
/// is the id; a `bots` match makes it a bot.
pub fn actor_from_descriptor(descriptor: &Descriptor, body: &Value) -> Option<Actor> {
    let headers = HeaderMap::new();
    let id =
        descriptor
            .actors
            .iter()
            .find_map(|path| match value_at(body, path.iter().copied())? {
                Value::String(s) if !s.is_empty() => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })?;
    let bot = descriptor
        .bots
        .iter()
        .any(|m| m.holds(&headers, Some(body)));
    Some(Actor {
        id,
        bot,
        association: None,
        fork: None,
    })
}

/// A verifying provider as templates and conditions see it.
pub struct Described(pub &'static dyn Provider);

impl CallSource for Described {
    fn provider_name(&self) -> &'static str {
        self.0.descriptor().kind.as_str()
    }

    fn conversation(&self, input: &TemplateInput<'_>) -> Option<String> {
        conversation(self.0, input)
    }

    fn actor(&self, body: &Value) -> Option<Actor> {
        self.0.actor(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_descriptors_conversation_keys_parse() {
        for (p, parsed) in PROVIDERS.iter().zip(RULES.iter()) {
            let d = p.descriptor();
            assert_eq!(parsed.len(), d.conversation.len(), "{}", d.kind.as_str());
            for rule in d
                .conversation
                .iter()
                .flat_map(|r| r.when)
                .chain(d.handshakes.iter().copied())
                .chain(d.bots.iter().copied())
            {
                assert!(
                    rule.field.starts_with("body.") || rule.field.starts_with("header."),
                    "{}: {}",
                    d.kind.as_str(),
                    rule.field
                );
            }
        }
    }

    /// The conversation `kind`'s descriptor reads from a call.
    fn conversation_of(
        kind: &str,
        headers: &[(&'static str, &'static str)],
        body: Value,
    ) -> Option<String> {
        let provider = crate::verify::providers::named(kind).expect(kind);
        let headers = crate::test_support::headers(headers);
        let source = Described(provider);
        let input = TemplateInput {
            body: Some(&body),
            headers: &headers,
            path: "",
            source: Some(&source),
        };
        source.conversation(&input)
    }

    /// Each provider's conversation from payloads shaped as its
    /// documentation shows them (the GitHub, Slack, Linear and GitLab ones
    /// are driven end to end in tests/api/conversations.rs).
    #[test]
    fn each_provider_names_its_conversation() {
        use serde_json::json;
        type Case = (
            &'static str,
            Vec<(&'static str, &'static str)>,
            Value,
            Option<&'static str>,
        );
        let cases: Vec<Case> = vec![
            (
                "github",
                vec![],
                json!({"repository": {"full_name": "o/r"}, "discussion": {"number": 4},
                "comment": {"id": 1}}),
                Some("github:o/r/discussions/4"),
            ),
            (
                "github",
                vec![],
                json!({"repository": {"full_name": "o/r"},
                "workflow_run": {"pull_requests": [{"number": 9}]}}),
                Some("github:o/r#9"),
            ),
            (
                "github",
                vec![],
                json!({"repository": {"full_name": "o/r"},
                "check_suite": {"pull_requests": []}}),
                None,
            ),
            (
                "jira",
                vec![],
                json!({"webhookEvent": "comment_created",
                "issue": {"id": "10002", "key": "PROJ-12"}}),
                Some("jira:PROJ-12"),
            ),
            (
                "sentry",
                vec![],
                json!({"action": "created", "data": {"issue": {"id": "1170820242"}}}),
                Some("sentry:1170820242"),
            ),
            (
                "sentry",
                vec![],
                json!({"action": "created", "data": {"error": {"issue_id": "117"}}}),
                Some("sentry:117"),
            ),
            (
                "sentry",
                vec![],
                json!({"action": "created", "data": {"comment_id": "1", "issue_id": 100}}),
                Some("sentry:100"),
            ),
            (
                "pagerduty",
                vec![],
                json!({"event": {"event_type": "incident.triggered",
                "data": {"id": "PGR0VU2", "type": "incident"}}}),
                Some("pagerduty:PGR0VU2"),
            ),
            (
                "pagerduty",
                vec![],
                json!({"event": {"event_type": "incident.annotated",
                "data": {"incident": {"id": "PGR0VU2", "type": "incident_reference"},
                         "type": "incident_note"}}}),
                Some("pagerduty:PGR0VU2"),
            ),
            (
                "pagerduty",
                vec![],
                json!({"event": {"event_type": "service.updated",
                "data": {"id": "PSVC", "type": "service"}}}),
                None,
            ),
            (
                "zendesk",
                vec![],
                json!({"type": "zen:event-type:ticket.comment_added",
                "account_id": 12514403, "detail": {"id": "35436"}, "subject": "zen:ticket:35436"}),
                Some("zendesk:12514403/35436"),
            ),
            (
                "zendesk",
                vec![],
                json!({"type": "zen:event-type:user.created",
                "account_id": 1, "detail": {"id": "7"}}),
                None,
            ),
            (
                "intercom",
                vec![],
                json!({"type": "notification_event", "app_id": "a86dr8yl",
                "topic": "conversation.user.replied",
                "data": {"item": {"type": "conversation", "id": "147"}}}),
                Some("intercom:a86dr8yl/147"),
            ),
            (
                "discord",
                vec![],
                json!({"type": 2, "guild_id": "G1", "channel_id": "C1",
                "member": {"user": {"id": "U1"}}}),
                Some("discord:G1/C1"),
            ),
            (
                "discord",
                vec![],
                json!({"type": 2, "channel_id": "C2", "user": {"id": "U1"}}),
                Some("discord:@me/C2"),
            ),
            (
                "twilio",
                vec![],
                json!({"AccountSid": "AC1", "From": "+15550001", "To": "+15550002",
                "Body": "hi"}),
                Some("twilio:AC1:+15550002:+15550001"),
            ),
            (
                "notion",
                vec![],
                json!({"workspace_id": "W", "type": "comment.created",
                "entity": {"id": "CM", "type": "comment"}, "data": {"page_id": "P"}}),
                Some("notion:W/P"),
            ),
            (
                "notion",
                vec![],
                json!({"workspace_id": "W", "type": "page.content_updated",
                "entity": {"id": "P", "type": "page"}, "data": {"parent": {"id": "D"}}}),
                Some("notion:W/P"),
            ),
            (
                "stripe",
                vec![],
                json!({"id": "evt_1", "type": "payment_intent.succeeded",
                "data": {"object": {"id": "pi_1", "object": "payment_intent"}}}),
                Some("stripe:pi_1"),
            ),
            (
                "shopify",
                vec![("x-shopify-shop-domain", "shop.myshopify.com")],
                json!({"id": 820982911946154508u64,
                       "admin_graphql_api_id": "gid://shopify/Order/820982911946154508"}),
                Some("shopify:shop.myshopify.com/gid://shopify/Order/820982911946154508"),
            ),
            (
                "standard_webhooks",
                vec![],
                json!({"type": "x", "data": {"id": "1"}}),
                None,
            ),
            ("external", vec![], json!({"id": "1"}), None),
        ];
        for (kind, headers, body, expected) in cases {
            let got = conversation_of(kind, &headers, body.clone());
            assert_eq!(got.as_deref(), expected, "{kind}: {body}");
        }
    }

    #[test]
    fn handshakes_are_recognised_without_parsing_other_bodies() {
        let named = |kind| crate::verify::providers::named(kind).unwrap();
        let none = HeaderMap::new();
        let is_handshake = |p, h, b: &[u8]| is_handshake(p, h, &LazyJson::new(b, false));
        let ping = br#"{"event":{"event_type":"pagey.ping","data":{"type":"ping"}}}"#;
        assert!(is_handshake(named("pagerduty"), &none, ping));
        let triggered = br#"{"event":{"event_type":"incident.triggered"}}"#;
        assert!(!is_handshake(named("pagerduty"), &none, triggered));
        assert!(is_handshake(
            named("intercom"),
            &none,
            br#"{"topic":"ping"}"#
        ));
        let github = crate::test_support::headers(&[("x-github-event", "ping")]);
        assert!(is_handshake(named("github"), &github, b"{}"));
        assert!(!is_handshake(named("stripe"), &github, b"{}"));
    }

    #[test]
    fn matches_compare_text_prefixes_and_presence() {
        let body = serde_json::json!({"event": {"type": "pagey.ping", "n": 7, "none": null}});
        let headers = crate::test_support::headers(&[("x-github-event", "ping")]);
        let holds = |field, is| Match::new(field, is).holds(&headers, Some(&body));
        assert!(holds("header.x-github-event", "ping"));
        assert!(!holds("header.x-github-event", "pin"));
        assert!(holds("body.event.type", "pagey.*"));
        assert!(holds("body.event.n", "7"));
        assert!(holds("body.event.n", "*"));
        assert!(!holds("body.event.none", "*"));
        assert!(!holds("body.event.missing", "*"));
    }
}
