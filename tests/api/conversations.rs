//! One conversation, one task (issue 27): a route with `task_key:
//! "{conversation}"` and `missing_task_key: "ignore"` takes every event
//! type of a provider on one URL. Real GitHub deliveries (the community's
//! collection, signed by GitHub's own library) of one pull request land in
//! one task in order, an issue and its comment in another; a push is
//! ignored, a ping answered by hookgate. Slack threads (signed by Slack's
//! own SDK), Linear issues and GitLab merge requests alike, with payloads
//! shaped as each provider's documentation shows them.

use crate::acp_agent::AcpAgent;
use crate::delivery::{queue_app, wait_for_status};
use crate::helpers::*;
use crate::payloads::{self, GithubDelivery};
use crate::task_keys::task_names;
use crate::vectors;
use actix_web::http::Method;
use serde_json::{json, Value};

db_tests!(
    a_pull_requests_real_deliveries_share_one_task,
    a_slack_thread_is_one_task,
    a_linear_issue_and_its_comments_are_one_task,
    a_gitlab_merge_request_and_its_notes_are_one_task,
    actor_provenance_can_be_filtered_on,
    conversation_keys_are_refused_where_no_provider_names_one,
    a_plain_forward_lets_the_agent_answer_a_ping
);

const SECRET: &str = "github-webhook-secret";

/// `agent` registered as `name` with an acp_event route `hooks` keyed by
/// the conversation, ignoring calls that name none, plus `route`'s fields.
async fn conversation_route(app: &TestApp, name: &str, agent: &AcpAgent, route: Value) -> Value {
    app.register(name, &agent.url).await;
    let mut body = json!({"agent_name": name, "path": "hooks", "mode": "acp_event",
                          "task_key": "{conversation}", "missing_task_key": "ignore"});
    body.as_object_mut()
        .unwrap()
        .extend(route.as_object().unwrap().clone());
    let made = app.post_json("/agent_routes", body).await;
    assert_eq!(made.status, 200, "{}", made.text());
    made.json()
}

async fn send_github(app: &TestApp, delivery: &GithubDelivery, id: &str) -> Reply {
    let headers = [
        ("x-hub-signature-256", delivery.signature.as_str()),
        ("x-github-event", delivery.event.as_str()),
        ("x-github-delivery", id),
        ("content-type", "application/json"),
    ];
    app.forward(
        Method::POST,
        "pr-agent",
        "hooks",
        &headers,
        delivery.body.clone(),
    )
    .await
}

/// The events task `name` received, in order.
fn events_of(agent: &AcpAgent, name: &str) -> Vec<Value> {
    agent
        .events()
        .into_iter()
        .filter(|e| e["params"]["task"]["name"] == name)
        .map(|e| e["params"]["event"]["content"].clone())
        .collect()
}

async fn accepted_all(app: &TestApp, replies: &[Reply]) -> Vec<Value> {
    let mut answers = Vec::new();
    for reply in replies {
        assert_eq!(reply.status, 202, "{}", reply.text());
        let answer = reply.json();
        wait_for_status(app, answer["event_id"].as_str().unwrap(), "delivered").await;
        answers.push(answer);
    }
    answers
}

/// A pull request's life as GitHub delivered it to the collection
/// (Codertocat/Hello-World#2), each an unmodified example.
const PULL_REQUEST_LIFE: [(&str, usize); 8] = [
    ("pull_request", 0),                // opened
    ("pull_request_review", 0),         // submitted
    ("pull_request_review_comment", 0), // created
    ("pull_request_review_thread", 1),  // resolved
    ("check_run", 1),                   // completed, pull_requests[0].number 2
    ("pull_request", 22),               // synchronize
    ("issues", 13),                     // milestoned: the PR as an issue
    ("pull_request", 3),                // closed
];

