//! Issue 29: a database that goes away under load. hookgate reaches
//! PostgreSQL through a proxy the test cuts (every connection closed, new
//! ones refused) and restores, several times, while senders post signed
//! `acp_event` calls: every call is answered 202 (spooled to disk while
//! the database is away) and reaches the agent once, in per-task order,
//! even across a kill -9 while spooling; a full spool answers 503 with
//! `Retry-After`; and the synchronous forward route goes on forwarding the
//! calls whose keys it knew.

use crate::acp_agent::AcpAgent;
use crate::delivery::{acp_setup, pr_event, send_pr};
use crate::helpers::*;
use crate::process::{free_port, Process};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A TCP proxy to the database that can be cut and restored.
struct DbProxy {
    port: u16,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl DbProxy {
    fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let open = Arc::new(Mutex::new(Vec::new()));
        let (cut_flag, streams) = (cut.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if cut_flag.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let mut open = streams.lock().unwrap();
                open.extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(server, client);
            }
        });
        Self { port, cut, open }
    }

    /// Every connection closed; new ones refused until [`DbProxy::restore`].
    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 << 10];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}

/// `url` with its `host:port` replaced by the proxy's; and that host:port.
fn through(url: &str, port: u16) -> (String, String) {
    let start = url.find('@').map_or("postgres://".len(), |at| at + 1);
    let end = start + url[start..].find('/').unwrap();
    let upstream = url[start..end].to_owned();
    let proxied = format!("{}127.0.0.1:{port}{}", &url[..start], &url[end..]);
    (proxied, upstream)
}

/// hookgate on a PostgreSQL database of its own, reached through a
/// [`DbProxy`], with `env`; None when no PostgreSQL server is configured.
async fn behind_a_proxy(env: &[(&str, &str)]) -> Option<(Process, TestApp, DbProxy)> {
    let Some(backend) = Backend::postgres() else {
        eprintln!("HOOKGATE_TEST_POSTGRES_URL unset: database outage test skipped");
        return None;
    };
    let db = TestDb::new(&backend);
    let (_, upstream) = through(&db.url, 0);
    let proxy = DbProxy::start(upstream);
    let (url, _) = through(&db.url, proxy.port);
    let process = Process::start_with(&url, free_port(), env).await;
    // The database is dropped with the returned app.
    let app = TestApp {
        db,
        ..process.app(TestDb::shared(&url))
    };
    Some((process, app, proxy))
}

const PRS: u64 = 4;
const EVENTS_PER_PR: u64 = 60;
/// Most events a sender sends while the outages go on.
const MAX_EVENTS_PER_PR: u64 = 600;

#[actix_rt::test]
async fn calls_during_database_outages_are_spooled_and_delivered_in_order() {
    let Some((process, app, proxy)) = behind_a_proxy(&[]).await else {
        return;
    };
    let (app, proxy) = (Rc::new(app), Arc::new(proxy));
    let agent = AcpAgent::start().await;
    acp_setup(&app, &agent).await;
    warm_up(&app, &agent).await;

    let over = Rc::new(std::cell::Cell::new(false));
    let outages = actix_rt::spawn(three_outages(proxy.clone(), app.clone(), over.clone()));
    let senders: Vec<_> = (1..=PRS)
        .map(|pr| actix_rt::spawn(send_until(app.clone(), pr, over.clone())))
        .collect();
    let mut sent = Vec::new();
    for (pr, sender) in (1..=PRS).zip(senders) {
        let answers = sender.await.unwrap();
        for (n, status, text) in &answers {
            assert_eq!(*status, 202, "PR {pr} event {n}: {text}");
        }
        sent.push(answers.len() as u64);
    }
    let (admin, ready, metrics) = outages.await.unwrap();
    assert_eq!(admin.status, 503, "{}", admin.text());
    assert!(admin.headers.get("retry-after").is_some());
    assert!(admin.text().contains("database"), "{}", admin.text());
    assert_eq!(ready.status, 200, "still ready: {}", ready.text());
    assert_eq!(ready.json()["status"], "spooling", "{}", ready.text());
    let spooled = metric(&metrics, "hookgate_spool_events");
    assert!(spooled > 0.0, "events spooled during the outage: {spooled}");
    assert!(metric(&metrics, "hookgate_spool_bytes") > 0.0);

    let total = sent.iter().sum::<u64>() as usize + 1;
    agent
        .wait_for_within("every accepted event", Duration::from_secs(90), |_| {
            agent.event_count() >= total
        })
        .await;
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    for (pr, sent) in (1..=PRS).zip(sent) {
        let expected: Vec<String> = (1..=sent).map(|n| format!("edit-{n}")).collect();
        let delivered = agent.actions_of_task(&format!("github:octo/hello#{pr}"));
        assert_eq!(delivered, expected, "PR {pr}: each event once, in order");
    }
    let ready = app.get("/readyz").await;
    assert_eq!(ready.json()["status"], "ready", "{}", ready.text());
    let metrics = app.get("/metrics").await.text();
    assert_eq!(metric(&metrics, "hookgate_spool_events"), 0.0);
    assert!(metric(&metrics, "hookgate_spool_moved_total") >= spooled);
    process.crash();
}

