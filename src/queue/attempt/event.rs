//! An `acp_event` delivery's calls: `task/create` before a task's first
//! event (not for a sync agent), then `event/send` (`message/send` for a
//! sync agent) with the content intake stored, each carrying the agent's
//! internal key and the id of the request that brought the event.

use super::verdict::{judge, Call, Exchange, Verdict};
use crate::acp::{self, EventRef, TaskRef};
use crate::db::agents::Agent;
use crate::db::deliveries::Claimed;
use crate::domain::AcpType;
use crate::headers::REQUEST_ID;
use crate::row::content;
use serde_json::value::RawValue;
use std::borrow::Cow;

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
    let key = claimed.secrets.internal.as_ref();
    let target = RpcTarget {
        client,
        url: format!("{base_url}/api"),
        headers: vec![(
            "x-agent-api-key",
            key.map(|k| k.expose().to_owned()).unwrap_or_default(),
        )],
        request_id,
        limit,
        call: Call::Acp,
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
    let content = content_of(claimed);
    let created_at = rfc3339(claimed.delivery.created_at);
    let event = EventRef {
        id: &claimed.delivery.id,
        agent_id: &claimed.agent.id,
        task_id: &task.id,
        sequence_id: claimed.delivery.sequence_id.unwrap_or(1),
        content: &content,
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

/// The content an attempt sends: the stored one, or the coalesced content
/// of a head and the events gathered behind it.
pub fn content_of(claimed: &Claimed) -> Cow<'_, RawValue> {
    match &claimed.followers {
        Some(followers) => {
            let all: Vec<(&str, Option<&str>)> = std::iter::once(&claimed.delivery)
                .chain(followers)
                .map(|d| (d.id.as_str(), d.content.as_deref()))
                .collect();
            Cow::Owned(content::coalesced(&all))
        }
        None => Cow::Borrowed(content::stored(claimed.delivery.content.as_deref())),
    }
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

/// Where one attempt's JSON-RPC calls go, with the headers that prove who
/// sends them (the agent's internal key, an A2A agent's token) and the id
/// of the request that brought the event.
pub struct RpcTarget<'a> {
    pub client: &'a awc::Client,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub request_id: Option<String>,
    pub limit: usize,
    pub call: Call,
}

impl RpcTarget<'_> {
    pub async fn call(&self, body: &impl serde::Serialize) -> Exchange {
        let mut request = self.client.post(&self.url);
        for (name, value) in &self.headers {
            request = request.insert_header((*name, value.as_str()));
        }
        if let Some(id) = &self.request_id {
            request = request.insert_header((REQUEST_ID, id.as_str()));
        }
        crate::telemetry::inject(request.headers_mut());
        judge(request.send_json(body).await, self.limit, self.call).await
    }
}
