//! The queue under the loads that broke it (issue #10): a backlog behind
//! retrying heads drains once the agent is back, a failing task never holds
//! up another, a lost claim's late outcome is dropped, and two PostgreSQL
//! instances share one queue.

use crate::acp_agent::{AcpAgent, Answer};
use crate::delivery::{acp_setup_at, send_pr, wait_for_status};
use crate::helpers::*;
use crate::process::{free_port, Process};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

db_tests!(
    a_backlog_behind_retrying_heads_drains_in_order_once_the_agent_is_back,
    a_failing_task_does_not_delay_another_task,
    a_late_outcome_after_a_lost_claim_is_not_applied,
);

/// hookgate with fast retries, as the delivery tests use it.
async fn fast_app(
    backend: Backend,
    tweak: impl FnOnce(&mut hookgate::config::Settings),
) -> TestApp {
    spawn_app_with(backend, |s| {
        s.retry_base = Duration::from_millis(50);
        s.retry_max = Duration::from_millis(400);
        s.poll_interval = Duration::from_millis(100);
        s.forward_timeout = Duration::from_secs(5);
        tweak(s);
    })
    .await
}

/// The body of event `round` of pull request `pr`.
pub fn numbered_event(pr: u64, round: u64) -> String {
    json!({"action": format!("round-{round}"), "pull_request": {"number": pr},
           "repository": {"full_name": "octo/hello"}})
    .to_string()
}

/// Sends `rounds` events to each of `prs` pull requests: round by round, so
/// each task's events are accepted in round order, at most 64 at a time.
/// Returns the accepted event ids.
pub async fn send_rounds(app: &TestApp, prs: u64, rounds: u64) -> Vec<String> {
    let mut ids = Vec::new();
    for round in 0..rounds {
        let numbers: Vec<u64> = (1..=prs).collect();
        for chunk in numbers.chunks(64) {
            let sends = chunk.iter().map(|&pr| async move {
                let reply =
                    send_pr(app, &numbered_event(pr, round), &format!("d-{pr}-{round}")).await;
                assert_eq!(reply.status.as_u16(), 202, "{}", reply.text());
                reply.json()["event_id"].as_str().unwrap().to_owned()
            });
            ids.extend(futures_util::future::join_all(sends).await);
        }
    }
    ids
}

/// Asserts every event arrived exactly once and each task's in order.
pub fn assert_complete_and_ordered(events: &[Value], ids: &[String], prs: u64, rounds: u64) {
    let received: Vec<&str> = events
        .iter()
        .map(|e| e["params"]["event"]["id"].as_str().unwrap())
        .collect();
    let unique: HashSet<&str> = received.iter().copied().collect();
    assert_eq!(unique.len(), received.len(), "no event arrived twice");
    let expected: HashSet<&str> = ids.iter().map(String::as_str).collect();
    assert_eq!(unique, expected, "every accepted event arrived");
    let mut by_task: HashMap<String, Vec<(u64, String)>> = HashMap::new();
    for e in events {
        let task = e["params"]["task"]["name"].as_str().unwrap().to_owned();
        let seq = e["params"]["event"]["sequence_id"].as_u64().unwrap();
        let action = e["params"]["event"]["content"]["data"]["body"]["action"]
            .as_str()
            .unwrap()
            .to_owned();
        by_task.entry(task).or_default().push((seq, action));
    }
    assert_eq!(by_task.len() as u64, prs);
    let want: Vec<(u64, String)> = (0..rounds).map(|r| (r + 1, format!("round-{r}"))).collect();
    for (task, got) in by_task {
        assert_eq!(
            got, want,
            "task {task}: each event once, in acceptance order"
        );
    }
}

