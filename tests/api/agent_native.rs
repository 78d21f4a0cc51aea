//! Agent-native routing (issue 15): route filters and ignores, and the loop
//! guard that drops events an agent caused itself, over real HTTP with a
//! real agent.

use crate::acp_agent::{AcpAgent, Answer};
use crate::delivery::{pr_event, queue_app, wait_for_status, SECRET, TASK_KEY};
use crate::helpers::*;
use crate::process::{free_port, Process};
use crate::secrets_at_rest::{contains, database_bytes};
use actix_web::http::Method;
use hookgate::verify::providers::{github, slack};
use serde_json::{json, Value};
use std::time::Duration;

db_tests!(
    filters_and_ignores_answer_200_and_deliver_nothing,
    a_bad_condition_is_refused_naming_it,
    dropped_calls_are_kept_as_ignored_when_asked,
    the_loop_guard_drops_the_agents_own_github_events,
    the_loop_guard_drops_the_agents_own_slack_messages,
    identities_are_checked_and_shown,
    a_sync_agent_receives_message_send_in_order,
    events_carry_their_provenance,
    a_redacted_field_reaches_neither_the_database_nor_the_agent,
    a_shadow_agent_gets_every_event_and_its_failures_touch_nothing,
    the_loop_breaker_holds_a_runaway_task_until_released,
    without_identities_or_a_limit_no_task_is_held,
    a_replay_reports_fifty_outcomes_side_by_side,
    events_inside_a_coalescing_window_arrive_as_one,
    a_kill_9_inside_the_coalescing_window_loses_nothing,
);

/// An acp_event route on `code_changes` for `pr-agent` with these
/// conditions, and its GitHub key.
async fn route_with(app: &TestApp, agent: &AcpAgent, filter: Value, ignore: Value) {
    app.register("pr-agent", &agent.url).await;
    app.create_key("pr-agent", "octo/hello", "github", Some(SECRET))
        .await;
    let route = app
        .post_json(
            "/agent_routes",
            json!({"agent_name": "pr-agent", "path": "code_changes", "mode": "acp_event",
                   "task_key": TASK_KEY, "filter": filter, "ignore": ignore}),
        )
        .await;
    assert_eq!(route.status, 200, "{}", route.text());
    assert_eq!(route.json()["filter"], filter);
    assert_eq!(route.json()["ignore"], ignore);
}

/// A GitHub call of `event` with `body`, signed with the test key.
pub async fn send_github(app: &TestApp, event: &str, body: &Value, delivery: &str) -> Reply {
    send_github_to(app, "code_changes", event, body, delivery).await
}

/// [`send_github`] to `pr-agent`'s sub-path `path`.
pub async fn send_github_to(
    app: &TestApp,
    path: &str,
    event: &str,
    body: &Value,
    delivery: &str,
) -> Reply {
    let body = body.to_string();
    let signature = github::sign(SECRET.as_bytes(), body.as_bytes());
    let headers = [
        ("x-hub-signature-256", signature.as_str()),
        ("x-github-event", event),
        ("x-github-delivery", delivery),
        ("content-type", "application/json"),
    ];
    app.forward(Method::POST, "pr-agent", path, &headers, body)
        .await
}

pub fn pull_request(number: u64, draft: bool, sender: &str) -> Value {
    json!({"action": "opened", "number": number,
           "pull_request": {"number": number, "draft": draft},
           "repository": {"full_name": "octo/hello"}, "sender": {"login": sender}})
}

fn assert_ignored(reply: &Reply, reason: &str, detail: &str) {
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json(),
        json!({"ignored": true, "reason": reason, "detail": detail})
    );
}

