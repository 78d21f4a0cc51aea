//! The admin token rule: every route but the forward route, `/openapi.json`
//! and health needs the token when one is set (`/agents/register` too,
//! unless open registration is on). A request the token admits (every
//! request when none is set) carries `AdminCaller`, so a route that is also
//! open to others (registration) can tell an admin from a stranger.

use crate::domain::Secret;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::AUTHORIZATION;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse};

/// Marks a request made with the admin token (or with none configured).
#[derive(Debug, Clone, Copy)]
pub struct AdminCaller;

#[derive(Debug, Clone)]
pub struct AdminAuth {
    pub token: Option<Secret>,
    pub open_registration: bool,
}

impl AdminAuth {
    /// Routes that reach their handler without the token. Registration
    /// does when open, or when the caller presents an agent key (an agent
    /// registering itself again): the handler then checks the key.
    fn is_public(&self, req: &ServiceRequest) -> bool {
        let path = req.path();
        matches!(path, "/healthz" | "/readyz" | "/openapi.json")
            || path.starts_with("/agents/forward/")
            || (path == "/agents/register"
                && (self.open_registration || req.headers().contains_key("x-agent-api-key")))
    }

    fn presented<'a>(&self, req: &'a ServiceRequest) -> Option<&'a str> {
        let headers = req.headers();
        if let Some(v) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
            return Some(v.trim());
        }
        let auth = headers.get(AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = auth.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    }
}

pub async fn admin_auth(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let (admin, public) = match req.app_data::<web::Data<AdminAuth>>() {
        Some(auth) => match &auth.token {
            None => (true, true),
            Some(token) => (
                auth.presented(&req).is_some_and(|t| token.matches(t)),
                auth.is_public(&req),
            ),
        },
        None => (true, true),
    };
    if admin {
        req.extensions_mut().insert(AdminCaller);
    }
    if admin || public {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let response = HttpResponse::Unauthorized().json(serde_json::json!({
        "detail": "Missing or invalid admin token: send 'x-api-key: TOKEN' or 'Authorization: Bearer TOKEN'."
    }));
    Ok(req.into_response(response).map_into_right_body())
}
