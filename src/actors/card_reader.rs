//! Reading an A2A agent's Agent Card over HTTP, bounded as anything a
//! registrant points hookgate at must be: the outbound policy and TLS of
//! every forwarder, no redirects, [`CARD_WAIT`] at most, [`MAX_CARD_BYTES`]
//! at most.

use super::forwarder::ForwarderSettings;
use crate::a2a::card::{json_rpc_interface, CardError, CardInterface, MAX_CARD_BYTES};
use std::time::Duration;

/// The longest a card read may take, whatever the forward timeout.
pub const CARD_WAIT: Duration = Duration::from_secs(10);

/// The card at `url`'s JSON-RPC interface, or why it cannot be had.
pub async fn read_card(
    settings: &ForwarderSettings,
    url: &str,
) -> Result<CardInterface, CardError> {
    if let Some(why) = settings.refusal_for_url(url) {
        return Err(CardError(format!("its address is refused: {why}")));
    }
    let client = settings.client(settings.timeout.min(CARD_WAIT));
    let mut response = client
        .get(url)
        .insert_header(("accept", "application/json"))
        .send()
        .await
        .map_err(|e| CardError(format!("it could not be fetched: {e}")))?;
    let status = response.status();
    if !status.is_success() {
        return Err(CardError(format!("its server answered {status}")));
    }
    let body = response
        .body()
        .limit(MAX_CARD_BYTES)
        .await
        .map_err(|e| match e {
            awc::error::PayloadError::Overflow => {
                CardError(format!("it is larger than {} KiB", MAX_CARD_BYTES / 1024))
            }
            other => CardError(format!("reading it failed: {other}")),
        })?;
    let interface = json_rpc_interface(&body)?;
    if let Some(why) = settings.refusal_for_url(&interface.url) {
        return Err(CardError(format!(
            "its interface {} is refused: {why}",
            interface.url
        )));
    }
    Ok(interface)
}
