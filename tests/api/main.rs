//! hookgate's integration tests: each starts hookgate on a random loopback
//! port with its own database (SQLite, and PostgreSQL when
//! `HOOKGATE_TEST_POSTGRES_URL` is set) and a real upstream agent server.

#[macro_use]
mod helpers;

mod a2a;
mod a2a_agent;
mod a2a_routes;
mod accounts;
mod acp_agent;
mod admin_cli;
mod admin_token;
mod agent_native;
mod agents;
mod api_keys;
mod browser_guard;
mod cli;
mod config_file;
mod conversations;
mod dashboard_api;
mod dashboard_browser;
mod db_outage;
mod delivery;
mod delivery_failures;
mod disk_full;
mod example_agent;
mod forward_api_key;
mod forward_discord;
mod forward_github;
mod forward_intercom;
mod forward_jira;
mod forward_notion;
mod forward_pagerduty;
mod forward_providers;
mod forward_sentry;
mod forward_slack;
mod forward_twilio;
mod forward_zendesk;
mod forwarding;
mod key_cache;
mod key_store_flood;
mod memory_bounds;
mod metrics;
mod migrations;
mod openapi;
mod otlp;
mod outbound;
mod payloads;
mod process;
mod provider_headers;
mod queue;
mod queue_admin;
mod readiness;
mod registration;
mod request_id;
mod restarts;
mod rotation;
mod secrets_at_rest;
mod signed_provider;
mod sub_paths;
mod task_keys;
mod tls_agents;
mod ui;
mod vectors;
mod venv;
