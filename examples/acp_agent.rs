//! A small ACP agent that hookgate can deliver to.
//!
//! At start-up it registers itself with hookgate (`POST /agents/register`),
//! declaring its own identities for the loop guard (its GitHub bot account,
//! by default), and keeps the internal key it gets back; every JSON-RPC call
//! on `/api` must carry that key in `x-agent-api-key`. It answers
//! `task/create` and `event/send` as the Agentex SDK does, and serves a
//! custom route `/code_changes` that hookgate can forward to. It prints what
//! it receives, with where each event came from and who caused it (its
//! provenance). Its tasks are conversations: a route keyed
//! `{conversation}` gives it one task per pull request or Slack thread.
//!
//! ```sh
//! cargo run --example acp_agent
//! ```
//! Settings: `HOOKGATE_URL` (default `http://127.0.0.1:5003`), `AGENT_NAME`
//! (`example-agent`), `AGENT_BIND` (`127.0.0.1:8000`), `AGENT_IDENTITIES`
//! (comma-separated, default `github:<AGENT_NAME>[bot]`), and
//! `HOOKGATE_ADMIN_TOKEN` if hookgate needs one for registration.

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};
use std::io::Write;

/// The internal key hookgate gave this agent at registration.
struct InternalKey(String);

async fn api(
    req: HttpRequest,
    body: web::Json<Value>,
    key: web::Data<InternalKey>,
) -> HttpResponse {
    let presented = req
        .headers()
        .get("x-agent-api-key")
        .and_then(|v| v.to_str().ok());
    if presented != Some(key.0.as_str()) {
        println!("refused a JSON-RPC call without the internal key");
        return HttpResponse::Unauthorized()
            .json(json!({"detail": "missing or wrong x-agent-api-key"}));
    }
    let params = &body["params"];
    match body["method"].as_str() {
        Some("task/create") => println!(
            "task/create  task={} name={}",
            params["task"]["id"], params["task"]["name"]
        ),
        Some("event/send") => {
            let event = &params["event"];
            let provenance = &event["content"]["provenance"];
            let data = &event["content"]["data"];
            // A coalescing route sends a burst of events as one.
            let batch = match data["events"].as_array() {
                Some(events) => format!(" batch={}", events.len()),
                None => String::new(),
            };
            // Who caused it, as the provider tells: how far to trust its text.
            let actor = &provenance["actor"];
            let by = match (actor["id"].as_str(), actor["bot"].as_bool()) {
                (Some(id), Some(true)) => format!(" by={id}(bot)"),
                (Some(id), _) => format!(" by={id}"),
                _ => String::new(),
            };
            println!(
                "event/send   task={} sequence={} from={}:{}{by}{batch} content={data}",
                params["task"]["name"],
                event["sequence_id"],
                provenance["provider"].as_str().unwrap_or("?"),
                provenance["key_name"].as_str().unwrap_or("?"),
            );
        }
        other => println!("{} (ignored)", other.unwrap_or("no method")),
    }
    let _ = std::io::stdout().flush();
    HttpResponse::Ok()
        .json(json!({"jsonrpc": "2.0", "id": body["id"], "result": null, "error": null}))
}

async fn code_changes(req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let event = req
        .headers()
        .get("x-github-event")
        .and_then(|v| v.to_str().ok());
    println!(
        "/code_changes {} ({} bytes, event {:?})",
        req.method(),
        body.len(),
        event
    );
    let _ = std::io::stdout().flush();
    HttpResponse::Ok().json(json!({"received": true}))
}

/// Registers with hookgate, declaring `identities` (events they cause are
/// the agent's own, which hookgate's loop guard drops), and returns the
/// internal key.
async fn register(
    hookgate: &str,
    name: &str,
    own_url: &str,
    identities: &[String],
) -> Result<String, String> {
    let mut request = awc::Client::new().post(format!("{hookgate}/agents/register"));
    if let Ok(token) = std::env::var("HOOKGATE_ADMIN_TOKEN") {
        request = request.insert_header(("x-api-key", token));
    }
    let registration = json!({"name": name, "description": "hookgate's example ACP agent",
                              "acp_url": own_url, "acp_type": "async",
                              "registration_metadata": {"hookgate_identities": identities}});
    let mut response = request
        .send_json(&registration)
        .await
        .map_err(|e| e.to_string())?;
    let answer: Value = response.json().await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!(
            "registration refused ({}): {answer}",
            response.status()
        ));
    }
    answer["agent_api_key"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "registration answer had no agent_api_key".into())
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let hookgate = std::env::var("HOOKGATE_URL").unwrap_or_else(|_| "http://127.0.0.1:5003".into());
    let name = std::env::var("AGENT_NAME").unwrap_or_else(|_| "example-agent".into());
    let bind = std::env::var("AGENT_BIND").unwrap_or_else(|_| "127.0.0.1:8000".into());
    let identities: Vec<String> = std::env::var("AGENT_IDENTITIES")
        .unwrap_or_else(|_| format!("github:{name}[bot]"))
        .split(',')
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .map(str::to_owned)
        .collect();
    let server = HttpServer::new(App::new).bind(&bind)?; // fail fast if the port is taken
    drop(server);
    let key = match register(&hookgate, &name, &format!("http://{bind}"), &identities).await {
        Ok(key) => key,
        Err(e) => {
            eprintln!("error: cannot register with hookgate at {hookgate}: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "registered '{name}' (identities {identities:?}) with {hookgate}; serving on http://{bind}"
    );
    let _ = std::io::stdout().flush();
    let key = web::Data::new(InternalKey(key));
    HttpServer::new(move || {
        App::new()
            .app_data(key.clone())
            .route("/api", web::post().to(api))
            .route("/code_changes", web::route().to(code_changes))
    })
    .workers(1)
    .bind(bind)?
    .run()
    .await
}
