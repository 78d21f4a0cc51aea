//! `/openapi.json`: the OpenAPI 3 document generated from the handlers'
//! annotations; `info.version` is the crate version (the Agentex SDK reads it).

use super::{
    accounts, agent_routes, agents, api_keys, deliveries, delivery_actions, forward, health,
    identities, metrics, providers, replays, route_preview, stats, tasks, test_call,
    webhook_trigger,
};
use actix_web::HttpResponse;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "hookgate",
        description = "Webhook gateway for AI agents (Agentex-compatible)."
    ),
    paths(
        health::healthz,
        health::readyz,
        metrics::metrics,
        accounts::create,
        accounts::list,
        accounts::get,
        accounts::delete,
        accounts::create_key,
        accounts::list_keys,
        accounts::delete_key,
        agents::register,
        agents::list,
        agents::get,
        agents::get_by_name,
        agents::delete,
        agents::card::refresh,
        agents::delete_by_name,
        api_keys::create,
        api_keys::list,
        api_keys::get,
        api_keys::get_by_name,
        api_keys::delete,
        api_keys::delete_by_name,
        api_keys::rotate,
        test_call::create,
        webhook_trigger::create,
        forward::forward,
        agent_routes::create,
        agent_routes::list,
        agent_routes::get,
        agent_routes::delete,
        route_preview::preview,
        deliveries::list,
        deliveries::get,
        deliveries::payload,
        stats::stats,
        tasks::list,
        tasks::get,
        tasks::release,
        replays::create,
        replays::get,
        delivery_actions::retry,
        delivery_actions::retry_many,
        delivery_actions::cancel,
        delivery_actions::pause,
        delivery_actions::resume,
        identities::set,
        providers::list,
    )
)]
pub struct ApiDoc;

const FORWARD_PATH: &str = "/agents/forward/name/{agent_name}/{path}";

pub async fn openapi_json() -> HttpResponse {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    // One handler serves five methods; OpenAPI wants one operationId each.
    if let Some(item) = doc.paths.paths.get_mut(FORWARD_PATH) {
        let ops = [
            ("get", &mut item.get),
            ("post", &mut item.post),
            ("put", &mut item.put),
            ("patch", &mut item.patch),
            ("delete", &mut item.delete),
        ];
        for (method, op) in ops {
            if let Some(op) = op {
                op.operation_id = Some(format!("forward_to_agent_{method}"));
            }
        }
    }
    HttpResponse::Ok().json(doc)
}
