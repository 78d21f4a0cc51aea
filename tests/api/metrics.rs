//! `GET /metrics` (issue 13): after known traffic to a hookgate process of
//! its own (metrics are per process), the counts and labels are what the
//! traffic was, and a name a stranger made up never becomes a label.

use crate::acp_agent::AcpAgent;
use crate::delivery::{acp_setup, pr_event, send_pr, wait_for_status};
use crate::helpers::*;
use crate::process::{free_port, Process};
use actix_web::http::Method;
use serde_json::json;
use std::collections::BTreeMap;

db_tests!(
    metrics_count_known_traffic,
    only_verified_agents_are_named_up_to_the_limit,
    metrics_need_the_admin_token,
    metrics_can_be_off,
    counters_alerted_on_exist_from_the_first_scrape
);

/// One sample line: the metric's name, its labels, its value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("name and value");
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split(',')
                .filter_map(|pair| pair.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
                .collect();
            Sample {
                name: name.to_owned(),
                labels,
                value: value.parse().expect("a number"),
            }
        })
        .collect()
}

/// The value of the series `name` whose labels include `labels` (0 when
/// there is none).
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

async fn metrics_count_known_traffic(backend: Backend) {
    let db = TestDb::new(&backend);
    let process = Process::start(&db.url, free_port()).await;
    let app = process.app(db);
    let upstream = Upstream::start().await;
    app.register("metered", &upstream.url).await;
    let key = app.create_key("metered", "k", "external", None).await;
    let key = key["api_key"].as_str().unwrap().to_owned();
    let send = |agent: &'static str, headers: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.forward(Method::POST, agent, "hook", &pairs, "{}")
                .await
                .status
        }
    };
    for _ in 0..3 {
        assert_eq!(
            send("metered", vec![("x-agent-api-key", key.clone())]).await,
            200
        );
    }
    for _ in 0..2 {
        assert_eq!(
            send("metered", vec![("x-agent-api-key", "wrong".into())]).await,
            401
        );
    }
    assert_eq!(send("metered", vec![]).await, 403);
    let stranger = "stranger-7f3a9c";
    assert_eq!(
        send(stranger, vec![("x-agent-api-key", key.clone())]).await,
        404
    );

    let agent = AcpAgent::start().await;
    acp_setup(&app, &agent).await;
    let accepted = send_pr(&app, &pr_event(1, "opened"), "d-1").await;
    assert_eq!(accepted.status, 202, "{}", accepted.text());
    let event_id = accepted.json()["event_id"].as_str().unwrap().to_owned();
    wait_for_status(&app, &event_id, "delivered").await;

    let scraped = app.get("/metrics").await;
    assert_eq!(scraped.status, 200, "{}", scraped.text());
    let text = scraped.text();
    assert!(!text.contains(stranger), "a made-up name is never a label");
    let samples = parse(&text);
    let requests = "hookgate_requests_total";
    let metered = [("agent", "metered"), ("provider", "external")];
    let count = |outcome: &str| {
        let mut labels = metered.to_vec();
        labels.push(("outcome", outcome));
        value(&samples, requests, &labels)
    };
    assert_eq!(count("forwarded"), 3.0, "{text}");
    assert_eq!(count("bad_signature"), 2.0, "{text}");
    let unknown = [("agent", "unknown"), ("outcome", "unknown_agent")];
    assert_eq!(value(&samples, requests, &unknown), 1.0, "{text}");
    let unsigned = [("agent", "metered"), ("outcome", "no_credentials")];
    assert_eq!(value(&samples, requests, &unsigned), 1.0, "{text}");
    let accepted = [
        ("agent", "pr-agent"),
        ("provider", "github"),
        ("outcome", "accepted"),
    ];
    assert_eq!(value(&samples, requests, &accepted), 1.0, "{text}");
    let forward_count = "hookgate_forward_duration_seconds_count";
    assert_eq!(value(&samples, forward_count, &[("agent", "metered")]), 3.0);
    let delivered = [("agent", "pr-agent"), ("outcome", "delivered")];
    assert_eq!(
        value(&samples, "hookgate_delivery_attempts_total", &delivered),
        1.0
    );
    let timed = "hookgate_delivery_attempt_duration_seconds_count";
    assert_eq!(value(&samples, timed, &delivered), 1.0);
    let pending = [("agent", "pr-agent"), ("status", "pending")];
    assert_eq!(value(&samples, "hookgate_queue_depth", &pending), 0.0);
    assert!(value(&samples, "hookgate_intake_commit_batch_size_count", &[]) >= 1.0);
    assert!(
        value(
            &samples,
            "hookgate_intake_commit_duration_seconds_count",
            &[]
        ) >= 1.0
    );
    let lookups = value(&samples, "hookgate_key_cache_hits_total", &[])
        + value(&samples, "hookgate_key_cache_misses_total", &[]);
    assert!(lookups >= 8.0, "every call looked up its agent: {lookups}");

    // A backlog shows as depth and age while the agent is away.
    let waiting = [("agent", "queued"), ("status", "pending")];
    app.register("queued", "http://127.0.0.1:9").await;
    let route = json!({"agent_name": "queued", "path": "q", "mode": "forward_async"});
    assert_eq!(app.post_json("/agent_routes", route).await.status, 200);
    let key = app.create_key("queued", "k", "external", None).await;
    let key = key["api_key"].as_str().unwrap();
    for _ in 0..4 {
        let reply = app
            .forward(
                Method::POST,
                "queued",
                "q",
                &[("x-agent-api-key", key)],
                "{}",
            )
            .await;
        assert_eq!(reply.status, 202);
    }
    let samples = parse(&app.get("/metrics").await.text());
    assert_eq!(value(&samples, "hookgate_queue_depth", &waiting), 4.0);
    let age = value(
        &samples,
        "hookgate_queue_oldest_pending_seconds",
        &[("agent", "queued")],
    );
    assert!(age >= 0.0, "{age}");
    assert!(process.terminate().await.success());
}

