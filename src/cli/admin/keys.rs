//! `hookgate keys create|list|rotate|delete`. A created or rotated value is
//! printed once, as the API shows it once.

use super::client::{agent_query, query, Api, CliError};
use super::output;
use serde_json::{json, Map, Value};

#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Create a key; its value is printed this once.
    Create {
        /// The agent's name or id.
        #[arg(long)]
        agent: String,
        /// The key's name (for GitHub the repository's full name, for Slack
        /// the app id, for Shopify the shop's domain).
        #[arg(long)]
        name: String,
        /// Its type (`api_key_type`), one of hookgate's providers.
        #[arg(
            long = "type",
            visible_alias = "api-key-type",
            default_value = "external",
            value_parser = super::output::key_types()
        )]
        kind: String,
        /// The value (the provider's secret); generated when omitted, where
        /// the type allows it. Prefer --value-file: a flag is visible to
        /// other users.
        #[arg(long, visible_alias = "api-key", conflicts_with = "value_file")]
        value: Option<String>,
        /// A file holding the value.
        #[arg(long)]
        value_file: Option<std::path::PathBuf>,
    },
    /// The agent's keys, without their values.
    List {
        /// The agent's name or id.
        #[arg(long)]
        agent: String,
    },
    /// Add a new value to a key; the old ones verify until the grace ends.
    Rotate {
        /// The key's id.
        key_id: String,
        /// The new value; generated when omitted.
        #[arg(long)]
        value: Option<String>,
        /// Seconds the values in use keep verifying (default 86400; 0 stops
        /// them at once).
        #[arg(long, visible_alias = "expires-in-secs")]
        grace_secs: Option<i64>,
    },
    /// Delete a key: every value stops at once.
    Delete {
        /// The key's id.
        key_id: String,
    },
}

pub async fn run(api: &Api, command: KeysCommand, as_json: bool) -> Result<(), CliError> {
    match command {
        KeysCommand::Create {
            agent,
            name,
            kind,
            value,
            value_file,
        } => {
            let value = match value_file {
                Some(path) => Some(read_value(&path)?),
                None => value,
            };
            create(api, &agent, name, kind, value, as_json).await
        }
        KeysCommand::List { agent } => {
            let (by, value) = agent_query(&agent);
            let path = format!(
                "/agent_api_keys{}",
                query(&[(by, Some(value)), ("limit", Some("1000".into()))])
            );
            let keys = api.get(&path).await?;
            if as_json {
                return output::json(&keys);
            }
            print(output::items(&keys));
            Ok(())
        }
        KeysCommand::Rotate {
            key_id,
            value,
            grace_secs,
        } => rotate(api, &key_id, value, grace_secs, as_json).await,
        KeysCommand::Delete { key_id } => {
            let path = format!("/agent_api_keys/{}", super::client::encode(&key_id));
            output::said(&api.delete(&path).await?, as_json)
        }
    }
}

async fn create(
    api: &Api,
    agent: &str,
    name: String,
    kind: String,
    value: Option<String>,
    as_json: bool,
) -> Result<(), CliError> {
    let mut body = Map::new();
    let (by, id) = agent_query(agent);
    body.insert(by.into(), id.into());
    body.insert("name".into(), name.into());
    body.insert("api_key_type".into(), kind.into());
    if let Some(value) = value {
        body.insert("api_key".into(), value.into());
    }
    let created = api.post("/agent_api_keys", &Value::Object(body)).await?;
    print_created(&created, as_json, "Created")
}

async fn rotate(
    api: &Api,
    key_id: &str,
    value: Option<String>,
    grace_secs: Option<i64>,
    as_json: bool,
) -> Result<(), CliError> {
    let mut body = Map::new();
    if let Some(value) = value {
        body.insert("api_key".into(), value.into());
    }
    if let Some(secs) = grace_secs {
        body.insert("expires_in_secs".into(), json!(secs));
    }
    let path = format!("/agent_api_keys/{}/rotate", super::client::encode(key_id));
    let rotated = api.post(&path, &Value::Object(body)).await?;
    print_created(&rotated, as_json, "Rotated")?;
    if !as_json {
        println!(
            "Earlier values verify until {}.",
            output::field(&rotated, "previous_expires_at")
        );
    }
    Ok(())
}

/// The keys as a table.
pub fn print(keys: &[Value]) {
    output::objects(
        keys,
        &[
            ("ID", "id"),
            ("NAME", "name"),
            ("TYPE", "api_key_type"),
            ("CREATED", "created_at"),
        ],
    );
}

fn print_created(answer: &Value, as_json: bool, done: &str) -> Result<(), CliError> {
    if as_json {
        return output::json(answer);
    }
    println!(
        "{done} {} key {:?} ({}).",
        output::field(answer, "api_key_type"),
        output::field(answer, "name"),
        output::field(answer, "id")
    );
    println!(
        "Value (shown only now): {}",
        output::field(answer, "api_key")
    );
    Ok(())
}

fn read_value(path: &std::path::Path) -> Result<String, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Failed(format!("cannot read {}: {e}", path.display())))?;
    Ok(text.trim_end_matches(['\n', '\r']).to_owned())
}
