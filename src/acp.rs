//! ACP JSON-RPC messages hookgate sends to agents (`task/create`,
//! `event/send`, and `message/send` for sync agents) and how their answers
//! are judged.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// The agent as ACP messages name it: the fields of Agentex's `Agent`
/// model, borrowed from the stored agent (none of the admin API's own, such
/// as its account, identities or pause).
#[derive(Debug, Serialize)]
pub struct Agent<'a> {
    pub id: &'a str,
    pub name: &'a str,
    /// Empty when none was registered (the Agentex SDK requires a string).
    pub description: &'a str,
    pub acp_url: Option<&'a str>,
    pub acp_type: &'a str,
    pub status: &'a str,
    pub status_reason: Option<&'a str>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub registered_at: Option<DateTime<Utc>>,
    /// Stored as JSON text; sent as the JSON it is.
    pub registration_metadata: Option<&'a RawValue>,
    pub agent_input_type: Option<&'a str>,
}

/// A JSON-RPC 2.0 request.
#[derive(Serialize)]
pub struct Request<'a, P: Serialize> {
    jsonrpc: &'static str,
    id: &'a str,
    method: &'static str,
    params: P,
}

impl<'a, P: Serialize> Request<'a, P> {
    fn new(id: &'a str, method: &'static str, params: P) -> Self {
        Self {
            jsonrpc: "2.0",
            id,
            method,
            params,
        }
    }
}

/// The task an event belongs to, as ACP names it.
#[derive(Clone, Copy, Serialize)]
pub struct TaskRef<'a> {
    pub id: &'a str,
    pub name: &'a str,
}

#[derive(Serialize)]
pub struct TaskCreate<'a> {
    agent: &'a Agent<'a>,
    task: NewTask<'a>,
    params: Empty,
}

#[derive(Serialize)]
struct NewTask<'a> {
    #[serde(flatten)]
    task: TaskRef<'a>,
    status: &'static str,
}

#[derive(Serialize)]
struct Empty {}

/// `task/create`: announces a task before its first event.
pub fn task_create<'a>(
    request_id: &'a str,
    agent: &'a Agent<'a>,
    task: TaskRef<'a>,
) -> Request<'a, TaskCreate<'a>> {
    let task = NewTask {
        task,
        status: "RUNNING",
    };
    let params = TaskCreate {
        agent,
        task,
        params: Empty {},
    };
    Request::new(request_id, "task/create", params)
}

/// One event of a task; its content is the JSON intake stored, sent as is.
#[derive(Serialize)]
pub struct EventRef<'a> {
    pub id: &'a str,
    pub agent_id: &'a str,
    pub task_id: &'a str,
    pub sequence_id: i64,
    pub content: &'a RawValue,
    pub created_at: &'a str,
}

#[derive(Serialize)]
pub struct EventSend<'a> {
    agent: &'a Agent<'a>,
    task: TaskRef<'a>,
    event: &'a EventRef<'a>,
}

/// `event/send`: one event of a task, in `sequence_id` order.
pub fn event_send<'a>(
    agent: &'a Agent<'a>,
    task: TaskRef<'a>,
    event: &'a EventRef<'a>,
) -> Request<'a, EventSend<'a>> {
    Request::new(event.id, "event/send", EventSend { agent, task, event })
}

#[derive(Serialize)]
pub struct MessageSend<'a> {
    agent: &'a Agent<'a>,
    task: TaskRef<'a>,
    content: &'a RawValue,
    stream: bool,
}

/// `message/send`: how a sync agent (which answers only this method)
/// receives one event of a task, with the same content.
pub fn message_send<'a>(
    agent: &'a Agent<'a>,
    task: TaskRef<'a>,
    event: &'a EventRef<'a>,
) -> Request<'a, MessageSend<'a>> {
    let params = MessageSend {
        agent,
        task,
        content: event.content,
        stream: false,
    };
    Request::new(event.id, "message/send", params)
}

/// The JSON-RPC `error` of a 2xx answer, if it carries one. A body that is
/// not JSON, or has no `error` or a null one, is success.
pub fn rpc_error(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let error = value.get("error")?;
    if error.is_null() {
        return None;
    }
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| error.to_string());
    Some(format!("JSON-RPC error: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn agent(metadata: &RawValue) -> Agent<'_> {
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        Agent {
            id: "a-1",
            name: "pr-agent",
            description: "",
            acp_url: Some("http://127.0.0.1:9"),
            acp_type: "async",
            status: "Ready",
            status_reason: None,
            created_at: at,
            updated_at: at,
            registered_at: None,
            registration_metadata: Some(metadata),
            agent_input_type: None,
        }
    }

    #[test]
    fn messages_have_the_contract_shapes() {
        let metadata = RawValue::from_string(r#"{"team": "infra"}"#.into()).unwrap();
        let agent = agent(&metadata);
        let task = TaskRef {
            id: "t-1",
            name: "github:o/r#7",
        };
        let create = serde_json::to_value(task_create("r-1", &agent, task)).unwrap();
        assert_eq!(create["method"], "task/create");
        assert_eq!(create["jsonrpc"], "2.0");
        assert_eq!(
            create["params"]["task"],
            json!({"id": "t-1", "name": "github:o/r#7", "status": "RUNNING"})
        );
        assert_eq!(create["params"]["params"], json!({}));
        assert_eq!(create["params"]["agent"]["description"], "");
        assert_eq!(
            create["params"]["agent"]["registration_metadata"],
            json!({"team": "infra"})
        );
        let content = RawValue::from_string(r#"{"type":"data","data":{"n":1}}"#.into()).unwrap();
        let event = EventRef {
            id: "e-1",
            agent_id: "a-1",
            task_id: "t-1",
            sequence_id: 3,
            content: &content,
            created_at: "2026-12-07T00:00:00Z",
        };
        let sent = serde_json::to_value(event_send(&agent, task, &event)).unwrap();
        assert_eq!(sent["id"], "e-1");
        assert_eq!(
            sent["params"]["task"],
            json!({"id": "t-1", "name": "github:o/r#7"})
        );
        assert_eq!(sent["params"]["event"]["content"]["data"]["n"], 1);
        assert_eq!(sent["params"]["event"]["task_id"], "t-1");
        let message = serde_json::to_value(message_send(&agent, task, &event)).unwrap();
        assert_eq!(message["method"], "message/send");
        assert_eq!(message["params"]["stream"], false);
        assert_eq!(message["params"]["content"]["type"], "data");
    }

    #[test]
    fn null_or_absent_error_is_success() {
        assert_eq!(rpc_error(br#"{"result": null, "error": null}"#), None);
        assert_eq!(rpc_error(br#"{"result": {}}"#), None);
        assert_eq!(rpc_error(b"OK"), None);
        let err = rpc_error(br#"{"error": {"code": -32601, "message": "Method not found"}}"#);
        assert_eq!(err.as_deref(), Some("JSON-RPC error: Method not found"));
    }
}
