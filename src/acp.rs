//! ACP JSON-RPC messages hookgate sends to agents (`task/create`,
//! `event/send`, and `message/send` for sync agents) and how their answers
//! are judged.

use serde_json::{json, Value};

/// The task an event belongs to, as ACP names it.
pub struct TaskRef<'a> {
    pub id: &'a str,
    pub name: &'a str,
}

/// `task/create`: announces a task before its first event.
pub fn task_create(request_id: &str, agent: &Value, task: &TaskRef<'_>) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "task/create",
        "params": {
            "agent": agent,
            "task": {"id": task.id, "name": task.name, "status": "RUNNING"},
            "params": {},
        },
    })
}

/// One event of a task.
pub struct EventRef<'a> {
    pub id: &'a str,
    pub agent_id: &'a str,
    pub sequence_id: i64,
    pub content: &'a Value,
    pub created_at: &'a str,
}

/// `event/send`: one event of a task, in `sequence_id` order.
pub fn event_send(agent: &Value, task: &TaskRef<'_>, event: &EventRef<'_>) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": event.id,
        "method": "event/send",
        "params": {
            "agent": agent,
            "task": {"id": task.id, "name": task.name},
            "event": {
                "id": event.id,
                "agent_id": event.agent_id,
                "task_id": task.id,
                "sequence_id": event.sequence_id,
                "content": event.content,
                "created_at": event.created_at,
            },
        },
    })
}

/// `message/send`: how a sync agent (which answers only this method)
/// receives one event of a task, with the same content.
pub fn message_send(agent: &Value, task: &TaskRef<'_>, event: &EventRef<'_>) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": event.id,
        "method": "message/send",
        "params": {
            "agent": agent,
            "task": {"id": task.id, "name": task.name},
            "content": event.content,
            "stream": false,
        },
    })
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

    #[test]
    fn null_or_absent_error_is_success() {
        assert_eq!(rpc_error(br#"{"result": null, "error": null}"#), None);
        assert_eq!(rpc_error(br#"{"result": {}}"#), None);
        assert_eq!(rpc_error(b"OK"), None);
        let err = rpc_error(br#"{"error": {"code": -32601, "message": "Method not found"}}"#);
        assert_eq!(err.as_deref(), Some("JSON-RPC error: Method not found"));
    }
}
