//! The delivery benchmark's sender: posts exactly `EVENTS` acp_event calls
//! (2 KiB bodies) to hookgate over `CONCURRENCY` keep-alive connections,
//! spread over `TASKS` tasks of `AGENTS` agents (`bench-1` …), each with the
//! external key `bench-caller-key`. Prints `accepted events_per_second`.
//!
//! Run: `cargo run --release --example bench_sender -- http://127.0.0.1:5003 20000 64 1 200`

use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct Plan {
    base: String,
    events: usize,
    agents: usize,
    tasks: usize,
    body: String,
    next: AtomicUsize,
    accepted: AtomicUsize,
}

fn arg(n: usize, default: &str) -> String {
    std::env::args()
        .nth(n)
        .unwrap_or_else(|| default.to_owned())
}

async fn sender(plan: Rc<Plan>) {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    loop {
        let i = plan.next.fetch_add(1, Ordering::Relaxed);
        if i >= plan.events {
            return;
        }
        let task = i % plan.tasks;
        let agent = task % plan.agents + 1;
        let url = format!("{}/agents/forward/name/bench-{agent}/events", plan.base);
        let sent = client
            .post(url)
            .insert_header(("content-type", "application/json"))
            .insert_header(("x-agent-api-key", "bench-caller-key"))
            .insert_header(("x-task", format!("t{task}")))
            .send_body(plan.body.clone())
            .await;
        if let Ok(mut response) = sent {
            let _ = response.body().await;
            if response.status().as_u16() == 202 {
                plan.accepted.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

#[actix_rt::main]
async fn main() {
    let concurrency: usize = arg(3, "64").parse().expect("CONCURRENCY");
    let plan = Rc::new(Plan {
        base: arg(1, "http://127.0.0.1:5003"),
        events: arg(2, "20000").parse().expect("EVENTS"),
        agents: arg(4, "1").parse().expect("AGENTS"),
        tasks: arg(5, "200").parse().expect("TASKS"),
        body: format!(
            r#"{{"action":"synchronize","repository":{{"full_name":"octo/bench"}},"filler":"{}"}}"#,
            "x".repeat(1800)
        ),
        next: AtomicUsize::new(0),
        accepted: AtomicUsize::new(0),
    });
    let started = Instant::now();
    let senders: Vec<_> = (0..concurrency)
        .map(|_| actix_rt::spawn(sender(plan.clone())))
        .collect();
    for s in senders {
        let _ = s.await;
    }
    let secs = started.elapsed().as_secs_f64();
    let accepted = plan.accepted.load(Ordering::Relaxed);
    println!("{accepted} {:.1}", accepted as f64 / secs);
}
