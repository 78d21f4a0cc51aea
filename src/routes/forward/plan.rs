//! What to do with a verified call, decided in one place from its route's
//! parsed plan: answer it here (a provider's handshake), drop it (the
//! route's filter or ignore, the loop guard), accept it into the queue
//! (`acp_event`, `forward_async`) or relay it to the agent now.

use super::call::VerifiedCall;
use super::guard::{self, Dropped};
use super::intake::Inbound;
use crate::domain::{Redaction, RouteMode};
use crate::verify::{described, Answer};
use actix_web::HttpResponse;

pub enum Plan<'a> {
    /// hookgate answers the provider itself; nothing reaches the agent.
    Answer(HttpResponse),
    /// Answered 200 with the reason; kept as `ignored` when so configured.
    Drop(Dropped),
    /// Committed as a delivery before the 202.
    Accept(Inbound<'a>),
    /// Forwarded at once, without the route's redacted fields (if any).
    Relay(Option<&'a Redaction>),
}

/// The plan for `call`; `answer` is what its provider answers itself
/// (Slack's URL challenge, Discord's PING), read while verifying.
pub fn plan<'a>(call: &'a VerifiedCall<'a>, answer: Option<Answer>) -> Plan<'a> {
    if let Some(answer) = answer {
        return Plan::Answer(
            HttpResponse::Ok()
                .content_type(answer.content_type)
                .body(answer.body),
        );
    }
    let mode = call.mode();
    // A set-up or liveness call (GitHub's ping) is no event to store; only
    // a plain forward lets the agent answer it.
    if mode != RouteMode::Forward
        && described::is_handshake(call.provider, call.headers, &call.json)
    {
        return Plan::Answer(HttpResponse::Ok().json(serde_json::json!({
            "handshake": true,
            "provider": call.provider.descriptor().kind.as_str(),
        })));
    }
    if let Some(dropped) = guard::check(call) {
        return Plan::Drop(dropped);
    }
    match call.route {
        Some((route, rules)) if mode != RouteMode::Forward => {
            Plan::Accept(Inbound { call, route, rules })
        }
        _ => Plan::Relay(call.rules().map(|r| &r.redaction).filter(|r| !r.is_empty())),
    }
}
