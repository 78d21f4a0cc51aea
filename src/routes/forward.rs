//! `/agents/forward/name/{agent}/{path…}`: read the body (size-limited), let
//! the agent's `VerifierActor` decide, then hand the call to the agent's
//! `ForwarderActor` and return its answer unchanged.

use super::client_info::TrustedProxies;
use super::guard::{self, Checked};
use super::intake::{self, Inbound, IntakeError};
use crate::actors::forwarder::{Forward, ForwardError, Forwarded};
use crate::actors::verifier::{Verified, Verify, VerifyFailure};
use crate::actors::{ForwarderRegistry, VerifierActor};
use crate::domain::{
    AgentName, KeyKind, MissingTaskKey, RedactedCall, RouteMode, SubPath, SubPathError,
};
use crate::headers::forwardable_headers;
use crate::log_limit::LogLimit;
use crate::queue::dispatcher::{DispatcherActor, Wake};
use crate::queue::intake::{IntakeFailure, IntakeWriter};
use crate::verify::{described, providers, Call, Provider, Refusal, VerifyError};
use actix::Addr;
use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use std::time::Instant;

const PREFIX: &str = "/agents/forward/name/";

/// Refusals are what strangers cause: their log lines are rate-limited.
static REFUSAL_LOGS: LogLimit = LogLimit::new(20);

/// A name that failed validation, shortened for the 404 that quotes it.
fn printable(name: &str) -> String {
    match name.char_indices().nth(64) {
        Some((cut, _)) => format!("{}…", &name[..cut]),
        None => name.to_owned(),
    }
}

/// Limits the forward route applies before any lookup, and what providers
/// read besides the call.
#[derive(Debug, Clone)]
pub struct ForwardLimits {
    pub max_body_bytes: usize,
    pub timeout_secs: u64,
    /// The timestamp tolerances set for providers whose tolerance is a
    /// setting (see `Descriptor::tolerance`).
    pub tolerances: Vec<(KeyKind, u64)>,
    /// `HOOKGATE_PUBLIC_URL`: the base of the URL a provider signs.
    pub public_url: Option<String>,
    /// `HOOKGATE_KEEP_IGNORED`: store dropped calls as `ignored` deliveries.
    pub keep_ignored: bool,
    /// Whose forwarding headers name the URL a provider called.
    pub trusted_proxies: TrustedProxies,
}

impl ForwardLimits {
    fn tolerance(&self, kind: KeyKind) -> Option<u64> {
        self.tolerances
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, secs)| *secs)
    }

    /// The URL the provider called: the public base URL and the request's
    /// path, or without one the scheme and host the request names (through
    /// a trusted proxy's forwarding headers only).
    fn public_url(&self, req: &HttpRequest) -> String {
        let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
        match &self.public_url {
            Some(base) => format!("{base}{path}"),
            None => format!("{}{path}", self.trusted_proxies.origin(req)),
        }
    }
}

/// Registered before every other route, as the default service of a static
/// scope: the router tries routes in order and every dynamic pattern costs a
/// regex match, so the route every webhook takes matches on a prefix alone
/// and splits the agent name from the path itself.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::scope("/agents/forward/name").default_service(web::to(forward)));
}

