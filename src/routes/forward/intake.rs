//! Turning a verified call on an `acp_event` or `forward_async` route into
//! the delivery row that is committed before the 202.

use super::call::VerifiedCall;
use crate::db::deliveries::coalesce::Coalesce;
use crate::db::deliveries::loop_breaker::LoopLimit;
use crate::db::deliveries::NewDelivery;
use crate::db::routes::Route;
use crate::domain::task_id;
use crate::domain::{
    ContentKind, RedactedCall, Redaction, RouteMode, RouteRules, Template, TemplateInput,
};
use crate::row::content::{self, Body, Provenance};
use crate::row::headers as stored;
use crate::verify::described::Described;
use actix_web::http::header::HeaderMap;
use serde_json::Value;

/// A call on an `acp_event` or `forward_async` route, as intake sees it.
pub struct Inbound<'a> {
    pub call: &'a VerifiedCall<'a>,
    pub route: &'a Route,
    /// The route's rules and templates, parsed when the route was cached.
    pub rules: &'a RouteRules,
}

/// A template field the request lacks, or a route that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("Field '{0}' named by the route's {1} is missing from the request.")]
    MissingField(String, &'static str),
    #[error("Route {0} is misconfigured: {1}")]
    BadRoute(String, String),
}

/// The delivery to commit: the call without the route's redacted fields
/// (templates render from what is kept, so a task key cannot leak one),
/// and for `acp_event` the event content with its provenance.
pub fn new_delivery(inbound: &Inbound<'_>) -> Result<NewDelivery, IntakeError> {
    let call = RedactedCall::new(
        &inbound.rules.redaction,
        inbound.call.headers,
        &inbound.call.json,
    );
    let body_json = call.json;
    let input = TemplateInput {
        body: body_json.as_ref(),
        headers: &call.headers,
        path: inbound.call.sub_path,
        source: Some(&Described(inbound.call.provider)),
    };
    let id = crate::db::time_ordered_id();
    let dedup_key = dedup_key(inbound.call.headers, body_json.as_ref());
    let mut raw_body = None;
    let actor = body_json
        .as_ref()
        .and_then(|b| inbound.call.provider.actor(b));
    let provenance = Provenance {
        provider: inbound.call.provider.descriptor().kind.as_str(),
        key_name: inbound.call.key_name,
        actor: actor.as_ref(),
    };
    let stamp = |c: &mut Value, raw_body, id: &str| content::stamp(c, &provenance, id, raw_body);
    let (task, mut content) = match inbound.rules.mode {
        RouteMode::AcpEvent => {
            let key = render(inbound.route, "task_key", &inbound.rules.task_key, &input)?;
            let task_id = task_id(&inbound.call.agent.id, &key);
            let content = match text_content(inbound, &input)? {
                Some(text) => text,
                None => {
                    let body = Body::of(call.body_is_json, &call.body, body_json);
                    raw_body = body.raw();
                    content::data(inbound.call.sub_path, &call.headers, body)
                }
            };
            (Some((task_id, key)), Some(content))
        }
        _ => (None, None),
    };
    // An ACP event carries all it needs in `content`; only a replay needs
    // the request's headers and raw body.
    let replay = content.is_none();
    let main = NewDelivery {
        content: content.as_mut().map(|c| stamp(c, raw_body, &id)),
        id,
        agent_id: inbound.call.agent.id.clone(),
        route_id: Some(inbound.route.id.clone()),
        mode: inbound.rules.mode,
        task,
        dedup_key,
        method: inbound.call.method.as_str().to_owned(),
        path: inbound.call.path_and_query.to_owned(),
        headers: stored::write(&call.headers, replay),
        body: if replay {
            call.body.to_vec()
        } else {
            Vec::new()
        },
        ignored: None,
        shadow: None,
        is_shadow: false,
        loop_limit: loop_limit(inbound),
        coalesce: coalescing(inbound),
    };
    let shadow = inbound.route.shadow_agent_id.as_deref().map(|agent_id| {
        let id = crate::db::time_ordered_id();
        let content = content.as_mut().map(|c| stamp(c, raw_body, &id));
        Box::new(shadow_of(&main, agent_id, id, content))
    });
    Ok(NewDelivery { shadow, ..main })
}

