//! Every setting: the commands' flags (`flags.rs`), each with its
//! `HOOKGATE_*` environment variable and default, and their validation
//! into [`Settings`].

mod flags;

pub use flags::*;

use crate::domain::{KeyKind, Secret, SqliteSync};
use std::net::SocketAddr;
use std::time::Duration;

/// The shortest admin token accepted: guessing one must stay out of reach.
const MIN_ADMIN_TOKEN_CHARS: usize = 32;

/// Validated settings the application is built from.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: SocketAddr,
    pub database_url: String,
    pub master_key: MasterKeySetting,
    pub forward_timeout: Duration,
    pub max_body_bytes: usize,
    /// Timestamp tolerances, in seconds, of providers whose tolerance is a
    /// setting (each provider's default where not set).
    pub tolerances: Vec<(KeyKind, u64)>,
    pub public_url: Option<String>,
    pub agent_ca_file: Option<std::path::PathBuf>,
    pub agent_deny_nets: Vec<ipnet::IpNet>,
    pub agent_allow_nets: Vec<ipnet::IpNet>,
    pub admin_token: Option<Secret>,
    pub open_registration: bool,
    pub metrics: bool,
    /// Agents labelled by name in metrics; the rest are `other`.
    pub metrics_max_agents: usize,
    /// Peers whose forwarding headers are believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Store dropped calls as `ignored` deliveries.
    pub keep_ignored: bool,
    pub delivery_max_attempts: u32,
    pub delivery_concurrency: usize,
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// How often the queue is polled when nothing wakes it.
    pub poll_interval: Duration,
    /// How long a delivery claim holds; None: twice the forward timeout + 5 s.
    pub claim_lease: Option<Duration>,
    /// How long finished deliveries are kept.
    pub retention: Duration,
    pub sqlite_synchronous: SqliteSync,
    /// The intake spool's directory; None: beside the SQLite file, or the
    /// working directory's `hookgate-spool`.
    pub spool_dir: Option<std::path::PathBuf>,
    /// 0 turns the spool off.
    pub spool_max_bytes: u64,
    /// How long `/readyz` fails before intake stops at shutdown.
    pub shutdown_delay: Duration,
}

/// A setting that cannot be used; the message names it and how to fix it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl ConfigError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 5003)),
            database_url: "hookgate.db".to_owned(),
            master_key: MasterKeySetting::Auto,
            forward_timeout: Duration::from_secs(30),
            max_body_bytes: 26_214_400,
            tolerances: Vec::new(),
            public_url: None,
            agent_ca_file: None,
            agent_deny_nets: Vec::new(),
            agent_allow_nets: Vec::new(),
            admin_token: None,
            open_registration: false,
            metrics: true,
            metrics_max_agents: 500,
            trusted_proxies: Vec::new(),
            keep_ignored: false,
            delivery_max_attempts: 15,
            delivery_concurrency: 8,
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(600),
            poll_interval: Duration::from_millis(500),
            claim_lease: None,
            retention: Duration::from_secs(7 * 86_400),
            sqlite_synchronous: SqliteSync::Full,
            spool_dir: None,
            spool_max_bytes: 1 << 30,
            shutdown_delay: Duration::ZERO,
        }
    }
}

impl Settings {
    pub fn from_args(args: ServeArgs) -> Result<Self, ConfigError> {
        let bind: SocketAddr = args.bind.parse().map_err(|_| {
            ConfigError(format!(
                "invalid HOOKGATE_BIND / --bind {:?}: expected IP:PORT such as 127.0.0.1:5003",
                args.bind
            ))
        })?;
        if args.forward_timeout_secs == 0 {
            return Err(ConfigError(
                "HOOKGATE_FORWARD_TIMEOUT_SECS / --forward-timeout-secs must be at least 1".into(),
            ));
        }
        let admin_token = match args.admin_token {
            Some(t) if t.expose().trim().is_empty() => {
                return Err(ConfigError(
                    "HOOKGATE_ADMIN_TOKEN / --admin-token is set but empty".into(),
                ))
            }
            other => other,
        };
        let settings = Self {
            bind,
            database_url: args.database.database_url,
            master_key: args.master_key.setting()?,
            forward_timeout: Duration::from_secs(args.forward_timeout_secs),
            max_body_bytes: args.max_body_bytes,
            tolerances: args.tolerances.0,
            public_url: args.public_url.map(|u| u.trim_end_matches('/').to_owned()),
            agent_ca_file: args.agent_ca_file,
            agent_deny_nets: args.agent_deny_nets,
            agent_allow_nets: args.agent_allow_nets,
            admin_token,
            open_registration: args.open_registration,
            metrics: args.metrics,
            metrics_max_agents: args.metrics_max_agents,
            trusted_proxies: args.trusted_proxies,
            keep_ignored: args.keep_ignored,
            delivery_max_attempts: args.delivery_max_attempts,
            delivery_concurrency: args.delivery_concurrency,
            retry_base: Duration::from_millis(args.retry_base_ms),
            retry_max: Duration::from_secs(args.retry_max_secs),
            poll_interval: Duration::from_millis(500),
            claim_lease: args.claim_lease_secs.map(Duration::from_secs),
            retention: retention(args.retention_days)?,
            sqlite_synchronous: SqliteSync::parse(&args.sqlite_synchronous)
                .map_err(|e| ConfigError(e.0))?,
            spool_dir: args.spool_dir,
            spool_max_bytes: args.spool_max_bytes,
            shutdown_delay: shutdown_delay(args.shutdown_delay_secs)?,
        };
        settings.validate()?;
        Ok(settings)
    }