/// Cuts the database off for 2, 14 and 2 s, then sets `over`. The long
/// outage outlasts the pool's 10 s wait for a connection; during it, an
/// admin call and `/readyz` and `/metrics` answer (returned, in that
/// order). The seconds between outages let the key cache fill again (it
/// starts empty when the key-change listener is back: calls whose keys
/// are not cached need the database).
async fn three_outages(
    proxy: Arc<DbProxy>,
    app: Rc<TestApp>,
    over: Rc<std::cell::Cell<bool>>,
) -> (Reply, Reply, String) {
    let mut seen = None;
    for secs in [2, 14, 2] {
        actix_rt::time::sleep(Duration::from_secs(3)).await;
        proxy.cut();
        let long = secs > 10;
        let (_, answer) = tokio::join!(actix_rt::time::sleep(Duration::from_secs(secs)), async {
            if !long {
                return None;
            }
            actix_rt::time::sleep(Duration::from_secs(6)).await;
            let ready = app.get("/readyz").await;
            let metrics = app.get("/metrics").await.text();
            Some((app.get("/deliveries?limit=1").await, ready, metrics))
        });
        seen = seen.or(answer);
        proxy.restore();
    }
    over.set(true);
    seen.expect("calls during the long outage")
}

/// Sends PR `pr`'s events every 60 ms until `over` (bounded); each
/// event's number, status and answer.
async fn send_until(
    app: Rc<TestApp>,
    pr: u64,
    over: Rc<std::cell::Cell<bool>>,
) -> Vec<(u64, u16, String)> {
    let mut answers = Vec::new();
    for n in (1..=MAX_EVENTS_PER_PR).take_while(|_| !over.get()) {
        let body = pr_event(pr, &format!("edit-{n}"));
        let reply = send_pr(&app, &body, &format!("o{pr}-{n}")).await;
        answers.push((n, reply.status.as_u16(), reply.text()));
        actix_rt::time::sleep(Duration::from_millis(60)).await;
    }
    answers
}

#[actix_rt::test]
async fn a_crash_while_spooling_loses_nothing_and_redeliveries_arrive_once() {
    let Some((process, app, proxy)) = behind_a_proxy(&[]).await else {
        return;
    };
    let agent = AcpAgent::start().await;
    acp_setup(&app, &agent).await;
    warm_up(&app, &agent).await;
    send_all(&app, 1..=5).await;
    agent
        .wait_for("the events sent before the outage", |_| {
            agent.event_count() >= 21
        })
        .await;
    proxy.cut();
    send_all(&app, 6..=EVENTS_PER_PR).await;
    // GitHub redelivers some: the same delivery ids, answered 202 again.
    send_all(&app, 6..=15).await;
    let ready = app.get("/readyz").await;
    let spool = &ready.json()["spool"];
    let expected = (EVENTS_PER_PR - 5 + 10) * PRS;
    assert_eq!(spool["events"], expected, "{}", ready.text());
    process.crash();

    // A new process on the same database and spool, once it is back.
    proxy.restore();
    let (url, _) = through(&app.db.url, proxy.port);
    let restarted = Process::start(&url, free_port()).await;
    let total = (PRS * EVENTS_PER_PR) as usize + 1;
    agent
        .wait_for_within("every event", Duration::from_secs(60), |_| {
            agent.event_count() >= total
        })
        .await;
    actix_rt::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(agent.event_count(), total, "each event once");
    for pr in 1..=PRS {
        let expected: Vec<String> = (1..=EVENTS_PER_PR).map(|n| format!("edit-{n}")).collect();
        let delivered = agent.actions_of_task(&format!("github:octo/hello#{pr}"));
        assert_eq!(delivered, expected, "PR {pr}: in order");
    }
    restarted.crash();
}