/// The methods a provider may call with; anything else is answered 405.
fn is_forwarded_method(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

#[derive(Debug, thiserror::Error)]
pub enum ForwardRouteError {
    #[error(transparent)]
    Refused(#[from] VerifyError),
    #[error("{0}")]
    BadPath(#[from] SubPathError),
    #[error("Request body exceeds the limit of {0} bytes.")]
    TooLarge(usize),
    #[error("Could not read the request body: {0}")]
    BadBody(String),
    #[error("Agent {agent} is unreachable: {reason}")]
    Unreachable { agent: String, reason: String },
    #[error("Agent {agent} did not answer within {secs} s.")]
    Timeout { agent: String, secs: u64 },
    #[error("{0}")]
    Unprocessable(String),
    #[error("Too many events are waiting to be stored; retry shortly.")]
    Busy,
    #[error("Too many calls are waiting for a key lookup; retry shortly.")]
    KeyStoreBusy,
    #[error("Internal error while forwarding.")]
    Internal(String),
}

impl ForwardRouteError {
    /// How metrics name the outcome: a bounded set.
    fn reason(&self) -> &'static str {
        match self {
            Self::Refused(e) => e.reason().as_str(),
            Self::BadPath(_) => "bad_path",
            Self::TooLarge(_) => "too_large",
            Self::BadBody(_) => "bad_body",
            Self::Unreachable { .. } => "agent_unreachable",
            Self::Timeout { .. } => "agent_timeout",
            Self::Unprocessable(_) => "unprocessable",
            Self::Busy => "intake_busy",
            Self::KeyStoreBusy => "key_store_busy",
            Self::Internal(_) => "internal_error",
        }
    }
}

impl ResponseError for ForwardRouteError {
    fn status_code(&self) -> StatusCode {
        let code = match self {
            Self::Refused(e) => e.status(),
            Self::TooLarge(_) => 413,
            Self::BadPath(_) | Self::BadBody(_) => 400,
            Self::Unreachable { .. } => 502,
            Self::Timeout { .. } => 504,
            Self::Unprocessable(_) => 422,
            Self::Busy | Self::KeyStoreBusy => 503,
            Self::Internal(_) => 500,
        };
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code())
            .json(serde_json::json!({ "detail": self.to_string() }))
    }
}

#[utoipa::path(operation_id = "forward_to_agent", method(get, post, put, patch, delete), path = "/agents/forward/name/{agent_name}/{path}",
    tag = "forward",
    params(("agent_name" = String, Path, description = "The agent's name"),
           ("path" = String, Path, description = "Sub-path appended to the agent's acp_url")),
    request_body(content = Vec<u8>, description = "Raw body, forwarded unchanged", content_type = "application/octet-stream"),
    responses((status = 200, description = "The agent's own answer (any status)"),
              (status = 400, description = "Malformed provider payload or timestamp, or a path with no canonical form (climbing above the agent's base, an encoded '/', a control character)"),
              (status = 401, description = "Wrong key or signature"),
              (status = 403, description = "No authentication presented"),
              (status = 404, description = "Unknown agent, or no key for the repository / app"),
              (status = 413, description = "Body over the size limit"),
              (status = 502, description = "Agent unreachable"),
              (status = 504, description = "Agent did not answer in time")))]
pub async fn forward(
    req: HttpRequest,
    payload: web::Payload,
    verifier: web::Data<Addr<VerifierActor>>,
    registry: web::Data<ForwarderRegistry>,
    limits: web::Data<ForwardLimits>,
    intake: web::Data<IntakeWriter>,
    dispatcher: web::Data<Addr<DispatcherActor>>,
) -> Result<HttpResponse, ForwardRouteError> {
    let mut seen = Seen::new();
    let services = Services {
        verifier: &verifier,
        registry: &registry,
        limits: &limits,
        intake: &intake,
        dispatcher: &dispatcher,
    };
    let result = handle(&req, payload, &services, &mut seen).await;
    seen.record(&result);
    result
}

/// What the forward route hands calls to.
struct Services<'a> {
    verifier: &'a Addr<VerifierActor>,
    registry: &'a ForwarderRegistry,
    limits: &'a ForwardLimits,
    intake: &'a IntakeWriter,
    dispatcher: &'a Addr<DispatcherActor>,
}

/// What metrics say of a call: its agent once found, whether its
/// credentials passed, its provider once picked, how it ended.
struct Seen<'a> {
    started: Instant,
    /// Borrowed from the request's path: no copy per call.
    agent: Option<&'a str>,
    verified: bool,
    provider: &'static str,
    outcome: &'static str,
}

impl Seen<'_> {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            agent: None,
            verified: false,
            provider: "none",
            outcome: "forwarded",
        }
    }

    fn record(&self, result: &Result<HttpResponse, ForwardRouteError>) {
        let outcome = match result {
            Ok(_) => self.outcome,
            Err(e) => e.reason(),
        };
        // A call that presented nothing was read by no provider.
        let provider = match outcome {
            "no_credentials" => "none",
            _ => self.provider,
        };
        let took = self.started.elapsed();
        crate::metrics::forward_call(self.agent, self.verified, provider, outcome, took);
    }
}

