//! An `acp_event` delivery's calls: `task/create` before a task's first
//! event (not for a sync agent), then `event/send` (`message/send` for a
//! sync agent) with the content intake stored, each carrying the agent's
//! internal key and the id of the request that brought the event.

use super::verdict::{judge, Exchange, Verdict};
use crate::acp::{self, EventRef, TaskRef};
use crate::db::agents::Agent;
use crate::db::deliveries::{Claimed, Delivery};
use crate::domain::AcpType;
use crate::headers::REQUEST_ID;
use crate::row::content;
use serde_json::value::RawValue;

pub async fn deliver_event(
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
        if let Err(refused) = announce(&target, &agent, task_ref).await {
            return (refused, None);
        }
        created = Some(task.id.clone());
    }
    let coalesced;
    let content = match &claimed.followers {
        Some(followers) => {
            coalesced = batch(&claimed.delivery, followers);
            &*coalesced
        }
        None => content::stored(claimed.delivery.content.as_deref()),
    };
    let created_at = rfc3339(claimed.delivery.created_at);
    let event = EventRef {
        id: &claimed.delivery.id,
        agent_id: &claimed.agent.id,
        task_id: &task.id,
        sequence_id: claimed.delivery.sequence_id.unwrap_or(1),
        content,
        created_at: &created_at,
    };
    let exchange = if sync {
        target
            .call(&acp::message_send(&agent, task_ref, &event))
            .await
    } else {
        target
            .call(&acp::event_send(&agent, task_ref, &event))
            .await
    };
    (exchange, created)
}

/// The coalesced content of a head and the events gathered behind it.
fn batch(head: &Delivery, followers: &[Delivery]) -> Box<RawValue> {
    let all: Vec<(&str, Option<&str>)> = std::iter::once(head)
        .chain(followers)
        .map(|d| (d.id.as_str(), d.content.as_deref()))
        .collect();
    content::coalesced(&all)
}

/// `task/create` for a task the agent does not know yet; the exchange
/// that did not succeed, if it did not.
async fn announce(
    target: &RpcTarget<'_>,
    agent: &acp::Agent<'_>,
    task: TaskRef<'_>,
) -> Result<(), Exchange> {
    let rpc_id = uuid::Uuid::new_v4().to_string();
    let exchange = target.call(&acp::task_create(&rpc_id, agent, task)).await;
    match exchange.verdict {
        Verdict::Done => Ok(()),
        _ => Err(exchange),
    }
}

fn rfc3339(at: chrono::NaiveDateTime) -> String {
    at.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
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
