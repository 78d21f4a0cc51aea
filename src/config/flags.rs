//! The flags of `hookgate serve`, `migrate` and `rekey` as clap parses
//! them, each falling back to its `HOOKGATE_*` environment variable (and
//! the config file, see `config_file.rs`); `Settings::from_args` checks
//! them.

use super::{ConfigError, MasterKeySetting};
use crate::domain::{KeyKind, Secret};
use crate::verify::providers;

/// `hookgate serve` flags; each falls back to its environment variable.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub config: ConfigFileArg,
    /// Address to listen on.
    #[arg(long, env = "HOOKGATE_BIND", default_value = "127.0.0.1:5003")]
    pub bind: String,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub master_key: MasterKeyArgs,
    /// Seconds to wait for an agent's answer before replying 504.
    #[arg(long, env = "HOOKGATE_FORWARD_TIMEOUT_SECS", default_value_t = 30)]
    pub forward_timeout_secs: u64,
    /// Largest accepted request body; larger ones get 413.
    #[arg(long, env = "HOOKGATE_MAX_BODY_BYTES", default_value_t = 26_214_400)]
    pub max_body_bytes: usize,
    #[command(flatten)]
    pub tolerances: ToleranceArgs,
    /// Public base URL: builds `webhook_url` in webhook-trigger answers and
    /// the URL that providers which sign their URL are checked against.
    #[arg(long, env = "HOOKGATE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// PEM file of CA certificates trusted for `https://` agents, beside the
    /// system's roots; a certificate in it is also trusted as an agent's own
    /// (a self-signed one is pinned).
    #[arg(long, env = "HOOKGATE_AGENT_CA_FILE")]
    pub agent_ca_file: Option<std::path::PathBuf>,
    /// Address ranges (CIDR, comma-separated) agents may not be reached
    /// at, beside link-local and cloud metadata addresses.
    #[arg(long, env = "HOOKGATE_AGENT_DENY_NETS", value_delimiter = ',')]
    pub agent_deny_nets: Vec<ipnet::IpNet>,
    /// Address ranges (CIDR, comma-separated) agents may be reached at
    /// even where a refused range covers them.
    #[arg(long, env = "HOOKGATE_AGENT_ALLOW_NETS", value_delimiter = ',')]
    pub agent_allow_nets: Vec<ipnet::IpNet>,
    /// Token required on admin routes (`x-api-key` or `Authorization: Bearer`).
    #[arg(long, env = "HOOKGATE_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<Secret>,
    /// Attempts per delivery before it is marked failed.
    #[arg(long, env = "HOOKGATE_DELIVERY_MAX_ATTEMPTS", default_value_t = 15)]
    pub delivery_max_attempts: u32,
    /// Deliveries in flight per agent (per process).
    #[arg(long, env = "HOOKGATE_DELIVERY_CONCURRENCY", default_value_t = 8)]
    pub delivery_concurrency: usize,
    /// First retry delay in milliseconds; it doubles per attempt.
    #[arg(long, env = "HOOKGATE_RETRY_BASE_MS", default_value_t = 1000)]
    pub retry_base_ms: u64,
    /// Longest retry delay in seconds.
    #[arg(long, env = "HOOKGATE_RETRY_MAX_SECS", default_value_t = 600)]
    pub retry_max_secs: u64,
    /// Seconds a delivery claim holds before another attempt may take the
    /// delivery (default: twice the forward timeout plus 5 s, longer than
    /// an attempt's task/create and event/send can take).
    #[arg(long, env = "HOOKGATE_CLAIM_LEASE_SECS")]
    pub claim_lease_secs: Option<u64>,
    /// Days delivered, failed and cancelled deliveries are kept (decimals
    /// allowed; 0 purges them as soon as they finish). Redelivery ids are
    /// kept 7 days whatever this says.
    #[arg(long, env = "HOOKGATE_RETENTION_DAYS", default_value_t = 7.0)]
    pub retention_days: f64,
    /// Where accepted calls wait on local disk while the database cannot
    /// take them (default: `<database>.spool` beside a SQLite file, else
    /// `hookgate-spool` in the working directory). Each instance keeps its
    /// own directory inside it.
    #[arg(long, env = "HOOKGATE_SPOOL_DIR")]
    pub spool_dir: Option<std::path::PathBuf>,
    /// Bytes the spool may hold; past it intake answers 503 with
    /// `Retry-After`. 0: no spool (503 while the database is away).
    #[arg(long, env = "HOOKGATE_SPOOL_MAX_BYTES", default_value_t = 1 << 30)]
    pub spool_max_bytes: u64,
    /// SQLite commit durability: `full` (each commit survives power loss)
    /// or `normal` (faster; the last commits before a power loss may be
    /// lost, a process crash loses nothing).
    #[arg(long, env = "HOOKGATE_SQLITE_SYNCHRONOUS", default_value = "full")]
    pub sqlite_synchronous: String,
    /// Record Prometheus metrics and serve them at `/metrics` (`false`:
    /// nothing is recorded, `/metrics` answers 404).
    #[arg(long, env = "HOOKGATE_METRICS", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub metrics: bool,
    /// Agents whose series `/metrics` labels by name (those that received
    /// verified traffic first); the rest count under `agent="other"`.
    #[arg(long, env = "HOOKGATE_METRICS_MAX_AGENTS", default_value_t = 500)]
    pub metrics_max_agents: usize,
    /// Addresses and ranges (comma-separated: `10.0.0.5`, `10.0.0.0/8`)
    /// of reverse proxies whose `X-Forwarded-*` and `Forwarded` headers
    /// are believed; from any other peer they are ignored. Default: none.
    #[arg(long, env = "HOOKGATE_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_net)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Seconds `/readyz` answers 503 after SIGTERM/SIGINT while hookgate
    /// still serves, so a load balancer moves traffic away before intake
    /// stops (a second signal stops at once).
    #[arg(long, env = "HOOKGATE_SHUTDOWN_DELAY_SECS", default_value_t = 2.0)]
    pub shutdown_delay_secs: f64,
    /// Keep calls that a route's `filter` / `ignore` or the loop guard
    /// dropped as `ignored` deliveries (never attempted), for operators.
    #[arg(long, env = "HOOKGATE_KEEP_IGNORED", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub keep_ignored: bool,
    /// Let `/agents/register` through without the admin token.
    #[arg(long, env = "HOOKGATE_OPEN_REGISTRATION", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub open_registration: bool,
    #[command(flatten)]
    pub logs: LogArgs,
}

