//! Issue 29: a database that goes away under load. hookgate reaches
//! PostgreSQL through a proxy the test cuts (every connection closed, new
//! ones refused) and restores, several times, while senders post signed
//! `acp_event` calls: every answer is 202 or 503 with `Retry-After` (never
//! 500), and every 202'd event reaches the agent once, in per-task order;
//! and the synchronous forward route goes on forwarding the calls whose
//! keys it knew.

use crate::acp_agent::AcpAgent;
use crate::delivery::{acp_setup, pr_event, send_pr};
use crate::helpers::*;
use crate::process::{free_port, Process};
use std::collections::BTreeMap;
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
/// [`DbProxy`]; None when no PostgreSQL server is configured.
async fn behind_a_proxy() -> Option<(Process, TestApp, DbProxy)> {
    let Some(backend) = Backend::postgres() else {
        eprintln!("HOOKGATE_TEST_POSTGRES_URL unset: database outage test skipped");
        return None;
    };
    let db = TestDb::new(&backend);
    let (_, upstream) = through(&db.url, 0);
    let proxy = DbProxy::start(upstream);
    let (url, _) = through(&db.url, proxy.port);
    let process = Process::start(&url, free_port()).await;
    // The database is dropped with the returned app.
    let app = TestApp {
        db,
        ..process.app(TestDb::shared(&url))
    };
    Some((process, app, proxy))
}

const PRS: u64 = 4;
const EVENTS_PER_PR: u64 = 60;

#[actix_rt::test]
async fn a_database_outage_is_answered_202_or_503_never_500() {
    let Some((process, app, proxy)) = behind_a_proxy().await else {
        return;
    };
    let (app, proxy) = (Rc::new(app), Arc::new(proxy));
    let agent = AcpAgent::start().await;
    acp_setup(&app, &agent).await;

    let (cutter, admin) = (proxy.clone(), app.clone());
    let outages = actix_rt::spawn(async move {
        // The middle outage outlasts the pool's 10 s wait for a connection.
        let mut admin_answer = None;
        for secs in [2, 14, 2] {
            actix_rt::time::sleep(Duration::from_millis(700)).await;
            cutter.cut();
            let long = secs > 10;
            let (_, answer) =
                tokio::join!(actix_rt::time::sleep(Duration::from_secs(secs)), async {
                    match long {
                        true => Some(admin.get("/deliveries?limit=1").await),
                        false => None,
                    }
                });
            admin_answer = admin_answer.or(answer);
            cutter.restore();
        }
        admin_answer.expect("an admin call during the long outage")
    });
    let mut senders = Vec::new();
    for pr in 1..=PRS {
        let app = app.clone();
        senders.push(actix_rt::spawn(async move {
            let mut answers = Vec::new();
            for n in 1..=EVENTS_PER_PR {
                let reply = send_pr(
                    &app,
                    &pr_event(pr, &format!("edit-{n}")),
                    &format!("o{pr}-{n}"),
                )
                .await;
                let retry_after = reply.headers.get("retry-after").is_some();
                answers.push((n, reply.status.as_u16(), retry_after, reply.text()));
                actix_rt::time::sleep(Duration::from_millis(60)).await;
            }
            answers
        }));
    }
    let mut accepted: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut refused = 0;
    for (pr, sender) in (1..=PRS).zip(senders) {
        for (n, status, retry_after, text) in sender.await.unwrap() {
            match status {
                202 => accepted.entry(pr).or_default().push(format!("edit-{n}")),
                503 => {
                    assert!(retry_after, "503 without Retry-After: {text}");
                    refused += 1;
                }
                other => panic!("PR {pr} event {n}: {other} {text}"),
            }
        }
    }
    let admin = outages.await.unwrap();
    assert_eq!(admin.status, 503, "{}", admin.text());
    assert!(admin.headers.get("retry-after").is_some());
    assert!(admin.text().contains("database"), "{}", admin.text());
    assert!(
        refused > 0,
        "the long outage was answered 503 at least once"
    );
    let total: usize = accepted.values().map(Vec::len).sum();
    agent
        .wait_for_within("every accepted event", Duration::from_secs(90), |_| {
            agent.event_count() >= total
        })
        .await;
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    for (pr, actions) in &accepted {
        let delivered = agent.actions_of_task(&format!("github:octo/hello#{pr}"));
        assert_eq!(
            &delivered, actions,
            "PR {pr}: each accepted event once, in order"
        );
    }
    process.crash();
}

#[actix_rt::test]
async fn cached_keys_keep_forwarding_while_the_database_is_away() {
    let Some((process, app, proxy)) = behind_a_proxy().await else {
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
