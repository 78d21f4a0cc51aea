//! Task keys on real traffic (issue 27, first part): a placeholder's
//! alternatives (`{body.pull_request.number|body.issue.number}`) put a pull
//! request's comments in its task, and `missing_task_key: "ignore"` lets one
//! webhook URL take every event type: what has no task key is answered 200
//! ignored (GitHub does not retry a 422; the event was lost).

use crate::acp_agent::AcpAgent;
use crate::agent_native::send_github_to;
use crate::delivery::{queue_app, wait_for_status, SECRET};
use crate::helpers::*;
use actix_web::http::Method;
use hookgate::verify::providers::github;
use serde_json::{json, Value};

db_tests!(
    alternatives_put_a_pull_requests_comments_in_its_task,
    a_route_may_ignore_calls_without_a_task_key,
    bad_alternatives_and_policies_are_refused_at_creation
);

const KEY: &str = "github:{body.repository.full_name}#{body.pull_request.number|body.issue.number}";

/// Agent `pr-agent` at `agent` with a GitHub key and an acp_event route
/// `hooks` made of `route` (path, mode and key added).
async fn github_route(app: &TestApp, agent: &AcpAgent, route: Value) -> Reply {
    app.register("pr-agent", &agent.url).await;
    app.create_key("pr-agent", "octo/hello", "github", Some(SECRET))
        .await;
    let mut body = json!({"agent_name": "pr-agent", "path": "hooks", "mode": "acp_event",
                          "task_key": KEY});
    body.as_object_mut()
        .unwrap()
        .extend(route.as_object().unwrap().clone());
    app.post_json("/agent_routes", body).await
}

async fn send(app: &TestApp, event: &str, body: &Value, delivery: &str) -> Reply {
    send_github_to(app, "hooks", event, body, delivery).await
}

/// The names of the tasks `GET /tasks?{query}` lists, sorted.
pub async fn task_names(app: &TestApp, query: &str) -> Vec<String> {
    let tasks = app.get(&format!("/tasks?{query}")).await.json();
    let mut names: Vec<String> = tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort_unstable();
    names
}

fn repo() -> Value {
    json!({"full_name": "octo/hello"})
}

async fn alternatives_put_a_pull_requests_comments_in_its_task(backend: Backend) {
    let app = queue_app(backend).await;
    let agent = AcpAgent::start().await;
    let made = github_route(&app, &agent, json!({})).await;
    assert_eq!(made.status, 200, "{}", made.text());
    let opened = json!({"action": "opened", "pull_request": {"number": 7}, "repository": repo()});
    let comment = json!({"action": "created", "repository": repo(),
        "issue": {"number": 7, "pull_request": {"url": "https://api.github.com/repos/octo/hello/pulls/7"}},
        "comment": {"body": "looks good"}});
    let other_issue = json!({"action": "opened", "issue": {"number": 8}, "repository": repo()});
    let mut ids = Vec::new();
    for (event, body, delivery) in [
        ("pull_request", &opened, "d-1"),
        ("issue_comment", &comment, "d-2"),
        ("issues", &other_issue, "d-3"),
    ] {
        let reply = send(&app, event, body, delivery).await;
        assert_eq!(reply.status, 202, "{event}: {}", reply.text());
        ids.push(reply.json());
    }
    assert_eq!(
        ids[0]["task_id"], ids[1]["task_id"],
        "the comment joins its pull request"
    );
    assert_ne!(ids[0]["task_id"], ids[2]["task_id"]);
    for id in &ids {
        wait_for_status(&app, id["event_id"].as_str().unwrap(), "delivered").await;
    }
    assert_eq!(
        agent.actions_of_task("github:octo/hello#7"),
        ["opened", "created"]
    );
    assert_eq!(agent.actions_of_task("github:octo/hello#8"), ["opened"]);
    // Tasks are found by their key's prefix, literally and by case.
    for (prefix, expected) in [
        ("github%3Aocto%2Fhello%237", vec!["github:octo/hello#7"]),
        (
            "github%3Aocto%2Fhello%23",
            vec!["github:octo/hello#7", "github:octo/hello#8"],
        ),
        ("github%3AOCTO", vec![]),
        ("github%3Aocto%2Fhello%25", vec![]),
        ("github_octo", vec![]),
    ] {
        let names = task_names(&app, &format!("agent_name=pr-agent&name={prefix}")).await;
        assert_eq!(names, expected, "{prefix}");
    }
}

