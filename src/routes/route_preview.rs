//! `POST /agent_routes/preview`: renders a route's `task_key` (and
//! `text_template`) against a stored delivery, so a route can be written
//! against real traffic before it is created.

use super::agents::find;
use super::api_keys::AgentSelector;
use super::caller::Caller;
use super::deliveries::no_such_delivery;
use super::errors::{run_db, AdminError};
use super::AppState;
use crate::db::deliveries::{self, Delivery, ListFilter, Scope};
use crate::domain::payload::{body_as_json, is_form};
use crate::domain::task_id;
use crate::domain::{CallSource, Template, TemplateInput};
use crate::verify::described::Described;
use crate::verify::{providers, Provider};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// How many of the agent's newest deliveries are looked through for one
/// that carries a request to render against.
const RECENT: i64 = 50;

#[derive(Debug, Deserialize, ToSchema)]
pub struct PreviewRequest {
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
    pub task_key: Option<String>,
    pub text_template: Option<String>,
    /// The delivery to render against; default: the agent's newest one
    /// that stored its request's body.
    pub delivery_id: Option<String>,
}

/// One template's outcome: `rendered` (and for `task_key` the `task_id` it
/// becomes), or the placeholder the request lacks in `missing`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Rendering {
    pub rendered: Option<String>,
    pub task_id: Option<String>,
    pub missing: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewResponse {
    /// The delivery the templates were rendered against.
    pub delivery_id: String,
    pub task_key: Option<Rendering>,
    pub text_template: Option<Rendering>,
}

/// A stored request, as templates see it.
struct Sample {
    body: Option<Value>,
    headers: HeaderMap,
    path: String,
    /// The provider that verified it, for `{conversation}` and `actor.…`.
    provider: Option<&'static dyn Provider>,
}

#[utoipa::path(post, path = "/agent_routes/preview", operation_id = "preview_agent_route",
    tag = "agent_routes", request_body = PreviewRequest,
    responses((status = 200, body = PreviewResponse),
              (status = 404, description = "Unknown agent or delivery, or no stored request to render against"),
              (status = 422, description = "A template does not parse")))]
pub async fn preview(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<PreviewRequest>,
) -> Result<HttpResponse, AdminError> {
    let request = body.into_inner();
    let selector = AgentSelector {
        agent_id: request.agent_id,
        agent_name: request.agent_name,
    };
    let which = selector.resolve("preview an agent route")?;
    let task_key = parse("task_key", request.task_key.as_deref())?;
    let text = parse("text_template", request.text_template.as_deref())?;
    let wanted = request.delivery_id;
    let (agent_id, delivery_id, sample) = run_db(&state.pool, move |conn| {
        let agent = find(conn, &which, &caller)?;
        let (delivery_id, sample) = match wanted {
            Some(id) => chosen_sample(conn, &agent.id, id)?,
            None => newest_sample(conn, &agent.id, &agent.name)?,
        };
        Ok((agent.id, delivery_id, sample))
    })
    .await?;
    let source = sample.provider.map(Described);
    let input = TemplateInput {
        body: sample.body.as_ref(),
        headers: &sample.headers,
        path: &sample.path,
        source: source.as_ref().map(|s| s as &dyn CallSource),
    };
    Ok(HttpResponse::Ok().json(PreviewResponse {
        task_key: task_key.map(|t| rendering(&t, &input, Some(&agent_id))),
        text_template: text.map(|t| rendering(&t, &input, None)),
        delivery_id,
    }))
}

fn parse(field: &str, raw: Option<&str>) -> Result<Option<Template>, AdminError> {
    raw.map(|raw| Template::parse(field, raw).map_err(AdminError::from))
        .transpose()
}

/// A template rendered against the sample; a task key also names the task
/// id it becomes for the agent `agent_id`.
fn rendering(template: &Template, input: &TemplateInput<'_>, agent_id: Option<&str>) -> Rendering {
    match template.render(input) {
        Ok(text) => Rendering {
            task_id: agent_id.map(|agent| task_id(agent, &text)),
            rendered: Some(text),
            missing: None,
        },
        Err(missing) => Rendering {
            rendered: None,
            task_id: None,
            missing: Some(missing.0),
        },
    }
}

fn chosen_sample(
    conn: &mut crate::db::DbConnection,
    agent_id: &str,
    id: String,
) -> Result<(String, Sample), AdminError> {
    let found = deliveries::find(conn, &id)?.filter(|(d, _)| d.agent_id == agent_id);
    let (delivery, _) = found.ok_or_else(|| no_such_delivery(&id))?;
    let sample = sample_of(&delivery).ok_or_else(|| {
        AdminError::NotFound(format!(
            "Delivery {id} kept no request to render against (a text event keeps only its text)."
        ))
    })?;
    Ok((delivery.id, sample))
}

fn newest_sample(
    conn: &mut crate::db::DbConnection,
    agent_id: &str,
    agent_name: &str,
) -> Result<(String, Sample), AdminError> {
    let filter = ListFilter {
        scope: Scope {
            agent_id: Some(agent_id.to_owned()),
            ..Scope::default()
        },
        ..ListFilter::default()
    };
    let (recent, _) = deliveries::list(conn, &filter, RECENT)?;
    recent
        .iter()
        .find_map(|d| Some((d.id.clone(), sample_of(d)?)))
        .ok_or_else(|| {
            AdminError::NotFound(format!(
                "Agent '{agent_name}' has no stored delivery with a request to render against: \
                 send a webhook to a forward_async or acp_event (data) route first."
            ))
        })
}

/// The request a delivery kept: a `forward_async` delivery keeps the
/// request itself, an `acp_event` one with `data` content its path,
/// event headers and body; a text event keeps neither.
fn sample_of(delivery: &Delivery) -> Option<Sample> {
    match delivery.content.as_deref() {
        Some(content) => {
            let content: Value = serde_json::from_str(content).ok()?;
            let data = content.get("data")?;
            let headers = data
                .get("headers")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter_map(|(name, value)| Some((name.as_str(), value.as_str()?)));
            let provider = content["provenance"]["provider"].as_str();
            Some(Sample {
                body: data.get("body").cloned(),
                headers: header_map(headers),
                path: data.get("path")?.as_str()?.to_owned(),
                provider: provider.and_then(providers::named),
            })
        }
        None => {
            let pairs: Vec<(String, String)> = serde_json::from_str(&delivery.headers).ok()?;
            let headers = header_map(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())));
            let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
            let path = delivery.path.split('?').next().unwrap_or_default();
            Some(Sample {
                body: body_as_json(&delivery.body, is_form(content_type)),
                path: path.trim_start_matches('/').to_owned(),
                provider: Some(providers::selected(&headers)),
                headers,
            })
        }
    }
}

fn header_map<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            map.append(name, value);
        }
    }
    map
}
