//! Discord interactions: `X-Signature-Ed25519: <hex Ed25519 signature of
//! timestamp + body>` with `X-Signature-Timestamp`, verified with the
//! application's *public* key
//! (<https://discord.com/developers/docs/interactions/overview#setting-up-an-endpoint-validating-security-request-headers>).
//! The first asymmetric provider: the key stored is the Public Key from the
//! application's page, which proves nothing to whoever reads it. Discord's
//! `PING` (`"type": 1`) is answered `{"type": 1}` by hookgate, only once
//! the call verified.

use crate::domain::json_fields::{self, Field};
use crate::domain::{KeyKind, KeyLookup, Secret, TimedSecret};
use crate::verify::described::{ConversationRule, Match};
use crate::verify::provider::{
    Answer, Call, Descriptor, Messages, Provider, Reading, SecretSource,
};
use crate::verify::VerifyError;
use ring::signature::{UnparsedPublicKey, ED25519};

pub const SIGNATURE_HEADER: &str = "x-signature-ed25519";
pub const TIMESTAMP_HEADER: &str = "x-signature-timestamp";
/// How far the timestamp may be from now, either way: Discord signs each
/// interaction as it sends it, so an old one is a replay.
pub const TOLERANCE_SECS: u64 = 300;
/// The interaction type Discord sends to check an endpoint.
const PING: i64 = 1;

pub static DESCRIPTOR: Descriptor = Descriptor {
    kind: KeyKind::new("discord", KeyLookup::AllOfType),
    selected_by: &[SIGNATURE_HEADER],
    selected_by_prefix: "",
    credential_headers: &[],
    signature_headers: &[SIGNATURE_HEADER],
    event_headers: &[],
    reads: &[TIMESTAMP_HEADER],
    secret: SecretSource::PublicKey {
        found_in: "the Discord application's General Information page (Public Key)",
    },
    redelivery_headers: &[],
    redelivery_prefix: "discord",
    actors: &[&["member", "user", "id"], &["user", "id"]],
    bots: &[
        Match::new("body.member.user.bot", "true"),
        Match::new("body.user.bot", "true"),
    ],
    conversation: &[
        ConversationRule {
            when: None,
            key: "discord:{body.guild_id}/{body.channel_id|body.channel.id}",
        },
        // Direct messages belong to no server.
        ConversationRule {
            when: None,
            key: "discord:@me/{body.channel_id|body.channel.id}",
        },
    ],
    handshakes: &[],
    messages: Messages {
        no_key: "No Discord key found for agent ID {agent}.",
        bad_signature: "Invalid Discord request signature",
    },
    tolerance: None,
};

#[derive(Debug)]
pub struct Discord;

impl Provider for Discord {
    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    fn read(&self, call: &Call<'_>) -> Result<Reading, VerifyError> {
        let timestamp = check_timestamp(call.header(TIMESTAMP_HEADER), call.now)?;
        let signature = call.header(SIGNATURE_HEADER).unwrap_or_default();
        Ok(Reading {
            credential: Some(Secret::new(signature.to_owned())),
            timestamp: Some(timestamp.to_owned()),
            answer: is_ping(call.body).then(|| Answer {
                content_type: "application/json",
                body: r#"{"type":1}"#.to_owned(),
            }),
            ..Reading::default()
        })
    }

    fn signed_by(&self, reading: &Reading, body: &[u8], key: &TimedSecret) -> bool {
        let public_key = key.secret.expose();
        check_signature(public_key, reading.timestamp(), body, reading.credential())
    }

    fn secret_refusal(&self, public_key: &str) -> Option<&'static str> {
        (public_key_bytes(public_key).is_none())
            .then_some("the application's Public Key: 64 hex characters")
    }
}

fn stale_timestamp() -> VerifyError {
    VerifyError::stale_timestamp("Discord interaction request has bad timestamp.")
}

/// The timestamp as sent, checked to be Unix seconds within
/// [`TOLERANCE_SECS`] of `now`.
pub fn check_timestamp(header: Option<&str>, now: i64) -> Result<&str, VerifyError> {
    let name = "X-Signature-Timestamp";
    let raw = header.ok_or_else(|| VerifyError::missing_header(name))?;
    let seconds: i64 = raw
        .trim()
        .parse()
        .map_err(|_| VerifyError::invalid_timestamp_header(name))?;
    if now.abs_diff(seconds) > TOLERANCE_SECS {
        return Err(stale_timestamp());
    }
    Ok(raw)
}

/// Whether the body is a `PING` (read without parsing the whole body).
fn is_ping(body: &[u8]) -> bool {
    json_fields::find(body, &[&["type"]])
        .is_ok_and(|found| matches!(found.first(), Some(Field::Int(PING))))
}

fn public_key_bytes(hex_key: &str) -> Option<[u8; 32]> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(hex_key.trim(), &mut key).ok()?;
    Some(key)
}

/// True when `header` is the hex Ed25519 signature of timestamp + body by
/// the key whose public half is `public_key` (hex).
pub fn check_signature(public_key: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    let (Some(key), Ok(signature)) = (public_key_bytes(public_key), hex::decode(header.trim()))
    else {
        return false;
    };
    let mut message = Vec::with_capacity(timestamp.len() + body.len());
    message.extend_from_slice(timestamp.as_bytes());
    message.extend_from_slice(body);
    UnparsedPublicKey::new(&ED25519, key)
        .verify(&message, &signature)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 8032's first test key, signing as Discord does; PyNaCl:
    // SigningKey(seed).sign(ts.encode() + body).signature.hex().
    const PUBLIC_KEY: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    const TS: &str = "1800000000";
    const BODY: &[u8] = br#"{"type":1,"id":"1","application_id":"2"}"#;
    const SIGNATURE: &str = "2c52b8c786f52b9973cf5dab7c467008d7b8bb3edb63aa3ae1f4ffad882079dbd8460565b7d51a855c7bd8a7a6c5a57795f0252840585fe15e863b7ce3c9a10c";

    #[test]
    fn checks_ed25519_of_timestamp_and_body() {
        assert!(check_signature(PUBLIC_KEY, TS, BODY, SIGNATURE));
        assert!(!check_signature(PUBLIC_KEY, "1800000001", BODY, SIGNATURE));
        assert!(!check_signature(PUBLIC_KEY, TS, b"{}", SIGNATURE));
        let other = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
        assert!(!check_signature(other, TS, BODY, SIGNATURE));
        assert!(!check_signature("zz", TS, BODY, SIGNATURE));
        assert!(!check_signature(PUBLIC_KEY, TS, BODY, "00"));
    }

    #[test]
    fn pings_timestamps_and_keys() {
        assert!(is_ping(BODY));
        assert!(!is_ping(br#"{"type":2}"#));
        assert!(!is_ping(b"not json"));
        assert_eq!(check_timestamp(Some(TS), 1_800_000_300), Ok(TS));
        assert_eq!(
            check_timestamp(Some(TS), 1_800_000_301),
            Err(stale_timestamp())
        );
        let missing = check_timestamp(None, 0).unwrap_err().to_string();
        assert_eq!(missing, "Missing X-Signature-Timestamp header.");
        assert!(Discord.secret_refusal(PUBLIC_KEY).is_none());
        assert!(Discord.secret_refusal("d75a98").is_some());
    }
}