async fn handle<'a>(
    req: &'a HttpRequest,
    payload: web::Payload,
    services: &Services<'_>,
    seen: &mut Seen<'a>,
) -> Result<HttpResponse, ForwardRouteError> {
    if !is_forwarded_method(req.method()) {
        seen.outcome = "method_not_allowed";
        return Ok(HttpResponse::MethodNotAllowed()
            .insert_header((header::ALLOW, "GET, POST, PUT, PATCH, DELETE"))
            .finish());
    }
    let (agent_name, raw_path) = split_path(req.uri().path());
    // A name that cannot exist is refused before any lookup or cache entry.
    if !AgentName::is_valid(agent_name) {
        return Err(VerifyError::agent_not_found(&printable(agent_name)).into());
    }
    // Decided once, before routing: what routes match, filters see and the
    // agent receives.
    let path = SubPath::parse(raw_path)?;
    let limits = services.limits;
    let body = read_body(req, payload, limits.max_body_bytes).await?;
    let provider = providers::selected(req.headers());
    seen.provider = provider.descriptor().kind.as_str();
    let verified = verify(req, agent_name, provider, body, limits, services.verifier).await;
    // Every refusal but an unknown agent's comes once the agent was found:
    // only then is the name a label (a stranger's names never are).
    let found = match &verified {
        Ok(_) => true,
        Err(ForwardRouteError::Refused(e)) => e.reason() != Refusal::UnknownAgent,
        Err(_) => false,
    };
    if found {
        seen.agent = Some(agent_name);
    }
    let verified = verified?;
    seen.verified = true;
    if let Some(answer) = verified.answer {
        seen.outcome = "handshake";
        return Ok(HttpResponse::Ok()
            .content_type(answer.content_type)
            .body(answer.body));
    }
    let path_and_query = match req.uri().query() {
        Some(q) => format!("{}?{q}", path.as_str()),
        None => path.as_str().to_owned(),
    };
    let sub_path = path.relative();
    let (route, rules) = verified.route_for(sub_path).unzip();
    let checked = Checked {
        agent: verified.agent(),
        identities: verified.identities(),
        provider,
        route,
        rules,
        headers: req.headers(),
        sub_path,
        body: &verified.body,
        method: req.method().as_str(),
        path_and_query: &path_and_query,
    };
    let mode = rules.map(|r| r.mode);
    // A set-up or liveness call (GitHub's ping) is no event to store; only
    // a plain forward lets the agent answer it.
    let stores = mode.is_some_and(|m| m != RouteMode::Forward);
    if stores && described::is_handshake(provider, req.headers(), &verified.body) {
        seen.outcome = "handshake";
        return Ok(HttpResponse::Ok().json(serde_json::json!({
            "handshake": true,
            "provider": provider.descriptor().kind.as_str(),
        })));
    }
    if let Some(dropped) = guard::check(&checked) {
        seen.outcome = "ignored";
        return drop_call(&checked, &dropped, limits.keep_ignored, services.intake).await;
    }
    if let (
        Some(route),
        Some(rules),
        Some(mode @ (RouteMode::AcpEvent | RouteMode::ForwardAsync)),
    ) = (route, rules, mode)
    {
        let inbound = Inbound {
            agent: verified.agent(),
            route,
            rules,
            mode,
            method: req.method().as_str(),
            sub_path,
            path_and_query: &path_and_query,
            headers: req.headers(),
            body: &verified.body,
            provider,
            key_name: &verified.key_name,
        };
        let (answer, outcome) = accept(&inbound, &checked, limits.keep_ignored, services).await?;
        seen.outcome = outcome;
        return Ok(answer);
    }
    let forwarder = services
        .registry
        .forwarder_for(verified.agent(), &verified.acp_url);
    let redaction = rules.map(|r| &r.redaction).filter(|r| !r.is_empty());
    let (mut headers, body) = match redaction {
        None => (forwardable_headers(req.headers()), verified.body),
        Some(redaction) => {
            let call = RedactedCall::new(redaction, req.headers(), &verified.body);
            let body = Bytes::from(call.body.into_owned());
            (forwardable_headers(&call.headers), body)
        }
    };
    crate::telemetry::inject(&mut headers);
    let forward = Forward {
        method: req.method().clone(),
        path_and_query,
        headers,
        body,
    };
    let agent = verified.entry.agent.name.clone();
    relay(forwarder, forward, agent, limits.timeout_secs, seen.started).await
}

