//! A2A agents' cards: where a registration's `agent_card_url` points, the
//! card read (422 naming what is wrong), and `POST /agents/{id}/refresh_card`
//! reading it again.

use super::{find, AgentRef};
use crate::a2a::WELL_KNOWN_CARD_PATH;
use crate::actors::card_reader::read_card;
use crate::db::agents::{self, AgentResponse, CardRead};
use crate::domain::{absolute_http_url, AgentProtocol};
use crate::routes::caller::Caller;
use crate::routes::errors::{run_change, run_db, AdminError};
use crate::routes::AppState;
use actix_web::{web, HttpResponse};

/// The card's URL as given, or the well-known card path of the server a
/// URL without a path names (`http://agent:9999` → its
/// `/.well-known/agent-card.json`).
pub fn card_url(raw: &str) -> Result<String, AdminError> {
    let uri = absolute_http_url("agent_card_url", raw.trim())?;
    Ok(match uri.path() {
        "" | "/" if uri.query().is_none() => {
            format!("{}{WELL_KNOWN_CARD_PATH}", raw.trim().trim_end_matches('/'))
        }
        _ => raw.trim().to_owned(),
    })
}

/// The card at `url`, read now; a 422 naming the card and what is wrong.
pub async fn read(state: &AppState, url: &str) -> Result<CardRead, AdminError> {
    match read_card(&state.forwarding, url).await {
        Ok(found) => Ok(CardRead {
            card_url: url.to_owned(),
            interface_url: found.url,
            version: found.version,
        }),
        Err(why) => Err(AdminError::Unprocessable(format!(
            "Field 'agent_card_url': the Agent Card at {url} cannot be used: {why}."
        ))),
    }
}

/// Reads every A2A agent's card again (at start); a card that cannot be
/// read leaves what was read before, and is logged.
pub async fn read_all_again(state: web::Data<AppState>) {
    let found = run_db(&state.pool, |conn| Ok(agents::a2a_agents(conn)?)).await;
    let Ok(found) = found else {
        tracing::warn!("could not list A2A agents to read their cards again");
        return;
    };
    for agent in found {
        let Some(url) = agent.agent_card_url.clone() else {
            continue;
        };
        match read(&state, &url).await {
            Ok(card) => {
                let id = agent.id.clone();
                let stored =
                    run_change(&state, move |conn| Ok(agents::set_card(conn, &id, &card)?));
                if stored.await.is_err() {
                    tracing::warn!(agent.name = %agent.name, "could not store the agent's card");
                }
            }
            Err(why) => {
                tracing::warn!(agent.name = %agent.name, error = %why, "agent card not read again; the last one read stays")
            }
        }
    }
}

#[utoipa::path(operation_id = "refresh_agent_card", post, path = "/agents/{id}/refresh_card", tag = "agents",
    responses((status = 200, body = AgentResponse, description = "The agent with what its card says now"),
              (status = 404, description = "No such agent"),
              (status = 422, description = "Not an A2A agent, or its card cannot be read or used")))]
pub async fn refresh(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let which = AgentRef::Id(id.into_inner());
    let seen = caller.clone();
    let agent = run_db(&state.pool, move |conn| find(conn, &which, &seen)).await?;
    let url = match (agent.protocol(), agent.agent_card_url) {
        (AgentProtocol::A2a, Some(url)) => url,
        _ => {
            return Err(AdminError::Unprocessable(format!(
                "Agent {} is not an A2A agent: it has no Agent Card to read.",
                agent.name
            )))
        }
    };
    let card = read(&state, &url).await?;
    let id = agent.id;
    let updated = run_change(&state, move |conn| {
        let which = AgentRef::Id(id.clone());
        find(conn, &which, &caller)?;
        Ok(agents::set_card(conn, &id, &card)?)
    })
    .await?;
    let updated = updated.ok_or_else(|| AdminError::NotFound("The agent was deleted.".into()))?;
    tracing::info!(agent.name = %updated.name, a2a.url = updated.a2a_url.as_deref().unwrap_or_default(), "agent card read again");
    Ok(HttpResponse::Ok().json(AgentResponse::from(updated)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_url_means_its_well_known_card() {
        assert_eq!(
            card_url("http://127.0.0.1:9999").unwrap(),
            "http://127.0.0.1:9999/.well-known/agent-card.json"
        );
        assert_eq!(
            card_url("http://127.0.0.1:9999/").unwrap(),
            "http://127.0.0.1:9999/.well-known/agent-card.json"
        );
        assert_eq!(
            card_url("https://a.example/cards/x.json").unwrap(),
            "https://a.example/cards/x.json"
        );
        assert!(card_url("ftp://a.example/x").is_err());
        assert!(card_url("not a url").is_err());
    }
}
