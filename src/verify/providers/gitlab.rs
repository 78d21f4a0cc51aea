//! GitLab: `X-Gitlab-Token` carries the webhook's secret token itself. It is
//! stored only as a digest and checked like an external key.

use crate::domain::{KeyKind, KeyLookup, Secret, TimedSecret};
use crate::verify::described::{ConversationRule, Match};
use crate::verify::provider::{Call, Descriptor, Messages, Provider, Reading, SecretSource};
use crate::verify::VerifyError;

pub const TOKEN_HEADER: &str = "x-gitlab-token";

const INVALID: &str = "Invalid GitLab token for agent ID {agent}.";

pub static DESCRIPTOR: Descriptor = Descriptor {
    kind: KeyKind::new("gitlab", KeyLookup::Digest),
    selected_by: &[TOKEN_HEADER],
    selected_by_prefix: "",
    credential_headers: &[TOKEN_HEADER],
    signature_headers: &[],
    event_headers: &[],
    reads: &[],
    secret: SecretSource::Generated,
    redelivery_headers: &["x-gitlab-event-uuid"],
    redelivery_prefix: "gitlab",
    actors: &[&["user", "username"]],
    bots: &[],
    conversation: &[
        // Merge request notes and pipelines name their merge request.
        ConversationRule {
            when: None,
            key: "gitlab:{body.project.path_with_namespace}!{body.merge_request.iid}",
        },
        ConversationRule {
            when: Some(Match::new("body.object_kind", "merge_request")),
            key: "gitlab:{body.project.path_with_namespace}!{body.object_attributes.iid}",
        },
        ConversationRule {
            when: None,
            key: "gitlab:{body.project.path_with_namespace}#{body.issue.iid}",
        },
        ConversationRule {
            when: Some(Match::new("body.object_kind", "issue")),
            key: "gitlab:{body.project.path_with_namespace}#{body.object_attributes.iid}",
        },
        ConversationRule {
            when: Some(Match::new("body.object_kind", "work_item")),
            key: "gitlab:{body.project.path_with_namespace}#{body.object_attributes.iid}",
        },
    ],
    handshakes: &[],
    messages: Messages {
        no_key: INVALID,
        bad_signature: INVALID,
    },
    tolerance: None,
};

#[derive(Debug)]
pub struct Gitlab;

impl Provider for Gitlab {
    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    fn read(&self, call: &Call<'_>) -> Result<Reading, VerifyError> {
        let token = call.header(TOKEN_HEADER).unwrap_or_default();
        Ok(Reading {
            credential: Some(Secret::new(token.to_owned())),
            ..Reading::default()
        })
    }

    /// Never asked: the token is found by its digest.
    fn signed_by(&self, _: &Reading, _: &[u8], _: &TimedSecret) -> bool {
        false
    }
}