async fn filters_and_ignores_answer_200_and_deliver_nothing(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    let filter = json!([{"field": "header.x-github-event", "in": ["pull_request"]}]);
    let ignore = json!([{"field": "body.pull_request.draft", "equals": true}]);
    route_with(&app, &agent, filter, ignore).await;

    let push = json!({"ref": "refs/heads/main", "repository": {"full_name": "octo/hello"}});
    let reply = send_github(&app, "push", &push, "d-push").await;
    assert_ignored(
        &reply,
        "filter",
        r#"header.x-github-event in ["pull_request"] does not hold."#,
    );
    let draft = send_github(
        &app,
        "pull_request",
        &pull_request(1, true, "dev"),
        "d-draft",
    )
    .await;
    assert_ignored(&draft, "ignore", "body.pull_request.draft equals true.");
    // A bad signature is refused before any condition is looked at.
    let forged = send_pr_forged(&app).await;
    assert_eq!(forged.status, 401, "{}", forged.text());

    let kept = send_github(&app, "pull_request", &pull_request(2, false, "dev"), "d-pr").await;
    assert_eq!(kept.status, 202, "{}", kept.text());
    let id = kept.json()["event_id"].as_str().unwrap().to_owned();
    wait_for_status(&app, &id, "delivered").await;
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    let events = agent.events();
    assert_eq!(events.len(), 1, "only the kept call arrives: {events:?}");
    assert_eq!(
        events[0]["params"]["event"]["content"]["data"]["body"]["pull_request"]["number"],
        2
    );
    let stored = app.get("/deliveries").await.json();
    assert_eq!(
        stored.as_array().unwrap().len(),
        1,
        "nothing else stored: {stored}"
    );

    // Tests in this process share one metrics recorder: other tests'
    // pr-agent may have dropped calls too.
    let metrics = app.get("/metrics").await.text();
    for reason in ["filter", "ignore"] {
        let series = format!("hookgate_ignored_total{{agent=\"pr-agent\",reason=\"{reason}\"}} ");
        let count: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix(&series))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{series} in:\n{metrics}"));
        assert!(count >= 1, "{series}{count}");
    }
}

async fn send_pr_forged(app: &TestApp) -> Reply {
    let body = pr_event(3, "opened");
    let signature = github::sign(b"not the secret", body.as_bytes());
    let headers = [
        ("x-hub-signature-256", signature.as_str()),
        ("x-github-event", "push"),
        ("content-type", "application/json"),
    ];
    app.forward(Method::POST, "pr-agent", "code_changes", &headers, body)
        .await
}

async fn a_bad_condition_is_refused_naming_it(backend: Backend) {
    let app = queue_app(backend).await;
    app.register("pr-agent", "http://127.0.0.1:9").await;
    let cases = [
        (
            json!({"filter": [{"field": "header.x-github-event", "in": []}]}),
            "Field 'filter[0].in' must list 1 to 100 values.",
        ),
        (
            json!({"ignore": [{"field": "query.x", "exists": true}]}),
            "Field 'ignore[0].field' has an unknown placeholder {query.x}: use {body.a.b}, {header.name}, {path}, {conversation}, {provider}, {actor.id}, {actor.bot}, {actor.association} or {actor.fork}.",
        ),
        (
            json!({"filter": [{"field": "path", "exists": true, "equals": "x"}]}),
            "Field 'filter[0]' must have exactly one of 'in', 'exists', 'equals' or 'contains'.",
        ),
    ];
    for (conditions, message) in cases {
        let mut body = json!({"agent_name": "pr-agent", "path": "hooks", "mode": "forward_async"});
        body.as_object_mut()
            .unwrap()
            .extend(conditions.as_object().unwrap().clone());
        let reply = app.post_json("/agent_routes", body).await;
        reply.assert_message(422, message);
    }
    let routes = app.get("/agent_routes?agent_name=pr-agent").await.json();
    assert_eq!(routes, json!([]), "nothing was stored");
}

