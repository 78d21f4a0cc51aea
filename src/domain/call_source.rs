//! What the provider that verified a call says about it beyond its fields:
//! which provider it is, the conversation the event belongs to, and who
//! caused it. Templates (`{conversation}`), conditions (`actor.association`,
//! `provider`) and provenance read it through [`CallSource`]; the verifying
//! provider implements it, so nothing here names a provider.

use super::template::TemplateInput;
use serde::Serialize;
use serde_json::Value;

/// The verifying provider, as templates and conditions ask it.
pub trait CallSource: Sync {
    /// Its key type (`github`).
    fn provider_name(&self) -> &'static str;

    /// The conversation the event belongs to (`github:octo/repo#42`), if the
    /// provider has a notion of one and the call names it.
    fn conversation(&self, input: &TemplateInput<'_>) -> Option<String>;

    /// Who caused the event, if the body says.
    fn actor(&self, body: &Value) -> Option<Actor>;
}

/// Who caused an event, as the provider tells it: an agent uses it to
/// decide how far to trust text before it reaches a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    /// The provider's id of the actor (`octocat`, a Slack user id).
    pub id: String,
    pub bot: bool,
    /// The provider's word for the actor's standing in the scope (GitHub's
    /// `author_association`: OWNER, MEMBER, CONTRIBUTOR, NONE, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub association: Option<String>,
    /// Whether the change comes from a fork (a pull request's head).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fork: Option<bool>,
}

/// A field of [`Actor`], as conditions and templates name it (`actor.bot`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorField {
    Id,
    Bot,
    Association,
    Fork,
}

impl ActorField {
    pub const NAMES: &'static str = "{actor.id}, {actor.bot}, {actor.association} or {actor.fork}";

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "id" => Some(Self::Id),
            "bot" => Some(Self::Bot),
            "association" => Some(Self::Association),
            "fork" => Some(Self::Fork),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Id => "actor.id",
            Self::Bot => "actor.bot",
            Self::Association => "actor.association",
            Self::Fork => "actor.fork",
        }
    }

    /// Its value as text (booleans as JSON writes them), if known.
    pub fn text(self, actor: &Actor) -> Option<String> {
        match self {
            Self::Id => Some(actor.id.clone()),
            Self::Bot => Some(actor.bot.to_string()),
            Self::Association => actor.association.clone(),
            Self::Fork => actor.fork.map(|f| f.to_string()),
        }
    }
}
