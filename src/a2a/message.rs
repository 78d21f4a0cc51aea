//! One event as an A2A message: JSON-RPC `SendMessage` (1.0, with the
//! `A2A-Version: 1.0` header) or `message/send` (0.3 shapes). The message's
//! id is the event's, so an agent can drop a retried duplicate; its context
//! is the task's, so one conversation is one context. The part is the
//! event's stored ACP content (`data` `{path, headers, body}`, a text, or a
//! coalesced `{"events": [...]}`), its provenance in `metadata`.

use crate::domain::A2aVersion;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

/// The header naming the version of a 1.0 call.
pub const VERSION_HEADER: &str = "A2A-Version";

/// One event of a task, as the message is made from it.
pub struct EventMessage<'a> {
    pub event_id: &'a str,
    pub task_id: &'a str,
    pub task_name: &'a str,
    pub sequence_id: i64,
    /// The stored (or coalesced) ACP content.
    pub content: &'a RawValue,
}

/// What of a stored ACP content a message carries; borrowed, never parsed
/// into a tree (a body stays the bytes intake stored).
#[derive(Deserialize, Default)]
struct StoredContent<'a> {
    #[serde(rename = "type", default)]
    kind: Option<&'a str>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
    #[serde(default)]
    content: Option<String>,
    #[serde(borrow, default)]
    provenance: Option<&'a RawValue>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Part<'a> {
    Data {
        #[serde(skip_serializing_if = "Option::is_none")]
        kind: Option<&'static str>,
        data: &'a RawValue,
        #[serde(rename = "mediaType", skip_serializing_if = "Option::is_none")]
        media_type: Option<&'static str>,
    },
    Text {
        #[serde(skip_serializing_if = "Option::is_none")]
        kind: Option<&'static str>,
        text: String,
        #[serde(rename = "mediaType", skip_serializing_if = "Option::is_none")]
        media_type: Option<&'static str>,
    },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Message<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    message_id: &'a str,
    context_id: &'a str,
    role: &'static str,
    parts: [Part<'a>; 1],
    metadata: Metadata<'a>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    provenance: Option<&'a RawValue>,
    hookgate: Hookgate<'a>,
}

/// What hookgate adds about the event's place in its conversation.
#[derive(Serialize)]
struct Hookgate<'a> {
    task_id: &'a str,
    task_name: &'a str,
    sequence_id: i64,
}

#[derive(Serialize)]
struct Params<'a> {
    message: Message<'a>,
    configuration: Value,
}

/// The JSON-RPC call, ready to be sent as JSON.
#[derive(Serialize)]
pub struct Request<'a> {
    jsonrpc: &'static str,
    id: &'a str,
    method: &'static str,
    params: Params<'a>,
}

/// The JSON-RPC call that delivers `event` to an agent speaking `version`.
pub fn send_message<'a>(event: &EventMessage<'a>, version: A2aVersion) -> Request<'a> {
    let stored: StoredContent<'a> = serde_json::from_str(event.content.get()).unwrap_or_default();
    let v1 = version == A2aVersion::V1;
    let part = part(stored.kind, stored.data, stored.content, v1);
    let message = Message {
        kind: (!v1).then_some("message"),
        message_id: event.event_id,
        context_id: event.task_id,
        role: if v1 { "ROLE_USER" } else { "user" },
        parts: [part],
        metadata: Metadata {
            provenance: stored.provenance,
            hookgate: Hookgate {
                task_id: event.task_id,
                task_name: event.task_name,
                sequence_id: event.sequence_id,
            },
        },
    };
    // Answered once the agent took the message, not when it finished: a
    // long task must not hold the conversation's next event, nor time out.
    let configuration = match v1 {
        true => serde_json::json!({"returnImmediately": true}),
        false => serde_json::json!({"blocking": false}),
    };
    Request {
        jsonrpc: "2.0",
        id: event.event_id,
        method: if v1 { "SendMessage" } else { "message/send" },
        params: Params {
            message,
            configuration,
        },
    }
}

