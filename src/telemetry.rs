//! OpenTelemetry traces: with `HOOKGATE_OTLP_ENDPOINT` set, every `tracing`
//! span is exported over OTLP/HTTP (protobuf) by a batch exporter on its own
//! thread, and outgoing calls (forwards, ACP calls, replays) carry a W3C
//! `traceparent`, so one webhook is one trace from intake to the agent.
//! Without it nothing here runs: no layer, no exporter, no header.

use crate::config::ConfigError;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The W3C trace context header.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// Whether spans are exported (and so whether trace context is sent).
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Flushes the spans not yet exported when dropped (at exit).
pub struct Exporter {
    provider: SdkTracerProvider,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("hookgate: flushing spans to the OTLP endpoint failed: {e}");
        }
    }
}

/// The `tracing` layer exporting spans to `endpoint` (a collector's
/// OTLP/HTTP base URL, `/v1/traces` added unless given), and the exporter
/// to keep until exit.
pub fn otlp_layer<S>(
    endpoint: &str,
) -> Result<(impl tracing_subscriber::Layer<S>, Exporter), ConfigError>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    let url = traces_url(endpoint)?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(url)
        .with_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| ConfigError::new(format!("HOOKGATE_OTLP_ENDPOINT: {e}")))?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name("hookgate")
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .build();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build();
    let tracer = provider.tracer("hookgate");
    EXPORTING.store(true, Ordering::Relaxed);
    let layer = tracing_opentelemetry::layer().with_tracer(tracer);
    Ok((layer, Exporter { provider }))
}

/// `endpoint` as the traces URL, checked.
fn traces_url(endpoint: &str) -> Result<String, ConfigError> {
    let endpoint = endpoint.trim().trim_end_matches('/');
    if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
        return Err(ConfigError::new(format!(
            "HOOKGATE_OTLP_ENDPOINT / --otlp-endpoint must be an http:// or https:// URL \
             (a collector's OTLP/HTTP address, such as http://127.0.0.1:4318), got {endpoint:?}"
        )));
    }
    Ok(match endpoint.ends_with("/v1/traces") {
        true => endpoint.to_owned(),
        false => format!("{endpoint}/v1/traces"),
    })
}

pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// The current span's `traceparent`, when exporting.
pub fn traceparent() -> Option<String> {
    if !exporting() {
        return None;
    }
    let mut carrier: HashMap<String, String> = HashMap::with_capacity(2);
    let context = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove(TRACEPARENT.as_str())
}

/// Sets (or replaces) `traceparent` on outgoing headers from the current
/// span, when exporting.
pub fn inject(headers: &mut HeaderMap) {
    if let Some(value) = traceparent().and_then(|v| HeaderValue::from_str(&v).ok()) {
        headers.insert(TRACEPARENT, value);
    }
}

/// Makes `span` a child of the trace `traceparent` names (a caller's, or the
/// one stored with a delivery), when exporting.
pub fn continue_trace(span: &tracing::Span, traceparent: Option<&str>) {
    let Some(traceparent) = traceparent.filter(|_| exporting()) else {
        return;
    };
    let carrier = HashMap::from([(TRACEPARENT.as_str().to_owned(), traceparent.to_owned())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    let _ = span.set_parent(context);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_becomes_the_traces_url() {
        assert_eq!(
            traces_url("http://127.0.0.1:4318").unwrap(),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            traces_url("https://otel.example.com/v1/traces/").unwrap(),
            "https://otel.example.com/v1/traces"
        );
        assert!(traces_url("127.0.0.1:4318").is_err());
    }

    #[test]
    fn nothing_is_sent_while_not_exporting() {
        let mut headers = HeaderMap::new();
        inject(&mut headers);
        assert!(headers.is_empty());
        assert_eq!(traceparent(), None);
    }
}
