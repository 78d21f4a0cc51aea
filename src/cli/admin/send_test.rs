//! `hookgate send-test --agent A --provider github`: hookgate signs a sample
//! event with the agent's key of that provider (the value never leaves
//! hookgate), this command sends it to the forward route as the provider
//! would, and prints hookgate's answer. Exit 0 on a 2xx, 7 otherwise.

use super::client::{agent_query, encode, query, Api, CliError};
use super::output;
use serde_json::{json, Value};

#[derive(Debug, clap::Args)]
pub struct SendTestArgs {
    /// The agent's name or id.
    #[arg(long)]
    agent: String,
    /// The provider (key type).
    #[arg(long, value_parser = super::output::key_types())]
    provider: String,
    /// Which of the agent's keys of that type (by name), when it has several.
    #[arg(long)]
    key: Option<String>,
    /// The sub-path to call (default: the agent's first route, else `test`).
    #[arg(long)]
    path: Option<String>,
    /// A file whose content is sent as the body instead of the provider's
    /// sample event.
    #[arg(long)]
    body: Option<std::path::PathBuf>,
}

pub async fn run(api: &Api, args: SendTestArgs, as_json: bool) -> Result<(), CliError> {
    let key_id = find_key(api, &args).await?;
    let path = match &args.path {
        Some(path) => path.clone(),
        None => first_route(api, &args.agent).await?,
    };
    let body = match &args.body {
        Some(file) => Some(
            std::fs::read_to_string(file)
                .map_err(|e| CliError::Failed(format!("cannot read {}: {e}", file.display())))?,
        ),
        None => None,
    };
    let request = json!({"path": path, "body": body, "base_url": api.base()});
    let call = api
        .post(
            &format!("/agent_api_keys/{}/test_call", encode(&key_id)),
            &request,
        )
        .await?;
    let headers: Vec<(String, String)> = output::items(&call["headers"])
        .iter()
        .map(|pair| (output::text(&pair[0]), output::text(&pair[1])))
        .collect();
    let sent_body = call["body"].as_str().unwrap_or_default().to_owned();
    let path = call["path"].as_str().unwrap_or_default();
    let reply = api.raw(path, &headers, sent_body.into()).await?;
    let answer = serde_json::from_slice::<Value>(&reply.body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&reply.body).into_owned()));
    if as_json {
        output::json(&json!({"request": call, "status": reply.status, "answer": answer}))?;
    } else {
        println!(
            "POST {} ({} signed)",
            output::field(&call, "url"),
            args.provider
        );
        println!("{}", reply.status);
        println!(
            "{}",
            serde_json::to_string_pretty(&answer).unwrap_or_default()
        );
    }
    match reply.status {
        200..=299 => Ok(()),
        status => Err(CliError::TestRefused(format!(
            "hookgate answered the test call with {status}"
        ))),
    }
}

/// The id of the agent's key of the provider (named `--key` when given).
async fn find_key(api: &Api, args: &SendTestArgs) -> Result<String, CliError> {
    let (by, value) = agent_query(&args.agent);
    let keys = api
        .get(&format!(
            "/agent_api_keys{}",
            query(&[(by, Some(value)), ("limit", Some("1000".into()))])
        ))
        .await?;
    let key = output::items(&keys).iter().find(|k| {
        k["api_key_type"] == args.provider.as_str()
            && args
                .key
                .as_ref()
                .is_none_or(|name| k["name"] == name.as_str())
    });
    match key {
        Some(key) => Ok(output::field(key, "id")),
        None => Err(CliError::NotFound(format!(
            "agent {} has no {} key{}; create one with `hookgate keys create --agent {} --type {} --name …`",
            args.agent,
            args.provider,
            args.key.as_ref().map(|n| format!(" named {n:?}")).unwrap_or_default(),
            args.agent,
            args.provider
        ))),
    }
}

/// The agent's first route's path (a prefix route's with `test` for its
/// `*`), or `test` when it has none.
async fn first_route(api: &Api, agent: &str) -> Result<String, CliError> {
    let (by, value) = agent_query(agent);
    let routes = api
        .get(&format!("/agent_routes{}", query(&[(by, Some(value))])))
        .await?;
    let path = output::items(&routes)
        .first()
        .and_then(|r| r["path"].as_str())
        .unwrap_or("test");
    Ok(match path.strip_suffix('*') {
        Some(prefix) => format!("{prefix}test"),
        None => path.to_owned(),
    })
}
