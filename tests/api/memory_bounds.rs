//! What unauthenticated callers can make hookgate hold (issue 11), read from
//! the release process's RSS while an attacker's traffic runs: unknown agent
//! names by the hundred thousand, and the largest bodies hookgate takes,
//! JSON that no signature covers.

use crate::helpers::*;
use crate::process::{free_port, Process};
use actix_web::http::Method;
use futures_util::{stream, StreamExt};
use serde_json::json;
use std::time::{Duration, Instant};

db_tests!(
    unknown_agent_names_hold_bounded_memory,
    unverified_json_bodies_are_never_built,
    strangers_agents_do_not_grow_metrics,
    replay_reports_are_read_a_page_at_a_time
);

const MIB: u64 = 1024;

/// The process's resident set, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// What `work` yields, and the highest RSS (KiB) seen while it ran.
async fn peak_rss_while<T>(pid: u32, work: impl std::future::Future<Output = T>) -> (T, u64) {
    futures_util::pin_mut!(work);
    let mut peak = rss_kib(pid);
    loop {
        tokio::select! {
            done = &mut work => return (done, peak.max(rss_kib(pid))),
            _ = actix_rt::time::sleep(Duration::from_millis(5)) => peak = peak.max(rss_kib(pid)),
        }
    }
}

/// An unknown name: valid ones (cached as misses) and over-long ones
/// (refused before any lookup), half each.
fn unknown_name(i: usize) -> String {
    if i.is_multiple_of(2) {
        format!("unknown-{i:07}-{}", "a".repeat(230))
    } else {
        format!("unknown-{i:07}-{}", "b".repeat(2000))
    }
}

/// Calls the forward route for each name in `range`, 32 at a time, each
/// refused with 404; bounded by count and by `limit`.
async fn flood(app: &TestApp, range: std::ops::Range<usize>, limit: Duration) {
    let started = Instant::now();
    let statuses: Vec<u16> = stream::iter(range)
        .map(|i| async move {
            let url = app.url(&format!("/agents/forward/name/{}/hook", unknown_name(i)));
            app.send(
                Method::POST,
                &url,
                &[("x-agent-api-key", "guess")],
                "{}".into(),
            )
            .await
            .status
            .as_u16()
        })
        .buffer_unordered(32)
        .take_while(|_| std::future::ready(started.elapsed() < limit))
        .collect()
        .await;
    assert!(
        statuses.iter().all(|s| *s == 404),
        "every unknown name is a 404"
    );
}

async fn unknown_agent_names_hold_bounded_memory(backend: Backend) {
    let db = TestDb::new(&backend);
    let process = Process::start(&db.url, free_port()).await;
    let pid = process.child.id();
    let app = process.app(db);
    flood(&app, 0..2_000, Duration::from_secs(60)).await; // threads, pools, allocator warm
    let before = rss_kib(pid);
    let count = 100_000;
    flood(&app, 2_000..2_000 + count, Duration::from_secs(300)).await;
    let grown = rss_kib(pid).saturating_sub(before);
    eprintln!("{count} unknown names: RSS {before} KiB before, grew {grown} KiB");
    assert!(
        grown < 64 * MIB,
        "RSS grew by {grown} KiB over {count} unknown names"
    );
    process.crash();
}

