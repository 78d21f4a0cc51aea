//! What the forward route does with a call once planned: accept it into
//! the queue (202), drop it (200 with the reason), or relay it to the agent
//! and stream the answer back.

use super::call::VerifiedCall;
use super::error::{intake_failed, internal, ForwardRouteError};
use super::guard;
use super::intake::{self, Inbound, IntakeError};
use crate::actors::forwarder::{Forward, ForwardError, Forwarded};
use crate::domain::MissingTaskKey;
use crate::queue::dispatcher::{DispatcherActor, Wake};
use crate::queue::intake::IntakeWriter;
use actix::Addr;
use actix_web::HttpResponse;
use std::time::Instant;

/// Commits the call as a delivery, then answers 202 (the first call's ids
/// for a provider redelivery); a call without a task key on a route that
/// ignores those is dropped instead. Also says which it was, for metrics.
pub async fn accept(
    inbound: &Inbound<'_>,
    keep_ignored: bool,
    intake: &IntakeWriter,
    dispatcher: &Addr<DispatcherActor>,
) -> Result<(HttpResponse, &'static str), ForwardRouteError> {
    let delivery = match intake::new_delivery(inbound) {
        Ok(delivery) => delivery,
        Err(IntakeError::MissingField(field, "task_key"))
            if inbound.rules.missing_task_key == MissingTaskKey::Ignore =>
        {
            let dropped = guard::Dropped {
                kind: "no_task_key",
                reason: field,
            };
            let answer = drop_call(inbound.call, &dropped, keep_ignored, intake).await?;
            return Ok((answer, "ignored"));
        }
        Err(e @ IntakeError::MissingField(..)) => {
            return Err(ForwardRouteError::Unprocessable(e.to_string()))
        }
        Err(e @ IntakeError::BadRoute(..)) => return Err(internal(e.to_string())),
    };
    let accepted = intake.enqueue(delivery).await.map_err(intake_failed)?;
    if !accepted.duplicate {
        dispatcher.do_send(Wake);
    }
    tracing::info!(agent.name = %inbound.call.agent.name, event.id = %accepted.event_id,
        duplicate = accepted.duplicate, mode = inbound.rules.mode.as_str(), "accepted for delivery");
    let mut body = serde_json::json!({ "event_id": accepted.event_id });
    if let Some(task_id) = accepted.task_id {
        body["task_id"] = task_id.into();
    }
    if accepted.held {
        crate::metrics::held(&inbound.call.agent.name);
        body["held"] = true.into();
    }
    Ok((HttpResponse::Accepted().json(body), "accepted"))
}

/// Answers a dropped call 200 `{"ignored": true, "reason", "detail"}` (a provider
/// must not send it again), counted, and kept as an `ignored` delivery when
/// `keep` (then, like a 202, only once committed).
pub async fn drop_call(
    call: &VerifiedCall<'_>,
    dropped: &guard::Dropped,
    keep: bool,
    intake: &IntakeWriter,
) -> Result<HttpResponse, ForwardRouteError> {
    crate::metrics::ignored(&call.agent.name, dropped.kind);
    tracing::info!(agent.name = %call.agent.name, reason = %dropped.reason, "call dropped");
    if keep {
        let why = format!("{}: {}", dropped.kind, dropped.reason);
        let delivery = intake::ignored_delivery(call, &why);
        intake.enqueue(delivery).await.map_err(intake_failed)?;
    }
    Ok(HttpResponse::Ok().json(
        serde_json::json!({"ignored": true, "reason": dropped.kind, "detail": dropped.reason}),
    ))
}

/// Sends the call to the agent through its forwarder and streams the
/// answer back; maps a timeout or an unreachable agent to 504 / 502.
pub async fn relay(
    forwarder: Addr<crate::actors::ForwarderActor>,
    forward: Forward,
    agent: String,
    timeout_secs: u64,
    started: Instant,
) -> Result<HttpResponse, ForwardRouteError> {
    let sent = forwarder
        .send(forward)
        .await
        .map_err(|e| internal(e.to_string()))?;
    match sent {
        Ok(answer) => {
            tracing::info!(agent.name = %agent, status = answer.status.as_u16(),
                elapsed_ms = started.elapsed().as_millis() as u64, "forwarded");
            Ok(respond(answer))
        }
        Err(ForwardError::Timeout) => {
            tracing::warn!(agent.name = %agent, "agent timed out");
            Err(ForwardRouteError::Timeout {
                agent,
                secs: timeout_secs,
            })
        }
        Err(ForwardError::Unreachable(reason)) => {
            tracing::warn!(agent.name = %agent, %reason, "agent unreachable");
            Err(ForwardRouteError::Unreachable { agent, reason })
        }
    }
}

/// The agent's answer as is: its headers are moved, not copied.
fn respond(answer: Forwarded) -> HttpResponse {
    let mut response = HttpResponse::build(answer.status).body(answer.body);
    *response.headers_mut() = answer.headers;
    response
}
