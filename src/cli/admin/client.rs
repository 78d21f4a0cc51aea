//! The admin CLI's HTTP client: one running hookgate's admin API, with the
//! admin token (or an account key), and what its answers mean as exit codes.

use super::remote_url::{self, RemoteUrl};
use bytes::Bytes;
use hookgate::domain::Secret;
use serde_json::Value;
use std::time::Duration;

/// Largest answer read (a delivery's stored payload can be large).
const MAX_ANSWER_BYTES: usize = 64 << 20;

/// Where hookgate is and who is asking.
#[derive(Debug, Clone, clap::Args)]
pub struct Remote {
    /// hookgate's base URL.
    #[arg(
        long,
        env = "HOOKGATE_URL",
        default_value = "http://127.0.0.1:5003",
        global = true
    )]
    pub url: String,
    /// The admin token (or an account key, with --account).
    #[arg(
        long,
        env = "HOOKGATE_ADMIN_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub token: Option<Secret>,
    /// The account an account key acts in (`x-selected-account-id`).
    #[arg(long, env = "HOOKGATE_ACCOUNT_ID", global = true)]
    pub account: Option<String>,
    /// Print the API's JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Why a command failed; each kind has its own exit code, so scripts can
/// tell "not found" from "refused" from "hookgate is down".
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// hookgate answered 404.
    #[error("{0}")]
    NotFound(String),
    /// 401 or 403: no token, a wrong one, or not allowed.
    #[error("{0}")]
    Unauthorized(String),
    /// 400, 409, 413, 415 or 422: the request was refused as it was.
    #[error("{0}")]
    Rejected(String),
    /// hookgate could not be reached, or answered something unreadable.
    #[error("{0}")]
    Unreachable(String),
    /// Any other failure (a 5xx, a bad argument found before calling).
    #[error("{0}")]
    Failed(String),
    /// `send-test`: the forward route answered, but not with a 2xx.
    #[error("{0}")]
    TestRefused(String),
}

impl CliError {
    /// The process exit code (clap's usage errors exit 2).
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Failed(_) => 1,
            Self::NotFound(_) => 3,
            Self::Unauthorized(_) => 4,
            Self::Rejected(_) => 5,
            Self::Unreachable(_) => 6,
            Self::TestRefused(_) => 7,
        }
    }

    fn from_status(status: u16, message: String) -> Self {
        match status {
            404 => Self::NotFound(message),
            401 | 403 => Self::Unauthorized(message),
            400 | 409 | 413 | 415 | 422 => Self::Rejected(message),
            _ => Self::Failed(message),
        }
    }
}

/// An answer read whole.
pub struct Reply {
    pub status: u16,
    pub headers: awc::http::header::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Result<Value, CliError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            CliError::Unreachable(format!(
                "hookgate answered {} with non-JSON: {e}",
                self.status
            ))
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The error message of an admin or forward route answer.
    fn message(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let said = serde_json::from_str::<Value>(&text).ok().and_then(|v| {
            ["message", "detail"]
                .iter()
                .find_map(|k| v.get(*k)?.as_str().map(str::to_owned))
        });
        format!(
            "{} {}",
            self.status,
            said.unwrap_or_else(|| text.into_owned())
        )
    }
}

/// The admin API of one hookgate.
pub struct Api {
    /// Without the URL's credentials: printed in messages.
    base: String,
    basic_auth: Option<Secret>,
    token: Option<Secret>,
    account: Option<String>,
    client: awc::Client,
}

