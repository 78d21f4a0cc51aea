//! `hookgate tail --agent A`: shows an agent's latest deliveries, then
//! follows them as they happen, one line per change (new, attempted again,
//! delivered, failed): time,
//! status, task, attempts, latency. It polls the deliveries API, reading
//! only deliveries created since the oldest one still pending, so what it
//! holds stays bounded however long it runs.

use super::client::{agent_query, query, Api, CliError};
use super::output;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// Pages read per poll (of 1,000 deliveries each).
const MAX_PAGES: usize = 10;

/// How far before the start deliveries are noted as already seen (a
/// delivery still pending from then is followed; older ones are not).
const BASELINE_SECS: i64 = 60;

#[derive(Debug, clap::Args)]
pub struct TailArgs {
    /// The agent's name or id.
    #[arg(long)]
    agent: String,
    /// Milliseconds between polls.
    #[arg(long, default_value_t = 500)]
    interval_ms: u64,
    /// Stop after this many lines (default: run until interrupted).
    #[arg(long)]
    count: Option<u64>,
    /// How many of the latest deliveries to show first (as `tail -n`).
    #[arg(short = 'n', long, default_value_t = 10)]
    lines: u32,
}

/// What was last printed of a delivery.
struct Seen {
    status: String,
    attempts: i64,
    created_at: DateTime<Utc>,
}

pub async fn run(api: &Api, args: TailArgs, as_json: bool) -> Result<(), CliError> {
    // As tail does: the last few lines first, then what happens from now
    // on. What exists at the start is noted (hookgate's own clock, to the
    // second, says when now is) so that only its changes are printed.
    let (by, value) = agent_query(&args.agent);
    let recent_path = query(&[
        (by, Some(value)),
        ("limit", Some(args.lines.max(1).to_string())),
    ]);
    let recent = match args.lines {
        0 => Vec::new(),
        _ => output::items(&api.get(&format!("/deliveries{recent_path}")).await?).to_vec(),
    };
    let start = server_now(api).await? - chrono::Duration::seconds(BASELINE_SECS);
    let mut seen: HashMap<String, Seen> = HashMap::new();
    for delivery in poll(api, &args.agent, start).await? {
        changed(&mut seen, &delivery);
    }
    let mut since = next_since(&mut seen, start);
    let mut lines = Lines {
        printed: 0,
        count: args.count,
        as_json,
    };
    if !as_json {
        println!("TIME                         STATUS     TASK                                  ATTEMPTS  LATENCY  DELIVERY");
    }
    for delivery in recent.iter().rev() {
        changed(&mut seen, delivery);
        if lines.print(delivery) {
            return Ok(());
        }
    }
    loop {
        let mut found = poll(api, &args.agent, since).await?;
        found.reverse(); // oldest first, as they happened
        for delivery in &found {
            if changed(&mut seen, delivery) && lines.print(delivery) {
                return Ok(());
            }
        }
        since = next_since(&mut seen, since);
        actix_web::rt::time::sleep(Duration::from_millis(args.interval_ms)).await;
    }
}

/// Prints delivery lines, up to `count`.
struct Lines {
    printed: u64,
    count: Option<u64>,
    as_json: bool,
}

impl Lines {
    /// Prints one; whether the count is reached.
    fn print(&mut self, delivery: &Value) -> bool {
        print_line(delivery, self.as_json);
        self.printed += 1;
        self.count.is_some_and(|count| self.printed >= count)
    }
}

/// The `Date` of hookgate's answer.
async fn server_now(api: &Api) -> Result<DateTime<Utc>, CliError> {
    let reply = api.get_reply("/healthz").await?;
    let date = reply.header("date").unwrap_or_default();
    Ok(DateTime::parse_from_rfc2822(date)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now()))
}

/// Deliveries of the agent created at or after `since`, newest first.
async fn poll(api: &Api, agent: &str, since: DateTime<Utc>) -> Result<Vec<Value>, CliError> {
    let (by, value) = agent_query(agent);
    let mut found = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let path = format!(
            "/deliveries{}",
            query(&[
                (by, Some(value.clone())),
                ("since", Some(since.to_rfc3339())),
                ("limit", Some("1000".into())),
                ("cursor", cursor.take()),
            ])
        );
        let reply = api.get_reply(&path).await?;
        found.extend_from_slice(output::items(&reply.json()?));
        cursor = reply.header("x-next-cursor").map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    Ok(found)
}

/// Whether the delivery is new or changed since last printed (and notes it).
fn changed(seen: &mut HashMap<String, Seen>, delivery: &Value) -> bool {
    let id = output::field(delivery, "id");
    let status = output::field(delivery, "status");
    let attempts = delivery["attempts"].as_i64().unwrap_or(0);
    let created_at = time(delivery, "created_at").unwrap_or_else(Utc::now);
    let now = Seen {
        status,
        attempts,
        created_at,
    };
    match seen.get(&id) {
        Some(before) if before.status == now.status && before.attempts == now.attempts => false,
        _ => {
            seen.insert(id, now);
            true
        }
    }
}

/// The next poll's start: the oldest pending delivery's creation, or the
/// newest seen when none is pending. Finished ones older are forgotten.
fn next_since(seen: &mut HashMap<String, Seen>, since: DateTime<Utc>) -> DateTime<Utc> {
    let oldest_pending = seen
        .values()
        .filter(|s| s.status == "pending")
        .map(|s| s.created_at)
        .min();
    let newest = seen.values().map(|s| s.created_at).max().unwrap_or(since);
    let next = oldest_pending.unwrap_or(newest).max(since);
    seen.retain(|_, s| s.created_at >= next);
    next
}

fn time(delivery: &Value, key: &str) -> Option<DateTime<Utc>> {
    let text = delivery[key].as_str()?;
    Some(DateTime::parse_from_rfc3339(text).ok()?.with_timezone(&Utc))
}

fn print_line(delivery: &Value, as_json: bool) {
    if as_json {
        return println!("{delivery}");
    }
    let latency = match (time(delivery, "created_at"), time(delivery, "delivered_at")) {
        (Some(created), Some(delivered)) => {
            format!("{}ms", (delivered - created).num_milliseconds())
        }
        _ => "-".to_owned(),
    };
    println!(
        "{:<27}  {:<9}  {:<36}  {:<8}  {:<7}  {}",
        output::field(delivery, "updated_at"),
        output::field(delivery, "status"),
        task(delivery),
        output::field(delivery, "attempts"),
        latency,
        output::field(delivery, "id"),
    );
}

/// The delivery's task by its name (the rendered key), else its id.
fn task(delivery: &Value) -> String {
    match delivery["task_name"].as_str() {
        Some(name) => name.to_owned(),
        None => output::field(delivery, "task_id"),
    }
}