/// The config file every command that reads settings accepts.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigFileArg {
    /// A TOML file of settings (keys: the long flags in snake_case);
    /// flags and environment variables override it.
    #[arg(long, env = "HOOKGATE_CONFIG")]
    pub config: Option<std::path::PathBuf>,
}

/// How `hookgate serve` logs and traces.
#[derive(Debug, Clone, clap::Args)]
pub struct LogArgs {
    /// Log filter in `tracing` syntax (`info`, `warn,hookgate=debug`).
    #[arg(long = "log", env = "RUST_LOG", default_value = "info")]
    pub filter: String,
    /// `text`, or `json` for one JSON object per line.
    #[arg(long, env = "HOOKGATE_LOG_FORMAT", default_value = "text")]
    pub log_format: String,
    /// A collector's OTLP/HTTP URL (`http://127.0.0.1:4318`): spans are
    /// exported as traces and calls to agents carry `traceparent`. Unset:
    /// nothing is exported.
    #[arg(long, env = "HOOKGATE_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
}

/// `hookgate migrate` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub config: ConfigFileArg,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// A flag and environment variable for each provider whose timestamp
/// tolerance is a setting (`--<type>-tolerance-secs`,
/// `HOOKGATE_<TYPE>_TOLERANCE_SECS`), as its descriptor declares them.
#[derive(Debug, Clone, Default)]
pub struct ToleranceArgs(pub Vec<(KeyKind, u64)>);

impl clap::FromArgMatches for ToleranceArgs {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let set = providers::tolerances().map(|(kind, tolerance)| {
            let secs = matches.get_one::<u64>(tolerance.flag).copied();
            (kind, secs.unwrap_or(tolerance.default_secs))
        });
        Ok(Self(set.collect()))
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl clap::Args for ToleranceArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        providers::tolerances().fold(cmd, |cmd, (_, tolerance)| {
            cmd.arg(
                clap::Arg::new(tolerance.flag)
                    .long(tolerance.flag)
                    .env(tolerance.env)
                    .help(tolerance.help)
                    .value_parser(clap::value_parser!(u64)),
            )
        })
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

/// The database flag, shared by `serve` and `migrate`.
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseArgs {
    /// SQLite file path, or a `postgres://` URL for PostgreSQL.
    #[arg(long, env = "HOOKGATE_DATABASE_URL", default_value = "hookgate.db")]
    pub database_url: String,
}

/// `hookgate rekey` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct RekeyArgs {
    #[command(flatten)]
    pub config: ConfigFileArg,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The master key in use now.
    #[command(flatten)]
    pub master_key: MasterKeyArgs,
    /// The new master key, 32 bytes as base64 or hex.
    #[arg(long, env = "HOOKGATE_NEW_MASTER_KEY", hide_env_values = true)]
    pub new_master_key: Option<Secret>,
    /// A file with the new master key; made (with a new random key, mode
    /// 0600) when it does not exist.
    #[arg(long, env = "HOOKGATE_NEW_MASTER_KEY_FILE")]
    pub new_master_key_file: Option<std::path::PathBuf>,
    /// Also seal every secret again under a fresh data key (alone: the
    /// master key stays). Refused while any instance serves the database.
    #[arg(long)]
    pub data_key: bool,
}

/// The master key that encrypts stored secrets (see `master_key.rs`).
#[derive(Debug, Clone, clap::Args)]
pub struct MasterKeyArgs {
    /// The master key, 32 bytes as base64 or hex. Prefer the environment
    /// variable or a key file to a flag other users can see.
    #[arg(long, env = "HOOKGATE_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<Secret>,
    /// A file holding the master key. Without either, a SQLite database gets
    /// a key file beside it (`<database>.key`, mode 0600) on its first start.
    #[arg(long, env = "HOOKGATE_MASTER_KEY_FILE")]
    pub master_key_file: Option<std::path::PathBuf>,
}

impl MasterKeyArgs {
    pub fn setting(self) -> Result<MasterKeySetting, ConfigError> {
        MasterKeySetting::from_args(self.master_key, self.master_key_file)
            .map_err(|e| ConfigError(e.to_string()))
    }
}

/// A range (`10.0.0.0/8`) or one address (`10.0.0.5`, `::1`).
fn parse_net(raw: &str) -> Result<ipnet::IpNet, String> {
    let raw = raw.trim();
    raw.parse::<ipnet::IpNet>()
        .or_else(|_| raw.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{raw:?} is neither an IP address nor a CIDR range"))
}