/// The call's provider reads it here, on the request's thread; the
/// verifier finds the agent and judges its keys.
async fn verify(
    req: &HttpRequest,
    agent_name: &str,
    provider: &'static dyn Provider,
    body: Bytes,
    limits: &ForwardLimits,
    verifier: &Addr<VerifierActor>,
) -> Result<Verified, ForwardRouteError> {
    let call = Call {
        headers: req.headers(),
        body: &body,
        is_form: is_form(req.headers()),
        now: chrono::Utc::now().timestamp(),
        tolerance_secs: limits.tolerance(provider.descriptor().kind),
        url: &|| limits.public_url(req),
    };
    let (reading, shared_header) = (
        provider.read(&call),
        providers::shared_header_reading(provider, &call),
    );
    let verify = Verify {
        agent_name: agent_name.to_owned(),
        provider,
        reading,
        shared_header,
        body,
        parent: match crate::telemetry::exporting() {
            true => tracing::Span::current(),
            false => tracing::Span::none(),
        },
    };
    match verifier.send(verify).await {
        Ok(Ok(verified)) => Ok(verified),
        Ok(Err(VerifyFailure::Refused(e))) => {
            if let Some(left_out) = REFUSAL_LOGS.admit() {
                tracing::info!(agent.name = %agent_name, status = e.status(), reason = %e,
                    earlier_refusals_not_logged = left_out, "forward refused");
            }
            Err(e.into())
        }
        Ok(Err(VerifyFailure::Busy)) => Err(ForwardRouteError::KeyStoreBusy),
        Ok(Err(VerifyFailure::Internal(e))) => Err(internal(e)),
        Err(e) => Err(internal(e.to_string())),
    }
}

/// Sends the call to the agent through its forwarder and streams the
/// answer back; maps a timeout or an unreachable agent to 504 / 502.
async fn relay(
    forwarder: Addr<crate::actors::ForwarderActor>,
    forward: Forward,
    agent: String,
    timeout_secs: u64,
    started: Instant,
) -> Result<HttpResponse, ForwardRouteError> {
    let sent = forwarder
        .send(forward)
        .await
        .map_err(|e| internal(e.to_string()))?;
    match sent {
        Ok(answer) => {
            tracing::info!(agent.name = %agent, status = answer.status.as_u16(),
                elapsed_ms = started.elapsed().as_millis() as u64, "forwarded");
            Ok(respond(answer))
        }
        Err(ForwardError::Timeout) => {
            tracing::warn!(agent.name = %agent, "agent timed out");
            Err(ForwardRouteError::Timeout {
                agent,
                secs: timeout_secs,
            })
        }
        Err(ForwardError::Unreachable(reason)) => {
            tracing::warn!(agent.name = %agent, %reason, "agent unreachable");
            Err(ForwardRouteError::Unreachable { agent, reason })
        }
    }
}

/// Commits the call as a delivery, then answers 202 (the first call's ids
/// for a provider redelivery); a call without a task key on a route that
/// ignores those is dropped instead. Also says which it was, for metrics.
async fn accept(
    inbound: &Inbound<'_>,
    checked: &Checked<'_>,
    keep_ignored: bool,
    services: &Services<'_>,
) -> Result<(HttpResponse, &'static str), ForwardRouteError> {
    let delivery = match intake::new_delivery(inbound) {
        Ok(delivery) => delivery,
        Err(IntakeError::MissingField(field, "task_key"))
            if inbound.rules.missing_task_key == MissingTaskKey::Ignore =>
        {
            let dropped = guard::Dropped {
                kind: "no_task_key",
                reason: field,
            };
            let answer = drop_call(checked, &dropped, keep_ignored, services.intake).await?;
            return Ok((answer, "ignored"));
        }
        Err(e @ IntakeError::MissingField(..)) => {
            return Err(ForwardRouteError::Unprocessable(e.to_string()))
        }
        Err(e @ IntakeError::BadRoute(..)) => return Err(internal(e.to_string())),
    };
    let (intake, dispatcher) = (services.intake, services.dispatcher);
    let accepted = intake.enqueue(delivery).await.map_err(|e| match e {
        IntakeFailure::Busy => ForwardRouteError::Busy,
        other => internal(other.to_string()),
    })?;
    if !accepted.duplicate {
        dispatcher.do_send(Wake);
    }
    tracing::info!(agent.name = %inbound.agent.name, event.id = %accepted.event_id,
        duplicate = accepted.duplicate, mode = inbound.mode.as_str(), "accepted for delivery");
    let mut body = serde_json::json!({ "event_id": accepted.event_id });
    if let Some(task_id) = accepted.task_id {
        body["task_id"] = task_id.into();
    }
    if accepted.held {
        crate::metrics::held(&inbound.agent.name);
        body["held"] = true.into();
    }
    Ok((HttpResponse::Accepted().json(body), "accepted"))
}

