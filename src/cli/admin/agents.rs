//! `hookgate agents list|show|register|refresh-card|delete`.

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
    /// Register an agent (or change a registered one): an ACP agent at its
    /// server's URL, or an A2A agent from its Agent Card. Prints its
    /// internal key, the only time it is shown.
    Register(Register),
    /// Read an A2A agent's Agent Card again (a new interface or version).
    RefreshCard {
        /// The agent's name or id.
        agent: String,
    },
    /// Delete an agent with its keys, routes and deliveries.
    Delete {
        /// The agent's name or id.
        agent: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct Register {
    /// The agent's name (in its webhook URLs).
    name: String,
    /// An ACP agent's server (Agentex's protocol).
    #[arg(
        long,
        required_unless_present = "agent_card_url",
        conflicts_with = "agent_card_url"
    )]
    acp_url: Option<String>,
    /// An A2A agent's Agent Card, or the server that serves it at
    /// /.well-known/agent-card.json.
    #[arg(long)]
    agent_card_url: Option<String>,
    /// The bearer token an A2A agent's card asks callers for (read from
    /// the environment, never from the command line).
    #[arg(
        long = "outbound-token-env",
        value_name = "VARIABLE",
        requires = "agent_card_url"
    )]
    outbound_token_env: Option<String>,
    /// What the agent does (shown to its users and in ACP messages).
    #[arg(long)]
    description: Option<String>,
}

impl Register {
    fn body(self) -> Result<Value, CliError> {
        let mut body = json!({"name": self.name, "description": self.description});
        match (self.acp_url, self.agent_card_url) {
            (Some(url), _) => body["acp_url"] = json!(url),
            (None, card) => {
                body["protocol"] = json!("a2a");
                body["agent_card_url"] = json!(card);
            }
        }
        if let Some(variable) = self.outbound_token_env {
            let token = std::env::var(&variable).map_err(|_| {
                CliError::Failed(format!("--outbound-token-env: {variable} is not set"))
            })?;
            body["outbound_token"] = json!(token);
        }
        Ok(body)
    }
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
                    ("PROTOCOL", "protocol"),
                    ("TYPE", "acp_type"),
                    ("ACP URL", "acp_url"),
                    ("A2A URL", "a2a_url"),
                    ("PAUSED", "deliveries_paused_at"),
                    ("CREATED", "created_at"),
                ],
            );
        }
        AgentsCommand::Show { agent } => show(api, &agent, as_json).await?,
        AgentsCommand::Register(register) => {
            let made = api.post("/agents/register", &register.body()?).await?;
            if as_json {
                return output::json(&made);
            }
            print_registered(&made);
        }
        AgentsCommand::RefreshCard { agent } => {
            let found = api.get(&agent_path(&agent)).await?;
            let id = output::field(&found, "id");
            let read = api
                .post(&format!("/agents/{id}/refresh_card"), &json!({}))
                .await?;
            if as_json {
                return output::json(&read);
            }
            println!(
                "Read the card of {} again: A2A {} at {}.",
                output::field(&read, "name"),
                output::field(&read, "a2a_version"),
                output::field(&read, "a2a_url")
            );
        }
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

fn print_registered(made: &Value) {
    let name = output::field(made, "name");
    match made["protocol"].as_str() {
        Some("a2a") => println!(
            "Registered A2A agent {name}: A2A {} at {} (from {}).",
            output::field(made, "a2a_version"),
            output::field(made, "a2a_url"),
            output::field(made, "agent_card_url")
        ),
        _ => println!(
            "Registered ACP agent {name} at {}.",
            output::field(made, "acp_url")
        ),
    }
    println!(
        "Its internal key (sent as x-agent-api-key; shown only now): {}",
        output::field(made, "agent_api_key")
    );
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
            "protocol",
            "acp_url",
            "acp_type",
            "agent_card_url",
            "a2a_url",
            "a2a_version",
            "card_read_at",
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