/// Issue 26: an agent is named once it received verified traffic, at most
/// `HOOKGATE_METRICS_MAX_AGENTS` of them; the rest count under `other`, an
/// agent only called without valid credentials under `unknown`, and no
/// histogram exists before it records.
async fn only_verified_agents_are_named_up_to_the_limit(backend: Backend) {
    let db = TestDb::new(&backend);
    let env = [("HOOKGATE_METRICS_MAX_AGENTS", "2")];
    let process = Process::start_with(&db.url, free_port(), &env).await;
    let app = process.app(db);
    let upstream = Upstream::start().await;
    let agents = ["first", "second", "third", "fourth"];
    for agent in agents {
        let key = agent_with_key(&app, agent, &upstream).await;
        let headers = [("x-agent-api-key", key.as_str())];
        let reply = app
            .forward(Method::POST, agent, "hook", &headers, "{}")
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    agent_with_key(&app, "quiet", &upstream).await;
    let bad_key = [("x-agent-api-key", "wrong")];
    for headers in [&bad_key[..], &[]] {
        let reply = app
            .forward(Method::POST, "quiet", "hook", headers, "{}")
            .await;
        assert!(
            [401, 403].contains(&reply.status.as_u16()),
            "{}",
            reply.text()
        );
    }
    let text = app.get("/metrics").await.text();
    let samples = parse(&text);
    let requests = "hookgate_requests_total";
    let forwarded = |agent| {
        value(
            &samples,
            requests,
            &[("agent", agent), ("outcome", "forwarded")],
        )
    };
    assert_eq!(
        (forwarded("first"), forwarded("second")),
        (1.0, 1.0),
        "{text}"
    );
    assert_eq!(forwarded("other"), 2.0, "{text}");
    for unnamed in ["third", "fourth", "quiet"] {
        assert!(
            !text.contains(&format!("agent=\"{unnamed}\"")),
            "{unnamed}: {text}"
        );
    }
    let unknown = |outcome, provider| {
        let labels = [
            ("agent", "unknown"),
            ("outcome", outcome),
            ("provider", provider),
        ];
        value(&samples, requests, &labels)
    };
    assert_eq!(unknown("bad_signature", "external"), 1.0, "{text}");
    assert_eq!(unknown("no_credentials", "none"), 1.0, "{text}");
    let histograms: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.name == "hookgate_forward_duration_seconds_count")
        .collect();
    let timed: Vec<&str> = histograms
        .iter()
        .map(|s| s.labels["agent"].as_str())
        .collect();
    assert_eq!(timed.len(), 3, "first, second and other only: {timed:?}");
    assert!(!timed.contains(&"unknown"), "{timed:?}");
    // Alerts on increase() need the failure counter from the start.
    let failed = [("agent", "first"), ("outcome", "failed")];
    assert!(
        text.lines()
            .any(|l| l.starts_with("hookgate_delivery_attempts_total")
                && l.contains("agent=\"first\"")
                && l.contains("outcome=\"failed\"")),
        "{text}"
    );
    assert_eq!(
        value(&samples, "hookgate_delivery_attempts_total", &failed),
        0.0
    );
    assert!(process.terminate().await.success());
}