/// Answers a dropped call 200 `{"ignored": true, "reason", "detail"}` (a provider
/// must not send it again), counted, and kept as an `ignored` delivery when
/// `keep` (then, like a 202, only once committed).
async fn drop_call(
    call: &Checked<'_>,
    dropped: &guard::Dropped,
    keep: bool,
    intake: &IntakeWriter,
) -> Result<HttpResponse, ForwardRouteError> {
    crate::metrics::ignored(&call.agent.name, dropped.kind);
    tracing::info!(agent.name = %call.agent.name, reason = %dropped.reason, "call dropped");
    if keep {
        let why = format!("{}: {}", dropped.kind, dropped.reason);
        let delivery = intake::ignored_delivery(call, &why);
        intake.enqueue(delivery).await.map_err(|e| match e {
            IntakeFailure::Busy => ForwardRouteError::Busy,
            other => internal(other.to_string()),
        })?;
    }
    Ok(HttpResponse::Ok().json(
        serde_json::json!({"ignored": true, "reason": dropped.kind, "detail": dropped.reason}),
    ))
}

fn internal(reason: String) -> ForwardRouteError {
    tracing::error!(%reason, "forward failed inside hookgate");
    ForwardRouteError::Internal(reason)
}

/// The agent name and the raw (still percent-encoded) sub-path, with its
/// leading `/`, as the provider spelled it.
fn split_path(raw: &str) -> (&str, &str) {
    let rest = raw.strip_prefix(PREFIX).unwrap_or(raw);
    match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, ""),
    }
}

/// Bodies up to this size are kept as the chunks they arrived in (slices of
/// the connection's read buffer) and copied once at the end; a larger one
/// is gathered into one growing buffer from there on, so no more than about
/// its own size is held while it arrives.
const CHUNKED_UP_TO: usize = 1 << 20;

/// The whole body, refused with 413 as soon as it passes the limit. A body
/// that came in one chunk is not copied at all; one up to
/// [`CHUNKED_UP_TO`] is copied once, into a buffer of exactly its size.
async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Bytes, ForwardRouteError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ForwardRouteError::TooLarge(limit));
    }
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut gathered: Option<BytesMut> = None;
    let mut held = 0;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ForwardRouteError::BadBody(e.to_string()))?;
        held += chunk.len();
        if held > limit {
            return Err(ForwardRouteError::TooLarge(limit));
        }
        match &mut gathered {
            Some(body) => body.extend_from_slice(&chunk),
            None if held <= CHUNKED_UP_TO => chunks.push(chunk),
            None => {
                let mut body = concat(&chunks, held);
                chunks.clear();
                body.extend_from_slice(&chunk);
                gathered = Some(body);
            }
        }
    }
    Ok(match (gathered, chunks.len()) {
        (Some(body), _) => body.freeze(),
        (None, 1) => chunks.swap_remove(0),
        (None, _) => concat(&chunks, held).freeze(),
    })
}

fn concat(chunks: &[Bytes], capacity: usize) -> BytesMut {
    let mut body = BytesMut::with_capacity(capacity);
    for chunk in chunks {
        body.extend_from_slice(chunk);
    }
    body
}

/// The agent's answer as is: its headers are moved, not copied.
fn respond(answer: Forwarded) -> HttpResponse {
    let mut response = HttpResponse::build(answer.status).body(answer.body);
    *response.headers_mut() = answer.headers;
    response
}

fn is_form(headers: &header::HeaderMap) -> bool {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    crate::domain::payload::is_form(content_type)
}

#[cfg(test)]
mod tests {
    use super::split_path;

    #[test]
    fn splits_agent_and_raw_subpath() {
        assert_eq!(
            split_path("/agents/forward/name/a/x/y%2Fz"),
            ("a", "/x/y%2Fz")
        );
        assert_eq!(split_path("/agents/forward/name/a/"), ("a", "/"));
        assert_eq!(split_path("/agents/forward/name/a"), ("a", ""));
    }
}
