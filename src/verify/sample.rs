//! Sample calls for `send-test`: a provider signs an event with one of its
//! keys exactly as the provider would, so an operator can see a call pass
//! the whole path (verification, route, delivery) without the provider.

use crate::domain::TimedSecret;
use serde_json::Value;

/// What to sign: the key, where the call goes, and (optionally) the body.
pub struct SampleRequest<'a> {
    /// The key's name (GitHub's repository, Slack's app id, a shop domain):
    /// written into the sample where the provider names its key.
    pub key_name: &'a str,
    /// The key's newest live value (and, for generic HMAC, its settings).
    pub secret: &'a TimedSecret,
    /// The caller's body; `None`: the provider's own sample event.
    pub body: Option<&'a [u8]>,
    /// The full URL the call is sent to (a provider may sign it).
    pub url: &'a str,
    /// Unix seconds, for timestamps.
    pub now: i64,
}

/// A signed call: its headers (content type included) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl SampleRequest<'_> {
    /// The caller's body, or `sample` as JSON.
    pub fn json_body(&self, sample: Value) -> Vec<u8> {
        match self.body {
            Some(body) => body.to_vec(),
            None => sample.to_string().into_bytes(),
        }
    }

    pub fn secret(&self) -> &[u8] {
        self.secret.secret.expose().as_bytes()
    }

    /// A signed JSON call with `headers`.
    pub fn json_call(&self, body: Vec<u8>, headers: &[(&str, String)]) -> Sample {
        let mut all = vec![("content-type".to_owned(), "application/json".to_owned())];
        all.extend(headers.iter().map(|(n, v)| ((*n).to_owned(), v.clone())));
        Sample { headers: all, body }
    }
}

/// A fresh id for a sample's delivery-id header.
pub fn delivery_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{HmacConfig, KeyLookup, LiveUntil, Secret};
    use crate::verify::provider::{Call, Provider, SecretSource};
    use crate::verify::providers::{self, PROVIDERS};
    use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
    use std::sync::Arc;

    const URL: &str = "http://127.0.0.1:5003/agents/forward/name/a/hook";

    /// A key of the provider's kind, as key creation would store it.
    fn key(provider: &dyn Provider) -> TimedSecret {
        let value = match provider.descriptor().kind.as_str() {
            "standard_webhooks" => "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
            _ => "sample-secret-0123456789abcdef".to_owned(),
        };
        let hmac = provider.takes_hmac_settings().then(|| {
            let config: HmacConfig = serde_json::from_value(serde_json::json!({
                "header": "x-acme-signature", "prefix": "sha256=",
                "signed_content": "{timestamp}.{body}", "timestamp_header": "x-acme-timestamp",
            }))
            .unwrap();
            Arc::new(config.validated(|_| None).unwrap())
        });
        TimedSecret {
            key_id: "key-1".into(),
            key_name: "key".into(),
            secret: Secret::new(value),
            until: LiveUntil(None),
            hmac,
        }
    }

    fn header_map(sample: &Sample) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in &sample.headers {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    /// Verifies a sample the way the forward route would.
    fn verify(provider: &dyn Provider, sample: &Sample, key: &TimedSecret, now: i64) {
        let kind = provider.descriptor().kind;
        let headers = header_map(sample);
        assert_eq!(providers::selected(&headers).descriptor().kind, kind);
        let url = || URL.to_owned();
        let call = Call {
            headers: &headers,
            body: &sample.body,
            is_form: headers.get("content-type").is_some_and(|v| {
                v.as_bytes()
                    .starts_with(b"application/x-www-form-urlencoded")
            }),
            now,
            tolerance_secs: None,
            url: &url,
        };
        let reading = provider
            .read(&call)
            .unwrap_or_else(|e| panic!("{kind:?}: {e:?}"));
        if let Some(name) = &reading.key_name {
            assert_eq!(name, "octo/hello", "{kind:?} names its key from the sample");
        }
        let judged = provider.judge(&reading, &sample.body, &[key], "agent", now);
        assert_eq!(
            judged.ok(),
            Some(0),
            "{kind:?}: the sample's signature passes"
        );
        // As the verifier calls it: in milliseconds.
        provider.after_match(&reading, now * 1000).unwrap();
    }

    #[test]
    fn every_provider_whose_secret_hookgate_holds_signs_samples_it_verifies() {
        let now = chrono::Utc::now().timestamp();
        for provider in PROVIDERS {
            let descriptor = provider.descriptor();
            let key = key(*provider);
            let custom = br#"{"repository": {"full_name": "octo/hello"}, "api_app_id": "octo/hello", "webhookTimestamp": 1}"#;
            for body in [None, Some(&custom[..])] {
                let request = SampleRequest {
                    key_name: "octo/hello",
                    secret: &key,
                    body,
                    url: URL,
                    now,
                };
                let holds_secret = descriptor.kind.lookup() != KeyLookup::Digest
                    && !matches!(descriptor.secret, SecretSource::PublicKey { .. });
                match provider.sample(&request) {
                    Some(sample) if body.is_none() || descriptor.kind.as_str() != "linear" => {
                        verify(*provider, &sample, &key, now)
                    }
                    Some(_) => {} // Linear checks the body's own timestamp.
                    None => assert!(!holds_secret, "{:?} should sign samples", descriptor.kind),
                }
            }
        }
    }
}
