//! `/agents/forward/name/{agent}/{path…}`, one step per module: [`read`]
//! the call (bounded, before any key), [`verify`] it on the agent's
//! `VerifierActor`, [`plan`] what its route says to do, and [`act`]:
//! answer, drop, accept into the queue, or relay to the agent. `handle`
//! below is that sequence; metrics see how it ended.

mod act;
mod call;
mod error;
mod guard;
mod intake;
mod plan;
mod read;

pub use error::ForwardRouteError;

use super::client_info::TrustedProxies;
use crate::actors::forwarder::Forward;
use crate::actors::verifier::{Verified, Verify, VerifyFailure};
use crate::actors::{ForwarderRegistry, VerifierActor};
use crate::domain::payload::LazyJson;
use crate::domain::{KeyKind, RedactedCall, Redaction};
use crate::headers::forwardable_headers;
use crate::log_limit::LogLimit;
use crate::queue::dispatcher::DispatcherActor;
use crate::queue::intake::IntakeWriter;
use crate::verify::{providers, Call, Refusal};
use actix::Addr;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use call::VerifiedCall;
use error::internal;
use plan::Plan;
use read::ReadCall;
use std::time::Instant;

/// Refusals are what strangers cause: their log lines are rate-limited.
static REFUSAL_LOGS: LogLimit = LogLimit::new(20);

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

#[utoipa::path(operation_id = "forward_to_agent", method(get, post, put, patch, delete), path = "/agents/forward/name/{agent_name}/{path}",
    tag = "forward",
    params(("agent_name" = String, Path, description = "The agent's name"),
           ("path" = String, Path, description = "Sub-path appended to the agent's address (its acp_url, or an A2A agent's interface URL)")),
    request_body(content = Vec<u8>, description = "Raw body, forwarded unchanged", content_type = "application/octet-stream"),
    responses((status = 200, description = "The agent's own answer (any status)"),
              (status = 400, description = "Malformed provider payload or timestamp, or a path with no canonical form (climbing above the agent's base, an encoded '/', a control character)"),
              (status = 401, description = "Wrong key or signature"),
              (status = 403, description = "No authentication presented"),
              (status = 404, description = "Unknown agent, or no key for the repository / app"),
              (status = 413, description = "Body over the size limit"),
              (status = 502, description = "Agent unreachable"),
              (status = 503, description = "Nothing stored, retry after `Retry-After`: the intake queue is full, key lookups are saturated, or the database is unavailable"),
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
    let limits = services.limits;
    let read = read::read(req, payload, limits.max_body_bytes).await?;
    seen.provider = read.provider.descriptor().kind.as_str();
    let mut verified = verify(req, &read, limits, services.verifier, seen).await?;
    let answer = verified.answer.take();
    let call = VerifiedCall {
        agent: verified.agent(),
        identities: verified.identities(),
        provider: read.provider,
        key_name: &verified.key_name,
        route: verified.route(),
        method: req.method(),
        sub_path: read.path.relative(),
        path_and_query: &read.path_and_query,
        headers: req.headers(),
        json: LazyJson::new(&verified.body, read.is_form),
    };
    let keep_ignored = limits.keep_ignored;
    match plan::plan(&call, answer) {
        Plan::Answer(answer) => {
            seen.outcome = "handshake";
            Ok(answer)
        }
        Plan::Drop(dropped) => {
            seen.outcome = "ignored";
            act::drop_call(&call, &dropped, keep_ignored, services.intake).await
        }
        Plan::Accept(inbound) => {
            let (intake, dispatcher) = (services.intake, services.dispatcher);
            let (answer, outcome) = act::accept(&inbound, keep_ignored, intake, dispatcher).await?;
            seen.outcome = outcome;
            Ok(answer)
        }
        Plan::Relay(redaction) => {
            let forward = outgoing(&call, redaction, &verified.body);
            let forwarder = services
                .registry
                .forwarder_for(verified.agent(), &verified.address);
            let agent = verified.agent().name.clone();
            act::relay(forwarder, forward, agent, limits.timeout_secs, seen.started).await
        }
    }
}

/// The call as the agent receives it: forwardable headers (the trace
/// continued) and the body, without the route's redacted fields.
fn outgoing(call: &VerifiedCall<'_>, redaction: Option<&Redaction>, body: &Bytes) -> Forward {
    let (mut headers, body) = match redaction {
        None => (forwardable_headers(call.headers), body.clone()),
        Some(redaction) => {
            let redacted = RedactedCall::new(redaction, call.headers, &call.json);
            let body = Bytes::from(redacted.body.into_owned());
            (forwardable_headers(&redacted.headers), body)
        }
    };
    crate::telemetry::inject(&mut headers);
    Forward {
        method: call.method.clone(),
        path_and_query: call.path_and_query.to_owned(),
        headers,
        body,
    }
}

/// The call's provider reads it here, on the request's thread; the
/// verifier finds the agent, its route and judges its keys. Every refusal
/// but an unknown agent's names the agent in metrics (only a found agent's
/// name is a label; a stranger's names never are).
async fn verify<'a>(
    req: &HttpRequest,
    read: &ReadCall<'a>,
    limits: &ForwardLimits,
    verifier: &Addr<VerifierActor>,
    seen: &mut Seen<'a>,
) -> Result<Verified, ForwardRouteError> {
    let verified = ask_verifier(req, read, limits, verifier).await;
    let found = match &verified {
        Ok(_) => true,
        Err(ForwardRouteError::Refused(e)) => e.reason() != Refusal::UnknownAgent,
        Err(_) => false,
    };
    if found {
        seen.agent = Some(read.agent_name);
    }
    seen.verified = verified.is_ok();
    verified
}

async fn ask_verifier(
    req: &HttpRequest,
    read: &ReadCall<'_>,
    limits: &ForwardLimits,
    verifier: &Addr<VerifierActor>,
) -> Result<Verified, ForwardRouteError> {
    let provider = read.provider;
    let call = Call {
        headers: req.headers(),
        body: &read.body,
        is_form: read.is_form,
        now: chrono::Utc::now().timestamp(),
        tolerance_secs: limits.tolerance(provider.descriptor().kind),
        url: &|| limits.public_url(req),
    };
    let verify = Verify {
        agent_name: read.agent_name.to_owned(),
        sub_path: read.path.relative().to_owned(),
        provider,
        reading: provider.read(&call),
        shared_header: providers::shared_header_reading(provider, &call),
        body: read.body.clone(),
        parent: match crate::telemetry::exporting() {
            true => tracing::Span::current(),
            false => tracing::Span::none(),
        },
    };
    let agent_name = read.agent_name;
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
        Ok(Err(VerifyFailure::DatabaseUnavailable(e))) => Err(error::database_unavailable(e)),
        Ok(Err(VerifyFailure::Internal(e))) => Err(internal(e)),
        Err(e) => Err(internal(e.to_string())),
    }
}