async fn a_backlog_behind_retrying_heads_drains_in_order_once_the_agent_is_back(backend: Backend) {
    let app = fast_app(backend, |_| {}).await;
    let closed = ClosedPort::new();
    let url = closed.url.clone();
    acp_setup_at(&app, &url).await;
    // 2,400 events over 24 tasks while the agent is down: more than any
    // claim, intake batch or purge batch holds.
    let (prs, rounds) = (24, 100);
    let ids = send_rounds(&app, prs, rounds).await;
    // The heads have been tried and are waiting to be retried.
    let heads = &ids[..prs as usize];
    let mut retried = 0;
    for _ in 0..100 {
        retried = 0;
        for id in heads {
            let head = app.get(&format!("/deliveries/{id}")).await.json();
            assert_eq!(head["status"], "pending", "{head}");
            retried += usize::from(head["attempts"].as_u64().unwrap() > 0);
        }
        if retried >= 5 {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        retried >= 5,
        "heads were attempted while the agent was down"
    );
    let agent = AcpAgent::start_on(closed.listen());
    let total = ids.len();
    agent
        .wait_for_within("the whole backlog", Duration::from_secs(120), |_| {
            agent.event_count() >= total
        })
        .await;
    // Nothing more arrives afterwards (no duplicates in flight).
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    assert_complete_and_ordered(&agent.events(), &ids, prs, rounds);
    let pending = app.get("/deliveries?status=pending").await.json();
    assert_eq!(pending, json!([]), "nothing left pending");
}

async fn a_failing_task_does_not_delay_another_task(backend: Backend) {
    // A failed head waits a minute before its next attempt.
    let app = fast_app(backend, |s| {
        s.retry_base = Duration::from_secs(60);
        s.retry_max = Duration::from_secs(600);
    })
    .await;
    let agent = AcpAgent::start().await;
    acp_setup_at(&app, &agent.url).await;
    agent.fail_tasks("octo/hello#1", 503);
    let mut first = None;
    for round in 0..300u64 {
        let reply = send_pr(&app, &numbered_event(1, round), &format!("a-{round}")).await;
        assert_eq!(reply.status, 202);
        first.get_or_insert(reply.json()["event_id"].as_str().unwrap().to_owned());
    }
    let head = first.unwrap();
    let mut tried = Value::Null;
    for _ in 0..100 {
        tried = app.get(&format!("/deliveries/{head}")).await.json();
        if tried["attempts"].as_u64() >= Some(1) {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(tried["status"], "pending", "{tried}");
    assert_eq!(
        tried["attempts"], 1,
        "the head failed once and waits: {tried}"
    );
    // Another task's event goes straight through.
    let other = send_pr(&app, &numbered_event(2, 0), "b-0").await.json();
    let started = std::time::Instant::now();
    let done = wait_for_status(&app, other["event_id"].as_str().unwrap(), "delivered").await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "delivered after {:?}",
        started.elapsed()
    );
    assert_eq!(done["attempts"], 1);
    let stuck = app.get(&format!("/deliveries/{head}")).await.json();
    assert_eq!(
        stuck["attempts"], 1,
        "the failing head was not hammered: {stuck}"
    );
}

async fn a_late_outcome_after_a_lost_claim_is_not_applied(backend: Backend) {
    // Claims hold one second; the agent takes three to answer the first call.
    let app = fast_app(backend, |s| {
        s.claim_lease = Some(Duration::from_secs(1));
        s.forward_timeout = Duration::from_secs(10);
    })
    .await;
    let agent = AcpAgent::start().await;
    acp_setup_at(&app, &agent.url).await;
    agent.script(&[Answer::Slow(Duration::from_secs(3))]);
    let accepted = send_pr(&app, &numbered_event(7, 0), "late-1").await.json();
    let id = accepted["event_id"].as_str().unwrap();
    // The lease runs out mid-attempt: a second attempt claims it and lands.
    let delivered = wait_for_status(&app, id, "delivered").await;
    // Then the first attempt's answer comes back, under its lost claim.
    agent
        .wait_for("both attempts to finish", |calls| {
            calls.iter().filter(|c| c.method() == "event/send").count() >= 2
        })
        .await;
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    let after = app.get(&format!("/deliveries/{id}")).await.json();
    let log = after["attempt_log"].as_array().unwrap();
    assert_eq!(
        log.len(),
        1,
        "only the holding claim's attempt is recorded: {after}"
    );
    assert_eq!(after["attempts"], 1, "{after}");
    assert_eq!(after["status"], "delivered");
    assert_eq!(
        after["delivered_at"], delivered["delivered_at"],
        "not applied twice"
    );
}

#[actix_rt::test]
async fn two_postgres_instances_share_five_thousand_events() {
    let Some(backend) = Backend::postgres() else {
        eprintln!("HOOKGATE_TEST_POSTGRES_URL unset: two-instance queue test skipped");
        return;
    };
    let db = TestDb::new(&backend);
    let agent = AcpAgent::start().await;
    let one = Process::start(&db.url, free_port()).await;
    let two = Process::start(&db.url, free_port()).await;
    let app_two = two.app(TestDb::shared(&db.url));
    let app_one = one.app(db);
    acp_setup_at(&app_one, &agent.url).await;
    // 5,000 events over 100 tasks, half through each instance.
    let (prs, rounds) = (100u64, 50u64);
    let mut ids = Vec::new();
    for round in 0..rounds {
        let sends = (1..=prs).map(|pr| {
            let app = if pr % 2 == 0 { &app_one } else { &app_two };
            async move {
                let reply =
                    send_pr(app, &numbered_event(pr, round), &format!("d-{pr}-{round}")).await;
                assert_eq!(reply.status.as_u16(), 202, "{}", reply.text());
                reply.json()["event_id"].as_str().unwrap().to_owned()
            }
        });
        ids.extend(futures_util::future::join_all(sends).await);
    }
    agent
        .wait_for_within("5,000 events", Duration::from_secs(180), |_| {
            agent.event_count() >= ids.len()
        })
        .await;
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    assert_complete_and_ordered(&agent.events(), &ids, prs, rounds);
    let instances = attempt_instances(&app_one.db.url);
    assert_eq!(
        instances.len(),
        2,
        "both instances delivered: {instances:?}"
    );
    one.crash();
    two.crash();
}

/// Attempts per hookgate instance, read from the database.
fn attempt_instances(url: &str) -> HashMap<String, i64> {
    use diesel::{Connection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        instance: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        attempts: i64,
    }
    let mut conn = diesel::PgConnection::establish(url).unwrap();
    diesel::sql_query(
        "SELECT instance, COUNT(*) AS attempts FROM delivery_attempts GROUP BY instance",
    )
    .load::<Row>(&mut conn)
    .unwrap()
    .into_iter()
    .map(|r| (r.instance, r.attempts))
    .collect()
}

#[actix_rt::test]
async fn a_second_process_on_one_sqlite_file_refuses_to_start() {
    let db = TestDb::new(&Backend::Sqlite);
    let first = Process::start(&db.url, free_port()).await;
    let out = hookgate_command()
        .arg("serve")
        .env("HOOKGATE_BIND", format!("127.0.0.1:{}", free_port()))
        .env("HOOKGATE_DATABASE_URL", &db.url)
        .output()
        .expect("hookgate runs");
    assert!(!out.status.success(), "the second process must not serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains("another hookgate"), "{stderr}");
    // The first one still serves.
    let app = first.app(TestDb::shared(&db.url));
    assert_eq!(app.get("/readyz").await.status, 200);
    first.crash();
    // Once it is gone, the file can be served again (a crash frees the lock).
    let next = Process::start(&db.url, free_port()).await;
    next.crash();
}

/// SQLite's WAL is copied back into the database while intake runs (in the
/// background, not by the writer) and stays bounded: accepted events reach
/// the database file while hookgate serves, and 3,000 events of 2 KiB
/// (tens of MiB of WAL frames) leave the WAL bounded.
#[actix_rt::test]
async fn the_sqlite_wal_is_checkpointed_while_intake_runs() {
    let app = &spawn_app(Backend::Sqlite).await;
    // Its events stay pending, retried while the app runs: the agent's port
    // is one no test binds (a closed ephemeral port may be another test's
    // agent a moment later).
    acp_setup_at(app, "http://127.0.0.1:9").await;
    let wal = format!("{}-wal", app.db.url);
    let size = |path: &str| std::fs::metadata(path).map_or(0, |m| m.len());
    let filler = "x".repeat(1900);
    let mut sent = 0;
    for (round, events) in [(0u64, 300u64), (1, 2_700)] {
        let numbers: Vec<u64> = (0..events).collect();
        for chunk in numbers.chunks(64) {
            let sends = chunk.iter().map(|&n| {
                let body = json!({"action": "edit", "pull_request": {"number": n % 50},
                                  "repository": {"full_name": "octo/hello"}, "filler": filler})
                .to_string();
                async move {
                    let reply = send_pr(app, &body, &format!("wal-{round}-{n}")).await;
                    assert_eq!(reply.status, 202, "{}", reply.text());
                }
            });
            futures_util::future::join_all(sends).await;
        }
        sent += events;
        if round == 0 {
            // 300 events are a few MiB of WAL frames, below the point where
            // a writer checkpoints on its own.
            let stored = sent * 2048;
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while size(&app.db.url) < stored && std::time::Instant::now() < deadline {
                actix_rt::time::sleep(Duration::from_millis(50)).await;
            }
            assert!(
                size(&app.db.url) >= stored,
                "{} bytes in the database file after {sent} events of 2 KiB",
                size(&app.db.url)
            );
        }
    }
    let wal_bytes = size(&wal);
    assert!(wal_bytes > 0, "the database runs in WAL mode");
    assert!(
        wal_bytes < 20 * 1024 * 1024,
        "the WAL grew to {wal_bytes} bytes over {sent} events"
    );
    app.stop().await;
}
