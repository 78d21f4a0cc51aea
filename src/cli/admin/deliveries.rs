//! `hookgate deliveries list|show|retry`.

use super::client::{agent_query, encode, query, Api, CliError};
use super::output;
use serde_json::{json, Map, Value};

/// The filters the deliveries API has.
#[derive(Debug, Clone, clap::Args)]
pub struct Filters {
    /// The agent's name or id.
    #[arg(long)]
    pub agent: Option<String>,
    /// pending, delivered, failed, cancelled or ignored.
    #[arg(long)]
    pub status: Option<String>,
    /// One task's deliveries.
    #[arg(long, visible_alias = "task-id")]
    pub task: Option<String>,
    /// Created at or after this time (RFC 3339).
    #[arg(long)]
    pub since: Option<String>,
    /// Created before this time (RFC 3339).
    #[arg(long)]
    pub until: Option<String>,
}

impl Filters {
    fn pairs(&self) -> Vec<(&'static str, Option<String>)> {
        let agent = self.agent.as_deref().map(agent_query);
        vec![
            (
                "agent_id",
                agent.clone().filter(|a| a.0 == "agent_id").map(|a| a.1),
            ),
            (
                "agent_name",
                agent.filter(|a| a.0 == "agent_name").map(|a| a.1),
            ),
            ("status", self.status.clone()),
            ("task_id", self.task.clone()),
            ("since", self.since.clone()),
            ("until", self.until.clone()),
        ]
    }

    fn is_empty(&self) -> bool {
        self.pairs().iter().all(|(_, v)| v.is_none())
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum DeliveriesCommand {
    /// Deliveries, newest first.
    List {
        #[command(flatten)]
        filters: Filters,
        /// One route's deliveries (its id).
        #[arg(long)]
        route: Option<String>,
        /// Rows to show (1 to 1000).
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// One delivery with its attempts (and, with --payload, what it carries).
    Show {
        id: String,
        /// Show the stored request too.
        #[arg(long)]
        payload: bool,
    },
    /// Send failed or cancelled deliveries again: the ids given, or with
    /// --bulk every delivery the filters match (status failed by default).
    Retry {
        /// Delivery ids.
        #[arg(required_unless_present = "bulk", conflicts_with = "bulk")]
        ids: Vec<String>,
        /// Retry every delivery matching the filters.
        #[arg(long)]
        bulk: bool,
        #[command(flatten)]
        filters: Filters,
    },
}

pub async fn run(api: &Api, command: DeliveriesCommand, as_json: bool) -> Result<(), CliError> {
    match command {
        DeliveriesCommand::List {
            filters,
            route,
            limit,
        } => {
            let mut pairs = filters.pairs();
            pairs.push(("route_id", route));
            pairs.push(("limit", Some(limit.to_string())));
            let found = api.get(&format!("/deliveries{}", query(&pairs))).await?;
            if as_json {
                return output::json(&found);
            }
            print(output::items(&found));
        }
        DeliveriesCommand::Show { id, payload } => show(api, &id, payload, as_json).await?,
        DeliveriesCommand::Retry { ids, bulk, filters } => {
            if bulk {
                return retry_bulk(api, &filters, as_json).await;
            }
            if !filters.is_empty() {
                return Err(CliError::Failed(
                    "filters apply to --bulk only; give ids or --bulk".into(),
                ));
            }
            for id in ids {
                let retried = api
                    .post(&format!("/deliveries/{}/retry", encode(&id)), &json!({}))
                    .await?;
                match as_json {
                    true => output::json(&retried)?,
                    false => println!("{id}: {}", output::field(&retried, "status")),
                }
            }
        }
    }
    Ok(())
}

async fn retry_bulk(api: &Api, filters: &Filters, as_json: bool) -> Result<(), CliError> {
    let body: Map<String, Value> = filters
        .pairs()
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_owned(), Value::String(v?))))
        .collect();
    let moved = api.post("/deliveries/retry", &Value::Object(body)).await?;
    match as_json {
        true => output::json(&moved)?,
        false => println!(
            "{} deliveries back to pending.",
            output::field(&moved, "moved")
        ),
    }
    Ok(())
}

async fn show(api: &Api, id: &str, payload: bool, as_json: bool) -> Result<(), CliError> {
    let path = format!("/deliveries/{}", encode(id));
    let delivery = api.get(&path).await?;
    let stored = match payload {
        true => Some(api.get(&format!("{path}/payload")).await?),
        false => None,
    };
    if as_json {
        let mut all = delivery;
        if let Some(stored) = stored {
            all["payload"] = stored;
        }
        return output::json(&all);
    }
    output::details(
        &delivery,
        &[
            "id",
            "agent_id",
            "status",
            "mode",
            "method",
            "path",
            "task_id",
            "sequence_id",
            "attempts",
            "next_attempt_at",
            "last_error",
            "created_at",
            "delivered_at",
        ],
    );
    println!("\nAttempts:");
    output::objects(
        output::items(&delivery["attempt_log"]),
        &[
            ("#", "attempt"),
            ("STARTED", "started_at"),
            ("OUTCOME", "outcome"),
            ("STATUS", "status_code"),
            ("ERROR", "error"),
        ],
    );
    if let Some(stored) = stored {
        println!("\nRequest:");
        for pair in output::items(&stored["headers"]) {
            println!("{}: {}", output::text(&pair[0]), output::text(&pair[1]));
        }
        println!();
        println!("{}", pretty_body(&stored));
    }
    Ok(())
}

/// The stored body, pretty-printed when it is JSON (for an ACP event, the
/// event's content, which holds it).
fn pretty_body(stored: &Value) -> String {
    if !stored["content"].is_null() {
        return serde_json::to_string_pretty(&stored["content"]).unwrap_or_default();
    }
    let body = stored["body"].as_str().unwrap_or_default();
    match serde_json::from_str::<Value>(body) {
        Ok(parsed) => serde_json::to_string_pretty(&parsed).unwrap_or_else(|_| body.to_owned()),
        Err(_) if stored["body"].is_null() => {
            format!("(binary, base64) {}", output::field(stored, "body_base64"))
        }
        Err(_) => body.to_owned(),
    }
}

/// Deliveries as a table.
pub fn print(deliveries: &[Value]) {
    output::objects(
        deliveries,
        &[
            ("ID", "id"),
            ("STATUS", "status"),
            ("TASK", "task_name"),
            ("SEQ", "sequence_id"),
            ("ATTEMPTS", "attempts"),
            ("CREATED", "created_at"),
            ("LAST ERROR", "last_error"),
        ],
    );
}
