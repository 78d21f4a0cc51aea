//! One delivery attempt, run by the agent's `ForwarderActor`: `task/create`
//! before a task's first event, then `event/send` (`message/send` alone for
//! a sync agent; the stored request for `forward_async`), judged by the
//! contract's retry rules.

use crate::acp::{self, EventRef, TaskRef};
use crate::actors::forwarder::ForwarderActor;
use crate::db::agents::Agent;
use crate::db::deliveries::{AttemptRecord, Claimed, Delivery, Outcome};
use crate::db::now;
use crate::domain::{AcpType, RouteMode};
use crate::headers::{stored, REQUEST_ID};
use actix::prelude::*;
use actix_web::http::header::{HeaderMap, RETRY_AFTER};
use actix_web::http::{Method, StatusCode};
use rand::Rng;
use serde_json::value::RawValue;
use std::time::Duration;
use tracing::Instrument;

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

/// What one HTTP exchange said about the delivery.
enum Verdict {
    Done,
    Retry {
        after: Option<Duration>,
        error: String,
    },
    Fail {
        error: String,
    },
}

struct Exchange {
    verdict: Verdict,
    status: Option<u16>,
    /// What the agent answered, bounded (see [`answer_of`]).
    response: Option<String>,
}

impl Exchange {
    fn failed(error: String) -> Self {
        Self {
            verdict: Verdict::Fail { error },
            status: None,
            response: None,
        }
    }
}

/// The most of an agent's answer kept with an attempt.
const MAX_RESPONSE_BYTES: usize = 4096;

