//! What drops a verified call before delivery: its route's `filter` (a
//! condition fails) and `ignore` (a condition holds), and the loop guard
//! (the event was caused by one of the agent's own identities). The body
//! is parsed only when there is something to check.

use super::call::VerifiedCall;
use crate::domain::{Conditions, TemplateInput};
use crate::verify::described::Described;
use crate::verify::providers;
use serde_json::Value;

/// Why a call was dropped: `kind` (`filter`, `ignore`, `loop`, and
/// `no_task_key` from intake) is the
/// answer's `reason` and the metrics label, `reason` the sentence saying
/// which condition or identity decided (the answer's `detail`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub kind: &'static str,
    pub reason: String,
}

/// Why the call is dropped, or None when it goes on.
pub fn check(call: &VerifiedCall<'_>) -> Option<Dropped> {
    let none = Conditions::default();
    let (filter, ignore) = call
        .rules()
        .map_or((&none, &none), |r| (&r.filter, &r.ignore));
    let identities = match call.provider.descriptor().actors {
        [] => &[][..],
        _ => call.identities.as_slice(),
    };
    if filter.is_empty() && ignore.is_empty() && identities.is_empty() {
        return None;
    }
    call.json
        .with(|body| judge(call, body, identities, filter, ignore))
}

fn judge(
    call: &VerifiedCall<'_>,
    body: Option<&Value>,
    identities: &[String],
    filter: &Conditions,
    ignore: &Conditions,
) -> Option<Dropped> {
    if let Some(body) = body {
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
        body,
        headers: call.headers,
        path: call.sub_path,
        source: Some(&Described(call.provider)),
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
