//! One delivery attempt, run by the agent's `ForwarderActor`: `task/create`
//! before a task's first event, then `event/send` (`message/send` alone for
//! a sync agent; the stored request for `forward_async`), judged by the
//! contract's retry rules.

mod event;
mod message;
mod verdict;

use crate::actors::forwarder::ForwarderActor;
use crate::db::deliveries::{AttemptRecord, Claimed, Outcome};
use crate::db::now;
use crate::domain::{AgentProtocol, RouteMode};
use crate::row::headers as stored;
use actix::prelude::*;
use actix_web::http::Method;
use event::deliver_event;
use message::deliver_message;
use rand::Rng;
use std::time::Duration;
use tracing::Instrument;
use verdict::{judge, Call, Exchange, Verdict};

/// Backoff and attempt limit.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: i32,
    pub base: Duration,
    pub max: Duration,
}

impl RetryPolicy {
    /// What an attempt's verdict makes of the delivery, `budget_used`
    /// attempts into its budget: a retry past the budget fails it.
    fn outcome(&self, verdict: Verdict, budget_used: i32) -> (Outcome, Option<String>) {
        match verdict {
            Verdict::Done => (Outcome::Delivered, None),
            Verdict::Fail { error } => (Outcome::Failed, Some(error)),
            Verdict::Retry { error, .. } if budget_used >= self.max_attempts => (
                Outcome::Failed,
                Some(format!(
                    "{error} (attempt {budget_used} of {}, giving up)",
                    self.max_attempts
                )),
            ),
            Verdict::Retry { after, error } => {
                let wait = after.unwrap_or_else(|| self.backoff(budget_used));
                let at = now() + chrono::Duration::from_std(wait).unwrap_or_default();
                (Outcome::Retry { at }, Some(error))
            }
        }
    }

    /// Exponential from `base`, doubling, capped at `max`, with jitter in [½, 1].
    fn backoff(&self, attempt: i32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << (attempt - 1).clamp(0, 30) as u32);
        exp.min(self.max)
            .mul_f64(rand::thread_rng().gen_range(0.5..=1.0))
    }
}

/// Attempt a claimed delivery once.
#[derive(Message)]
#[rtype(result = "AttemptRecord")]
pub struct Deliver {
    pub claimed: Claimed,
    pub policy: RetryPolicy,
}

/// The record of an attempt whose forwarder went away before answering:
/// retried like an outage, after the first backoff step.
pub fn unfinished(claimed: &Claimed) -> AttemptRecord {
    let d = &claimed.delivery;
    AttemptRecord {
        delivery_id: d.id.clone(),
        lane_id: claimed.lane(),
        claim_token: claimed.claim_token.clone(),
        task_id: d.task_id.clone(),
        attempt: d.attempts + 1,
        started_at: now(),
        outcome: Outcome::Retry {
            at: now() + chrono::Duration::seconds(1),
        },
        status_code: None,
        error: Some("the attempt was interrupted".into()),
        task_created: None,
        transient: true,
        response: None,
        followers: Vec::new(),
    }
}

/// One attempt by the delivery's mode and the agent's protocol: an ACP
/// event or an A2A message (their calls carrying the id of the request
/// that brought it), or the stored request replayed (its stored headers
/// carry the id); and the task it announced to the agent, if any.
async fn exchange(
    client: &awc::Client,
    base_url: &str,
    claimed: &Claimed,
    limit: usize,
    request_id: Option<String>,
) -> (Exchange, Option<String>) {
    match (claimed.delivery.mode, claimed.agent.protocol()) {
        (RouteMode::AcpEvent, AgentProtocol::Acp) => {
            deliver_event(client, base_url, claimed, limit, request_id).await
        }
        (RouteMode::AcpEvent, AgentProtocol::A2a) => {
            let exchange = deliver_message(client, base_url, claimed, limit, request_id);
            (exchange.await, None)
        }
        _ => (replay(client, base_url, claimed, limit).await, None),
    }
}

impl Handler<Deliver> for ForwarderActor {
    type Result = ResponseFuture<AttemptRecord>;

    fn handle(&mut self, msg: Deliver, _: &mut Self::Context) -> Self::Result {
        let client = self.client.clone();
        let base_url = self.base_url.clone();
        let limit = self.max_body_bytes;
        let refused = self.refused.clone();
        let request = stored::request_id(&msg.claimed.delivery.headers);
        let span = tracing::info_span!("delivery_attempt",
            delivery.id = %msg.claimed.delivery.id,
            agent.id = %msg.claimed.delivery.agent_id,
            attempt = msg.claimed.delivery.attempts + 1,
            request.id = request.as_deref().unwrap_or_default());
        // The stored headers are parsed again only when traces are exported.
        if crate::telemetry::exporting() {
            let traceparent = stored::find(
                &msg.claimed.delivery.headers,
                crate::telemetry::TRACEPARENT.as_str(),
            );
            crate::telemetry::continue_trace(&span, traceparent.as_deref());
        }
        Box::pin(
            async move {
                let started_at = now();
                let Deliver { claimed, policy } = msg;
                let (lane_id, claim_token) = (claimed.lane(), claimed.claim_token.clone());
                let attempt = claimed.delivery.attempts + 1;
                // A manual retry starts a fresh budget: count from there.
                let budget_used = attempt - claimed.delivery.budget_base;
                let (exchange, task_created) = match refused {
                    // The agent's address is refused: no attempt can succeed.
                    Some(error) => (Exchange::failed(error), None),
                    None => exchange(&client, &base_url, &claimed, limit, request).await,
                };
                let transient = matches!(exchange.verdict, Verdict::Retry { .. });
                let (outcome, error) = policy.outcome(exchange.verdict, budget_used);
                AttemptRecord {
                    task_id: claimed.delivery.task_id.clone(),
                    delivery_id: claimed.delivery.id,
                    lane_id,
                    claim_token,
                    transient,
                    attempt,
                    started_at,
                    outcome,
                    status_code: exchange.status.map(i32::from),
                    error,
                    task_created,
                    response: exchange.response,
                    followers: claimed
                        .followers
                        .iter()
                        .flatten()
                        .map(|d| d.id.clone())
                        .collect(),
                }
            }
            .instrument(span),
        )
    }
}

async fn replay(client: &awc::Client, base_url: &str, claimed: &Claimed, limit: usize) -> Exchange {
    let d = &claimed.delivery;
    let method = Method::from_bytes(d.method.as_bytes()).unwrap_or(Method::POST);
    let mut request = client.request(method, format!("{base_url}{}", d.path));
    *request.headers_mut() = stored::read(&d.headers);
    // The stored traceparent is the request's; this attempt's replaces it.
    request.headers_mut().remove(crate::telemetry::TRACEPARENT);
    crate::telemetry::inject(request.headers_mut());
    judge(request.send_body(d.body.clone()).await, limit, Call::Plain).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let policy = RetryPolicy {
            max_attempts: 15,
            base: Duration::from_secs(1),
            max: Duration::from_secs(600),
        };
        for attempt in 1..=12 {
            let full = Duration::from_secs(1 << (attempt - 1)).min(Duration::from_secs(600));
            let wait = policy.backoff(attempt);
            assert!(
                wait >= full / 2 && wait <= full,
                "attempt {attempt}: {wait:?}"
            );
        }
    }
}
