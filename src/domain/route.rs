//! Agent routes: which forward sub-paths a route covers and what it does.

use super::{ParseError, SubPath};

/// What hookgate does with a verified call on a route (stored as text:
/// `db::text_columns`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    diesel::AsExpression,
    diesel::FromSqlRow,
    serde::Serialize,
    serde::Deserialize,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "snake_case")]
pub enum RouteMode {
    /// Proxy synchronously (the default without a route).
    Forward,
    /// Store durably, answer 202, then proxy with retries.
    ForwardAsync,
    /// Store durably, answer 202, then deliver as an ACP `event/send`.
    AcpEvent,
}

impl RouteMode {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        match raw {
            "forward" => Ok(Self::Forward),
            "forward_async" => Ok(Self::ForwardAsync),
            "acp_event" => Ok(Self::AcpEvent),
            _ => Err(ParseError(format!(
                "Field 'mode' must be one of forward, forward_async, acp_event; got {raw:?}."
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Forward => "forward",
            Self::ForwardAsync => "forward_async",
            Self::AcpEvent => "acp_event",
        }
    }
}

/// What an `acp_event` route does with a call its `task_key` cannot be
/// rendered for (a `push` on a pull-request route, GitHub's `ping`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingTaskKey {
    /// 422 naming the missing field; nothing is stored.
    #[default]
    Reject,
    /// 200 `{"ignored": true, "reason": "no_task_key"}`, never delivered.
    Ignore,
}

impl MissingTaskKey {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        match raw {
            "reject" => Ok(Self::Reject),
            "ignore" => Ok(Self::Ignore),
            _ => Err(ParseError(format!(
                "Field 'missing_task_key' must be 'reject' or 'ignore', got {raw:?}."
            ))),
        }
    }

    /// The stored value (None: the default).
    pub fn from_stored(stored: Option<&str>) -> Result<Self, ParseError> {
        stored.map_or(Ok(Self::Reject), Self::parse)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reject => "reject",
            Self::Ignore => "ignore",
        }
    }
}

/// What an `acp_event` route's event carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentKind {
    /// The request itself (path, event headers, body) as a `data` content.
    Data,
    /// A `text` content rendered from the route's `text_template`.
    Text,
}

