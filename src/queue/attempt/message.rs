//! An `acp_event` delivery to an A2A agent: one JSON-RPC `SendMessage`
//! (`message/send` for a 0.3 agent) to the card's interface, the event as
//! a message of the task's context, with the agent's bearer token if it
//! gave one. Nothing announces a task: a context begins with its first
//! message.

use super::event::{content_of, RpcTarget};
use super::verdict::{Call, Exchange};
use crate::a2a::message::{send_message, EventMessage, VERSION_HEADER};
use crate::db::deliveries::Claimed;
use crate::domain::A2aVersion;

pub async fn deliver_message(
    client: &awc::Client,
    url: &str,
    claimed: &Claimed,
    limit: usize,
    request_id: Option<String>,
) -> Exchange {
    let Some(task) = &claimed.task else {
        return Exchange::failed("the delivery's task is gone".into());
    };
    let version = A2aVersion::from_stored(claimed.agent.a2a_version.as_deref());
    let mut headers = Vec::new();
    if version == A2aVersion::V1 {
        headers.push((VERSION_HEADER, version.as_str().to_owned()));
    }
    if let Some(token) = &claimed.secrets.outbound {
        headers.push(("authorization", format!("Bearer {}", token.expose())));
    }
    let target = RpcTarget {
        client,
        url: url.to_owned(),
        headers,
        request_id,
        limit,
        call: Call::A2a,
    };
    let content = content_of(claimed);
    let event = EventMessage {
        event_id: &claimed.delivery.id,
        task_id: &task.id,
        task_name: &task.name,
        sequence_id: claimed.delivery.sequence_id.unwrap_or(1),
        content: &content,
    };
    target.call(&send_message(&event, version)).await
}
