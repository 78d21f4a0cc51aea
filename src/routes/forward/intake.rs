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
    let RedactedCall {
        headers,
        json,
        body,
        body_is_json,
    } = call;
    let dedup_key = dedup_key(inbound.call.headers, json.as_ref());
    let actor = json.as_ref().and_then(|b| inbound.call.provider.actor(b));
    let provenance = Provenance {
        provider: inbound.call.provider.descriptor().kind.as_str(),
        key_name: inbound.call.key_name,
        actor: actor.as_ref(),
    };
    let mut event = match inbound.rules.mode {
        RouteMode::AcpEvent => Some(event(inbound, &headers, json, &body, body_is_json)?),
        _ => None,
    };
    let task = event.as_ref().map(|e| e.task.clone());
    let mut stamp = |id: &str| {
        let event = event.as_mut()?;
        Some(content::stamp(
            &mut event.content,
            &provenance,
            id,
            event.raw_body,
        ))
    };
    // An ACP event carries all it needs in `content`; only a replay needs
    // the request's headers and raw body.
    let replay = task.is_none();
    let stored_body = if replay { body.to_vec() } else { Vec::new() };
    let main = NewDelivery {
        task,
        dedup_key,
        loop_limit: loop_limit(inbound),
        coalesce: coalescing(inbound),
        ..delivery_of(inbound.call, stored::write(&headers, replay), stored_body)
    };
    let main = NewDelivery {
        content: stamp(&main.id),
        ..main
    };
    let shadow = inbound.route.shadow_agent_id.as_deref().map(|agent_id| {
        let id = crate::db::time_ordered_id();
        let content = stamp(&id);
        Box::new(shadow_of(&main, agent_id, id, content))
    });
    Ok(NewDelivery { shadow, ..main })
}

/// An `acp_event` call as its deliveries carry it: its task (id and key)
/// and its content, stamped with each delivery's own id when stored.
struct Event<'a> {
    task: (String, String),
    content: Value,
    /// The JSON body as it arrived, written into the content as is.
    raw_body: Option<&'a str>,
}

/// The call's task and content: the route's `text` template rendered, or
/// a `data` content holding the (redacted) call.
fn event<'a>(
    inbound: &Inbound<'_>,
    headers: &HeaderMap,
    json: Option<Value>,
    body: &'a [u8],
    body_is_json: bool,
) -> Result<Event<'a>, IntakeError> {
    let input = TemplateInput {
        body: json.as_ref(),
        headers,
        path: inbound.call.sub_path,
        source: Some(&Described(inbound.call.provider)),
    };
    let key = render(inbound.route, "task_key", &inbound.rules.task_key, &input)?;
    let task = (task_id(&inbound.call.agent.id, &key), key);
    if let Some(text) = text_content(inbound, &input)? {
        return Ok(Event {
            task,
            content: text,
            raw_body: None,
        });
    }
    let body = Body::of(body_is_json, body, json);
    let raw_body = body.raw();
    let content = content::data(inbound.call.sub_path, headers, body);
    Ok(Event {
        task,
        content,
        raw_body,
    })
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
    let headers = stored::write(&call.headers, true);
    NewDelivery {
        ignored: Some(reason.to_owned()),
        ..delivery_of(dropped, headers, call.body.into_owned())
    }
}

/// A delivery of `call` with its stored (already redacted) headers and
/// body, and a new id; no task, content or settings yet.
fn delivery_of(call: &VerifiedCall<'_>, headers: String, body: Vec<u8>) -> NewDelivery {
    NewDelivery {
        id: crate::db::time_ordered_id(),
        agent_id: call.agent.id.clone(),
        route_id: call.route.map(|(r, _)| r.id.clone()),
        mode: call.mode(),
        task: None,
        dedup_key: None,
        method: call.method.as_str().to_owned(),
        path: call.path_and_query.to_owned(),
        headers,
        body,
        content: None,
        ignored: None,
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
