//! `ForwarderActor`: delivers verified calls to one agent's server with awc.
//! `awc::Client` is not `Send`, so each HTTP worker keeps its own
//! [`ForwarderRegistry`] whose actors live on that worker's thread, each with
//! a keep-alive connection pool to its agent.

use crate::headers::strip_hop_by_hop;
use actix::prelude::*;
use actix_web::http::header::HeaderMap;
use actix_web::http::{Method, StatusCode};
use bytes::Bytes;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::db::agents::Agent;
use crate::outbound::{OutboundPolicy, PolicyResolver};
use actix_tls::connect::{Connector as TcpConnector, Resolver};

/// Reaches one agent: the synchronous forward's [`Forward`] and the queue's
/// attempts (`queue::attempt`, whose `Deliver` handler runs on this actor and
/// reads these fields).
pub struct ForwarderActor {
    pub(crate) client: awc::Client,
    pub(crate) base_url: String,
    pub(crate) max_body_bytes: usize,
    /// Set when the agent's URL names an address the outbound policy
    /// refuses: every call fails with it, nothing is sent.
    pub(crate) refused: Option<String>,
}

/// How every forwarder reaches its agent.
#[derive(Clone)]
pub struct ForwarderSettings {
    pub timeout: Duration,
    pub max_body_bytes: usize,
    /// For `https://` agents.
    pub tls: Arc<rustls::ClientConfig>,
    /// Where agents may be reached.
    pub outbound: Arc<OutboundPolicy>,
}

impl ForwarderSettings {
    /// A client that reaches agents as forwarders do: this TLS, addresses
    /// the outbound policy allows, no redirects, `timeout` per request.
    pub fn client(&self, timeout: Duration) -> awc::Client {
        let resolver = Resolver::custom(PolicyResolver(self.outbound.clone()));
        let connector = awc::Connector::new()
            .connector(TcpConnector::new(resolver).service())
            .rustls_0_23(self.tls.clone());
        awc::Client::builder()
            .connector(connector)
            .disable_redirects()
            .no_default_headers()
            .timeout(timeout)
            .finish()
    }

    /// Why the outbound policy refuses the host `url` names, if it does.
    pub fn refusal_for_url(&self, url: &str) -> Option<String> {
        let uri = url.parse::<actix_web::http::Uri>().ok()?;
        self.outbound.refusal_for_host(uri.host()?)
    }
}

impl ForwarderActor {
    fn new(address: &str, settings: &ForwarderSettings) -> Self {
        Self {
            client: settings.client(settings.timeout),
            base_url: address.trim_end_matches('/').to_owned(),
            max_body_bytes: settings.max_body_bytes,
            refused: settings.refusal_for_url(address),
        }
    }
}

impl Actor for ForwarderActor {
    type Context = Context<Self>;
}

/// One call to pass on: `path_and_query` is appended to the agent's URL;
/// `headers` are already [`forwardable_headers`].
#[derive(Message)]
#[rtype(result = "Result<Forwarded, ForwardError>")]
pub struct Forward {
    pub method: Method,
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// The agent's answer, with hop-by-hop headers already removed.
#[derive(Debug)]
pub struct Forwarded {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("agent unreachable: {0}")]
    Unreachable(String),
    #[error("agent did not answer in time")]
    Timeout,
}

impl Handler<Forward> for ForwarderActor {
    type Result = ResponseFuture<Result<Forwarded, ForwardError>>;

    fn handle(&mut self, msg: Forward, _: &mut Self::Context) -> Self::Result {
        if let Some(why) = &self.refused {
            let why = why.clone();
            return Box::pin(async move { Err(ForwardError::Unreachable(why)) });
        }
        let url = format!("{}{}", self.base_url, msg.path_and_query);
        let mut request = self.client.request(msg.method, url);
        *request.headers_mut() = msg.headers;
        let limit = self.max_body_bytes;
        Box::pin(async move {
            let mut response = request.send_body(msg.body).await.map_err(send_error)?;
            let body = response.body().limit(limit).await.map_err(body_error)?;
            let mut headers = response.headers().clone();
            strip_hop_by_hop(&mut headers);
            Ok(Forwarded {
                status: response.status(),
                headers,
                body,
            })
        })
    }
}

fn send_error(err: awc::error::SendRequestError) -> ForwardError {
    match err {
        awc::error::SendRequestError::Timeout => ForwardError::Timeout,
        other => ForwardError::Unreachable(other.to_string()),
    }
}

fn body_error(err: awc::error::PayloadError) -> ForwardError {
    match err {
        awc::error::PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            ForwardError::Timeout
        }
        other => ForwardError::Unreachable(format!("reading the agent's answer failed: {other}")),
    }
}

/// The forwarders of one HTTP worker, one per agent, made on first use and
/// replaced when the agent's address changes.
pub struct ForwarderRegistry {
    forwarders: RefCell<HashMap<String, (String, Addr<ForwarderActor>)>>,
    settings: ForwarderSettings,
}

impl ForwarderRegistry {
    pub fn new(settings: ForwarderSettings) -> Self {
        Self {
            forwarders: RefCell::default(),
            settings,
        }
    }

    /// The agent's forwarder on this worker. Must be called on the worker's thread.
    pub fn forwarder_for(&self, agent: &Agent, address: &str) -> Addr<ForwarderActor> {
        let mut forwarders = self.forwarders.borrow_mut();
        if let Some((url, addr)) = forwarders.get(&agent.id) {
            if url == address && addr.connected() {
                return addr.clone();
            }
        }
        let addr = ForwarderActor::new(address, &self.settings).start();
        forwarders.insert(agent.id.clone(), (address.to_owned(), addr.clone()));
        addr
    }
}
