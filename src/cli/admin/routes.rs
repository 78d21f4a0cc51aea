//! `hookgate routes create|list|delete`.

use super::client::{agent_query, encode, query, Api, CliError};
use super::output;
use serde_json::{Map, Value};

#[derive(Debug, clap::Subcommand)]
pub enum RoutesCommand {
    /// Create a route on one of the agent's forward sub-paths.
    Create {
        /// The agent's name or id.
        #[arg(long)]
        agent: String,
        /// The sub-path after /agents/forward/name/{agent}/ (a final `*`
        /// matches a prefix).
        #[arg(long)]
        path: String,
        /// forward, forward_async or acp_event.
        #[arg(long, default_value = "acp_event")]
        mode: String,
        /// The task key template (`{body.pull_request.number}`), required
        /// for acp_event.
        #[arg(long)]
        task_key: Option<String>,
        /// data (default) or text.
        #[arg(long)]
        content: Option<String>,
        /// The text content's template (content text).
        #[arg(long)]
        text_template: Option<String>,
        /// What a call without a task key gets: reject (422, the default)
        /// or ignore (200 ignored, never delivered).
        #[arg(long)]
        missing_task_key: Option<String>,
    },
    /// The agent's routes.
    List {
        /// The agent's name or id.
        #[arg(long)]
        agent: String,
    },
    /// Delete a route.
    Delete {
        /// The route's id.
        route_id: String,
    },
}

pub async fn run(api: &Api, command: RoutesCommand, as_json: bool) -> Result<(), CliError> {
    match command {
        RoutesCommand::Create {
            agent,
            path,
            mode,
            task_key,
            content,
            text_template,
            missing_task_key,
        } => {
            let mut body = Map::new();
            let (by, id) = agent_query(&agent);
            body.insert(by.into(), id.into());
            body.insert("path".into(), path.into());
            body.insert("mode".into(), mode.into());
            for (key, value) in [
                ("task_key", task_key),
                ("content", content),
                ("text_template", text_template),
                ("missing_task_key", missing_task_key),
            ] {
                if let Some(value) = value {
                    body.insert(key.into(), value.into());
                }
            }
            let created = api.post("/agent_routes", &Value::Object(body)).await?;
            if as_json {
                return output::json(&created);
            }
            println!(
                "Created route {} on {:?} ({}).",
                output::field(&created, "id"),
                output::field(&created, "path"),
                output::field(&created, "mode")
            );
        }
        RoutesCommand::List { agent } => {
            let (by, value) = agent_query(&agent);
            let routes = api
                .get(&format!("/agent_routes{}", query(&[(by, Some(value))])))
                .await?;
            if as_json {
                return output::json(&routes);
            }
            print(output::items(&routes));
        }
        RoutesCommand::Delete { route_id } => {
            let path = format!("/agent_routes/{}", encode(&route_id));
            return output::said(&api.delete(&path).await?, as_json);
        }
    }
    Ok(())
}

/// The routes as a table.
pub fn print(routes: &[Value]) {
    output::objects(
        routes,
        &[
            ("ID", "id"),
            ("PATH", "path"),
            ("MODE", "mode"),
            ("TASK KEY", "task_key"),
            ("CONTENT", "content"),
        ],
    );
}
