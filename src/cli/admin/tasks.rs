//! `hookgate tasks list`: an agent's tasks by their names, the rendered
//! task keys (`github:octo/hello#42`), newest first.

use super::client::{agent_query, query, Api, CliError};
use super::output;

#[derive(Debug, clap::Subcommand)]
pub enum TasksCommand {
    /// Tasks, newest first.
    List {
        /// The agent's name or id.
        #[arg(long)]
        agent: Option<String>,
        /// Only tasks whose name starts with this (`github:octo/hello#`).
        #[arg(long)]
        name: Option<String>,
        /// Rows to show (1 to 1000).
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

pub async fn run(api: &Api, command: TasksCommand, as_json: bool) -> Result<(), CliError> {
    let TasksCommand::List { agent, name, limit } = command;
    let (agent_key, agent_value) = agent.as_deref().map(agent_query).unzip();
    let mut pairs = vec![("name", name), ("limit", Some(limit.to_string()))];
    if let (Some(key), value) = (agent_key, agent_value) {
        pairs.push((key, value));
    }
    let found = api.get(&format!("/tasks{}", query(&pairs))).await?;
    if as_json {
        return output::json(&found);
    }
    output::objects(
        output::items(&found),
        &[
            ("NAME", "name"),
            ("EVENTS", "events"),
            ("HELD SINCE", "held_since"),
            ("CREATED", "created_at"),
            ("ID", "id"),
        ],
    );
    Ok(())
}
