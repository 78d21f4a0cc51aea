//! Slack requests: `X-Slack-Signature: v0=<hex HMAC-SHA256(secret, "v0:{ts}:{body}")>`
//! with `X-Slack-Request-Timestamp`, the secret named by the payload's `api_app_id`.
//! Bodies are JSON (Events API) or forms (slash commands; interactivity sends
//! its JSON in the `payload` field).

use crate::domain::json_fields::{self, Field};
use crate::domain::{KeyKind, KeyLookup, Secret, TimedSecret};
use crate::verify::described::{ConversationRule, Match};
use crate::verify::provider::{
    body_redelivery_id, Answer, Call, Descriptor, Messages, Provider, Reading, SecretSource,
    Tolerance,
};
use crate::verify::sample::{Sample, SampleRequest};
use crate::verify::{hmac_sha256, VerifyError};
use actix_web::http::header::HeaderMap;
use serde_json::json;
use serde_json::Value;

pub const SIGNATURE_HEADER: &str = "x-slack-signature";
pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
/// Slack's own libraries accept five minutes either way.
const DEFAULT_TOLERANCE_SECS: u64 = 300;

pub static DESCRIPTOR: Descriptor = Descriptor {
    kind: KeyKind::new("slack", KeyLookup::Named),
    selected_by: &[SIGNATURE_HEADER],
    selected_by_prefix: "",
    credential_headers: &[],
    signature_headers: &[SIGNATURE_HEADER],
    event_headers: &[],
    reads: &[TIMESTAMP_HEADER],
    secret: SecretSource::ProviderMade {
        found_in: "the Slack app's settings (signing secret)",
    },
    redelivery_headers: &[],
    redelivery_prefix: "slack",
    actors: &[&["event", "bot_id"], &["event", "user"], &["user", "id"]],
    bots: &[
        Match::new("body.event.bot_id", "*"),
        Match::new("body.event.subtype", "bot_message"),
    ],
    conversation: &[
        // Events API: a reply's thread, else the message that starts one
        // (an edit names its message; a reaction its item).
        ConversationRule {
            when: Some(Match::new("body.type", "event_callback")),
            key: "slack:{body.team_id}:{body.event.channel|body.event.item.channel}:\
                  {body.event.thread_ts|body.event.message.thread_ts|body.event.message.ts\
                  |body.event.ts|body.event.item.ts}",
        },
        // Interactivity (the form's `payload`): its message's thread.
        ConversationRule {
            when: None,
            key: "slack:{body.team.id}:{body.channel.id|body.container.channel_id}:\
                  {body.message.thread_ts|body.container.thread_ts|body.message.ts\
                  |body.container.message_ts}",
        },
    ],
    handshakes: &[],
    messages: Messages {
        no_key: "No API key found for Slack app {name}.",
        bad_signature: "Invalid Slack webhook signature",
    },
    tolerance: Some(Tolerance {
        flag: "slack-tolerance-secs",
        env: "HOOKGATE_SLACK_TOLERANCE_SECS",
        help:
            "Largest accepted distance between a Slack timestamp and now, in seconds [default: 300]",
        default_secs: DEFAULT_TOLERANCE_SECS,
    }),
};

#[derive(Debug)]
pub struct Slack;

impl Provider for Slack {
    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    fn sample(&self, request: &SampleRequest<'_>) -> Option<Sample> {
        let body = request.json_body(json!({
            "type": "event_callback", "api_app_id": request.key_name,
            "event_id": format!("Ev{}", request.now), "event_time": request.now,
            "event": {"type": "message", "channel": "C0HOOKGATE", "user": "U0HOOKGATE",
                      "text": "hookgate send-test", "ts": format!("{}.000100", request.now)},
        }));
        let timestamp = request.now.to_string();
        let signature = sign(request.secret(), &timestamp, &body);
        let headers = [(TIMESTAMP_HEADER, timestamp), (SIGNATURE_HEADER, signature)];
        Some(request.json_call(body, &headers))
    }

