//! The admin routes the dashboard's pages read (issue 14): delivery counts
//! per agent and hour, a task's events in sequence order, and a route's
//! task key previewed against a stored delivery.

use crate::acp_agent::AcpAgent;
use crate::delivery::{acp_setup, queue_app, send_pr_events, wait_for_status, TASK_KEY};
use crate::helpers::*;
use crate::queue_admin::pause;
use serde_json::{json, Value};

db_tests!(
    stats_count_accepted_delivered_and_failed_per_agent,
    stats_show_the_queue_of_a_paused_agent,
    a_task_lists_its_events_in_sequence_order,
    a_route_preview_renders_against_a_stored_delivery,
);

fn agent_entry<'a>(stats: &'a Value, name: &str) -> &'a Value {
    stats["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent_name"] == name)
        .unwrap_or_else(|| panic!("no stats for {name}: {stats}"))
}

fn sum_hourly(agent: &Value, kind: &str) -> u64 {
    agent["hourly"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h[kind].as_u64().unwrap())
        .sum()
}

async fn stats_count_accepted_delivered_and_failed_per_agent(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    acp_setup(&app, &agent).await;
    app.register("idle-agent", "http://127.0.0.1:9").await;
    // Every call about pull request 9 is refused, so its events fail at once.
    agent.fail_tasks("#9", 400);
    let delivered = send_pr_events(&app, 1, 12).await;
    let failed = send_pr_events(&app, 9, 3).await;
    for id in &delivered {
        wait_for_status(&app, id, "delivered").await;
    }
    for id in &failed {
        wait_for_status(&app, id, "failed").await;
    }

    let reply = app.get("/deliveries/stats").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let stats = reply.json();
    let busy = agent_entry(&stats, "pr-agent");
    let expected = json!({"accepted": 15, "delivered": 12, "failed": 3});
    assert_eq!(busy["last_hour"], expected, "{busy}");
    assert_eq!(busy["last_day"], expected, "{busy}");
    assert_eq!(sum_hourly(busy, "accepted"), 15);
    assert_eq!(sum_hourly(busy, "delivered"), 12);
    assert_eq!(sum_hourly(busy, "failed"), 3);
    assert_eq!(busy["hourly"].as_array().unwrap().len(), 25);
    assert_eq!(busy["failing"], true, "failures in the last hour: {busy}");
    assert_eq!(busy["failed_kept"], 3);
    assert_eq!(busy["pending"], 0);

    let idle = agent_entry(&stats, "idle-agent");
    assert_eq!(
        idle["last_day"],
        json!({"accepted": 0, "delivered": 0, "failed": 0})
    );
    assert_eq!(idle["failing"], false);

    // One agent only, by name; an unknown agent is a 404.
    let one = app
        .get("/deliveries/stats?agent_name=idle-agent")
        .await
        .json();
    assert_eq!(one["agents"].as_array().unwrap().len(), 1, "{one}");
    app.get("/deliveries/stats?agent_name=nobody")
        .await
        .assert_message(404, "Agent with name 'nobody' not found.");
}

async fn stats_show_the_queue_of_a_paused_agent(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    let registered = acp_setup(&app, &agent).await;
    let id = registered["id"].as_str().unwrap();
    pause(&app, id, "pause").await;
    send_pr_events(&app, 4, 7).await;
    actix_rt::time::sleep(std::time::Duration::from_millis(300)).await;

    let stats = app
        .get("/deliveries/stats?agent_name=pr-agent")
        .await
        .json();
    let entry = agent_entry(&stats, "pr-agent");
    assert_eq!(entry["deliveries_paused"], true, "{entry}");
    assert_eq!(entry["pending"], 7, "{entry}");
    assert_eq!(entry["last_hour"]["accepted"], 7);
    assert_eq!(entry["last_hour"]["delivered"], 0);
    let oldest = entry["oldest_pending_secs"].as_f64().unwrap();
    assert!(
        oldest >= 0.3,
        "the oldest event waited since it was sent: {oldest}"
    );
    assert_eq!(agent.event_count(), 0, "a paused agent gets nothing");
}

