//! A flood of unknown names cannot hold the key store (issue 11): while the
//! database is stalled, at most 256 look-ups wait; every call beyond is
//! answered 503 at once, and calls whose keys are cached still go through.
//! PostgreSQL only: stalling look-ups needs a table lock that SQLite's
//! readers (WAL) do not wait for.

use crate::helpers::*;
use actix_web::http::Method;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `startup::KEY_STORE_REQUESTS`: look-ups allowed to wait at once.
const WAITING_LOOKUPS: usize = 256;
const FLOOD: usize = 600;

#[actix_rt::test]
async fn a_flood_of_unknown_names_is_refused_beyond_the_lookup_bound() {
    let Some(backend) = Backend::postgres() else {
        eprintln!("HOOKGATE_TEST_POSTGRES_URL unset: PostgreSQL run skipped");
        return;
    };
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    let key = agent_with_key(&app, "live", &upstream).await;
    // The key's creation is announced to every instance, this one too: its
    // listener (polling every 100 ms) clears the cache once more. Warm the
    // cache after that.
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    let warm = forward_live(&app, &key).await;
    assert_eq!(warm.status, 200, "{}", warm.text());

    // Every look-up now waits on the lock.
    let mut stall = PgConnection::establish(&app.db.url).expect("test connection");
    stall
        .batch_execute("BEGIN; LOCK TABLE agents IN ACCESS EXCLUSIVE MODE")
        .expect("lock");
    let answers = flood_unknown_names(&app).await;
    let refused = wait_for_refusals(&answers, FLOOD - WAITING_LOOKUPS).await;
    assert!(
        refused >= FLOOD - WAITING_LOOKUPS,
        "{refused} of {FLOOD} stalled calls answered 503; at most {WAITING_LOOKUPS} may wait"
    );
    // A cached key needs no look-up: the stranger's flood does not stop it.
    let served = forward_live(&app, &key).await;
    assert_eq!(served.status, 200, "{}", served.text());

    stall.batch_execute("COMMIT").expect("unlock");
    let settled = Instant::now();
    while answers.lock().unwrap().len() < FLOOD && settled.elapsed() < Duration::from_secs(60) {
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    let answers = answers.lock().unwrap().clone();
    assert_eq!(answers.len(), FLOOD, "every call was answered");
    let waited = answers.iter().filter(|&&s| s == 404).count();
    assert_eq!(
        waited + refused,
        FLOOD,
        "the others waited, then found no agent: {answers:?}"
    );
    assert!(waited <= WAITING_LOOKUPS, "{waited} waited");
}

/// A call to the registered agent with its (cached) key.
async fn forward_live(app: &TestApp, key: &str) -> Reply {
    let headers = [("x-agent-api-key", key)];
    app.forward(Method::POST, "live", "hook", &headers, "{}")
        .await
}

/// Sends `FLOOD` calls at once, each to an agent name nobody registered;
/// their statuses are pushed as they come.
async fn flood_unknown_names(app: &TestApp) -> Arc<Mutex<Vec<u16>>> {
    let connector = awc::Connector::new().limit(FLOOD + 16);
    let client = awc::Client::builder()
        .connector(connector)
        .timeout(Duration::from_secs(60))
        .finish();
    let answers = Arc::new(Mutex::new(Vec::new()));
    for i in 0..FLOOD {
        let (client, answers) = (client.clone(), answers.clone());
        let url = app.url(&format!("/agents/forward/name/ghost-{i}/hook"));
        actix_rt::spawn(async move {
            let status = match client
                .post(url)
                .insert_header(("x-agent-api-key", "k"))
                .send()
                .await
            {
                Ok(response) => response.status().as_u16(),
                Err(_) => 0,
            };
            answers.lock().unwrap().push(status);
        });
    }
    answers
}

/// Waits (at most 30 s) until `wanted` calls were answered 503.
async fn wait_for_refusals(answers: &Mutex<Vec<u16>>, wanted: usize) -> usize {
    let started = Instant::now();
    loop {
        let refused = answers
            .lock()
            .unwrap()
            .iter()
            .filter(|&&s| s == 503)
            .count();
        if refused >= wanted || started.elapsed() > Duration::from_secs(30) {
            return refused;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
}
