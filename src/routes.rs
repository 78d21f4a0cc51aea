//! HTTP in and out: extract, call an actor or the database, and map every
//! outcome to the contract's status codes and bodies.

mod accounts;
mod admin_auth;
mod agent_routes;
mod agents;
mod api_keys;
mod browser_guard;
mod caller;
pub mod client_info;
mod deliveries;
mod delivery_actions;
mod errors;
pub mod forward;
mod health;
mod identities;
mod metrics;
mod openapi;
mod params;
mod providers;
mod replays;
pub mod request_id;
mod route_preview;
mod stats;
mod tasks;
mod test_call;
mod ui;
mod webhook_trigger;

pub use admin_auth::{admin_auth, AdminAuth};
pub use agents::card::read_all_again as read_agent_cards_again;
pub use browser_guard::browser_guard;
pub use errors::{json_config, query_config, AdminError};
pub use openapi::ApiDoc;
pub use request_id::request_id;

use crate::db::DbPool;
use actix_web::web;

/// What admin handlers share: the pool and settings they echo back.
pub struct AppState {
    pub pool: DbPool,
    pub public_url: Option<String>,
    /// Cleared by every admin change (see `errors::run_change`).
    pub cache: std::sync::Arc<crate::key_cache::KeyCache>,
    /// Seals new secrets before they are stored.
    pub data_key: std::sync::Arc<crate::crypto::DataKey>,
    /// How agents are reached (outbound policy, TLS, timeout): checked when
    /// an agent is registered, and used to read A2A agents' cards.
    pub forwarding: crate::actors::forwarder::ForwarderSettings,
    /// Whether metrics are recorded and served (`HOOKGATE_METRICS`).
    pub metrics: bool,
    /// Whether intake and the dispatcher run, and whether shutdown began.
    pub readiness: std::sync::Arc<crate::readiness::Readiness>,
    /// Where intake keeps calls while the database is away (None: off).
    pub spool: Option<crate::queue::spool::Spool>,
}

/// What a 503 asks callers to wait, in seconds (`Retry-After`), on the
/// forward route and the admin routes alike: a database failover or a full
/// intake queue clears in about that.
pub const RETRY_AFTER_SECS: u64 = 2;

/// How a 503 names a database that does not answer.
pub const DATABASE_UNAVAILABLE: &str = "The database is unavailable; retry shortly.";

/// Paths anyone may call: health, the API document, the forward route (it
/// verifies each call itself) and the dashboard's static files (its data
/// comes from the admin API, which needs the token).
pub fn is_public_path(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/openapi.json" | "/ui")
        || path.starts_with("/agents/forward/")
        || path.starts_with("/ui/")
}

/// Registers every route. The forward route comes first: the router tries
/// routes in order and each dynamic pattern costs a regex match, so the route
/// every webhook takes must not wait behind the admin routes. More specific
/// admin paths come before `{id}` patterns.
pub fn configure(cfg: &mut web::ServiceConfig) {
    forward::configure(cfg);
    health_routes(cfg);
    account_routes(cfg);
    agent_paths(cfg);
    key_routes(cfg);
    route_routes(cfg);
    delivery_routes(cfg);
    task_routes(cfg);
    cfg.route("/providers", web::get().to(providers::list));
    cfg.route("/replays", web::post().to(replays::create))
        .route("/replays/{id}", web::get().to(replays::get));
    ui::configure(cfg);
}

/// Health and the API document.
fn health_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/openapi.json", web::get().to(openapi::openapi_json))
        .route("/metrics", web::get().to(metrics::metrics));
}

/// `/accounts` and their keys.
fn account_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/accounts", web::post().to(accounts::create))
        .route("/accounts", web::get().to(accounts::list))
        .route(
            "/accounts/{id}/api_keys",
            web::post().to(accounts::create_key),
        )
        .route(
            "/accounts/{id}/api_keys",
            web::get().to(accounts::list_keys),
        )
        .route(
            "/accounts/{id}/api_keys/{key_id}",
            web::delete().to(accounts::delete_key),
        )
        .route("/accounts/{id}", web::get().to(accounts::get))
        .route("/accounts/{id}", web::delete().to(accounts::delete));
}

/// `/agents`: registration, reads, deletes, pause and resume.
fn agent_paths(cfg: &mut web::ServiceConfig) {
    cfg.route("/agents/register", web::post().to(agents::register))
        .route("/agents", web::get().to(agents::list))
        .route("/agents/name/{name}", web::get().to(agents::get_by_name))
        .route(
            "/agents/name/{name}",
            web::delete().to(agents::delete_by_name),
        )
        .route(
            "/agents/{id}/pause",
            web::post().to(delivery_actions::pause),
        )
        .route(
            "/agents/{id}/resume",
            web::post().to(delivery_actions::resume),
        )
        .route("/agents/{id}/identities", web::put().to(identities::set))
        .route(
            "/agents/{id}/refresh_card",
            web::post().to(agents::card::refresh),
        )
        .route("/agents/{id}", web::get().to(agents::get))
        .route("/agents/{id}", web::delete().to(agents::delete));
}

/// `/agent_api_keys` and webhook triggers.
fn key_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/agent_api_keys", web::post().to(api_keys::create))
        .route("/agent_api_keys", web::get().to(api_keys::list))
        .route(
            "/agent_api_keys/webhook-trigger",
            web::post().to(webhook_trigger::create),
        )
        .route(
            "/agent_api_keys/name/{name}",
            web::get().to(api_keys::get_by_name),
        )
        .route(
            "/agent_api_keys/name/{name}",
            web::delete().to(api_keys::delete_by_name),
        )
        .route(
            "/agent_api_keys/{id}/rotate",
            web::post().to(api_keys::rotate),
        )
        .route(
            "/agent_api_keys/{id}/test_call",
            web::post().to(test_call::create),
        )
        .route("/agent_api_keys/{id}", web::get().to(api_keys::get))
        .route("/agent_api_keys/{id}", web::delete().to(api_keys::delete));
}

/// `/agent_routes`.
fn route_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/agent_routes", web::post().to(agent_routes::create))
        .route(
            "/agent_routes/preview",
            web::post().to(route_preview::preview),
        )
        .route("/agent_routes", web::get().to(agent_routes::list))
        .route("/agent_routes/{id}", web::get().to(agent_routes::get))
        .route("/agent_routes/{id}", web::delete().to(agent_routes::delete));
}

/// `/tasks`: what webhooks became, and each task's events in order.
fn task_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/tasks", web::get().to(tasks::list))
        .route("/tasks/{id}", web::get().to(tasks::get))
        .route("/tasks/{id}/release", web::post().to(tasks::release));
}

/// `/deliveries` and what operators do to them.
fn delivery_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/deliveries", web::get().to(deliveries::list))
        .route("/deliveries/stats", web::get().to(stats::stats))
        .route(
            "/deliveries/retry",
            web::post().to(delivery_actions::retry_many),
        )
        .route("/deliveries/{id}", web::get().to(deliveries::get))
        .route(
            "/deliveries/{id}/payload",
            web::get().to(deliveries::payload),
        )
        .route(
            "/deliveries/{id}/retry",
            web::post().to(delivery_actions::retry),
        )
        .route(
            "/deliveries/{id}/cancel",
            web::post().to(delivery_actions::cancel),
        );
}
