//! How the forward route refuses a call: the status, the body naming why,
//! and the bounded outcome label metrics count it under.

use crate::domain::SubPathError;
use crate::verify::VerifyError;
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

#[derive(Debug, thiserror::Error)]
pub enum ForwardRouteError {
    #[error("Method not allowed.")]
    MethodNotAllowed,
    #[error(transparent)]
    Refused(#[from] VerifyError),
    #[error("{0}")]
    BadPath(#[from] SubPathError),
    #[error("Request body exceeds the limit of {0} bytes.")]
    TooLarge(usize),
    #[error("Could not read the request body: {0}")]
    BadBody(String),
    #[error("Agent {agent} is unreachable: {reason}")]
    Unreachable { agent: String, reason: String },
    #[error("Agent {agent} did not answer within {secs} s.")]
    Timeout { agent: String, secs: u64 },
    #[error("{0}")]
    Unprocessable(String),
    #[error("Too many events are waiting to be stored; retry shortly.")]
    Busy,
    #[error("Too many calls are waiting for a key lookup; retry shortly.")]
    KeyStoreBusy,
    #[error("Internal error while forwarding.")]
    Internal(String),
}

impl ForwardRouteError {
    /// How metrics name the outcome: a bounded set.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Refused(e) => e.reason().as_str(),
            Self::MethodNotAllowed => "method_not_allowed",
            Self::BadPath(_) => "bad_path",
            Self::TooLarge(_) => "too_large",
            Self::BadBody(_) => "bad_body",
            Self::Unreachable { .. } => "agent_unreachable",
            Self::Timeout { .. } => "agent_timeout",
            Self::Unprocessable(_) => "unprocessable",
            Self::Busy => "intake_busy",
            Self::KeyStoreBusy => "key_store_busy",
            Self::Internal(_) => "internal_error",
        }
    }
}

impl ResponseError for ForwardRouteError {
    fn status_code(&self) -> StatusCode {
        let code = match self {
            Self::Refused(e) => e.status(),
            Self::MethodNotAllowed => 405,
            Self::TooLarge(_) => 413,
            Self::BadPath(_) | Self::BadBody(_) => 400,
            Self::Unreachable { .. } => 502,
            Self::Timeout { .. } => 504,
            Self::Unprocessable(_) => 422,
            Self::Busy | Self::KeyStoreBusy => 503,
            Self::Internal(_) => 500,
        };
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::MethodNotAllowed = self {
            return HttpResponse::MethodNotAllowed()
                .insert_header((header::ALLOW, "GET, POST, PUT, PATCH, DELETE"))
                .finish();
        }
        HttpResponse::build(self.status_code())
            .json(serde_json::json!({ "detail": self.to_string() }))
    }
}

/// A fault inside hookgate, logged where it happened.
pub fn internal(reason: String) -> ForwardRouteError {
    tracing::error!(%reason, "forward failed inside hookgate");
    ForwardRouteError::Internal(reason)
}