/// Agent names are label values: an account's key (which sees only its own
/// agents) cannot read them, nor can a caller without a token.
async fn metrics_need_the_admin_token(backend: Backend) {
    let token = "metrics-admin-token-0123456789abcdef";
    let app = spawn_app_with(backend, |s| {
        s.admin_token = Some(hookgate::domain::Secret::new(token.into()))
    })
    .await;
    let made = app.post_json("/accounts", json!({"name": "tenant"})).await;
    let id = made.json()["id"].as_str().unwrap().to_owned();
    let key = app
        .post_json(&format!("/accounts/{id}/api_keys"), json!({}))
        .await;
    let key = key.json()["api_key"].as_str().unwrap().to_owned();
    let url = app.url("/metrics");
    let account = [
        ("x-api-key", key.as_str()),
        ("x-selected-account-id", id.as_str()),
    ];
    let as_account = app.send(Method::GET, &url, &account, "".into()).await;
    assert_eq!(as_account.status, 403, "{}", as_account.text());
    let anonymous = app.send(Method::GET, &url, &[], "".into()).await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.text());
    let root = app.get("/metrics").await;
    assert_eq!(root.status, 200);
    let content_type = root.header("content-type").unwrap_or_default();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
}

/// `HOOKGATE_METRICS=false`: nothing is served (and nothing recorded).
async fn metrics_can_be_off(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.metrics = false).await;
    let off = app.get("/metrics").await;
    assert_eq!(off.status, 404, "{}", off.text());
    assert_eq!(
        off.json()["message"],
        "Metrics are off (HOOKGATE_METRICS=false)."
    );
}

/// Whether a series `name` with exactly these label values (among others)
/// exists, whatever its value.
fn present(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> bool {
    samples.iter().any(|s| {
        s.name == name
            && labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
    })
}

/// Issue 29: the counters operators alert on exist at 0 from the first
/// scrape (Prometheus' "avoid missing metrics"): `other`'s at start, a
/// named agent's from its first verified call, before any attempt.
async fn counters_alerted_on_exist_from_the_first_scrape(backend: Backend) {
    let db = TestDb::new(&backend);
    let process = Process::start_with(&db.url, free_port(), &[]).await;
    let app = process.app(db);
    let text = app.get("/metrics").await.text();
    let samples = parse(&text);
    let zero = |name: &str, labels: &[(&str, &str)]| {
        assert!(
            present(&samples, name, labels),
            "{name} {labels:?} in:\n{text}"
        );
        assert_eq!(value(&samples, name, labels), 0.0, "{name} {labels:?}");
    };
    let attempts = "hookgate_delivery_attempts_total";
    for outcome in ["delivered", "retry", "failed"] {
        zero(attempts, &[("agent", "other"), ("outcome", outcome)]);
    }
    for reason in ["filter", "ignore", "loop", "no_task_key"] {
        zero(
            "hookgate_ignored_total",
            &[("agent", "other"), ("reason", reason)],
        );
    }
    zero("hookgate_held_total", &[("agent", "other")]);
    zero("hookgate_key_cache_hits_total", &[]);
    zero("hookgate_key_cache_misses_total", &[]);

    let upstream = Upstream::start().await;
    let key = agent_with_key(&app, "named", &upstream).await;
    let headers = [("x-agent-api-key", key.as_str())];
    let reply = app
        .forward(Method::POST, "named", "hook", &headers, "{}")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let text = app.get("/metrics").await.text();
    let samples = parse(&text);
    for outcome in ["delivered", "retry", "failed"] {
        let labels = [("agent", "named"), ("outcome", outcome)];
        assert!(
            present(&samples, attempts, &labels),
            "{labels:?} in:\n{text}"
        );
        assert_eq!(value(&samples, attempts, &labels), 0.0, "{labels:?}");
    }
    let held = [("agent", "named")];
    assert!(present(&samples, "hookgate_held_total", &held), "{text}");
}
