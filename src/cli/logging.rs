//! Logs to stderr: text (the default), or one JSON object per line for a
//! log pipeline.

use hookgate::config::{ConfigError, LogArgs};

/// Starts logging as `logs` says (`serve`, whose settings may come from a
/// config file).
pub fn init(logs: &LogArgs) -> Result<(), ConfigError> {
    let filter = tracing_subscriber::EnvFilter::try_new(&logs.filter).map_err(|e| {
        ConfigError::new(format!(
            "RUST_LOG / --log / log {:?} is not a log filter: {e}",
            logs.filter
        ))
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match logs.log_format.as_str() {
        "text" => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        "json" => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .init(),
        other => {
            return Err(ConfigError::new(format!(
            "HOOKGATE_LOG_FORMAT / --log-format / log_format must be text or json, got {other:?}"
        )))
        }
    }
    Ok(())
}

/// Logging for the other commands: `RUST_LOG` (else `default`), as text.
pub fn init_from_env(default: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| default.into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