impl Api {
    pub fn new(remote: &Remote) -> Result<Self, CliError> {
        let tls = hookgate::tls::agent_client_config(None)
            .map_err(|e| CliError::Failed(format!("cannot set up TLS: {e}")))?;
        // Redirects are answered, never followed: awc would send the token
        // on to wherever the Location points.
        let client = awc::Client::builder()
            .connector(awc::Connector::new().rustls_0_23(tls))
            .timeout(Duration::from_secs(60))
            .disable_redirects()
            .finish();
        let url = RemoteUrl::parse(&remote.url);
        Ok(Self {
            base: url.base,
            basic_auth: url.basic_auth,
            token: remote.token.clone(),
            account: remote.account.clone(),
            client,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub async fn get(&self, path: &str) -> Result<Value, CliError> {
        self.ok(self.call("GET", path, None).await?)?.json()
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        self.ok(self.call("POST", path, Some(body)).await?)?.json()
    }

    pub async fn delete(&self, path: &str) -> Result<Value, CliError> {
        self.ok(self.call("DELETE", path, None).await?)?.json()
    }

    /// A GET whose headers matter too (pagination).
    pub async fn get_reply(&self, path: &str) -> Result<Reply, CliError> {
        self.ok(self.call("GET", path, None).await?)
    }

    fn ok(&self, reply: Reply) -> Result<Reply, CliError> {
        if (200..300).contains(&reply.status) {
            return Ok(reply);
        }
        if (300..400).contains(&reply.status) {
            return Err(self.redirect_refused(&reply));
        }
        Err(CliError::from_status(reply.status, reply.message()))
    }

    /// Why a redirect was not followed: the token would go with it.
    fn redirect_refused(&self, reply: &Reply) -> CliError {
        let location = reply.header("location").unwrap_or("(no Location)");
        let to = remote_url::printable(location);
        let elsewhere = match remote_url::origin(location) {
            Some(origin) if Some(&origin) != remote_url::origin(&self.base).as_ref() => {
                format!(" (another origin, {origin})")
            }
            _ => String::new(),
        };
        CliError::Failed(format!(
            "hookgate at {} answered {} redirecting to {to}{elsewhere}: not followed, so the \
             admin token is not sent there. Set HOOKGATE_URL (or --url) to the address hookgate \
             serves at.",
            self.base, reply.status
        ))
    }

    /// An admin call, with the token and account headers.
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Reply, CliError> {
        let method = awc::http::Method::from_bytes(method.as_bytes()).expect("a method name");
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(basic) = &self.basic_auth {
            request = request.insert_header(("authorization", basic.expose()));
        }
        if let Some(token) = &self.token {
            request = request.insert_header(("x-api-key", token.expose()));
        }
        if let Some(account) = &self.account {
            request = request.insert_header(("x-selected-account-id", account.as_str()));
        }
        let sent = match body {
            Some(body) => request.send_json(body).await,
            None => request.send().await,
        };
        self.read(sent).await
    }

    /// A call as a provider makes it (no admin headers): `send-test`.
    pub async fn raw(
        &self,
        path: &str,
        headers: &[(String, String)],
        body: Bytes,
    ) -> Result<Reply, CliError> {
        let mut request = self.client.post(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.append_header((name.as_str(), value.as_str()));
        }
        self.read(request.send_body(body).await).await
    }

    async fn read(
        &self,
        sent: Result<
            awc::ClientResponse<
                impl futures_util::Stream<Item = Result<Bytes, awc::error::PayloadError>> + Unpin,
            >,
            awc::error::SendRequestError,
        >,
    ) -> Result<Reply, CliError> {
        let mut response = sent.map_err(|e| {
            CliError::Unreachable(format!("cannot reach hookgate at {}: {e}", self.base))
        })?;
        let body = response
            .body()
            .limit(MAX_ANSWER_BYTES)
            .await
            .map_err(|e| CliError::Unreachable(format!("reading hookgate's answer: {e}")))?;
        Ok(Reply {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body,
        })
    }
}

/// `/agents/{id}` for an id, `/agents/name/{name}` for a name.
pub fn agent_path(agent: &str) -> String {
    match uuid::Uuid::parse_str(agent) {
        Ok(id) => format!("/agents/{id}"),
        Err(_) => format!("/agents/name/{}", encode(agent)),
    }
}

/// `agent_id=…` or `agent_name=…`, as the agent is named.
pub fn agent_query(agent: &str) -> (&'static str, String) {
    match uuid::Uuid::parse_str(agent) {
        Ok(id) => ("agent_id", id.to_string()),
        Err(_) => ("agent_name", agent.to_owned()),
    }
}

/// A query string of the pairs whose value is set.
pub fn query(pairs: &[(&str, Option<String>)]) -> String {
    let set: Vec<(&str, &str)> = pairs
        .iter()
        .filter_map(|(k, v)| Some((*k, v.as_deref()?)))
        .collect();
    if set.is_empty() {
        return String::new();
    }
    format!(
        "?{}",
        serde_urlencoded::to_string(set).expect("strings encode")
    )
}

/// A path segment, percent-encoded.
pub fn encode(segment: &str) -> String {
    let encoded = serde_urlencoded::to_string([("", segment)]).expect("strings encode");
    encoded.trim_start_matches('=').replace('+', "%20")
}
