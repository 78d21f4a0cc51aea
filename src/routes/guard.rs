//! What drops a verified call before delivery: its route's `filter` (a
//! condition fails) and `ignore` (a condition holds), and the loop guard
//! (the event was caused by one of the agent's own identities). The body
//! is parsed only when there is something to check.

use crate::db::agents::Agent;
use crate::db::routes::Route;
use crate::domain::payload::{body_as_json, is_form};
use crate::domain::{Conditions, Identities, TemplateInput};
use crate::verify::{providers, Provider};
use actix_web::http::header::{HeaderMap, CONTENT_TYPE};

/// Why a call was dropped: `kind` (`filter`, `ignore`, `loop`) is the
/// answer's `reason` and the metrics label, `reason` the sentence saying
/// which condition or identity decided (the answer's `detail`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub kind: &'static str,
    pub reason: String,
}

/// The verified call, as the guard reads it.
pub struct Checked<'a> {
    pub agent: &'a Agent,
    pub provider: &'a dyn Provider,
    pub route: Option<&'a Route>,
    pub headers: &'a HeaderMap,
    pub sub_path: &'a str,
    pub body: &'a [u8],
}

/// Why the call is dropped, or None when it goes on.
pub fn check(call: &Checked<'_>) -> Option<Dropped> {
    let filter = stored(call.route.and_then(|r| r.filter_conditions.as_deref()));
    let ignore = stored(call.route.and_then(|r| r.ignore_conditions.as_deref()));
    let identities = match call.provider.descriptor().actors {
        [] => Identities::default(),
        _ => Identities::from_stored(call.agent.identities.as_deref()),
    };
    if filter.is_empty() && ignore.is_empty() && identities.as_slice().is_empty() {
        return None;
    }
    let content_type = call.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let body = body_as_json(call.body, is_form(content_type));
    if let Some(body) = &body {
        let actors = providers::actors(call.provider, body);
        if let Some(own) = actors.iter().find(|a| identities.contains(a)) {
            return Some(Dropped {
                kind: "loop",
                reason: format!(
                    "the event was caused by {own}, one of the agent's own identities."
                ),
            });
        }
    }
    let input = TemplateInput {
        body: body.as_ref(),
        headers: call.headers,
        path: call.sub_path,
    };
    if let Some(failed) = filter.first_failing(&input) {
        return Some(Dropped {
            kind: "filter",
            reason: format!("{} does not hold.", failed.describe()),
        });
    }
    ignore.first_holding(&input).map(|matched| Dropped {
        kind: "ignore",
        reason: format!("{}.", matched.describe()),
    })
}

/// A stored condition list (checked when the route was made).
fn stored(json: Option<&str>) -> Conditions {
    json.and_then(|j| serde_json::from_str(j).ok())
        .and_then(|v| Conditions::parse("stored", &v).ok())
        .unwrap_or_default()
}
