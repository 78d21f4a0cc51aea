//! Traces (issue 13): with `HOOKGATE_OTLP_ENDPOINT` pointed at a collector
//! (a small OTLP/HTTP receiver here), one webhook is one trace: the request,
//! its verification and the delivery attempt that reaches the agent, whose
//! calls carry a W3C `traceparent` of that trace. Without it, no
//! `traceparent` goes out.

use crate::acp_agent::AcpAgent;
use crate::delivery::{acp_setup_at, pr_event, send_pr};
use crate::helpers::*;
use crate::process::{free_port, Process};
use actix_web::{web, App, HttpResponse, HttpServer};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// An OTLP/HTTP receiver keeping every span it is sent.
struct Collector {
    url: String,
    spans: Arc<Mutex<Vec<Span>>>,
}

impl Collector {
    fn start() -> Self {
        let spans: Arc<Mutex<Vec<Span>>> = Arc::default();
        let kept = spans.clone();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = HttpServer::new(move || {
            let kept = kept.clone();
            App::new().route(
                "/v1/traces",
                web::post().to(move |body: web::Bytes| {
                    let kept = kept.clone();
                    async move {
                        let request = ExportTraceServiceRequest::decode(body).unwrap();
                        let received = request
                            .resource_spans
                            .into_iter()
                            .flat_map(|r| r.scope_spans)
                            .flat_map(|s| s.spans);
                        kept.lock().unwrap().extend(received);
                        HttpResponse::Ok()
                            .content_type("application/x-protobuf")
                            .finish()
                    }
                }),
            )
        })
        .workers(1);
        let url = serve(server, listener, None);
        Self { url, spans }
    }

    fn named(&self, name: &str) -> Vec<Span> {
        let spans = self.spans.lock().unwrap();
        spans.iter().filter(|s| s.name == name).cloned().collect()
    }
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    span.attributes.iter().find(|a| a.key == key).and_then(|a| {
        match a.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some(s.clone()),
            other => Some(format!("{other:?}")),
        }
    })
}

/// The trace id and parent span id a `traceparent` names.
fn parse_traceparent(value: &str) -> (Vec<u8>, Vec<u8>) {
    let parts: Vec<&str> = value.split('-').collect();
    assert_eq!(parts.len(), 4, "{value}");
    assert_eq!(parts[0], "00", "{value}");
    (
        hex::decode(parts[1]).unwrap(),
        hex::decode(parts[2]).unwrap(),
    )
}

db_tests!(one_webhook_is_one_trace_from_intake_to_the_agent);

async fn one_webhook_is_one_trace_from_intake_to_the_agent(backend: Backend) {
    let collector = Collector::start();
    let db = TestDb::new(&backend);
    let agent = AcpAgent::start().await;
    let env = [("HOOKGATE_OTLP_ENDPOINT", collector.url.as_str())];
    let process = Process::start_with(&db.url, free_port(), &env).await;
    let app = process.app(db);
    acp_setup_at(&app, &agent.url).await;
    let reply = send_pr(&app, &pr_event(9, "opened"), "d-otlp").await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    let event_id = reply.json()["event_id"].as_str().unwrap().to_owned();
    agent
        .wait_for("the event", |_| !agent.events().is_empty())
        .await;
    let calls = agent.calls();
    // Exits gracefully: the exporter sends what it holds.
    assert!(process.terminate().await.success());

    let request = collector
        .named("request")
        .into_iter()
        .find(|s| {
            attribute(s, "request.id")
                .is_some_and(|id| Some(id.as_str()) == reply.header("x-request-id"))
        })
        .expect("the webhook's request span");
    let attempt = collector
        .named("delivery_attempt")
        .into_iter()
        .find(|s| attribute(s, "delivery.id").as_deref() == Some(event_id.as_str()))
        .expect("the delivery attempt's span");
    assert_eq!(attempt.trace_id, request.trace_id, "one trace");
    let verify = collector.named("verify");
    assert!(
        verify
            .iter()
            .any(|s| s.trace_id == request.trace_id && s.parent_span_id == request.span_id),
        "verification is a child of the request"
    );
    // Each ACP call carries the attempt's context.
    for call in calls.iter().filter(|c| c.path == "/api") {
        let sent = call
            .headers
            .get("traceparent")
            .expect("traceparent on ACP calls");
        let (trace_id, parent) = parse_traceparent(sent.to_str().unwrap());
        assert_eq!(trace_id, request.trace_id);
        assert_eq!(parent, attempt.span_id);
    }
}

/// A forwarded call carries the request's trace; without an endpoint,
/// nothing is added (and a caller's own `traceparent` passes unchanged).
#[actix_rt::test]
async fn forwards_carry_traceparent_only_when_exporting() {
    let collector = Collector::start();
    for exporting in [true, false] {
        let db = TestDb::new(&Backend::Sqlite);
        let upstream = Upstream::start().await;
        let env: Vec<(&str, &str)> = match exporting {
            true => vec![("HOOKGATE_OTLP_ENDPOINT", collector.url.as_str())],
            false => vec![],
        };
        let process = Process::start_with(&db.url, free_port(), &env).await;
        let app = process.app(db);
        let key = agent_with_key(&app, "agent-a", &upstream).await;
        let callers = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let headers = [("x-agent-api-key", key.as_str()), ("traceparent", callers)];
        let reply = app
            .forward(
                actix_web::http::Method::POST,
                "agent-a",
                "hook",
                &headers,
                "{}",
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let received = upstream.single().header("traceparent").map(str::to_owned);
        assert!(process.terminate().await.success());
        let received = received.expect("a traceparent reaches the agent");
        if !exporting {
            assert_eq!(received, callers, "passed on as sent");
            continue;
        }
        let (trace_id, _) = parse_traceparent(&received);
        assert_eq!(
            hex::encode(&trace_id),
            "0af7651916cd43dd8448eb211c80319c",
            "the caller's trace continues"
        );
        let request = collector
            .named("request")
            .into_iter()
            .find(|s| s.trace_id == trace_id)
            .expect("the request span, in the caller's trace");
        assert_eq!(hex::encode(&request.parent_span_id), "b7ad6b7169203331");
    }
}