fn part<'a>(
    kind: Option<&str>,
    data: Option<&'a RawValue>,
    text: Option<String>,
    v1: bool,
) -> Part<'a> {
    match (kind, data) {
        (Some("data") | None, Some(data)) => Part::Data {
            kind: (!v1).then_some("data"),
            data,
            media_type: v1.then_some("application/json"),
        },
        _ => Part::Text {
            kind: (!v1).then_some("text"),
            text: text.unwrap_or_default(),
            media_type: v1.then_some("text/plain"),
        },
    }
}

/// Whether an agent's 2xx answer took the message: a JSON-RPC `result` (a
/// Message or a Task); else why not (its `error`, or an answer that is not
/// JSON-RPC), which is retried like any failed attempt.
pub fn taken(body: &[u8]) -> Result<(), String> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| "the agent's answer is not JSON-RPC".to_owned())?;
    if let Some(error) = value.get("error").filter(|e| !e.is_null()) {
        let message = error.get("message").and_then(Value::as_str);
        let code = error.get("code").and_then(Value::as_i64);
        return Err(format!(
            "A2A error{}: {}",
            code.map(|c| format!(" {c}")).unwrap_or_default(),
            message.map_or_else(|| error.to_string(), str::to_owned)
        ));
    }
    match value.get("result") {
        Some(result) if !result.is_null() => Ok(()),
        _ => Err("the agent's answer has neither a result nor an error".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sent(content: &str, version: A2aVersion) -> Value {
        let content = RawValue::from_string(content.to_owned()).unwrap();
        let event = EventMessage {
            event_id: "e-1",
            task_id: "t-1",
            task_name: "github:o/r#7",
            sequence_id: 2,
            content: &content,
        };
        serde_json::to_value(send_message(&event, version)).unwrap()
    }

    #[test]
    fn a_data_event_is_a_1_0_message_of_its_context() {
        let content = r#"{"type":"data","author":"user","data":{"path":"gh","headers":{},"body":{"n":1}},"provenance":{"provider":"github"}}"#;
        let call = sent(content, A2aVersion::V1);
        assert_eq!(call["method"], "SendMessage");
        assert_eq!(call["id"], "e-1");
        let message = &call["params"]["message"];
        assert_eq!(message["messageId"], "e-1");
        assert_eq!(message["contextId"], "t-1");
        assert_eq!(message["role"], "ROLE_USER");
        assert_eq!(message["parts"][0]["data"]["body"]["n"], 1);
        assert_eq!(message["parts"][0]["mediaType"], "application/json");
        assert_eq!(message["metadata"]["provenance"]["provider"], "github");
        assert_eq!(message["metadata"]["hookgate"]["sequence_id"], 2);
        assert!(message.get("kind").is_none());
    }

    #[test]
    fn older_agents_get_0_3_shapes_and_text_is_a_text_part() {
        let content = r#"{"type":"text","author":"user","content":"PR #7 opened","provenance":{"provider":"github"}}"#;
        let call = sent(content, A2aVersion::V0_3);
        assert_eq!(call["method"], "message/send");
        let message = &call["params"]["message"];
        assert_eq!(message["kind"], "message");
        assert_eq!(message["role"], "user");
        assert_eq!(
            message["parts"][0],
            json!({"kind": "text", "text": "PR #7 opened"})
        );
        assert_eq!(call["params"]["configuration"], json!({"blocking": false}));
    }

    #[test]
    fn only_a_result_takes_the_message() {
        assert_eq!(
            taken(br#"{"jsonrpc":"2.0","id":"1","result":{"task":{}}}"#),
            Ok(())
        );
        let error = taken(
            br#"{"jsonrpc":"2.0","id":"1","error":{"code":-32001,"message":"Task not found"}}"#,
        );
        assert_eq!(error.unwrap_err(), "A2A error -32001: Task not found");
        assert!(taken(b"OK").is_err());
        assert!(taken(br#"{"jsonrpc":"2.0","id":"1"}"#).is_err());
    }
}
