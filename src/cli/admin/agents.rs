//! `hookgate agents list|show|delete`.

use super::client::{agent_path, agent_query, query, Api, CliError};
use super::output;
use serde_json::{json, Value};

#[derive(Debug, clap::Subcommand)]
pub enum AgentsCommand {
    /// Every agent (oldest first).
    List,
    /// One agent, with its keys (never their values) and routes.
    Show {
        /// The agent's name or id.
        agent: String,
    },
    /// Delete an agent with its keys, routes and deliveries.
    Delete {
        /// The agent's name or id.
        agent: String,
    },
}

/// Agents per page read.
const PAGE: usize = 1000;

pub async fn run(api: &Api, command: AgentsCommand, as_json: bool) -> Result<(), CliError> {
    match command {
        AgentsCommand::List => {
            let agents = all(api).await?;
            if as_json {
                return output::json(&Value::Array(agents));
            }
            output::objects(
                &agents,
                &[
                    ("NAME", "name"),
                    ("ID", "id"),
                    ("TYPE", "acp_type"),
                    ("ACP URL", "acp_url"),
                    ("PAUSED", "deliveries_paused_at"),
                    ("CREATED", "created_at"),
                ],
            );
        }
        AgentsCommand::Show { agent } => show(api, &agent, as_json).await?,
        AgentsCommand::Delete { agent } => {
            let deleted = api.delete(&agent_path(&agent)).await?;
            if as_json {
                return output::json(&deleted);
            }
            println!(
                "Deleted agent {} ({}).",
                output::field(&deleted, "name"),
                output::field(&deleted, "id")
            );
        }
    }
    Ok(())
}

/// Every agent, page by page.
async fn all(api: &Api) -> Result<Vec<Value>, CliError> {
    let mut agents = Vec::new();
    for page in 1.. {
        let got = api
            .get(&format!("/agents?limit={PAGE}&page_number={page}"))
            .await?;
        let items = output::items(&got);
        agents.extend_from_slice(items);
        if items.len() < PAGE {
            break;
        }
    }
    Ok(agents)
}

async fn show(api: &Api, agent: &str, as_json: bool) -> Result<(), CliError> {
    let found = api.get(&agent_path(agent)).await?;
    let (by, value) = agent_query(agent);
    let selector = query(&[(by, Some(value))]);
    let keys = api
        .get(&format!("/agent_api_keys{selector}&limit=1000"))
        .await?;
    let routes = api.get(&format!("/agent_routes{selector}")).await?;
    if as_json {
        return output::json(&json!({"agent": found, "keys": keys, "routes": routes}));
    }
    output::details(
        &found,
        &[
            "name",
            "id",
            "acp_url",
            "acp_type",
            "description",
            "account_id",
            "deliveries_paused_at",
            "created_at",
            "updated_at",
        ],
    );
    println!("\nKeys:");
    super::keys::print(output::items(&keys));
    println!("\nRoutes:");
    super::routes::print(output::items(&routes));
    Ok(())
}