    fn read(&self, call: &Call<'_>) -> Result<Reading, VerifyError> {
        let timestamp = call.header(TIMESTAMP_HEADER);
        check_timestamp(timestamp, call.now, call.tolerance(DEFAULT_TOLERANCE_SECS))?;
        let payload = parse_payload(call.body, call.is_form)?;
        Ok(Reading {
            key_name: Some(payload.api_app_id),
            credential: call
                .header(SIGNATURE_HEADER)
                .map(|s| Secret::new(s.to_owned())),
            timestamp: timestamp.map(str::to_owned),
            answer: payload.challenge.map(|body| Answer {
                content_type: "text/plain",
                body,
            }),
            ..Reading::default()
        })
    }

    fn signed_by(&self, reading: &Reading, body: &[u8], key: &TimedSecret) -> bool {
        let secret = key.secret.expose().as_bytes();
        check_signature(secret, reading.timestamp(), body, reading.credential())
    }

    /// Events API deliveries carry their id in the body.
    fn redelivery_id(&self, headers: &HeaderMap, body: Option<&Value>) -> Option<String> {
        body_redelivery_id(self, headers, body, &["event_id"])
    }
}

fn missing_timestamp() -> VerifyError {
    VerifyError::unauthorized("Missing X-Slack-Request-Timestamp header.")
}

fn invalid_timestamp() -> VerifyError {
    VerifyError::bad_request("Invalid X-Slack-Request-Timestamp header value.")
}

fn stale_timestamp() -> VerifyError {
    VerifyError::stale_timestamp("Slack webhook request has bad timestamp.")
}

fn invalid_request() -> VerifyError {
    VerifyError::bad_request("Invalid Slack verification request.")
}

fn missing_app_id() -> VerifyError {
    VerifyError::bad_request("Slack webhook payload missing API app ID.")
}

/// The timestamp, checked to be an integer within `tolerance_secs` of `now`.
pub fn check_timestamp(
    header: Option<&str>,
    now: i64,
    tolerance_secs: u64,
) -> Result<i64, VerifyError> {
    let raw = header.ok_or_else(missing_timestamp)?;
    let ts: i64 = raw.trim().parse().map_err(|_| invalid_timestamp())?;
    if now.abs_diff(ts) > tolerance_secs {
        return Err(stale_timestamp());
    }
    Ok(ts)
}

/// What hookgate needs from a Slack body before it can verify it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackPayload {
    pub api_app_id: String,
    /// The `challenge` of a `url_verification` request, answered by hookgate.
    pub challenge: Option<String>,
}

/// The fields a Slack body is read for before it is verified.
const WANTED: [&[&str]; 3] = [&["api_app_id"], &["type"], &["challenge"]];

/// Reads `api_app_id` (and a URL-verification challenge) from a JSON or form
/// body, without building the body: it is not verified yet.
pub fn parse_payload(body: &[u8], is_form: bool) -> Result<SlackPayload, VerifyError> {
    match json_fields::find(body, &WANTED) {
        Ok(found) => from_fields(&found),
        Err(_) if is_form => from_form(body),
        Err(_) => Err(invalid_request()),
    }
}

fn from_fields(found: &[Field<'_>]) -> Result<SlackPayload, VerifyError> {
    let [app, kind, challenge] = found else {
        unreachable!("three paths asked, three fields found")
    };
    if matches!(app, Field::NotObject) {
        return Err(invalid_request());
    }
    payload(app.as_str(), kind.as_str(), challenge.as_str())
}

/// A form: its `payload` field when that holds a JSON object
/// (interactivity), else its fields themselves (slash commands).
fn from_form(body: &[u8]) -> Result<SlackPayload, VerifyError> {
    let fields: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|_| invalid_request())?;
    if let Some((_, inner)) = fields.iter().find(|(k, _)| k == "payload") {
        let found = json_fields::find(inner.as_bytes(), &WANTED).map_err(|_| invalid_request())?;
        return from_fields(&found);
    }
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    payload(field("api_app_id"), field("type"), field("challenge"))
}