/// An answer as kept: a JSON-RPC call's `result` (or its `error`) as JSON,
/// another body as text; cut at [`MAX_RESPONSE_BYTES`] on a character
/// boundary.
fn answer_of(body: &[u8], json_rpc: bool) -> Option<String> {
    let text = match json_rpc {
        true => {
            let value: serde_json::Value = serde_json::from_slice(body).ok()?;
            let error = value.get("error").filter(|e| !e.is_null());
            let answer = error.or_else(|| value.get("result"))?;
            answer.to_string()
        }
        false => String::from_utf8_lossy(body).into_owned(),
    };
    let mut end = text.len().min(MAX_RESPONSE_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Some(text[..end].to_owned())
}

/// One attempt by the delivery's mode: an ACP event (its calls carrying the
/// id of the request that brought it), or the stored request replayed (its
/// stored headers carry the id); and the task it created, if any.
async fn exchange(
    client: &awc::Client,
    base_url: &str,
    claimed: &Claimed,
    limit: usize,
    request_id: Option<String>,
) -> (Exchange, Option<String>) {
    if RouteMode::parse(&claimed.delivery.mode) == Ok(RouteMode::AcpEvent) {
        deliver_event(client, base_url, claimed, limit, request_id).await
    } else {
        (replay(client, base_url, claimed, limit).await, None)
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

async fn deliver_event(
    client: &awc::Client,
    base_url: &str,
    claimed: &Claimed,
    limit: usize,
    request_id: Option<String>,
) -> (Exchange, Option<String>) {
    let Some(task) = &claimed.task else {
        return (Exchange::failed("the delivery's task is gone".into()), None);
    };
    let agent = acp_agent(&claimed.agent);
    let task_ref = TaskRef {
        id: &task.id,
        name: &task.name,
    };
    let target = RpcTarget {
        client,
        url: format!("{base_url}/api"),
        key: claimed.internal_key.as_ref().map(|k| k.expose().to_owned()),
        request_id,
        limit,
    };
    // A sync agent (Agentex `acp_type: sync`) answers only `message/send`:
    // its tasks are not announced, each event is a message.
    let sync = claimed.agent.acp_type == AcpType::Sync.as_str();
    let mut created = None;
    if task.created_on_agent_at.is_none() && !sync {
        let rpc_id = uuid::Uuid::new_v4().to_string();
        let exchange = target
            .call(&acp::task_create(&rpc_id, &agent, task_ref))
            .await;
        if !matches!(exchange.verdict, Verdict::Done) {
            return (exchange, None);
        }
        created = Some(task.id.clone());
    }
    let coalesced;
    let content = match &claimed.followers {
        Some(followers) => {
            coalesced = coalesced_content(&claimed.delivery, followers);
            &*coalesced
        }
        None => stored_content(&claimed.delivery),
    };
    let created_at = claimed
        .delivery
        .created_at
        .and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let event = EventRef {
        id: &claimed.delivery.id,
        agent_id: &claimed.agent.id,
        task_id: &task.id,
        sequence_id: claimed.delivery.sequence_id.unwrap_or(1),
        content,
        created_at: &created_at,
    };
    let exchange = match sync {
        true => {
            target
                .call(&acp::message_send(&agent, task_ref, &event))
                .await
        }
        false => {
            target
                .call(&acp::event_send(&agent, task_ref, &event))
                .await
        }
    };
    (exchange, created)
}

/// The agent as ACP names it.
fn acp_agent(a: &Agent) -> acp::Agent<'_> {
    acp::Agent {
        id: &a.id,
        name: &a.name,
        description: a.description.as_deref().unwrap_or_default(),
        acp_url: a.acp_url.as_deref(),
        acp_type: &a.acp_type,
        status: &a.status,
        status_reason: a.status_reason.as_deref(),
        created_at: a.created_at.and_utc(),
        updated_at: a.updated_at.and_utc(),
        registered_at: a.registered_at.map(|t| t.and_utc()),
        registration_metadata: a
            .registration_metadata
            .as_deref()
            .and_then(|m| serde_json::from_str(m).ok()),
        agent_input_type: a.agent_input_type.as_deref(),
    }
}

/// The content intake built, as stored: sent as the JSON it is, never
/// parsed into a tree and written out again (null if unreadable).
fn stored_content(delivery: &Delivery) -> &RawValue {
    delivery
        .content
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or(RawValue::NULL)
}

/// The content of a coalesced delivery: `{"events": [...]}` of each event's
/// data (a text event's whole content), in sequence; the head's provenance
/// naming every delivery it carries.
fn coalesced_content(head: &Delivery, followers: &[Delivery]) -> Box<RawValue> {
    let parsed = |d: &Delivery| -> serde_json::Value {
        serde_json::from_str(stored_content(d).get()).unwrap_or_default()
    };
    let all: Vec<&Delivery> = std::iter::once(head).chain(followers).collect();
    let events: Vec<serde_json::Value> = all
        .iter()
        .map(|d| {
            let content = parsed(d);
            content.get("data").cloned().unwrap_or(content)
        })
        .collect();
    let mut provenance = parsed(head)["provenance"].clone();
    if provenance.is_object() {
        let ids: Vec<&str> = all.iter().map(|d| d.id.as_str()).collect();
        provenance["delivery_ids"] = serde_json::json!(ids);
    }
    let content = serde_json::json!({
        "type": "data", "author": "user", "style": "static",
        "data": {"events": events},
        "provenance": provenance,
    });
    serde_json::value::to_raw_value(&content).unwrap_or_else(|_| RawValue::NULL.to_owned())
}

/// Where one attempt's JSON-RPC calls go, with the agent's internal key and
/// the id of the request that brought the event.
struct RpcTarget<'a> {
    client: &'a awc::Client,
    url: String,
    key: Option<String>,
    request_id: Option<String>,
    limit: usize,
}

impl RpcTarget<'_> {
    async fn call(&self, body: &impl serde::Serialize) -> Exchange {
        let mut request = self.client.post(&self.url);
        let key = self.key.as_deref().unwrap_or_default();
        request = request.insert_header(("x-agent-api-key", key));
        if let Some(id) = &self.request_id {
            request = request.insert_header((REQUEST_ID, id.as_str()));
        }
        crate::telemetry::inject(request.headers_mut());
        judge(request.send_json(body).await, self.limit, true).await
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
    judge(request.send_body(d.body.clone()).await, limit, false).await
}

async fn judge<S>(
    sent: Result<awc::ClientResponse<S>, awc::error::SendRequestError>,
    limit: usize,
    json_rpc: bool,
) -> Exchange
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, awc::error::PayloadError>> + Unpin,
{
    let mut response = match sent {
        Ok(r) => r,
        Err(e) => {
            let verdict = Verdict::Retry {
                after: None,
                error: format!("agent unreachable: {e}"),
            };
            return Exchange {
                verdict,
                status: None,
                response: None,
            };
        }
    };
    let status = response.status();
    let retry_after = retry_after(response.headers());
    let body = response.body().limit(limit).await;
    let answer = body.as_ref().ok().and_then(|b| answer_of(b, json_rpc));
    let verdict = match (status, body) {
        (s, Ok(body)) if s.is_success() => {
            match json_rpc.then(|| acp::rpc_error(&body)).flatten() {
                Some(error) => Verdict::Fail { error },
                None => Verdict::Done,
            }
        }
        (s, Err(e)) if s.is_success() => Verdict::Retry {
            after: None,
            error: format!("reading the agent's answer failed: {e}"),
        },
        (s, _)
            if s == StatusCode::REQUEST_TIMEOUT
                || s == StatusCode::TOO_MANY_REQUESTS
                || s.is_server_error() =>
        {
            Verdict::Retry {
                after: retry_after,
                error: format!("agent answered {s}"),
            }
        }
        (s, _) => Verdict::Fail {
            error: format!("agent answered {s}"),
        },
    };
    Exchange {
        verdict,
        status: Some(status.as_u16()),
        response: answer,
    }
}

/// `Retry-After` as seconds or an HTTP date, capped at a day.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = match raw.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let date: actix_web::http::header::HttpDate = raw.parse().ok()?;
            std::time::SystemTime::from(date)
                .duration_since(std::time::SystemTime::now())
                .unwrap_or_default()
        }
    };
    Some(wait.min(Duration::from_secs(86_400)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

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

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(
            retry_after(&headers),
            Some(Duration::ZERO),
            "a past date means now"
        );
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }
}