#[actix_rt::test]
async fn a_full_spool_is_answered_503_with_retry_after() {
    let Some((process, app, proxy)) =
        behind_a_proxy(&[("HOOKGATE_SPOOL_MAX_BYTES", "20000")]).await
    else {
        return;
    };
    let agent = AcpAgent::start().await;
    acp_setup(&app, &agent).await;
    warm_up(&app, &agent).await;
    proxy.cut();
    let mut accepted = Vec::new();
    let mut full = None;
    for n in 1..=200 {
        let reply = send_pr(&app, &pr_event(1, &format!("edit-{n}")), &format!("f-{n}")).await;
        match reply.status.as_u16() {
            202 => accepted.push(format!("edit-{n}")),
            _ => {
                full = Some(reply);
                break;
            }
        }
    }
    let full = full.expect("a 20,000-byte spool fills before 200 events");
    assert_eq!(full.status, 503, "{}", full.text());
    assert!(full.headers.get("retry-after").is_some());
    assert!(full.text().contains("spool"), "{}", full.text());
    assert!(!accepted.is_empty(), "the spool took some first");
    proxy.restore();
    agent
        .wait_for_within("the spooled events", Duration::from_secs(60), |_| {
            agent.event_count() > accepted.len()
        })
        .await;
    assert_eq!(agent.actions_of_task("github:octo/hello#1"), accepted);
    process.crash();
}

/// Sends events `numbers` of every PR (sent again, the same delivery ids:
/// a provider's redelivery); every answer must be 202.
async fn send_all(app: &TestApp, numbers: std::ops::RangeInclusive<u64>) {
    for n in numbers {
        for pr in 1..=PRS {
            let body = pr_event(pr, &format!("edit-{n}"));
            let reply = send_pr(app, &body, &format!("c{pr}-{n}")).await;
            assert_eq!(reply.status, 202, "PR {pr} event {n}: {}", reply.text());
        }
    }
}

/// Lets the set-up's key changes reach the instance's listener (which
/// empties the key cache), then sends one event (PR 99) so the keys are
/// cached: an outage finds them there. Calls whose keys were never read
/// need the database.
async fn warm_up(app: &TestApp, agent: &AcpAgent) {
    actix_rt::time::sleep(Duration::from_millis(1500)).await;
    let reply = send_pr(app, &pr_event(99, "warm-up"), "warm-up").await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    agent
        .wait_for("the warm-up event", |_| agent.event_count() >= 1)
        .await;
}

/// The value of an unlabelled series in a `/metrics` text.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| {
            line.strip_prefix(name)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("{name} is not in /metrics"))
}

#[actix_rt::test]
async fn cached_keys_keep_forwarding_while_the_database_is_away() {
    let Some((process, app, proxy)) = behind_a_proxy(&[]).await else {
        return;
    };
    let agent = Upstream::start().await;
    let key = agent_with_key(&app, "agent-a", &agent).await;
    let call = |key: String| {
        let app = &app;
        async move {
            let headers = [("x-agent-api-key", key.as_str())];
            app.forward(
                actix_web::http::Method::POST,
                "agent-a",
                "hook",
                &headers,
                "{}",
            )
            .await
        }
    };
    // Our own key change reaches this instance's listener too (within a
    // poll) and clears the cache: the key is cached by a call after that.
    actix_rt::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(call(key.clone()).await.status, 200, "the key is now cached");
    proxy.cut();
    // The key-change listener notices within about a second.
    actix_rt::time::sleep(Duration::from_millis(2500)).await;
    for _ in 0..3 {
        let reply = call(key.clone()).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    assert_eq!(
        agent.received().len(),
        4,
        "forwarded while the database was away"
    );
    // A key never seen needs the database: 503 with Retry-After, not 401.
    let unknown = call("never-seen-key".into()).await;
    assert_eq!(unknown.status, 503, "{}", unknown.text());
    assert!(unknown.headers.get("retry-after").is_some());
    proxy.restore();
    process.crash();
}
