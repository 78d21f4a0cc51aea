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
    #[error("{}", crate::routes::DATABASE_UNAVAILABLE)]
    DatabaseUnavailable,
    #[error(
        "The database is unavailable and the spool cannot take the call ({0}); retry shortly."
    )]
    SpoolFull(String),
    #[error("hookgate is shutting down; retry shortly.")]
    ShuttingDown,
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
            Self::DatabaseUnavailable => "database_unavailable",
            Self::SpoolFull(_) => "spool_full",
            Self::ShuttingDown => "shutting_down",
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
            Self::Busy
            | Self::KeyStoreBusy
            | Self::DatabaseUnavailable
            | Self::SpoolFull(_)
            | Self::ShuttingDown => 503,
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
        let mut answer = HttpResponse::build(self.status_code());
        if self.status_code() == StatusCode::SERVICE_UNAVAILABLE {
            // Nothing was stored: a provider that retries sends it again.
            answer.insert_header((
                header::RETRY_AFTER,
                crate::routes::RETRY_AFTER_SECS.to_string(),
            ));
        }
        answer.json(serde_json::json!({ "detail": self.to_string() }))
    }
}

/// The database did not answer: said once per call in the log, answered
/// 503 with `Retry-After`.
pub fn database_unavailable(reason: String) -> ForwardRouteError {
    tracing::warn!(%reason, "database unavailable; call refused with 503");
    ForwardRouteError::DatabaseUnavailable
}

/// Why intake could not commit a call.
pub fn intake_failed(failure: crate::queue::intake::IntakeFailure) -> ForwardRouteError {
    use crate::queue::intake::IntakeFailure;
    match failure {
        IntakeFailure::Busy => ForwardRouteError::Busy,
        IntakeFailure::Stopped => ForwardRouteError::ShuttingDown,
        IntakeFailure::Spool(why) => ForwardRouteError::SpoolFull(why),
        IntakeFailure::Db(e) if e.is_outage() => database_unavailable(e.to_string()),
        IntakeFailure::Db(e) => internal(e.to_string()),
    }
}

/// A fault inside hookgate, logged where it happened.
pub fn internal(reason: String) -> ForwardRouteError {
    tracing::error!(%reason, "forward failed inside hookgate");
    ForwardRouteError::Internal(reason)
}