impl ContentKind {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        match raw {
            "data" => Ok(Self::Data),
            "text" => Ok(Self::Text),
            _ => Err(ParseError(format!(
                "Field 'content' must be 'data' or 'text', got {raw:?}."
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Data => "data",
            Self::Text => "text",
        }
    }
}

/// A route's `path`: exact, or a prefix when it ends in `*`. Stored without
/// a leading `/`, in the canonical form of the sub-path after
/// `/agents/forward/name/{agent}/` (see [`SubPath`]), which is what calls
/// are matched in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePath(String);

impl RoutePath {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let path = raw.trim().trim_start_matches('/');
        if path.len() > 1024 || path.contains(['?', '#']) {
            return Err(ParseError(format!(
                "Field 'path' must be a sub-path without query or fragment, got {raw:?}."
            )));
        }
        if path.find('*').is_some_and(|i| i + 1 != path.len()) {
            return Err(ParseError(format!(
                "Field 'path' may only end in '*' (a prefix), got {raw:?}."
            )));
        }
        let (fixed, star) = match path.strip_suffix('*') {
            Some(prefix) => (prefix, "*"),
            None => (path, ""),
        };
        let canonical = SubPath::parse(&format!("/{fixed}"))
            .map_err(|e| ParseError(format!("Field 'path' is refused: {e} Got {raw:?}.")))?;
        if canonical.relative().contains('*') {
            return Err(ParseError(format!(
                "Field 'path' may only end in '*' (a prefix), got {raw:?}."
            )));
        }
        Ok(Self(format!("{}{star}", canonical.relative())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// How well this route covers `sub_path` (canonical, no leading `/`):
    /// `None` when it does not, else a rank where exact beats any prefix and
    /// longer prefixes beat shorter ones. An exact path covers itself with
    /// and without a trailing `/`, which most agent servers take as one path.
    pub fn rank(pattern: &str, sub_path: &str) -> Option<usize> {
        fn unslashed(path: &str) -> &str {
            path.strip_suffix('/').unwrap_or(path)
        }
        match pattern.strip_suffix('*') {
            Some(prefix) => sub_path.starts_with(prefix).then_some(prefix.len()),
            None => (unslashed(pattern) == unslashed(sub_path)).then_some(usize::MAX),
        }
    }
}

/// What a route's stored rules say, parsed once (when the route is read
/// into the verifier's cache), not per call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRules {
    pub mode: RouteMode,
    pub content: ContentKind,
    /// Parsed `task_key` and `text_template` (acp_event routes).
    pub task_key: Option<super::Template>,
    pub text_template: Option<super::Template>,
    pub missing_task_key: MissingTaskKey,
    pub filter: super::Conditions,
    pub ignore: super::Conditions,
    pub redaction: super::Redaction,
}

/// A route's columns as stored, for [`RouteRules::from_stored`].
#[derive(Debug, Clone, Copy, Default)]
pub struct StoredRoute<'a> {
    pub mode: &'a str,
    pub content: &'a str,
    pub task_key: Option<&'a str>,
    pub text_template: Option<&'a str>,
    pub missing_task_key: Option<&'a str>,
    pub filter: Option<&'a str>,
    pub ignore: Option<&'a str>,
    pub redact: Option<&'a str>,
}

impl RouteRules {
    /// From the stored columns (checked when the route was made): a mode,
    /// content kind or template that no longer parses is an error, never
    /// a silent default.
    pub fn from_stored(stored: &StoredRoute<'_>) -> Result<Self, ParseError> {
        let template = |field: &str, raw: Option<&str>| {
            raw.map(|raw| super::Template::parse(field, raw))
                .transpose()
        };
        Ok(Self {
            mode: RouteMode::parse(stored.mode)?,
            content: ContentKind::parse(stored.content)?,
            task_key: template("task_key", stored.task_key)?,
            text_template: template("text_template", stored.text_template)?,
            missing_task_key: MissingTaskKey::from_stored(stored.missing_task_key)?,
            filter: super::Conditions::from_stored("filter", stored.filter)?,
            ignore: super::Conditions::from_stored("ignore", stored.ignore)?,
            redaction: super::Redaction::from_stored(stored.redact)?,
        })
    }
}

/// UUIDv5 of the task key in the agent's namespace: the same key is the same
/// task on every instance and after every restart.
pub fn task_id(agent_id: &str, key: &str) -> String {
    let namespace = uuid::Uuid::parse_str(agent_id)
        .unwrap_or_else(|_| uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, agent_id.as_bytes()));
    uuid::Uuid::new_v5(&namespace, key.as_bytes()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_rules_are_parsed_once_and_never_default_silently() {
        let stored = StoredRoute {
            mode: "acp_event",
            content: "text",
            task_key: Some("gh:{body.pull_request.number|body.issue.number}"),
            text_template: Some("PR {body.pull_request.number}"),
            missing_task_key: Some("ignore"),
            ..StoredRoute::default()
        };
        let rules = RouteRules::from_stored(&stored).unwrap();
        assert_eq!(rules.mode, RouteMode::AcpEvent);
        assert_eq!(rules.content, ContentKind::Text);
        assert_eq!(rules.missing_task_key, MissingTaskKey::Ignore);
        assert!(rules.task_key.is_some() && rules.text_template.is_some());
        // A mode no build of hookgate wrote once became a plain forward.
        let unreadable = StoredRoute {
            mode: "acp-event",
            ..stored
        };
        let err = RouteRules::from_stored(&unreadable).unwrap_err();
        assert!(err.0.contains("'mode'"), "{err}");
        let bad_key = StoredRoute {
            task_key: Some("{bogus}"),
            ..stored
        };
        assert!(RouteRules::from_stored(&bad_key).is_err());
        // Nor is a filter or a redaction that no longer parses dropped.
        for broken in [
            StoredRoute {
                filter: Some("[{\"field\": 1}]"),
                ..stored
            },
            StoredRoute {
                ignore: Some("not json"),
                ..stored
            },
            StoredRoute {
                redact: Some("[\"nowhere.x\"]"),
                ..stored
            },
            StoredRoute {
                missing_task_key: Some("drop"),
                ..stored
            },
        ] {
            assert!(RouteRules::from_stored(&broken).is_err(), "{broken:?}");
        }
    }

    #[test]
    fn exact_beats_prefix_and_longer_prefix_beats_shorter() {
        assert_eq!(
            RoutePath::rank("code_changes", "code_changes"),
            Some(usize::MAX)
        );
        assert_eq!(RoutePath::rank("code_changes", "code_changes/x"), None);
        assert!(
            RoutePath::rank("vcs/*", "vcs/pr").unwrap() > RoutePath::rank("*", "vcs/pr").unwrap()
        );
        assert_eq!(RoutePath::rank("vcs/*", "chat/pr"), None);
    }

    #[test]
    fn parse_normalises_and_rejects() {
        assert_eq!(
            RoutePath::parse("/code_changes").unwrap().as_str(),
            "code_changes"
        );
        assert!(RoutePath::parse("a*b").unwrap_err().0.contains("'path'"));
        assert!(RoutePath::parse("a?x=1").is_err());
        assert!(RouteMode::parse("queue").unwrap_err().0.contains("'mode'"));
        assert_eq!(RouteMode::parse("acp_event").unwrap().as_str(), "acp_event");
        assert_eq!(ContentKind::parse("text"), Ok(ContentKind::Text));
        assert_eq!(ContentKind::parse("data").unwrap().as_str(), "data");
        assert!(ContentKind::parse("html")
            .unwrap_err()
            .0
            .contains("'content'"));
    }
}