/// The loop breaker's setting for an `acp_event` call: the route's own
/// when it sets one (a limit of 0 is off), else 30 events in 60 s for an
/// agent that declared identities (a loop-guarded agent), else off.
fn loop_limit(inbound: &Inbound<'_>) -> Option<LoopLimit> {
    const DEFAULT_LIMIT: i64 = 30;
    const DEFAULT_WINDOW_SECS: i64 = 60;
    if inbound.rules.mode != RouteMode::AcpEvent {
        return None;
    }
    let route = inbound.route;
    let set = route.loop_limit.is_some() || route.loop_window_secs.is_some();
    let guarded = inbound
        .call
        .agent
        .identities
        .as_deref()
        .is_some_and(|i| i != "[]");
    let limit = route.loop_limit.map_or(DEFAULT_LIMIT, i64::from);
    (limit > 0 && (set || guarded)).then(|| LoopLimit {
        limit,
        window_secs: route
            .loop_window_secs
            .map_or(DEFAULT_WINDOW_SECS, i64::from),
    })
}

/// The route's coalescing, for an `acp_event` call.
fn coalescing(inbound: &Inbound<'_>) -> Option<Coalesce> {
    let route = inbound.route;
    let (window, max_wait) = route.coalesce_window_ms.zip(route.coalesce_max_wait_ms)?;
    (inbound.rules.mode == RouteMode::AcpEvent).then_some(Coalesce {
        window_ms: i64::from(window),
        max_wait_ms: i64::from(max_wait),
    })
}

/// The same event for the route's shadow agent: its own id, task (the
/// same key in the shadow agent's namespace) and sequence; no redelivery
/// id (the call's is kept once, with the main delivery).
fn shadow_of(
    main: &NewDelivery,
    agent_id: &str,
    id: String,
    content: Option<String>,
) -> NewDelivery {
    NewDelivery {
        content,
        id,
        agent_id: agent_id.to_owned(),
        task: main
            .task
            .as_ref()
            .map(|(_, key)| (task_id(agent_id, key), key.clone())),
        dedup_key: None,
        is_shadow: true,
        ..main.clone()
    }
}

/// A call a route or the loop guard dropped, kept as an `ignored` delivery
/// with its request (never attempted).
pub fn ignored_delivery(dropped: &VerifiedCall<'_>, reason: &str) -> NewDelivery {
    let none = Redaction::default();
    let redaction = dropped.rules().map_or(&none, |r| &r.redaction);
    let call = RedactedCall::new(redaction, dropped.headers, &dropped.json);
    NewDelivery {
        id: crate::db::time_ordered_id(),
        agent_id: dropped.agent.id.clone(),
        route_id: dropped.route.map(|(r, _)| r.id.clone()),
        mode: dropped.mode(),
        task: None,
        dedup_key: None,
        method: dropped.method.as_str().to_owned(),
        path: dropped.path_and_query.to_owned(),
        headers: stored::write(&call.headers, true),
        body: call.body.into_owned(),
        content: None,
        ignored: Some(reason.to_owned()),
        shadow: None,
        is_shadow: false,
        loop_limit: None,
        coalesce: None,
    }
}

/// The route's parsed template `field` rendered from the call.
fn render(
    route: &Route,
    field: &'static str,
    template: &Option<Template>,
    input: &TemplateInput<'_>,
) -> Result<String, IntakeError> {
    let template = template
        .as_ref()
        .ok_or_else(|| IntakeError::BadRoute(route.id.clone(), format!("no {field}")))?;
    template
        .render(input)
        .map_err(|missing| IntakeError::MissingField(missing.0, field))
}

/// A `text` route's content, rendered from its template; None for `data`.
fn text_content(
    inbound: &Inbound<'_>,
    input: &TemplateInput<'_>,
) -> Result<Option<Value>, IntakeError> {
    if inbound.rules.content != ContentKind::Text {
        return Ok(None);
    }
    let rules = inbound.rules;
    let text = render(inbound.route, "text_template", &rules.text_template, input)?;
    Ok(Some(content::text(text)))
}

/// The provider's own delivery id, which marks redeliveries.
fn dedup_key(headers: &HeaderMap, body: Option<&Value>) -> Option<String> {
    crate::verify::providers::redelivery_id(headers, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_are_stable_per_agent() {
        let agent = uuid::Uuid::new_v4().to_string();
        assert_eq!(task_id(&agent, "k"), task_id(&agent, "k"));
        assert_ne!(task_id(&agent, "k"), task_id(&agent, "k2"));
        assert_ne!(
            task_id(&agent, "k"),
            task_id(&uuid::Uuid::new_v4().to_string(), "k")
        );
    }
}
