//! Logs to stderr: text (the default), or one JSON object per line for a
//! log pipeline; and, with an OTLP endpoint, spans exported as traces.

use hookgate::config::{ConfigError, LogArgs};
use hookgate::telemetry::{self, Exporter};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;
use tracing_subscriber::{fmt, EnvFilter, Layer, Registry};

/// Starts logging (and exporting, with an endpoint) as `logs` says
/// (`serve`, whose settings may come from a config file). The exporter
/// flushes what is left when dropped: keep it until exit.
pub fn init(logs: &LogArgs) -> Result<Option<Exporter>, ConfigError> {
    let filter = EnvFilter::try_new(&logs.filter).map_err(|e| {
        ConfigError::new(format!(
            "RUST_LOG / --log / log {:?} is not a log filter: {e}",
            logs.filter
        ))
    })?;
    let lines = log_lines(&logs.log_format)?.with_filter(filter);
    let Some(endpoint) = &logs.otlp_endpoint else {
        tracing_subscriber::registry().with(lines).init();
        return Ok(None);
    };
    let (layer, exporter) = telemetry::otlp_layer(endpoint)?;
    // Traces hold hookgate's spans down to debug (the per-call `verify`
    // span), whatever the log filter; other crates' only from info.
    let traced = Targets::new()
        .with_default(LevelFilter::INFO)
        .with_target("hookgate", LevelFilter::DEBUG);
    tracing_subscriber::registry()
        .with(lines)
        .with(layer.with_filter(traced))
        .init();
    Ok(Some(exporter))
}

/// The layer writing log lines in `format`.
fn log_lines(format: &str) -> Result<Box<dyn Layer<Registry> + Send + Sync>, ConfigError> {
    let lines = fmt::layer().with_writer(std::io::stderr);
    Ok(match format {
        "text" => lines
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .boxed(),
        "json" => lines
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .boxed(),
        other => {
            return Err(ConfigError::new(format!(
            "HOOKGATE_LOG_FORMAT / --log-format / log_format must be text or json, got {other:?}"
        )))
        }
    })
}

/// Logging for the other commands: `RUST_LOG` (else `default`), as text.
pub fn init_from_env(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| default.into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
