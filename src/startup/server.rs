//! The HTTP server: one `App` per worker, made from what start-up
//! shares, with the worker's own verifier and forwarders.

use crate::actors::forwarder::ForwarderSettings;
use crate::actors::{ForwarderRegistry, KeyStoreActor, VerifierActor};
use crate::key_cache::KeyCache;
use crate::queue::dispatcher::DispatcherActor;
use crate::queue::intake::IntakeWriter;
use crate::routes::forward::ForwardLimits;
use crate::routes::{self, AdminAuth, AppState};
use actix::Actor;
use actix_web::dev::Server;
use actix_web::{middleware, web, App, HttpServer};
use std::net::TcpListener;
use std::sync::Arc;

/// What every HTTP worker's app is made from.
#[derive(Clone)]
pub(super) struct Shared {
    pub state: web::Data<AppState>,
    pub auth: web::Data<AdminAuth>,
    pub limits: web::Data<ForwardLimits>,
    pub intake: web::Data<IntakeWriter>,
    pub dispatcher: web::Data<actix::Addr<DispatcherActor>>,
    pub key_store: actix::Addr<KeyStoreActor>,
    pub permits: crate::actors::verifier::KeyStorePermits,
    pub cache: Arc<KeyCache>,
    pub forwarding: ForwarderSettings,
}

pub(super) fn serve(listener: TcpListener, shared: Shared) -> std::io::Result<Server> {
    Ok(HttpServer::new(move || {
        // Built on each worker's thread: the verifier and forwarders (and
        // their awc clients) live beside the requests they serve.
        let s = &shared;
        let verifier =
            VerifierActor::new(s.key_store.clone(), s.permits.clone(), s.cache.clone()).start();
        App::new()
            .app_data(routes::json_config())
            .app_data(routes::query_config())
            .app_data(s.state.clone())
            .app_data(s.auth.clone())
            .app_data(s.limits.clone())
            .app_data(web::Data::new(s.limits.trusted_proxies.clone()))
            .app_data(s.intake.clone())
            .app_data(s.dispatcher.clone())
            .app_data(web::Data::new(verifier))
            .app_data(web::Data::new(ForwarderRegistry::new(s.forwarding.clone())))
            .wrap(middleware::from_fn(routes::admin_auth))
            .wrap(middleware::from_fn(routes::browser_guard))
            .wrap(middleware::from_fn(routes::request_id))
            .configure(routes::configure)
    })
    .listen(listener)?
    .shutdown_timeout(30)
    // Our own handler stops intake without stopping the System, so
    // delivery attempts in flight on the dispatcher's arbiter can finish.
    .disable_signals()
    .run())
}
