//! GitHub webhooks: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`,
//! with the secret named by the payload's `repository.full_name`.

use crate::domain::json_fields::{self, Field};
use crate::domain::{Actor, KeyKind, KeyLookup, Secret, TimedSecret};
use crate::verify::described::{self, ConversationRule, Match};
use crate::verify::provider::{Call, Descriptor, Messages, Provider, Reading, SecretSource};
use crate::verify::sample::{self, Sample, SampleRequest};
use crate::verify::{hmac_sha256, VerifyError};
use serde_json::{json, Value};

pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

pub static DESCRIPTOR: Descriptor = Descriptor {
    kind: KeyKind::new("github", KeyLookup::Named),
    selected_by: &[SIGNATURE_HEADER],
    selected_by_prefix: "",
    credential_headers: &[],
    signature_headers: &[SIGNATURE_HEADER],
    event_headers: &[],
    reads: &["x-github-event"],
    secret: SecretSource::Generated,
    redelivery_headers: &["x-github-delivery"],
    redelivery_prefix: "github",
    actors: &[&["sender", "login"]],
    bots: &[Match::new("body.sender.type", "Bot")],
    conversation: &[
        // Discussions number on their own.
        ConversationRule {
            when: None,
            key: "github:{body.repository.full_name}/discussions/{body.discussion.number}",
        },
        // Issues and pull requests share a repository's numbers: a pull
        // request's comments (`issue.number`), reviews and checks meet it.
        ConversationRule {
            when: None,
            key: "github:{body.repository.full_name}#{body.pull_request.number\
                  |body.issue.number|body.check_run.pull_requests.0.number\
                  |body.check_suite.pull_requests.0.number\
                  |body.workflow_run.pull_requests.0.number}",
        },
    ],
    handshakes: &[Match::new("header.x-github-event", "ping")],
    messages: Messages {
        no_key: "No API key found for GitHub repository {name}.",
        bad_signature: "Invalid GitHub webhook signature",
    },
    tolerance: None,
};

#[derive(Debug)]
pub struct Github;

impl Provider for Github {
    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    fn sample(&self, request: &SampleRequest<'_>) -> Option<Sample> {
        let body = request.json_body(json!({
            "action": "opened", "number": 1,
            "pull_request": {"number": 1, "title": "hookgate send-test"},
            "repository": {"full_name": request.key_name},
            "sender": {"login": "hookgate"},
        }));
        let signature = sign(request.secret(), &body);
        let headers = [
            (SIGNATURE_HEADER, signature),
            ("x-github-event", "pull_request".to_owned()),
            ("x-github-delivery", sample::delivery_id()),
        ];
        Some(request.json_call(body, &headers))
    }

    fn read(&self, call: &Call<'_>) -> Result<Reading, VerifyError> {
        let signature = call.header(SIGNATURE_HEADER).unwrap_or_default();
        Ok(Reading {
            key_name: Some(repository_name(call.body)?),
            credential: Some(Secret::new(signature.to_owned())),
            ..Reading::default()
        })
    }

    fn signed_by(&self, reading: &Reading, body: &[u8], key: &TimedSecret) -> bool {
        check_signature(key.secret.expose().as_bytes(), body, reading.credential())
    }

    /// The sender, with the standing GitHub gives the author of the text
    /// at hand (the comment's, the review's, else the issue's or pull
    /// request's) and, for a pull request, whether its head is a fork.
    fn actor(&self, body: &Value) -> Option<Actor> {
        let mut actor = described::actor_from_descriptor(&DESCRIPTOR, body)?;
        actor.association = ["comment", "review", "issue", "pull_request", "discussion"]
            .iter()
            .find_map(|holder| body.get(holder)?.get("author_association")?.as_str())
            .map(str::to_owned);
        actor.fork = body.get("pull_request").map(from_fork);
        Some(actor)
    }
}

/// Whether a pull request's head lives in another repository than its
/// base (a deleted fork leaves no head repository).
fn from_fork(pull_request: &Value) -> bool {
    let repo_id = |side: &str| pull_request.get(side)?.get("repo")?.get("id")?.as_u64();
    match (repo_id("head"), repo_id("base")) {
        (Some(head), Some(base)) => head != base,
        (None, Some(_)) => true,
        _ => false,
    }
}

fn empty_payload() -> VerifyError {
    VerifyError::bad_request("Empty payload in GitHub webhook.")
}

fn not_json() -> VerifyError {
    VerifyError::bad_request("Failed to parse GitHub webhook payload as JSON.")
}

fn missing_repository() -> VerifyError {
    VerifyError::bad_request("GitHub webhook payload missing repository info.")
}

fn missing_repository_name() -> VerifyError {
    VerifyError::bad_request("GitHub webhook payload missing repository name.")
}

/// The repository full name that names the secret, in the contract's order
/// of checks (empty, not JSON, no repository, no name), read without
/// building the body: it is not verified yet.
pub fn repository_name(body: &[u8]) -> Result<String, VerifyError> {
    if body.is_empty() {
        return Err(empty_payload());
    }
    let found = json_fields::find(body, &[&["repository"], &["repository", "full_name"]])
        .map_err(|_| not_json())?;
    let [repository, name] = &found[..] else {
        unreachable!("two paths asked, two fields found")
    };
    if !matches!(repository, Field::Other) || matches!(name, Field::NotObject) {
        // Absent, or not an object (a string, a number, an array, null).
        return Err(missing_repository());
    }
    name.as_str()
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .ok_or_else(missing_repository_name)
}

/// True when `header` is `sha256=` + hex HMAC-SHA256(secret, body).
pub fn check_signature(secret: &[u8], body: &[u8], header: &str) -> bool {
    hmac_sha256::matches_prefixed_hex(secret, &[body], "sha256=", header)
}

/// The header value GitHub would send for `body`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    format!("sha256={}", hmac_sha256::sign_hex(secret, &[body]))
}

#[cfg(test)]
mod tests {
    use super::*;

    // From GitHub's "Validating webhook deliveries" documentation.
    const DOC_SECRET: &[u8] = b"It's a Secret to Everybody";
    const DOC_BODY: &[u8] = b"Hello, World!";
    const DOC_SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn accepts_githubs_documented_example() {
        assert!(check_signature(DOC_SECRET, DOC_BODY, DOC_SIGNATURE));
        assert_eq!(sign(DOC_SECRET, DOC_BODY), DOC_SIGNATURE);
    }

    #[test]
    fn rejects_altered_body_secret_or_prefix() {
        assert!(!check_signature(
            DOC_SECRET,
            b"Hello, World?",
            DOC_SIGNATURE
        ));
        assert!(!check_signature(b"another secret", DOC_BODY, DOC_SIGNATURE));
        let sha1_style = DOC_SIGNATURE.replace("sha256=", "sha1=");
        assert!(!check_signature(DOC_SECRET, DOC_BODY, &sha1_style));
        assert!(!check_signature(DOC_SECRET, DOC_BODY, "sha256=zz"));
        assert!(!check_signature(DOC_SECRET, DOC_BODY, "sha256="));
    }

    #[test]
    fn repository_name_checks_in_contract_order() {
        assert_eq!(repository_name(b""), Err(empty_payload()));
        assert_eq!(repository_name(b"{nope"), Err(not_json()));
        assert_eq!(repository_name(b"{}"), Err(missing_repository()));
        assert_eq!(
            repository_name(br#"{"repository": {"id": 1}}"#),
            Err(missing_repository_name())
        );
        assert_eq!(
            repository_name(br#"{"repository": {"full_name": "octo/hello"}}"#).unwrap(),
            "octo/hello"
        );
    }
}
