//! A verified call as the forward route's later steps read it: the plan,
//! the guard, intake and the relay.

use crate::db::agents::Agent;
use crate::db::routes::Route;
use crate::domain::payload::LazyJson;
use crate::domain::{Identities, RouteMode, RouteRules};
use crate::verify::Provider;
use actix_web::http::header::HeaderMap;
use actix_web::http::Method;

/// The call once its credentials passed, with the agent's route for its
/// path (none: a plain forward).
pub struct VerifiedCall<'a> {
    pub agent: &'a Agent,
    pub identities: &'a Identities,
    /// Who vouched for the call: its provider and the key's name.
    pub provider: &'static dyn Provider,
    pub key_name: &'a str,
    /// The matched route and its rules, parsed when the agent was cached.
    pub route: Option<(&'a Route, &'a RouteRules)>,
    pub method: &'a Method,
    /// Sub-path after the agent name, without its leading `/`.
    pub sub_path: &'a str,
    /// Path and query to forward or replay against the agent.
    pub path_and_query: &'a str,
    pub headers: &'a HeaderMap,
    /// The body, and as JSON once the first step that reads it parsed it.
    pub json: LazyJson<'a>,
}

impl VerifiedCall<'_> {
    /// The route's rules, if a route matched.
    pub fn rules(&self) -> Option<&RouteRules> {
        self.route.map(|(_, rules)| rules)
    }

    /// How the call is handled: its route's mode, else a plain forward.
    pub fn mode(&self) -> RouteMode {
        self.rules().map_or(RouteMode::Forward, |r| r.mode)
    }
}