/// A 25 MiB JSON body no signature covers: a bare array of ones (Slack
/// reads its app id from it), or a GitHub payload naming a real repository
/// and padded with the array.
fn huge_body(github: bool) -> String {
    let ones = (25 * 1024 * 1024 - 64) / 2; // "1," pairs: just under 25 MiB, the default limit
    let pad = format!("[{}1]", "1,".repeat(ones));
    if github {
        format!(r#"{{"repository":{{"full_name":"octo/hello"}},"pad":{pad}}}"#)
    } else {
        pad
    }
}

async fn unverified_json_bodies_are_never_built(backend: Backend) {
    let db = TestDb::new(&backend);
    let process = Process::start(&db.url, free_port()).await;
    let pid = process.child.id();
    let mut app = process.app(db);
    // Ten 25 MiB uploads at once to a debug build, beside the whole suite,
    // took over a minute in CI: this test measures memory, not time.
    app.client = client_waiting(Duration::from_secs(300));
    let upstream = Upstream::start().await;
    app.register("agent-a", &upstream.url).await;
    app.create_key("agent-a", "octo/hello", "github", Some("a-github-secret"))
        .await;
    app.create_key("agent-a", "A0123", "slack", Some("a-slack-secret"))
        .await;
    let bodies = [huge_body(false), huge_body(true)];
    let body_mib = bodies[1].len() as u64 / (1024 * 1024);
    let before = rss_kib(pid);
    let now = now_secs().to_string();
    let calls = (0..10usize).map(|i| {
        let github = !i.is_multiple_of(2);
        let body = bodies[usize::from(github)].clone();
        let headers: Vec<(&str, String)> = if github {
            vec![("x-hub-signature-256", format!("sha256={}", "0".repeat(64)))]
        } else {
            vec![
                ("x-slack-signature", format!("v0={}", "0".repeat(64))),
                ("x-slack-request-timestamp", now.clone()),
            ]
        };
        let app = &app;
        async move {
            let mut all: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            all.push(("content-type", "application/json"));
            app.forward(Method::POST, "agent-a", "hook", &all, body)
                .await
                .status
                .as_u16()
        }
    });
    let (statuses, peak) = peak_rss_while(pid, futures_util::future::join_all(calls)).await;
    assert!(
        statuses.iter().all(|s| (400..500).contains(s)),
        "all refused: {statuses:?}"
    );
    assert!(upstream.received().is_empty());
    actix_rt::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib(pid);
    let (peak_growth, left) = (peak.saturating_sub(before), after.saturating_sub(before));
    eprintln!("10 x {body_mib} MiB unverified bodies: RSS {before} KiB before, peak +{peak_growth} KiB, +{left} KiB after");
    assert!(peak_growth <= 300 * MIB, "peak grew by {peak_growth} KiB");
    assert!(left <= 64 * MIB, "RSS stayed {left} KiB above where it was");
    process.crash();
}

/// Issue 26: with open registration a stranger registered 5,000 agents with
/// long names and called each once without credentials; `/metrics` grew to
/// 34.7 MB (24 lines per agent). Only agents with verified traffic get
/// series of their own.
async fn strangers_agents_do_not_grow_metrics(backend: Backend) {
    let db = TestDb::new(&backend);
    let env = [("HOOKGATE_OPEN_REGISTRATION", "true")];
    let process = Process::start_with(&db.url, free_port(), &env).await;
    let pid = process.child.id();
    let app = process.app(db);
    let upstream = Upstream::start().await;
    let key = agent_with_key(&app, "operated", &upstream).await;
    let own = app
        .forward(
            Method::POST,
            "operated",
            "hook",
            &[("x-agent-api-key", &key)],
            "{}",
        )
        .await;
    assert_eq!(own.status, 200, "{}", own.text());
    let stranger_name = |i: usize| format!("s{i:05}-{}", "x".repeat(193 + i % 56));
    let register_and_call = |i: usize| {
        let app = &app;
        async move {
            let name = stranger_name(i);
            let body = json!({"name": name, "acp_url": "http://127.0.0.1:9", "acp_type": "async"});
            let url = app.url("/agents/register");
            let json = [("content-type", "application/json")];
            let made = app
                .send(Method::POST, &url, &json, body.to_string().into())
                .await;
            assert_eq!(made.status, 200, "{}", made.text());
            let call = app.forward(Method::POST, &name, "hook", &[], "{}").await;
            call.status.as_u16()
        }
    };
    let before = rss_kib(pid);
    let started = Instant::now();
    let statuses: Vec<u16> = stream::iter(0..5_000)
        .map(register_and_call)
        .buffer_unordered(16)
        .take_while(|_| std::future::ready(started.elapsed() < Duration::from_secs(300)))
        .collect()
        .await;
    // The time bound keeps the loop finite; a machine loaded by the rest of
    // the suite may not reach 5,000 in it (seen: 3,932 in CI), and what the
    // test asserts is that metrics do not grow with what it did reach.
    let made = statuses.len();
    assert!(
        made >= 1_000,
        "only {made} stranger agents within the time limit"
    );
    assert!(statuses.iter().all(|s| *s == 403), "no credentials: 403");
    let scraped = app.get("/metrics").await;
    assert_eq!(scraped.status, 200);
    let text = scraped.text();
    let grown = rss_kib(pid).saturating_sub(before);
    eprintln!(
        "{made} stranger agents: /metrics {} bytes, {} lines; RSS +{grown} KiB",
        text.len(),
        text.lines().count()
    );
    assert!(text.len() < 1_000_000, "/metrics is {} bytes", text.len());
    assert!(
        !text.contains(&stranger_name(0)[..6]),
        "a stranger's agent is a label"
    );
    assert!(text.contains("agent=\"operated\""), "{text}");
    let unverified = "provider=\"none\",outcome=\"no_credentials\"";
    let line = text
        .lines()
        .find(|l| l.contains(unverified) && l.contains("agent=\"unknown\""));
    // Calls in flight when the time bound ends the loop still count.
    let counted: Option<usize> = line.and_then(|l| l.rsplit(' ').next()?.parse().ok());
    assert!(
        counted.is_some_and(|n| (made..=made + 16).contains(&n)),
        "{line:?}"
    );
    assert!(grown < 32 * MIB, "RSS grew by {grown} KiB");
    process.crash();
}

/// An agent that answers every call with 4 KiB (the most an attempt keeps).
fn four_kib_agent() -> String {
    use actix_web::{web, App, HttpResponse, HttpServer};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = HttpServer::new(|| {
        App::new().default_service(web::to(|| async {
            HttpResponse::Ok().body("a".repeat(4096))
        }))
    })
    .workers(1);
    serve(server, listener, None)
}

/// Waits (bounded) until `path` answers a JSON value `done` accepts.
async fn wait_until(app: &TestApp, path: &str, done: impl Fn(&serde_json::Value) -> bool) {
    let mut last = serde_json::Value::Null;
    for _ in 0..1200 {
        last = app.get(path).await.json();
        if done(&last) {
            return;
        }
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{path} never got there: {last}");
}

/// Issue 26: `GET /replays/{id}?limit=1` loaded every pair of the replay
/// with both answers before applying the page: 20 concurrent reads of a
/// 3,000-event replay took RSS from 122 to 501 MiB.
async fn replay_reports_are_read_a_page_at_a_time(backend: Backend) {
    let db = TestDb::new(&backend);
    let process = Process::start(&db.url, free_port()).await;
    let pid = process.child.id();
    let app = process.app(db);
    let agent = four_kib_agent();
    app.register("orig", &agent).await;
    app.register("cand", &agent).await;
    let route = json!({"agent_name": "orig", "path": "q", "mode": "forward_async"});
    assert_eq!(app.post_json("/agent_routes", route).await.status, 200);
    let key = app.create_key("orig", "k", "external", None).await;
    let key = key["api_key"].as_str().unwrap().to_owned();
    let since = chrono::Utc::now() - chrono::Duration::seconds(1);
    let total = 10_000;
    let started = Instant::now();
    let statuses: Vec<u16> = stream::iter(0..total)
        .map(|i| {
            let (app, key) = (&app, &key);
            async move {
                let headers = [("x-agent-api-key", key.as_str())];
                let body = format!("{{\"event\": {i}}}");
                app.forward(Method::POST, "orig", "q", &headers, body)
                    .await
                    .status
                    .as_u16()
            }
        })
        .buffer_unordered(32)
        .take_while(|_| std::future::ready(started.elapsed() < Duration::from_secs(300)))
        .collect()
        .await;
    assert_eq!(statuses.len(), total, "every event within the time limit");
    assert!(statuses.iter().all(|s| *s == 202));
    let no_pending = "/deliveries?agent_name=orig&status=pending&limit=1";
    wait_until(&app, no_pending, |v| {
        v.as_array().is_some_and(Vec::is_empty)
    })
    .await;
    let until = chrono::Utc::now() + chrono::Duration::seconds(1);
    let replay = app
        .post_json(
            "/replays",
            json!({"from_agent": "orig", "to_agent": "cand", "limit": total,
                   "since": since.to_rfc3339(), "until": until.to_rfc3339()}),
        )
        .await;
    assert_eq!(replay.status, 200, "{}", replay.text());
    assert_eq!(replay.json()["total"], total);
    let report = format!("/replays/{}", replay.json()["id"].as_str().unwrap());
    wait_until(&app, &format!("{report}?limit=1"), |v| {
        v["finished"] == total
    })
    .await;

    let before = rss_kib(pid);
    let reads = (0..20).map(|i| {
        // Pages from all over the replay; the default page size for some.
        let path = match i % 2 {
            0 => format!("{report}?limit=1&offset={}", i * 499),
            _ => report.clone(),
        };
        let app = &app;
        async move { app.get(&path).await.json() }
    });
    let (reports, peak) = peak_rss_while(pid, futures_util::future::join_all(reads)).await;
    let grown = peak.saturating_sub(before);
    eprintln!("20 reads of a {total}-event replay: RSS {before} KiB before, peak +{grown} KiB");
    for (i, report) in reports.iter().enumerate() {
        let page = if i % 2 == 0 { 1 } else { 50 };
        assert_eq!(report["events"].as_array().map(Vec::len), Some(page), "{i}");
        assert_eq!(report["summary"]["same"], total, "{}", report["summary"]);
        assert_eq!(report["finished"], total);
        let first = &report["events"][0];
        assert_eq!(first["comparison"], "same", "{first}");
        assert_eq!(
            first["replayed"]["response"].as_str().map(str::len),
            Some(4096)
        );
    }
    assert!(grown < 32 * MIB, "RSS grew by {grown} KiB");
    process.crash();
}