async fn a_route_may_ignore_calls_without_a_task_key(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.keep_ignored = true).await;
    let agent = AcpAgent::start().await;
    let made = github_route(&app, &agent, json!({"missing_task_key": "ignore"})).await;
    assert_eq!(made.status, 200, "{}", made.text());
    assert_eq!(made.json()["missing_task_key"], "ignore");
    let push = json!({"ref": "refs/heads/main", "repository": repo()});
    let reply = send(&app, "push", &push, "d-push").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let answer = reply.json();
    assert_eq!(answer["ignored"], true, "{answer}");
    assert_eq!(answer["reason"], "no_task_key");
    assert_eq!(
        answer["detail"],
        "body.pull_request.number|body.issue.number"
    );
    // GitHub's ping is a handshake: answered by hookgate, kept nowhere.
    let ping = json!({"zen": "Keep it logically awesome.", "hook_id": 1, "repository": repo()});
    let reply = send(&app, "ping", &ping, "d-ping").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["handshake"], true);
    let kept = app.get("/deliveries?status=ignored").await.json();
    assert_eq!(
        kept.as_array().map(Vec::len),
        Some(1),
        "the push; a handshake is never stored: {kept}"
    );
    let opened = json!({"action": "opened", "pull_request": {"number": 7}, "repository": repo()});
    let reply = send(&app, "pull_request", &opened, "d-pr").await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    agent
        .wait_for("the pull request", |_| agent.event_count() >= 1)
        .await;
    assert_eq!(
        agent.event_count(),
        1,
        "only the pull request reached the agent"
    );

    // The default is still a 422 naming the missing field.
    let strict =
        json!({"agent_name": "pr-agent", "path": "strict", "mode": "acp_event", "task_key": KEY});
    let route = app.post_json("/agent_routes", strict).await;
    assert_eq!(route.json()["missing_task_key"], "reject");
    let body = push.to_string();
    let signature = github::sign(SECRET.as_bytes(), body.as_bytes());
    let headers = [
        ("x-hub-signature-256", signature.as_str()),
        ("x-github-event", "push"),
    ];
    let refused = app
        .forward(Method::POST, "pr-agent", "strict", &headers, body)
        .await;
    refused.assert_detail(
        422,
        "Field 'body.pull_request.number|body.issue.number' named by the route's task_key is missing from the request.",
    );
}

async fn bad_alternatives_and_policies_are_refused_at_creation(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("pr-agent", "http://127.0.0.1:9").await;
    let create = |route: Value| {
        let app = &app;
        async move {
            let mut body = json!({"agent_name": "pr-agent", "path": "hooks"});
            body.as_object_mut()
                .unwrap()
                .extend(route.as_object().unwrap().clone());
            app.post_json("/agent_routes", body).await
        }
    };
    for (route, names) in [
        (
            json!({"mode": "acp_event", "task_key": "gh:{body.a|}"}),
            "'task_key'",
        ),
        (
            json!({"mode": "acp_event", "task_key": "gh:{body.a||body.b}"}),
            "'task_key'",
        ),
        (
            json!({"mode": "acp_event", "task_key": "gh:{body.a|query.b}"}),
            "'task_key'",
        ),
        (
            json!({"mode": "acp_event", "task_key": "{body.a}", "missing_task_key": "drop"}),
            "'missing_task_key'",
        ),
        (
            json!({"mode": "forward", "missing_task_key": "ignore"}),
            "'missing_task_key'",
        ),
        (
            json!({"mode": "forward", "filter": [{"field": "body.a|body.b", "exists": true}]}),
            "'|'",
        ),
        (
            json!({"mode": "forward", "redact": ["body.a|body.b"]}),
            "'|'",
        ),
    ] {
        let reply = create(route.clone()).await;
        assert_eq!(reply.status, 422, "{route}: {}", reply.text());
        assert!(reply.text().contains(names), "{route}: {}", reply.text());
    }
    let listed = app.get("/agent_routes?agent_name=pr-agent").await.json();
    assert_eq!(listed, json!([]), "nothing was stored");
}
