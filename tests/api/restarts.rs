//! Contract §5 durability: nothing accepted is lost to `kill -9`, SIGTERM
//! lets attempts finish, and two processes share one PostgreSQL queue.

use crate::acp_agent::{AcpAgent, Answer};
use crate::delivery::{acp_setup_at, pr_event, send_pr};
use crate::helpers::*;
use crate::process::{free_port, Process};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::net::TcpListener;
use std::time::Duration;

db_tests!(
    kill_9_loses_no_accepted_event,
    sigterm_lets_in_flight_attempts_finish
);

/// Event ids and, per task name, the sequence ids in arrival order.
fn arrivals(agent: &AcpAgent) -> (HashSet<String>, BTreeMap<String, Vec<u64>>) {
    let mut ids = HashSet::new();
    let mut per_task: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for event in agent.events() {
        let params = &event["params"];
        ids.insert(params["event"]["id"].as_str().unwrap().to_owned());
        per_task
            .entry(params["task"]["name"].as_str().unwrap().to_owned())
            .or_default()
            .push(params["event"]["sequence_id"].as_u64().unwrap());
    }
    (ids, per_task)
}

/// Every task's events arrived, in order; repeats (at-least-once) only in place.
fn assert_complete_and_ordered(per_task: &BTreeMap<String, Vec<u64>>, tasks: usize, per: u64) {
    assert_eq!(per_task.len(), tasks, "{per_task:?}");
    for (task, sequences) in per_task {
        assert!(
            sequences.windows(2).all(|w| w[0] <= w[1]),
            "{task} out of order: {sequences:?}"
        );
        let mut distinct = sequences.clone();
        distinct.dedup();
        assert_eq!(
            distinct,
            (1..=per).collect::<Vec<_>>(),
            "{task} incomplete: {sequences:?}"
        );
    }
}

async fn kill_9_loses_no_accepted_event(backend: Backend) {
    let db = TestDb::new(&backend);
    let agent_port = free_port(); // the agent is down while events arrive
    let first = Process::start(&db.url, free_port()).await;
    let app = first.app(db);
    acp_setup_at(&app, &format!("http://127.0.0.1:{agent_port}")).await;
    let mut accepted = HashSet::new();
    for round in 0..10 {
        for pr in 1..=3 {
            let reply = send_pr(
                &app,
                &pr_event(pr, &format!("round-{round}")),
                &format!("d-{pr}-{round}"),
            )
            .await;
            assert_eq!(reply.status.as_u16(), 202, "{}", reply.text());
            accepted.insert(reply.json()["event_id"].as_str().unwrap().to_owned());
        }
    }
    first.crash();

    let agent = AcpAgent::start_on(TcpListener::bind(("127.0.0.1", agent_port)).unwrap());
    let second = Process::start(&app.db.url, free_port()).await;
    agent
        .wait_for("every accepted event", |_| {
            arrivals(&agent).0.len() >= accepted.len()
        })
        .await;
    let (ids, per_task) = arrivals(&agent);
    assert_eq!(ids, accepted, "all accepted events arrived, none invented");
    assert_complete_and_ordered(&per_task, 3, 10);
    assert!(second.terminate().await.success());
}

async fn sigterm_lets_in_flight_attempts_finish(backend: Backend) {
    let db = TestDb::new(&backend);
    let agent = AcpAgent::start().await;
    let process = Process::start(&db.url, free_port()).await;
    let app = process.app(db);
    acp_setup_at(&app, &agent.url).await;
    agent.script(&[
        Answer::Status(200),
        Answer::Slow(Duration::from_millis(1500)),
    ]);
    let accepted = send_pr(&app, &pr_event(5, "opened"), "d-1").await.json();
    agent
        .wait_for("the slow event/send to start", |_| {
            !agent.events().is_empty()
        })
        .await;
    let status = process.terminate().await;
    assert!(status.success(), "{status:?}");

    // The attempt finished and was recorded before the process exited.
    let (pool, _) = hookgate::db::connect(&app.db.url, 1).unwrap();
    let mut conn = pool.get().unwrap();
    let id = accepted["event_id"].as_str().unwrap();
    let (delivery, attempts) = hookgate::db::deliveries::find(&mut conn, id)
        .unwrap()
        .unwrap();
    assert_eq!(delivery.status, "delivered");
    assert_eq!(attempts.len(), 1);
}

#[actix_rt::test]
async fn two_processes_share_one_postgres_queue() {
    let Some(backend) = Backend::postgres() else {
        eprintln!("HOOKGATE_TEST_POSTGRES_URL unset: two-process test skipped");
        return;
    };
    let db = TestDb::new(&backend);
    let agent = AcpAgent::start().await;
    agent.set_delay(Duration::from_millis(5));
    let one = Process::start(&db.url, free_port()).await;
    let two = Process::start(&db.url, free_port()).await;
    let app_one = one.app(db);
    let app_two = TestApp {
        address: format!("http://127.0.0.1:{}", two.port),
        client: client(),
        db: TestDb::new(&Backend::Sqlite),
        admin_token: None,
        server: None,
    };
    acp_setup_at(&app_one, &agent.url).await;
    let mut accepted = HashSet::new();
    for round in 0..10 {
        for pr in 1..=10u64 {
            let app = if (round + pr) % 2 == 0 {
                &app_one
            } else {
                &app_two
            };
            let reply = send_pr(
                app,
                &pr_event(pr, &format!("round-{round}")),
                &format!("d-{pr}-{round}"),
            )
            .await;
            assert_eq!(reply.status.as_u16(), 202, "{}", reply.text());
            accepted.insert(reply.json()["event_id"].as_str().unwrap().to_owned());
        }
    }
    agent
        .wait_for("100 events", |_| arrivals(&agent).0.len() >= 100)
        .await;
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    let (ids, per_task) = arrivals(&agent);
    assert_eq!(ids, accepted);
    assert_eq!(agent.events().len(), 100, "no delivery was attempted twice");
    assert_complete_and_ordered(&per_task, 10, 10);

    let (pool, _) = hookgate::db::connect(&app_one.db.url, 1).unwrap();
    let mut conn = pool.get().unwrap();
    for id in &accepted {
        let (delivery, attempts): (_, Vec<_>) = hookgate::db::deliveries::find(&mut conn, id)
            .unwrap()
            .unwrap();
        assert_eq!(
            (delivery.status.as_str(), attempts.len()),
            ("delivered", 1),
            "{id}"
        );
    }
    let creates = agent
        .calls()
        .iter()
        .filter(|c| c.method() == "task/create")
        .count();
    assert_eq!(
        creates, 10,
        "one task/create per task across both processes"
    );
    let _: Vec<Value> = Vec::new();
    assert!(one.terminate().await.success());
    assert!(two.terminate().await.success());
}
