//! hookgate: a webhook gateway for AI agents.
//!
//! Providers call `/agents/forward/name/{agent}/{path}`; hookgate verifies the
//! call against the agent's keys and forwards it to the agent's ACP server.
//! See `README.md` for the HTTP API and `startup::Application` for the entry.
#![forbid(unsafe_code)]

pub mod a2a;
pub mod acp;
pub mod actors;
pub mod config;
pub mod config_file;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod headers;
pub mod key_cache;
pub mod log_limit;
pub mod master_key;
pub mod metrics;
pub mod outbound;
pub mod queue;
pub mod readiness;
pub mod routes;
pub mod row;
pub mod startup;
pub mod telemetry;
#[cfg(test)]
mod test_support;
pub mod tls;
pub mod verify;