async fn a_task_lists_its_events_in_sequence_order(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    let registered = acp_setup(&app, &agent).await;
    let ids = send_pr_events(&app, 5, 7).await;
    send_pr_events(&app, 6, 2).await;
    for id in &ids {
        wait_for_status(&app, id, "delivered").await;
    }

    let tasks = app.get("/tasks?agent_name=pr-agent").await;
    assert_eq!(tasks.status, 200, "{}", tasks.text());
    let tasks = tasks.json();
    let tasks = tasks.as_array().unwrap();
    assert_eq!(tasks.len(), 2, "{tasks:?}");
    let task = tasks
        .iter()
        .find(|t| t["name"] == "github:octo/hello#5")
        .expect("pull request 5's task");
    assert_eq!(task["events"], 7);
    assert_eq!(task["agent_id"], registered["id"]);
    assert!(task["created_on_agent_at"].is_string(), "{task}");

    // Read in pages of 3: every event once, in sequence order, each with
    // the content the agent received.
    let task_id = task["id"].as_str().unwrap();
    let mut after = 0;
    let mut seen = Vec::new();
    for _ in 0..10 {
        let page = app
            .get(&format!("/tasks/{task_id}?limit=3&after_sequence={after}"))
            .await;
        assert_eq!(page.status, 200, "{}", page.text());
        let page = page.json();
        for event in page["event_log"].as_array().unwrap() {
            assert_eq!(event["task_id"], task_id);
            assert_eq!(event["status"], "delivered");
            seen.push((
                event["sequence_id"].as_i64().unwrap(),
                event["content"]["data"]["body"]["action"].clone(),
            ));
        }
        match page["next_after_sequence"].as_i64() {
            Some(next) => after = next,
            None => break,
        }
    }
    let expected: Vec<(i64, Value)> = (1..=7).map(|n| (n, json!(format!("edit-{n}")))).collect();
    assert_eq!(seen, expected);

    app.get("/tasks/no-such-task")
        .await
        .assert_message(404, "Task with ID no-such-task does not exist.");
    app.get(&format!("/tasks/{task_id}?limit=0"))
        .await
        .assert_message(422, "Parameter 'limit' must be between 1 and 500, got 0.");
}

async fn a_route_preview_renders_against_a_stored_delivery(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    acp_setup(&app, &agent).await;
    let preview = |body: Value| {
        let app = &app;
        async move { app.post_json("/agent_routes/preview", body).await }
    };
    let none = preview(json!({"agent_name": "pr-agent", "task_key": "{body.number}"})).await;
    assert_eq!(none.status, 404, "nothing stored yet: {}", none.text());

    let first = send_pr_events(&app, 21, 1).await;
    let newest = send_pr_events(&app, 22, 1).await;
    wait_for_status(&app, &newest[0], "delivered").await;
    let stored = app.get(&format!("/deliveries/{}", newest[0])).await.json();

    // The route's own key renders to the task the delivery went to.
    let reply = preview(json!({"agent_name": "pr-agent", "task_key": TASK_KEY,
        "text_template": "{header.x-github-event} on {path}: {body.nope}"}))
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let shown = reply.json();
    assert_eq!(shown["delivery_id"], newest[0]);
    assert_eq!(shown["task_key"]["rendered"], "github:octo/hello#22");
    assert_eq!(shown["task_key"]["task_id"], stored["task_id"]);
    assert_eq!(shown["text_template"]["missing"], "body.nope");
    assert_eq!(shown["text_template"]["rendered"], Value::Null);

    // An older delivery by id; a template the request fills entirely.
    let reply = preview(json!({"agent_name": "pr-agent", "delivery_id": first[0],
        "text_template": "{header.x-github-event} on {path}: {body.action}"}))
    .await;
    let shown = reply.json();
    assert_eq!(shown["delivery_id"], first[0], "{shown}");
    assert_eq!(
        shown["text_template"]["rendered"],
        "pull_request on code_changes: edit-1"
    );

    preview(json!({"agent_name": "pr-agent", "task_key": "pr:{bogus}"}))
        .await
        .assert_message(
            422,
            "Field 'task_key' has an unknown placeholder {bogus}: use {body.a.b}, {header.name}, {path}, {conversation}, {provider}, {actor.id}, {actor.bot}, {actor.association} or {actor.fork}.",
        );
    let other =
        preview(json!({"agent_name": "pr-agent", "delivery_id": "nope", "task_key": "x"})).await;
    other.assert_message(404, "Delivery with ID nope does not exist.");
}