    /// How long a delivery claim holds.
    pub fn lease(&self) -> Duration {
        self.claim_lease
            .unwrap_or(self.forward_timeout * 2 + Duration::from_secs(5))
    }

    /// Checks that apply however the settings were made.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.delivery_max_attempts == 0 || self.delivery_concurrency == 0 {
            return Err(ConfigError(
                "HOOKGATE_DELIVERY_MAX_ATTEMPTS and HOOKGATE_DELIVERY_CONCURRENCY must be at least 1"
                    .into(),
            ));
        }
        if self.claim_lease == Some(Duration::ZERO) {
            return Err(ConfigError(
                "HOOKGATE_CLAIM_LEASE_SECS / --claim-lease-secs must be at least 1".into(),
            ));
        }
        if let Some(token) = &self.admin_token {
            let chars = token.expose().chars().count();
            if chars < MIN_ADMIN_TOKEN_CHARS {
                return Err(ConfigError(format!(
                    "HOOKGATE_ADMIN_TOKEN / --admin-token is {chars} characters long; it must have \
                     at least {MIN_ADMIN_TOKEN_CHARS} (for example: openssl rand -hex 32)"
                )));
            }
        }
        if !self.bind.ip().is_loopback() && self.admin_token.is_none() {
            return Err(ConfigError(format!(
                "refusing to serve admin routes on non-loopback address {} without an admin token: \
                 set HOOKGATE_ADMIN_TOKEN (or --admin-token) to a long random value, \
                 or bind to 127.0.0.1",
                self.bind
            )));
        }
        Ok(())
    }
}

/// The retention setting in days (decimals allowed) as a duration.
fn retention(days: f64) -> Result<Duration, ConfigError> {
    if !days.is_finite() || !(0.0..=36_500.0).contains(&days) {
        return Err(ConfigError(format!(
            "HOOKGATE_RETENTION_DAYS / --retention-days must be between 0 and 36500, got {days}"
        )));
    }
    Ok(Duration::from_secs_f64(days * 86_400.0))
}

/// The shutdown delay setting in seconds (decimals allowed).
fn shutdown_delay(secs: f64) -> Result<Duration, ConfigError> {
    if !secs.is_finite() || !(0.0..=3_600.0).contains(&secs) {
        return Err(ConfigError(format!(
            "HOOKGATE_SHUTDOWN_DELAY_SECS / --shutdown-delay-secs must be between 0 and 3600, got {secs}"
        )));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// How the master key is given.
#[derive(Debug, Clone, Default)]
pub enum MasterKeySetting {
    /// Neither given: a key file beside a SQLite database; an error on PostgreSQL.
    #[default]
    Auto,
    /// `HOOKGATE_MASTER_KEY`.
    Value(Secret),
    /// `HOOKGATE_MASTER_KEY_FILE`.
    File(std::path::PathBuf),
}

impl MasterKeySetting {
    pub fn from_args(
        value: Option<Secret>,
        file: Option<std::path::PathBuf>,
    ) -> anyhow::Result<Self> {
        match (value.filter(|v| !v.expose().is_empty()), file) {
            (Some(_), Some(_)) => anyhow::bail!(
                "HOOKGATE_MASTER_KEY and HOOKGATE_MASTER_KEY_FILE are both set; give the master key one way"
            ),
            (Some(v), None) => Ok(Self::Value(v)),
            (None, Some(f)) => Ok(Self::File(f)),
            (None, None) => Ok(Self::Auto),
        }
    }
}