async fn a_pull_requests_real_deliveries_share_one_task(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    conversation_route(&app, "pr-agent", &agent, json!({})).await;
    for repo in ["Codertocat/Hello-World", "Octocoders/Hello-World"] {
        app.create_key("pr-agent", repo, "github", Some(SECRET))
            .await;
    }
    let life = payloads::github(SECRET, &PULL_REQUEST_LIFE);
    let issue = payloads::github(SECRET, &[("issues", 15), ("issue_comment", 0)]);
    let [push, ping] = &payloads::github(SECRET, &[("push", 0), ("ping", 0)])[..] else {
        unreachable!()
    };

    let mut replies = Vec::new();
    for (i, delivery) in life.iter().chain(&issue).enumerate() {
        replies.push(send_github(&app, delivery, &format!("gh-{i}")).await);
    }
    let answers = accepted_all(&app, &replies).await;
    let pr_tasks: Vec<&Value> = answers[..8].iter().map(|a| &a["task_id"]).collect();
    assert!(pr_tasks.iter().all(|t| *t == pr_tasks[0]), "{pr_tasks:?}");
    assert_eq!(answers[8]["task_id"], answers[9]["task_id"]);
    assert_ne!(answers[8]["task_id"], answers[0]["task_id"]);

    let expected: Vec<Value> = life.iter().map(|d| d.json()["action"].clone()).collect();
    let got: Vec<Value> = events_of(&agent, "github:Codertocat/Hello-World#2")
        .iter()
        .map(|c| c["data"]["body"]["action"].clone())
        .collect();
    assert_eq!(got, expected, "all eight, in the order sent");
    assert_eq!(
        events_of(&agent, "github:Codertocat/Hello-World#1").len(),
        2,
        "the issue and its comment"
    );

    let pushed = send_github(&app, push, "gh-push").await;
    assert_eq!(pushed.status, 200, "{}", pushed.text());
    assert_eq!(
        pushed.json(),
        json!({"ignored": true, "reason": "no_task_key", "detail": "conversation"})
    );
    let pinged = send_github(&app, ping, "gh-ping").await;
    assert_eq!(pinged.status, 200, "{}", pinged.text());
    assert_eq!(
        pinged.json(),
        json!({"handshake": true, "provider": "github"})
    );
    let metrics = app.get("/metrics").await.text();
    assert!(
        metrics.contains(r#"outcome="handshake""#),
        "the ping is counted as a handshake"
    );
    // The agent saw exactly the ten accepted events: no ping, no push.
    assert_eq!(agent.event_count(), 10);

    // Tasks carry their key, listed and searchable by it.
    let names = task_names(&app, "name=github%3ACodertocat").await;
    assert_eq!(
        names,
        [
            "github:Codertocat/Hello-World#1",
            "github:Codertocat/Hello-World#2"
        ]
    );
    let event_id = answers[0]["event_id"].as_str().unwrap();
    let delivery = app.get(&format!("/deliveries/{event_id}")).await.json();
    assert_eq!(delivery["task_name"], "github:Codertocat/Hello-World#2");
}

/// Slack's app_mention and message event examples, in one channel.
fn slack_event(event: Value, event_id: &str) -> String {
    json!({"token": "ZZZZZZWSxiZZZ2yIvs3peJ", "team_id": "T061EG9R6", "api_app_id": "A0MDYCDME",
           "event": event, "type": "event_callback", "event_id": event_id,
           "event_time": 1515449522, "authed_users": ["U0LAN0Z89"]})
    .to_string()
}

async fn send_slack(app: &TestApp, body: String, content_type: &str) -> Reply {
    let signed = vectors::sign(
        "slack",
        "slack-signing-secret",
        &body,
        chrono::Utc::now().timestamp(),
        "",
    );
    let headers = vectors::with(&signed, &[("content-type", content_type)]);
    app.forward(Method::POST, "slack-agent", "hooks", &headers, body)
        .await
}

async fn a_slack_thread_is_one_task(backend: Backend) {
    vectors::ready();
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    conversation_route(&app, "slack-agent", &agent, json!({})).await;
    app.create_key(
        "slack-agent",
        "A0MDYCDME",
        "slack",
        Some("slack-signing-secret"),
    )
    .await;
    let thread = "1515449522.000016";
    let channel = "C0LAN2Q65";
    let mention = json!({"type": "app_mention", "user": "U061F7AUR", "channel": channel,
        "text": "<@U0LAN0Z89> is it everything a river should be?", "ts": thread,
        "event_ts": thread});
    let reply = |ts: &str, text: &str| {
        json!({"type": "message", "channel": channel, "user": "U2147483697", "text": text,
               "ts": ts, "thread_ts": thread, "event_ts": ts, "channel_type": "channel"})
    };
    let bot_reply = json!({"type": "message", "subtype": "bot_message", "bot_id": "B0BOT",
        "channel": channel, "text": "on it", "ts": "1515449560.000400", "thread_ts": thread,
        "event_ts": "1515449560.000400", "channel_type": "channel"});
    let unrelated = json!({"type": "message", "channel": channel, "user": "U2147483697",
        "text": "lunch?", "ts": "1515449600.000200", "event_ts": "1515449600.000200",
        "channel_type": "channel"});
    // A button pressed on a message in the thread (interactivity: a form
    // whose `payload` field is the JSON).
    let action = json!({"type": "block_actions", "team": {"id": "T061EG9R6", "domain": "example"},
        "api_app_id": "A0MDYCDME", "user": {"id": "U061F7AUR"},
        "container": {"type": "message", "message_ts": "1515449540.000300", "channel_id": channel,
                      "is_ephemeral": false, "thread_ts": thread},
        "channel": {"id": channel, "name": "general"},
        "message": {"type": "message", "ts": "1515449540.000300", "thread_ts": thread, "text": "Approve?"},
        "actions": [{"action_id": "approve", "type": "button", "value": "yes"}]});
    let form = serde_urlencoded::to_string([("payload", action.to_string())]).unwrap();

    let json_type = "application/json";
    let replies = vec![
        send_slack(&app, slack_event(mention, "Ev01"), json_type).await,
        send_slack(
            &app,
            slack_event(reply("1515449530.000100", "one"), "Ev02"),
            json_type,
        )
        .await,
        send_slack(
            &app,
            slack_event(reply("1515449531.000100", "two"), "Ev03"),
            json_type,
        )
        .await,
        send_slack(&app, slack_event(unrelated, "Ev04"), json_type).await,
        send_slack(&app, form, "application/x-www-form-urlencoded").await,
        send_slack(&app, slack_event(bot_reply, "Ev05"), json_type).await,
    ];
    let answers = accepted_all(&app, &replies).await;
    for i in [1, 2, 4, 5] {
        assert_eq!(answers[i]["task_id"], answers[0]["task_id"], "event {i}");
    }
    assert_ne!(answers[3]["task_id"], answers[0]["task_id"]);
    let in_thread = events_of(&agent, &format!("slack:T061EG9R6:{channel}:{thread}"));
    let texts: Vec<Value> = in_thread
        .iter()
        .map(|c| {
            let body = &c["data"]["body"];
            body["event"]["text"]
                .clone()
                .as_str()
                .map_or_else(|| body["actions"][0]["action_id"].clone(), |t| t.into())
        })
        .collect();
    assert_eq!(
        texts,
        [
            json!("<@U0LAN0Z89> is it everything a river should be?"),
            json!("one"),
            json!("two"),
            json!("approve"),
            json!("on it")
        ]
    );
    let actor = |i: usize| in_thread[i]["provenance"]["actor"].clone();
    assert_eq!(actor(0), json!({"id": "U061F7AUR", "bot": false}));
    assert_eq!(actor(4), json!({"id": "B0BOT", "bot": true}));
    let lunch = events_of(
        &agent,
        &format!("slack:T061EG9R6:{channel}:1515449600.000200"),
    );
    assert_eq!(lunch.len(), 1);
}

async fn send_linear(app: &TestApp, body: Value, delivery: &str) -> Reply {
    let mut body = body;
    body["webhookTimestamp"] = chrono::Utc::now().timestamp_millis().into();
    body["organizationId"] = "org-4f2c".into();
    let body = body.to_string();
    let signed = vectors::sign("linear", "lin_wh_secret", &body, 0, "");
    let event = body_type(&body);
    let headers = vectors::with(
        &signed,
        &[
            ("linear-event", event.as_str()),
            ("linear-delivery", delivery),
            ("content-type", "application/json"),
        ],
    );
    app.forward(Method::POST, "linear-agent", "hooks", &headers, body)
        .await
}

fn body_type(body: &str) -> String {
    let parsed: Value = serde_json::from_str(body).unwrap();
    parsed["type"].as_str().unwrap().to_owned()
}

async fn a_linear_issue_and_its_comments_are_one_task(backend: Backend) {
    vectors::ready();
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    conversation_route(&app, "linear-agent", &agent, json!({})).await;
    app.create_key("linear-agent", "workspace", "linear", Some("lin_wh_secret"))
        .await;
    let issue = "2174add1-f7c8-44e3-bbf3-2d60b5ea8bc9";
    let other = "8a1b4f4e-5c2d-4c1e-9b8f-7d6a5e4c3b2a";
    let actor = json!({"id": "7e5c1f2a", "name": "Ada", "type": "user"});
    let comment = |id: &str, on: &str, text: &str| {
        json!({"action": "create", "type": "Comment", "actor": actor,
               "data": {"id": id, "body": text, "issueId": on, "issue": {"id": on, "title": "Bug"}},
               "url": "https://linear.app/acme/issue/ENG-1#comment-1"})
    };
    let created = json!({"action": "create", "type": "Issue", "actor": actor,
        "data": {"id": issue, "identifier": "ENG-1", "title": "Bug", "number": 1},
        "url": "https://linear.app/acme/issue/ENG-1/bug"});
    let replies = vec![
        send_linear(&app, created, "l-1").await,
        send_linear(&app, comment("c-1", issue, "first"), "l-2").await,
        send_linear(&app, comment("c-2", other, "elsewhere"), "l-3").await,
        send_linear(&app, comment("c-3", issue, "second"), "l-4").await,
    ];
    let answers = accepted_all(&app, &replies).await;
    assert_eq!(answers[0]["task_id"], answers[1]["task_id"]);
    assert_eq!(answers[0]["task_id"], answers[3]["task_id"]);
    assert_ne!(answers[0]["task_id"], answers[2]["task_id"]);
    let kinds: Vec<Value> = events_of(&agent, &format!("linear:org-4f2c/{issue}"))
        .iter()
        .map(|c| c["data"]["body"]["type"].clone())
        .collect();
    assert_eq!(kinds, [json!("Issue"), json!("Comment"), json!("Comment")]);
}

async fn send_gitlab(app: &TestApp, token: &str, event: &str, body: Value) -> Reply {
    let headers = [
        ("x-gitlab-token", token),
        ("x-gitlab-event", event),
        ("content-type", "application/json"),
    ];
    app.forward(
        Method::POST,
        "gitlab-agent",
        "hooks",
        &headers,
        body.to_string(),
    )
    .await
}

async fn a_gitlab_merge_request_and_its_notes_are_one_task(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    conversation_route(&app, "gitlab-agent", &agent, json!({})).await;
    let created = app
        .create_key("gitlab-agent", "gitlab-org/gitlab-test", "gitlab", None)
        .await;
    let token = created["api_key"].as_str().unwrap();
    let project =
        json!({"id": 1, "name": "Gitlab Test", "path_with_namespace": "gitlab-org/gitlab-test"});
    let user = json!({"id": 1, "name": "Administrator", "username": "root"});
    let opened = json!({"object_kind": "merge_request", "event_type": "merge_request", "user": user,
        "project": project, "object_attributes": {"id": 99, "iid": 1, "action": "open",
        "title": "MS-Viewport", "source_branch": "ms-viewport", "target_branch": "master"}});
    let note = |id: u64, text: &str| {
        json!({"object_kind": "note", "event_type": "note", "user": user, "project": project,
               "object_attributes": {"id": id, "note": text, "noteable_type": "MergeRequest"},
               "merge_request": {"id": 99, "iid": 1, "title": "MS-Viewport"}})
    };
    let pipeline = json!({"object_kind": "pipeline", "user": user, "project": project,
        "object_attributes": {"id": 31, "status": "success"},
        "merge_request": {"id": 99, "iid": 1, "title": "MS-Viewport"}});
    // Issue 1 is another conversation than merge request 1.
    let issue_note = json!({"object_kind": "note", "event_type": "note", "user": user,
        "project": project, "object_attributes": {"id": 1243, "note": "Hello world",
        "noteable_type": "Issue"}, "issue": {"id": 92, "iid": 1, "title": "test"}});
    let replies = vec![
        send_gitlab(&app, token, "Merge Request Hook", opened).await,
        send_gitlab(&app, token, "Note Hook", note(1244, "This MR needs work.")).await,
        send_gitlab(&app, token, "Pipeline Hook", pipeline).await,
        send_gitlab(&app, token, "Note Hook", issue_note).await,
        send_gitlab(&app, token, "Note Hook", note(1245, "Fixed.")).await,
    ];
    let answers = accepted_all(&app, &replies).await;
    for i in [1, 2, 4] {
        assert_eq!(answers[i]["task_id"], answers[0]["task_id"], "event {i}");
    }
    assert_ne!(answers[3]["task_id"], answers[0]["task_id"]);
    let kinds: Vec<Value> = events_of(&agent, "gitlab:gitlab-org/gitlab-test!1")
        .iter()
        .map(|c| c["data"]["body"]["object_kind"].clone())
        .collect();
    assert_eq!(
        kinds,
        ["merge_request", "note", "pipeline", "note"].map(Value::from)
    );
    assert_eq!(
        events_of(&agent, "gitlab:gitlab-org/gitlab-test#1").len(),
        1
    );
}

async fn actor_provenance_can_be_filtered_on(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    let trusted = json!([{"field": "actor.association", "in": ["OWNER", "MEMBER"]}]);
    conversation_route(&app, "pr-agent", &agent, json!({"filter": trusted})).await;
    for repo in ["Codertocat/Hello-World", "octo-org/octo-repo"] {
        app.create_key("pr-agent", repo, "github", Some(SECRET))
            .await;
    }
    // An owner's review comment, and a contributor resolving a thread.
    let [owner, contributor] = &payloads::github(
        SECRET,
        &[
            ("pull_request_review_comment", 0),
            ("pull_request_review_thread", 0),
        ],
    )[..] else {
        unreachable!()
    };
    let kept = send_github(&app, owner, "a-1").await;
    accepted_all(&app, &[kept]).await;
    let dropped = send_github(&app, contributor, "a-2").await;
    assert_eq!(dropped.status, 200, "{}", dropped.text());
    assert_eq!(dropped.json()["reason"], "filter");
    let events = events_of(&agent, "github:Codertocat/Hello-World#2");
    assert_eq!(events.len(), 1);
    let sender = owner.json()["sender"]["login"].clone();
    assert_eq!(
        events[0]["provenance"]["actor"],
        json!({"id": sender, "bot": false, "association": "OWNER", "fork": false})
    );
}

async fn conversation_keys_are_refused_where_no_provider_names_one(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("mixed", "http://127.0.0.1:9").await;
    app.create_key("mixed", "octo/hello", "github", Some(SECRET))
        .await;
    let route = |path: &str, key: &str, extra: Value| {
        let mut body = json!({"agent_name": "mixed", "path": path, "mode": "acp_event",
                              "task_key": key});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    // Only GitHub keys: every call can name its conversation.
    let ok = app
        .post_json("/agent_routes", route("a", "{conversation}", json!({})))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    app.create_key("mixed", "ci", "external", None).await;
    app.create_key("mixed", "hooks", "standard_webhooks", None)
        .await;
    let refused = app
        .post_json("/agent_routes", route("b", "{conversation}", json!({})))
        .await;
    assert_eq!(refused.status, 422, "{}", refused.text());
    let message = refused.json()["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("Field 'task_key'") && message.contains("external, standard_webhooks"),
        "{message}"
    );
    let kept_to_github = json!({"filter": [{"field": "provider", "in": ["github"]}]});
    let filtered = app
        .post_json(
            "/agent_routes",
            route("c", "{conversation}", kept_to_github),
        )
        .await;
    assert_eq!(filtered.status, 200, "{}", filtered.text());
    let with_fallback = route("d", "k:{conversation|header.x-request-id}", json!({}));
    let fallback = app.post_json("/agent_routes", with_fallback).await;
    assert_eq!(fallback.status, 200, "{}", fallback.text());
    for (key, named) in [
        ("{conversations}", "conversations"),
        ("{actor.name}", "actor.name"),
    ] {
        let bad = app
            .post_json("/agent_routes", route("e", key, json!({})))
            .await;
        assert_eq!(bad.status, 422, "{}", bad.text());
        assert!(bad.text().contains(named), "{}", bad.text());
    }
    let listed = app.get("/agent_routes?agent_name=mixed").await.json();
    assert_eq!(
        listed.as_array().unwrap().len(),
        3,
        "refusals stored nothing"
    );
}

async fn a_plain_forward_lets_the_agent_answer_a_ping(backend: Backend) {
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    app.register("pr-agent", &upstream.url).await;
    app.create_key("pr-agent", "Octocoders/Hello-World", "github", Some(SECRET))
        .await;
    let [ping] = &payloads::github(SECRET, &[("ping", 1)])[..] else {
        unreachable!()
    };
    // No route: the synchronous forward, where the agent answers.
    let reply = send_github(&app, ping, "p-1").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let got = upstream.single();
    assert_eq!(got.header("x-github-event"), Some("ping"));
    assert_eq!(got.body, ping.body.as_bytes());
}
