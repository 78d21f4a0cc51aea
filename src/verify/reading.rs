//! A call as providers see it: what they read it from ([`Call`]) and what
//! they read of it, carried to the key check ([`Reading`]), including the
//! answer hookgate gives itself (a handshake).

use crate::domain::Secret;
use actix_web::http::header::HeaderMap;

/// A call as a provider reads it before any key is looked up.
pub struct Call<'a> {
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    /// `application/x-www-form-urlencoded`.
    pub is_form: bool,
    /// Unix seconds, for timestamp checks.
    pub now: i64,
    /// Accepted clock skew, in seconds, for a provider whose tolerance is a
    /// setting (see [`Descriptor::tolerance`]); `None`: its default.
    pub tolerance_secs: Option<u64>,
    /// The full URL the provider called, built only when a provider signs
    /// it (from `HOOKGATE_PUBLIC_URL`, else the request's scheme and host).
    pub url: &'a dyn Fn() -> String,
}

impl Call<'_> {
    /// The tolerance set for the provider, or `default_secs`.
    pub fn tolerance(&self, default_secs: u64) -> u64 {
        self.tolerance_secs.unwrap_or(default_secs)
    }

    /// A header's text, if sent and readable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What a provider read from a call, carried to the key check: nothing of
/// it is a header map, so it crosses to the verifier cheaply.
#[derive(Debug, Default)]
pub struct Reading {
    /// The name that selects the key ([`KeyLookup::Named`] kinds).
    ///
    /// [`KeyLookup::Named`]: crate::domain::KeyLookup::Named
    pub key_name: Option<String>,
    /// The presented credential: the key or token itself (digest kinds), or
    /// the signature header's value.
    pub credential: Option<Secret>,
    /// The timestamp as sent (it is part of what was signed).
    pub timestamp: Option<String>,
    /// The message id as sent, where it is signed.
    pub message_id: Option<String>,
    /// A timestamp read from the body, checked once a key matched.
    pub body_timestamp: Option<i64>,
    /// What hookgate answers itself once the call verifies (a provider's
    /// URL verification challenge, a ping).
    pub answer: Option<Answer>,
    /// The call's headers, only for a provider whose headers only its keys
    /// name (generic HMAC).
    pub headers: Option<HeaderMap>,
    /// Whatever else only this provider reads (the text a provider signs
    /// in place of the body, its algorithm), for its own `signed_by`.
    pub own: Option<Own>,
}

/// A provider's own reading of a call, opaque to everyone else.
pub struct Own(Box<dyn std::any::Any + Send>);

impl Own {
    pub fn new<T: std::any::Any + Send>(value: T) -> Self {
        Self(Box::new(value))
    }
}

impl std::fmt::Debug for Own {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Own(..)")
    }
}

/// A reply hookgate makes itself, with status 200.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub content_type: &'static str,
    pub body: String,
}

impl Reading {
    /// The credential's text ("" when none was read).
    pub fn credential(&self) -> &str {
        self.credential.as_ref().map_or("", Secret::expose)
    }

    pub fn timestamp(&self) -> &str {
        self.timestamp.as_deref().unwrap_or("")
    }

    /// The provider's own reading, if it made one of type `T`.
    pub fn own<T: std::any::Any>(&self) -> Option<&T> {
        self.own.as_ref()?.0.downcast_ref()
    }
}