async fn dropped_calls_are_kept_as_ignored_when_asked(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.keep_ignored = true;
        s.poll_interval = Duration::from_millis(100);
    })
    .await;
    let agent = AcpAgent::start().await;
    let filter = json!([{"field": "body.action", "in": ["opened"]}]);
    route_with(&app, &agent, filter, json!([])).await;
    let mut closed = pull_request(4, false, "dev");
    closed["action"] = json!("closed");
    let reply = send_github(&app, "pull_request", &closed, "d-closed").await;
    let detail = r#"body.action in ["opened"] does not hold."#;
    assert_ignored(&reply, "filter", detail);
    let reason = format!("filter: {detail}");

    let kept = app.get("/deliveries?status=ignored").await.json();
    let kept = kept.as_array().unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0]["last_error"], reason);
    assert_eq!(kept[0]["task_id"], Value::Null);
    let id = kept[0]["id"].as_str().unwrap();
    let payload = app.get(&format!("/deliveries/{id}/payload")).await.json();
    let body: Value = serde_json::from_str(payload["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["action"], "closed", "the request is kept: {payload}");
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    assert!(
        agent.calls().is_empty(),
        "an ignored call is never attempted"
    );
    let retry = app
        .post_json(&format!("/deliveries/{id}/retry"), json!({}))
        .await;
    assert_eq!(retry.status, 409, "{}", retry.text());
    let stats = app.get("/deliveries/stats").await.json();
    assert_eq!(stats["agents"][0]["last_hour"]["accepted"], 0, "{stats}");
}

async fn the_loop_guard_drops_the_agents_own_github_events(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    route_with(&app, &agent, json!([]), json!([])).await;
    let id = app.get("/agents/name/pr-agent").await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let set = app
        .put_json(
            &format!("/agents/{id}/identities"),
            json!({"identities": ["github:pr-bot[bot]"]}),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.text());

    let own = send_github(
        &app,
        "pull_request",
        &pull_request(5, false, "pr-bot[bot]"),
        "d-own",
    )
    .await;
    assert_ignored(
        &own,
        "loop",
        "the event was caused by github:pr-bot[bot], one of the agent's own identities.",
    );
    let human = send_github(
        &app,
        "pull_request",
        &pull_request(5, false, "octocat"),
        "d-human",
    )
    .await;
    assert_eq!(human.status, 202, "{}", human.text());
    wait_for_status(
        &app,
        human.json()["event_id"].as_str().unwrap(),
        "delivered",
    )
    .await;
    assert_eq!(agent.events().len(), 1);

    // Without a route (a synchronous forward) the agent is guarded too.
    let upstream = Upstream::start().await;
    app.register("sync-agent", &upstream.url).await;
    app.create_key("sync-agent", "octo/hello", "github", Some(SECRET))
        .await;
    let sync_id = app.get("/agents/name/sync-agent").await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.put_json(
        &format!("/agents/{sync_id}/identities"),
        json!({"identities": ["github:pr-bot[bot]"]}),
    )
    .await;
    let body = pull_request(6, false, "pr-bot[bot]").to_string();
    let signature = github::sign(SECRET.as_bytes(), body.as_bytes());
    let reply = app
        .forward(
            Method::POST,
            "sync-agent",
            "github",
            &[
                ("x-hub-signature-256", &signature),
                ("content-type", "application/json"),
            ],
            body,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["ignored"], true);
    assert!(upstream.received().is_empty(), "nothing was forwarded");
}

async fn the_loop_guard_drops_the_agents_own_slack_messages(backend: Backend) {
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    // Declared at registration, as an Agentex SDK agent can from its metadata.
    let registered = app
        .post_json(
            "/agents/register",
            json!({"name": "slack-agent", "acp_url": upstream.url,
                   "registration_metadata": {"hookgate_identities": ["slack:B0123ABC"]}}),
        )
        .await;
    assert_eq!(registered.status, 200, "{}", registered.text());
    assert_eq!(registered.json()["identities"], json!(["slack:B0123ABC"]));
    app.create_key("slack-agent", "A0123456", "slack", Some("slack-secret"))
        .await;
    let send = |text: &str, bot: Option<&str>| {
        let mut event = json!({"type": "message", "text": text, "user": "U1"});
        if let Some(bot) = bot {
            event["bot_id"] = json!(bot);
        }
        json!({"type": "event_callback", "api_app_id": "A0123456", "event_id": text, "event": event})
            .to_string()
    };
    for (body, dropped) in [
        (send("from-itself", Some("B0123ABC")), true),
        (send("from-a-person", None), false),
        (send("from-another-bot", Some("B999")), false),
    ] {
        let ts = now_secs().to_string();
        let signature = slack::sign(b"slack-secret", &ts, body.as_bytes());
        let headers = [
            ("content-type", "application/json"),
            ("x-slack-request-timestamp", ts.as_str()),
            ("x-slack-signature", signature.as_str()),
        ];
        let reply = app
            .forward(
                Method::POST,
                "slack-agent",
                "slack/events",
                &headers,
                body.clone(),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(
            reply.json()["ignored"] == true,
            dropped,
            "{body}: {}",
            reply.text()
        );
    }
    let received = upstream.received();
    assert_eq!(received.len(), 2, "the agent's own message never arrives");
    assert!(received
        .iter()
        .all(|r| !String::from_utf8_lossy(&r.body).contains("from-itself")));
    // Re-registration without identities keeps them.
    app.register("slack-agent", &upstream.url).await;
    let agent = app.get("/agents/name/slack-agent").await.json();
    assert_eq!(agent["identities"], json!(["slack:B0123ABC"]));
}

async fn identities_are_checked_and_shown(backend: Backend) {
    let app = spawn_app(backend).await;
    let registered = app.register("agent-a", "http://127.0.0.1:9").await;
    assert_eq!(registered["identities"], json!([]));
    let id = registered["id"].as_str().unwrap();
    let path = format!("/agents/{id}/identities");
    let refused = app
        .put_json(&path, json!({"identities": ["stripe:acct_1"]}))
        .await;
    assert_eq!(refused.status, 422, "{}", refused.text());
    assert!(refused.json()["message"]
        .as_str()
        .unwrap()
        .starts_with("Field 'identities[0]' must be 'provider:id'"));
    let set = app
        .put_json(&path, json!({"identities": ["linear:u-1", "gitlab:bot"]}))
        .await;
    assert_eq!(set.status, 200, "{}", set.text());
    assert_eq!(
        set.json()["identities"],
        json!(["linear:u-1", "gitlab:bot"])
    );
    let shown = app.get(&format!("/agents/{id}")).await.json();
    assert_eq!(shown["identities"], json!(["linear:u-1", "gitlab:bot"]));
    let bad = app
        .post_json(
            "/agents/register",
            json!({"name": "agent-b", "acp_url": "http://127.0.0.1:9",
                   "registration_metadata": {"hookgate_identities": "github:x"}}),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.text());
    assert_eq!(app.get("/agents/name/agent-b").await.status, 404);
}

async fn a_sync_agent_receives_message_send_in_order(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    let registered = app
        .post_json(
            "/agents/register",
            json!({"name": "pr-agent", "acp_url": agent.url, "acp_type": "sync"}),
        )
        .await;
    assert_eq!(registered.status, 200, "{}", registered.text());
    route_with_key(&app).await;
    // One transient refusal: retried like any delivery.
    agent.script(&[Answer::Status(503)]);
    let mut ids = Vec::new();
    for n in 1..=3 {
        let mut body = pull_request(7, false, "dev");
        body["action"] = json!(format!("edit-{n}"));
        let reply = send_github(&app, "pull_request", &body, &format!("sync-{n}")).await;
        assert_eq!(reply.status, 202, "{}", reply.text());
        ids.push(reply.json()["event_id"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        wait_for_status(&app, id, "delivered").await;
    }
    let calls: Vec<Value> = agent.calls().iter().map(|c| c.json()).collect();
    assert!(
        calls.iter().all(|c| c["method"] == "message/send"),
        "a sync agent gets message/send only (no task/create): {calls:?}"
    );
    let delivered: Vec<&Value> = calls.iter().skip(1).collect();
    let actions: Vec<&Value> = delivered
        .iter()
        .map(|c| &c["params"]["content"]["data"]["body"]["action"])
        .collect();
    assert_eq!(
        actions,
        ["edit-1", "edit-2", "edit-3"],
        "in order after the retry"
    );
    let task_ids: Vec<&Value> = delivered
        .iter()
        .map(|c| &c["params"]["task"]["id"])
        .collect();
    assert!(
        task_ids.iter().all(|t| *t == task_ids[0]),
        "one task: {task_ids:?}"
    );
    assert_eq!(delivered[0]["params"]["stream"], false);
    assert_eq!(delivered[0]["id"], ids[0]);
}

/// The GitHub key and an acp_event route on `code_changes` for the
/// already registered `pr-agent`, with `extra` route fields.
pub async fn route_with_key_and(app: &TestApp, extra: Value) {
    app.create_key("pr-agent", "octo/hello", "github", Some(SECRET))
        .await;
    let mut body = json!({"agent_name": "pr-agent", "path": "code_changes",
                          "mode": "acp_event", "task_key": TASK_KEY});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let route = app.post_json("/agent_routes", body).await;
    assert_eq!(route.status, 200, "{}", route.text());
}

async fn route_with_key(app: &TestApp) {
    route_with_key_and(app, json!({})).await;
}

async fn events_carry_their_provenance(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    app.register("pr-agent", &agent.url).await;
    route_with_key(&app).await;
    let before = chrono::Utc::now();
    let reply = send_github(&app, "pull_request", &pull_request(8, false, "dev"), "p-1").await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    let id = reply.json()["event_id"].as_str().unwrap().to_owned();
    wait_for_status(&app, &id, "delivered").await;
    let content = &agent.events()[0]["params"]["event"]["content"];
    let provenance = &content["provenance"];
    assert_eq!(provenance["provider"], "github", "{content}");
    assert_eq!(provenance["key_name"], "octo/hello");
    assert_eq!(provenance["verified"], true);
    assert_eq!(provenance["delivery_id"], id);
    let received: chrono::DateTime<chrono::Utc> =
        provenance["received_at"].as_str().unwrap().parse().unwrap();
    assert!(
        received >= before - chrono::Duration::seconds(1),
        "{received}"
    );
    assert_eq!(content["data"]["body"]["number"], 8, "data is unchanged");
}

async fn a_redacted_field_reaches_neither_the_database_nor_the_agent(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    app.register("pr-agent", &agent.url).await;
    let redact = json!(["body.pull_request.user.email", "header.x-customer-email"]);
    route_with_key_and(&app, json!({"redact": redact})).await;
    let routes = app.get("/agent_routes?agent_name=pr-agent").await.json();
    assert_eq!(routes[0]["redact"], redact);
    // A forward_async route on another path keeps the request itself.
    let queued = app
        .post_json(
            "/agent_routes",
            json!({"agent_name": "pr-agent", "path": "queued", "mode": "forward_async",
                   "redact": redact}),
        )
        .await;
    assert_eq!(queued.status, 200, "{}", queued.text());

    const EMAIL: &str = "private-person@example.com";
    const CUSTOMER: &str = "customer-9f3a@example.com";
    let mut body = pull_request(9, false, "dev");
    body["pull_request"]["user"] = json!({"login": "dev", "email": EMAIL});
    let text = body.to_string();
    let signature = github::sign(SECRET.as_bytes(), text.as_bytes());
    for (path, delivery) in [("code_changes", "r-1"), ("queued", "r-2")] {
        let headers = [
            ("x-hub-signature-256", signature.as_str()),
            ("x-github-event", "pull_request"),
            ("x-github-delivery", delivery),
            ("x-customer-email", CUSTOMER),
            ("content-type", "application/json"),
        ];
        let reply = app
            .forward(Method::POST, "pr-agent", path, &headers, text.clone())
            .await;
        assert_eq!(reply.status, 202, "{}", reply.text());
        wait_for_status(
            &app,
            reply.json()["event_id"].as_str().unwrap(),
            "delivered",
        )
        .await;
    }
    let calls = agent.calls();
    assert_eq!(
        calls.len(),
        3,
        "task/create, event/send, the replayed request"
    );
    for call in &calls {
        let seen = format!("{:?} {}", call.headers, String::from_utf8_lossy(&call.body));
        assert!(!seen.contains(EMAIL) && !seen.contains(CUSTOMER), "{seen}");
    }
    let event = &agent.events()[0]["params"]["event"]["content"]["data"];
    assert_eq!(
        event["body"]["pull_request"]["user"],
        json!({"login": "dev"})
    );
    let replayed = calls
        .iter()
        .find(|c| c.path == "/queued")
        .expect("replayed");
    let replayed: Value = serde_json::from_slice(&replayed.body).unwrap();
    assert_eq!(replayed["pull_request"]["user"], json!({"login": "dev"}));
    app.stop().await;
    let stored = database_bytes(&app.db.url);
    assert!(
        !contains(&stored, EMAIL),
        "the email is not in the database"
    );
    assert!(
        !contains(&stored, CUSTOMER),
        "the header is not in the database"
    );
}

async fn a_shadow_agent_gets_every_event_and_its_failures_touch_nothing(backend: Backend) {
    let app = queue_app(backend).await;
    let main = AcpAgent::start().await;
    let shadow = AcpAgent::start().await;
    app.register("pr-agent", &main.url).await;
    let shadow_id = app.register("shadow-agent", &shadow.url).await["id"].clone();
    // The shadow refuses every call for now.
    shadow.fail_tasks("", 503);
    route_with_key_and(&app, json!({"shadow_agent": "shadow-agent"})).await;
    let route = &app.get("/agent_routes?agent_name=pr-agent").await.json()[0];
    assert_eq!(route["shadow_agent_id"], shadow_id);

    let mut main_ids = Vec::new();
    for n in 1..=5 {
        let mut body = pull_request(11, false, "dev");
        body["action"] = json!(format!("edit-{n}"));
        let reply = send_github(&app, "pull_request", &body, &format!("s-{n}")).await;
        assert_eq!(reply.status, 202, "{}", reply.text());
        main_ids.push(reply.json()["event_id"].as_str().unwrap().to_owned());
    }
    // A provider's redelivery is answered as before and copied to no one.
    let again = send_github(&app, "pull_request", &pull_request(11, false, "dev"), "s-1").await;
    assert_eq!(again.json()["event_id"], main_ids[0]);
    for id in &main_ids {
        wait_for_status(&app, id, "delivered").await;
    }
    assert_eq!(main.events().len(), 5, "the main agent got every event");
    let refused = app.get("/deliveries?agent_name=shadow-agent").await.json();
    assert_eq!(refused.as_array().unwrap().len(), 5, "{refused}");

    shadow.heal();
    let mut shadow_rows = Vec::new();
    for _ in 0..200 {
        shadow_rows = app
            .get("/deliveries?agent_name=shadow-agent&status=delivered")
            .await
            .json()
            .as_array()
            .unwrap()
            .clone();
        if shadow_rows.len() == 5 {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        shadow_rows.len(),
        5,
        "the shadow gets every event once it answers"
    );
    let events = shadow.events();
    let actions: Vec<&Value> = events
        .iter()
        .map(|e| &e["params"]["event"]["content"]["data"]["body"]["action"])
        .collect();
    assert_eq!(actions, ["edit-1", "edit-2", "edit-3", "edit-4", "edit-5"]);
    let main_task = &main.events()[0]["params"]["task"]["id"];
    let shadow_task = &events[0]["params"]["task"]["id"];
    assert_ne!(main_task, shadow_task, "the shadow's own task");
    let sequences: Vec<&Value> = events
        .iter()
        .map(|e| &e["params"]["event"]["sequence_id"])
        .collect();
    assert_eq!(sequences, [1, 2, 3, 4, 5]);
    for id in &main_ids {
        let main_row = app.get(&format!("/deliveries/{id}")).await.json();
        assert_eq!(
            main_row["attempts"], 1,
            "untouched by the shadow: {main_row}"
        );
    }

    let bad = app
        .post_json(
            "/agent_routes",
            json!({"agent_name": "pr-agent", "path": "other", "mode": "acp_event",
                   "task_key": TASK_KEY, "shadow_agent": "nobody"}),
        )
        .await;
    bad.assert_message(422, "Field 'shadow_agent' names no agent: \"nobody\".");
}

/// `count` events of pull request `pr` numbered from `first`; the answers.
pub async fn burst(app: &TestApp, pr: u64, first: u64, count: u64) -> Vec<Value> {
    let mut answers = Vec::new();
    for n in first..first + count {
        let mut body = pull_request(pr, false, "octocat");
        body["action"] = json!(format!("edit-{n}"));
        let reply = send_github(app, "pull_request", &body, &format!("b{pr}-{n}")).await;
        assert_eq!(reply.status, 202, "{}", reply.text());
        answers.push(reply.json());
    }
    answers
}

async fn the_loop_breaker_holds_a_runaway_task_until_released(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    let registered = app
        .post_json(
            "/agents/register",
            json!({"name": "pr-agent", "acp_url": agent.url,
                   "registration_metadata": {"hookgate_identities": ["github:pr-agent[bot]"]}}),
        )
        .await;
    assert_eq!(registered.status, 200, "{}", registered.text());
    route_with_key(&app).await;
    // The default for a loop-guarded agent: 30 events of a task in 60 s.
    let answers = burst(&app, 12, 1, 32).await;
    assert!(
        answers[..30].iter().all(|a| a.get("held").is_none()),
        "{answers:?}"
    );
    assert_eq!(answers[30]["held"], true, "the 31st is held");
    assert_eq!(answers[31]["held"], true, "and every one after it");
    // Another task is not held.
    let other = burst(&app, 13, 1, 1).await;
    assert!(other[0].get("held").is_none());
    for answer in &answers[..30] {
        wait_for_status(&app, answer["event_id"].as_str().unwrap(), "delivered").await;
    }
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    let held = app.get("/deliveries?status=held").await.json();
    assert_eq!(held.as_array().unwrap().len(), 2, "{held}");
    let task_id = answers[0]["task_id"].as_str().unwrap();
    let task = app.get(&format!("/tasks/{task_id}")).await.json();
    assert!(task["held_since"].is_string(), "{task}");
    let delivered_to_task = |events: &[Value]| {
        events
            .iter()
            .filter(|e| e["params"]["task"]["id"] == task_id)
            .map(|e| e["params"]["event"]["sequence_id"].as_i64().unwrap())
            .collect::<Vec<i64>>()
    };
    assert_eq!(
        delivered_to_task(&agent.events()),
        (1..=30).collect::<Vec<_>>()
    );

    let released = app
        .post_json(&format!("/tasks/{task_id}/release"), json!({}))
        .await;
    assert_eq!(released.status, 200, "{}", released.text());
    assert_eq!(released.json(), json!({"task_id": task_id, "released": 2}));
    for answer in &answers[30..] {
        wait_for_status(&app, answer["event_id"].as_str().unwrap(), "delivered").await;
    }
    assert_eq!(
        delivered_to_task(&agent.events()),
        (1..=32).collect::<Vec<_>>()
    );
    let task = app.get(&format!("/tasks/{task_id}")).await.json();
    assert_eq!(task["held_since"], Value::Null);
    app.post_json("/tasks/nope/release", json!({}))
        .await
        .assert_message(404, "Task with ID nope does not exist.");
    let metrics = app.get("/metrics").await.text();
    let held: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("hookgate_held_total{agent=\"pr-agent\"} "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("hookgate_held_total for pr-agent in:\n{metrics}"));
    assert!(held >= 1, "held: {held}");
}

async fn without_identities_or_a_limit_no_task_is_held(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    app.register("pr-agent", &agent.url).await;
    route_with_key(&app).await;
    let answers = burst(&app, 14, 1, 40).await;
    assert!(
        answers.iter().all(|a| a.get("held").is_none()),
        "{answers:?}"
    );
    for answer in &answers {
        wait_for_status(&app, answer["event_id"].as_str().unwrap(), "delivered").await;
    }
    let bad = app
        .post_json(
            "/agent_routes",
            json!({"agent_name": "pr-agent", "path": "q", "mode": "forward_async", "loop_limit": 5}),
        )
        .await;
    bad.assert_message(
        422,
        "Fields 'loop_limit' and 'loop_window_secs' need mode acp_event (the breaker counts a task's events).",
    );
    let bad = app
        .post_json(
            "/agent_routes",
            json!({"agent_name": "pr-agent", "path": "q", "mode": "acp_event",
                   "task_key": "x", "loop_window_secs": 0}),
        )
        .await;
    bad.assert_message(
        422,
        "Field 'loop_window_secs' must be between 1 and 86400, got 0.",
    );
}

async fn a_replay_reports_fifty_outcomes_side_by_side(backend: Backend) {
    let app = queue_app(backend).await;
    let original = AcpAgent::start().await;
    let candidate = AcpAgent::start().await;
    app.register("pr-agent", &original.url).await;
    app.register("pr-agent-v2", &candidate.url).await;
    route_with_key(&app).await;
    // The running version refuses pull request 4; the new one refuses 5.
    original.fail_tasks("#4", 400);
    candidate.fail_tasks("#5", 400);
    let since = chrono::Utc::now() - chrono::Duration::seconds(1);
    let mut ids = Vec::new();
    for round in 1..=10 {
        for pr in 1..=5 {
            let mut body = pull_request(pr, false, "dev");
            body["action"] = json!(format!("edit-{round}"));
            let reply = send_github(&app, "pull_request", &body, &format!("rp{pr}-{round}")).await;
            assert_eq!(reply.status, 202, "{}", reply.text());
            ids.push(reply.json()["event_id"].as_str().unwrap().to_owned());
        }
    }
    for (i, id) in ids.iter().enumerate() {
        let status = if i % 5 == 3 { "failed" } else { "delivered" };
        wait_for_status(&app, id, status).await;
    }
    let until = chrono::Utc::now() + chrono::Duration::seconds(1);
    let created = app
        .post_json(
            "/replays",
            json!({"from_agent": "pr-agent", "to_agent": "pr-agent-v2",
                   "since": since.to_rfc3339(), "until": until.to_rfc3339()}),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text());
    let replay = created.json();
    assert_eq!(replay["total"], 50, "{replay}");
    let path = format!("/replays/{}?limit=1000", replay["id"].as_str().unwrap());
    let mut report = Value::Null;
    for _ in 0..300 {
        report = app.get(&path).await.json();
        if report["finished"] == 50 {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(report["finished"], 50, "{report}");
    assert_eq!(
        report["summary"],
        json!({"same": 30, "different": 10, "failed": 10, "pending": 0})
    );
    let events = report["events"].as_array().unwrap();
    assert_eq!(events.len(), 50);
    let originals: Vec<&Value> = events
        .iter()
        .map(|e| &e["original"]["delivery_id"])
        .collect();
    assert_eq!(
        originals,
        ids.iter().collect::<Vec<_>>(),
        "in the originals' order"
    );
    let same = events.iter().find(|e| e["comparison"] == "same").unwrap();
    assert_eq!(same["original"]["status_code"], 200);
    assert_eq!(same["replayed"]["response"], same["original"]["response"]);
    assert!(same["replayed"]["latency_ms"].is_i64(), "{same}");
    let different = events
        .iter()
        .find(|e| e["comparison"] == "different")
        .unwrap();
    assert_eq!(different["original"]["status"], "failed");
    assert_eq!(different["original"]["status_code"], 400);
    assert_eq!(different["replayed"]["status"], "delivered");
    // The candidate got each task's events in their order, marked as replays.
    let received = candidate.events();
    for pr in [1, 2, 3, 4] {
        let name = format!("github:octo/hello#{pr}");
        let actions = candidate.actions_of_task(&name);
        let expected: Vec<String> = (1..=10).map(|r| format!("edit-{r}")).collect();
        assert_eq!(actions, expected, "{name}");
    }
    let provenance = &received[0]["params"]["event"]["content"]["provenance"];
    assert!(
        ids.contains(&provenance["replay_of"].as_str().unwrap().to_owned()),
        "{provenance}"
    );

    let bad = app
        .post_json(
            "/replays",
            json!({"from_agent": "pr-agent", "to_agent": "nobody",
                   "since": since.to_rfc3339(), "until": until.to_rfc3339()}),
        )
        .await;
    bad.assert_message(422, "Field 'to_agent' names no agent: \"nobody\".");
}

/// The `action`s of each coalesced `event/send` the agent received.
fn batches(agent: &AcpAgent) -> Vec<Vec<String>> {
    agent
        .events()
        .iter()
        .map(|e| {
            let events = e["params"]["event"]["content"]["data"]["events"].as_array();
            events
                .into_iter()
                .flatten()
                .map(|data| {
                    data["body"]["action"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect()
        })
        .collect()
}

pub fn edits(range: std::ops::RangeInclusive<u64>) -> Vec<String> {
    range.map(|n| format!("edit-{n}")).collect()
}

async fn events_inside_a_coalescing_window_arrive_as_one(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    app.register("pr-agent", &agent.url).await;
    let coalesce = json!({"window_ms": 1500, "max_wait_ms": 20000});
    route_with_key_and(&app, json!({"coalesce": coalesce})).await;
    let route = &app.get("/agent_routes?agent_name=pr-agent").await.json()[0];
    assert_eq!(route["coalesce"], coalesce);

    let first = burst(&app, 15, 1, 5).await;
    for answer in &first {
        wait_for_status(&app, answer["event_id"].as_str().unwrap(), "delivered").await;
    }
    assert_eq!(
        batches(&agent),
        [edits(1..=5)],
        "five events, one event/send, in order"
    );
    let content = &agent.events()[0]["params"]["event"]["content"];
    let ids: Vec<&Value> = first.iter().map(|a| &a["event_id"]).collect();
    assert_eq!(content["provenance"]["delivery_ids"], json!(ids));
    // Later events of the task go out as the next batch, in order.
    let second = burst(&app, 15, 6, 2).await;
    for answer in &second {
        wait_for_status(&app, answer["event_id"].as_str().unwrap(), "delivered").await;
    }
    assert_eq!(batches(&agent), [edits(1..=5), edits(6..=7)]);
    let follower = app
        .get(&format!(
            "/deliveries/{}",
            first[4]["event_id"].as_str().unwrap()
        ))
        .await
        .json();
    assert_eq!(
        follower["attempt_log"].as_array().unwrap().len(),
        1,
        "{follower}"
    );

    let bad = app
        .post_json(
            "/agent_routes",
            json!({"agent_name": "pr-agent", "path": "q", "mode": "acp_event", "task_key": "x",
                   "coalesce": {"window_ms": 5000, "max_wait_ms": 100}}),
        )
        .await;
    bad.assert_message(
        422,
        "Field 'coalesce.max_wait_ms' must be between 5000 and 3600000, got 100.",
    );
}

async fn a_kill_9_inside_the_coalescing_window_loses_nothing(backend: Backend) {
    let db = TestDb::new(&backend);
    let first = Process::start(&db.url, free_port()).await;
    let app = first.app(db);
    let agent = AcpAgent::start().await;
    app.register("pr-agent", &agent.url).await;
    route_with_key_and(
        &app,
        json!({"coalesce": {"window_ms": 4000, "max_wait_ms": 60000}}),
    )
    .await;
    let accepted = burst(&app, 16, 1, 5).await;
    first.crash();
    assert!(
        agent.events().is_empty(),
        "killed inside the window: nothing sent yet"
    );

    let second = Process::start(&app.db.url, free_port()).await;
    let after = second.app(TestDb::shared(&app.db.url));
    for answer in &accepted {
        wait_for_status(&after, answer["event_id"].as_str().unwrap(), "delivered").await;
    }
    assert_eq!(
        batches(&agent),
        [edits(1..=5)],
        "every committed event, once, in order"
    );
    assert!(second.terminate().await.success());
}