fn payload(
    app: Option<&str>,
    kind: Option<&str>,
    challenge: Option<&str>,
) -> Result<SlackPayload, VerifyError> {
    let api_app_id = app
        .filter(|v| !v.is_empty())
        .ok_or_else(missing_app_id)?
        .to_owned();
    let challenge = (kind == Some("url_verification"))
        .then_some(challenge)
        .flatten()
        .map(str::to_owned);
    Ok(SlackPayload {
        api_app_id,
        challenge,
    })
}

/// True when `header` is `v0=` + hex HMAC-SHA256(secret, "v0:{timestamp}:" + body).
/// `timestamp` is the header text as sent, since that is what Slack signed.
pub fn check_signature(secret: &[u8], timestamp: &str, body: &[u8], header: &str) -> bool {
    header.trim().strip_prefix("v0=").is_some_and(|hex_tag| {
        hmac_sha256::matches_hex(secret, &[b"v0:", timestamp.as_bytes(), b":", body], hex_tag)
    })
}

/// The header value Slack would send for `body` at `timestamp`.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let tag = hmac_sha256::sign_hex(secret, &[b"v0:", timestamp.as_bytes(), b":", body]);
    format!("v0={tag}")
}

#[cfg(test)]
mod tests {
    use super::*;

    // From Slack's "Verifying requests from Slack" documentation.
    const DOC_SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
    const DOC_TS: &str = "1531420618";
    const DOC_BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const DOC_SIGNATURE: &str =
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    #[test]
    fn accepts_slacks_documented_example() {
        assert!(check_signature(DOC_SECRET, DOC_TS, DOC_BODY, DOC_SIGNATURE));
        assert_eq!(sign(DOC_SECRET, DOC_TS, DOC_BODY), DOC_SIGNATURE);
    }

    #[test]
    fn rejects_other_timestamp_body_or_version() {
        assert!(!check_signature(
            DOC_SECRET,
            "1531420619",
            DOC_BODY,
            DOC_SIGNATURE
        ));
        assert!(!check_signature(
            DOC_SECRET,
            DOC_TS,
            b"token=x",
            DOC_SIGNATURE
        ));
        let v1 = DOC_SIGNATURE.replace("v0=", "v1=");
        assert!(!check_signature(DOC_SECRET, DOC_TS, DOC_BODY, &v1));
    }

    #[test]
    fn timestamp_rules_in_contract_order() {
        assert_eq!(check_timestamp(None, 1000, 300), Err(missing_timestamp()));
        assert_eq!(check_timestamp(None, 1000, 300).unwrap_err().status(), 401);
        assert_eq!(
            check_timestamp(Some("12a"), 1000, 300),
            Err(invalid_timestamp())
        );
        assert_eq!(
            check_timestamp(Some("1301"), 1000, 300),
            Err(stale_timestamp())
        );
        assert_eq!(
            check_timestamp(Some("699"), 1000, 300),
            Err(stale_timestamp())
        );
        assert_eq!(check_timestamp(Some("1300"), 1000, 300), Ok(1300));
    }

    #[test]
    fn reads_app_id_from_json_form_and_interactivity_payload() {
        let json = br#"{"api_app_id": "A1", "type": "url_verification", "challenge": "c"}"#;
        let parsed = parse_payload(json, false).unwrap();
        assert_eq!(
            (parsed.api_app_id.as_str(), parsed.challenge.as_deref()),
            ("A1", Some("c"))
        );
        let form = parse_payload(b"command=%2Fx&api_app_id=A2", true).unwrap();
        assert_eq!((form.api_app_id.as_str(), form.challenge), ("A2", None));
        let interactive = parse_payload(b"payload=%7B%22api_app_id%22%3A%22A3%22%7D", true);
        assert_eq!(interactive.unwrap().api_app_id, "A3");
    }

    #[test]
    fn rejects_unparseable_bodies_and_missing_app_id() {
        assert_eq!(parse_payload(b"not json", false), Err(invalid_request()));
        assert_eq!(
            parse_payload(b"payload=%7Bbroken", true),
            Err(invalid_request())
        );
        assert_eq!(
            parse_payload(br#"{"type": "event_callback"}"#, false),
            Err(missing_app_id())
        );
        assert_eq!(parse_payload(b"command=%2Fx", true), Err(missing_app_id()));
    }
}
