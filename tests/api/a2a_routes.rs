//! Every route feature with an A2A agent (issue 30): conditions and
//! redaction, a coalesced batch as one message, an A2A shadow of an ACP
//! agent, and a replay of an ACP agent's events to an A2A agent.

use crate::a2a_agent::A2aAgent;
use crate::acp_agent::AcpAgent;
use crate::agent_native::{burst, edits, pull_request, route_with_key_and, send_github};
use crate::delivery::{queue_app, wait_for_status};
use crate::helpers::*;
use serde_json::{json, Value};
use std::time::Duration;

db_tests!(
    conditions_and_redaction_hold_for_an_a2a_agent,
    a_coalesced_batch_is_one_message,
    an_a2a_shadow_gets_every_event_of_an_acp_agent,
    an_acp_agents_events_replay_to_an_a2a_agent
);

async fn register_a2a(app: &TestApp, name: &str, agent: &A2aAgent) -> Value {
    let body = json!({"name": name, "protocol": "a2a", "agent_card_url": agent.url()});
    let reply = app.post_json("/agents/register", body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

/// The `action` of each message's body, in arrival order.
fn actions(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .map(|m| {
            m["parts"][0]["data"]["body"]["action"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

async fn conditions_and_redaction_hold_for_an_a2a_agent(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = A2aAgent::start().await;
    register_a2a(&app, "pr-agent", &agent).await;
    let route = json!({
        "filter": [{"field": "header.x-github-event", "in": ["pull_request"]}],
        "ignore": [{"field": "body.pull_request.draft", "equals": true}],
        "redact": ["body.pull_request.user.email"],
    });
    route_with_key_and(&app, route).await;
    let push = json!({"ref": "refs/heads/main", "repository": {"full_name": "octo/hello"}});
    let ignored = send_github(&app, "push", &push, "f-push").await;
    assert_eq!(ignored.status, 200, "{}", ignored.text());
    assert_eq!(ignored.json()["reason"], "filter");
    let draft = send_github(
        &app,
        "pull_request",
        &pull_request(1, true, "dev"),
        "f-draft",
    )
    .await;
    assert_eq!(draft.status, 200, "{}", draft.text());
    assert_eq!(draft.json()["reason"], "ignore");
    const EMAIL: &str = "private-person@example.com";
    let mut ids = Vec::new();
    for n in 1..=3 {
        let mut body = pull_request(2, false, "dev");
        body["action"] = json!(format!("edit-{n}"));
        body["pull_request"]["user"] = json!({"login": "dev", "email": EMAIL});
        let reply = send_github(&app, "pull_request", &body, &format!("f-{n}")).await;
        assert_eq!(reply.status, 202, "{}", reply.text());
        ids.push(reply.json()["event_id"].as_str().unwrap().to_owned());
    }
    wait_for_status(&app, ids.last().unwrap(), "delivered").await;
    // Give anything that should not have been sent the time to arrive.
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    let messages = agent.messages();
    assert_eq!(
        actions(&messages),
        edits(1..=3),
        "only what the conditions let through"
    );
    let user = &messages[0]["parts"][0]["data"]["body"]["pull_request"]["user"];
    assert_eq!(user["login"], "dev");
    assert_ne!(
        user["email"], EMAIL,
        "redacted before it reached the agent: {user}"
    );
    assert!(!messages[0].to_string().contains(EMAIL));
}

async fn a_coalesced_batch_is_one_message(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = A2aAgent::start().await;
    register_a2a(&app, "pr-agent", &agent).await;
    route_with_key_and(
        &app,
        json!({"coalesce": {"window_ms": 1500, "max_wait_ms": 20000}}),
    )
    .await;
    let first = burst(&app, 15, 1, 5).await;
    for answer in &first {
        wait_for_status(&app, answer["event_id"].as_str().unwrap(), "delivered").await;
    }
    let messages = agent.wait_for(1).await;
    assert_eq!(messages.len(), 1, "five events, one message");
    let batch = &messages[0]["parts"][0]["data"]["events"];
    let batch_actions: Vec<&str> = batch
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["body"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(batch_actions, edits(1..=5), "in order");
    let ids: Vec<&Value> = first.iter().map(|a| &a["event_id"]).collect();
    assert_eq!(
        messages[0]["metadata"]["provenance"]["delivery_ids"],
        json!(ids)
    );
    assert_eq!(
        messages[0]["messageId"], *ids[0],
        "the batch is its head's message"
    );
}

async fn an_a2a_shadow_gets_every_event_of_an_acp_agent(backend: Backend) {
    let app = queue_app(backend).await;
    let main = AcpAgent::start().await;
    let shadow = A2aAgent::start().await;
    app.register("pr-agent", &main.url).await;
    register_a2a(&app, "shadow-agent", &shadow).await;
    route_with_key_and(&app, json!({"shadow_agent": "shadow-agent"})).await;
    let answers = burst(&app, 11, 1, 5).await;
    for answer in &answers {
        wait_for_status(&app, answer["event_id"].as_str().unwrap(), "delivered").await;
    }
    let messages = shadow.wait_for(5).await;
    assert_eq!(
        actions(&messages),
        edits(1..=5),
        "the shadow got every event, in order"
    );
    assert_eq!(main.events().len(), 5, "and so did the main agent");
    let main_task = main.events()[0]["params"]["task"]["id"].clone();
    assert_ne!(
        messages[0]["contextId"], main_task,
        "the shadow's own task is its context"
    );
    let contexts: Vec<&Value> = messages.iter().map(|m| &m["contextId"]).collect();
    assert!(
        contexts.iter().all(|c| *c == contexts[0]),
        "one context: {contexts:?}"
    );
}

async fn an_acp_agents_events_replay_to_an_a2a_agent(backend: Backend) {
    let app = queue_app(backend).await;
    let original = AcpAgent::start().await;
    let candidate = A2aAgent::start().await;
    app.register("pr-agent", &original.url).await;
    register_a2a(&app, "pr-agent-a2a", &candidate).await;
    route_with_key_and(&app, json!({})).await;
    let since = chrono::Utc::now() - chrono::Duration::seconds(1);
    let mut ids = Vec::new();
    for pr in [1, 2] {
        for answer in burst(&app, pr, 1, 5).await {
            ids.push(answer["event_id"].as_str().unwrap().to_owned());
        }
    }
    for id in &ids {
        wait_for_status(&app, id, "delivered").await;
    }
    let until = chrono::Utc::now() + chrono::Duration::seconds(1);
    let created = app
        .post_json(
            "/replays",
            json!({"from_agent": "pr-agent", "to_agent": "pr-agent-a2a",
                   "since": since.to_rfc3339(), "until": until.to_rfc3339()}),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text());
    let path = format!(
        "/replays/{}?limit=1000",
        created.json()["id"].as_str().unwrap()
    );
    let mut report = Value::Null;
    for _ in 0..300 {
        report = app.get(&path).await.json();
        if report["finished"] == 10 {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(report["finished"], 10, "{report}");
    for event in report["events"].as_array().unwrap() {
        assert_eq!(event["replayed"]["status"], "delivered", "{event}");
        let answer = event["replayed"]["response"].as_str().unwrap_or_default();
        assert!(
            answer.contains("\"received\""),
            "the A2A agent's answer is kept: {event}"
        );
    }
    let messages = candidate.wait_for(10).await;
    for pr in [1, 2] {
        let of_pr: Vec<Value> = messages
            .iter()
            // Protobuf's JSON reads every number as a double.
            .filter(|m| m["parts"][0]["data"]["body"]["number"].as_f64() == Some(pr as f64))
            .cloned()
            .collect();
        assert_eq!(actions(&of_pr), edits(1..=5), "pull request {pr} in order");
        assert!(of_pr
            .iter()
            .all(|m| m["contextId"] == of_pr[0]["contextId"]));
        let replay_of = of_pr[0]["metadata"]["provenance"]["replay_of"]
            .as_str()
            .unwrap();
        assert!(
            ids.contains(&replay_of.to_owned()),
            "marked as a replay: {replay_of}"
        );
    }
}
