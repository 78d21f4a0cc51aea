//! What hookgate takes from an Agent Card: the URL of its JSON-RPC
//! interface and the protocol version whose shapes it speaks. A 1.0 card
//! lists `supportedInterfaces` (`protocolBinding`, `protocolVersion`); a
//! 0.3 card names its main `url` with a `preferredTransport` and
//! `additionalInterfaces`.

use crate::domain::{absolute_http_url, A2aVersion};
use serde::Deserialize;

/// The most of a card hookgate reads; real cards are a few KiB.
pub const MAX_CARD_BYTES: usize = 64 * 1024;

/// Where and how to call the agent, as its card says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardInterface {
    pub url: String,
    pub version: A2aVersion,
}

/// Why a card cannot be used; shown to whoever registers the agent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CardError(pub String);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Card {
    #[serde(default)]
    supported_interfaces: Option<Vec<Interface>>,
    url: Option<String>,
    protocol_version: Option<String>,
    preferred_transport: Option<String>,
    #[serde(default)]
    additional_interfaces: Vec<Interface>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Interface {
    url: Option<String>,
    /// 1.0's name for the binding.
    protocol_binding: Option<String>,
    /// 0.3's name for it.
    transport: Option<String>,
    protocol_version: Option<String>,
}

impl Interface {
    fn binding(&self) -> &str {
        self.protocol_binding
            .as_deref()
            .or(self.transport.as_deref())
            .unwrap_or_default()
    }

    fn is_json_rpc(&self) -> bool {
        self.binding().eq_ignore_ascii_case("JSONRPC")
    }
}

/// The card's JSON-RPC interface, or what is wrong with the card.
pub fn json_rpc_interface(body: &[u8]) -> Result<CardInterface, CardError> {
    let card: Card = serde_json::from_slice(body)
        .map_err(|e| CardError(format!("the Agent Card is not a JSON object: {e}")))?;
    let (url, version) = match &card.supported_interfaces {
        Some(interfaces) if !interfaces.is_empty() => {
            let found = interfaces.iter().find(|i| i.is_json_rpc());
            let found = found.ok_or_else(|| no_json_rpc(interfaces))?;
            // An interface without a version on a 1.0-style card is 1.0.
            let version = found.protocol_version.as_deref().or(Some("1.0"));
            (found.url.clone(), A2aVersion::of_card(version))
        }
        _ => (
            older_card_url(&card)?,
            A2aVersion::of_card(card.protocol_version.as_deref()),
        ),
    };
    let url = url
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| CardError("the Agent Card's JSON-RPC interface has no url".into()))?;
    absolute_http_url("url", &url).map_err(|_| {
        CardError(format!(
            "the Agent Card's interface url {url:?} is not an absolute http:// or https:// URL"
        ))
    })?;
    Ok(CardInterface { url, version })
}

/// A 0.3 card's JSON-RPC URL: its main `url` unless it prefers another
/// transport, else an additional interface.
fn older_card_url(card: &Card) -> Result<Option<String>, CardError> {
    let preferred = card.preferred_transport.as_deref().unwrap_or("JSONRPC");
    if preferred.eq_ignore_ascii_case("JSONRPC") && card.url.is_some() {
        return Ok(card.url.clone());
    }
    match card.additional_interfaces.iter().find(|i| i.is_json_rpc()) {
        Some(found) => Ok(found.url.clone()),
        None if card.url.is_none() => Err(CardError(
            "the Agent Card names no interface (neither 'supportedInterfaces' nor 'url')".into(),
        )),
        None => Err(no_json_rpc(&card.additional_interfaces)),
    }
}

fn no_json_rpc(offered: &[Interface]) -> CardError {
    let bindings: Vec<&str> = offered.iter().map(Interface::binding).collect();
    CardError(format!(
        "the Agent Card offers no JSON-RPC interface (it offers {}); hookgate speaks A2A over JSON-RPC",
        if bindings.is_empty() { "none".to_owned() } else { bindings.join(", ") }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(card: serde_json::Value) -> Result<CardInterface, CardError> {
        json_rpc_interface(card.to_string().as_bytes())
    }

    #[test]
    fn a_current_card_gives_its_json_rpc_interface() {
        let card = json!({"name": "a", "supportedInterfaces": [
            {"url": "http://127.0.0.1:9/grpc", "protocolBinding": "GRPC", "protocolVersion": "1.0"},
            {"url": "http://127.0.0.1:9/rpc", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}]});
        let found = read(card).unwrap();
        assert_eq!(found.url, "http://127.0.0.1:9/rpc");
        assert_eq!(found.version, A2aVersion::V1);
    }

    #[test]
    fn an_older_card_gives_its_url_and_version() {
        let card = json!({"name": "a", "url": "http://127.0.0.1:9/", "protocolVersion": "0.3.0",
            "preferredTransport": "JSONRPC"});
        let found = read(card).unwrap();
        assert_eq!(found.url, "http://127.0.0.1:9/");
        assert_eq!(found.version, A2aVersion::V0_3);
        let grpc_first = json!({"url": "http://127.0.0.1:9/g", "preferredTransport": "GRPC",
            "additionalInterfaces": [{"url": "http://127.0.0.1:9/j", "transport": "JSONRPC"}]});
        assert_eq!(read(grpc_first).unwrap().url, "http://127.0.0.1:9/j");
    }

    #[test]
    fn unusable_cards_say_why() {
        let grpc =
            json!({"supportedInterfaces": [{"url": "http://h/", "protocolBinding": "GRPC"}]});
        assert!(read(grpc)
            .unwrap_err()
            .0
            .contains("offers no JSON-RPC interface (it offers GRPC)"));
        assert!(read(json!({"name": "x"}))
            .unwrap_err()
            .0
            .contains("names no interface"));
        let relative =
            json!({"supportedInterfaces": [{"url": "/rpc", "protocolBinding": "JSONRPC"}]});
        assert!(read(relative).unwrap_err().0.contains("\"/rpc\""));
        assert!(json_rpc_interface(b"<html>")
            .unwrap_err()
            .0
            .contains("not a JSON object"));
    }
}
