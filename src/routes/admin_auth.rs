//! The admin token rule: every route but the forward route, `/openapi.json`
//! and health needs the token when one is set (`/agents/register` too,
//! unless open registration is on), or an account key with its
//! `x-selected-account-id`. Each admitted request carries its [`Caller`]
//! (root for every request when no token is set and no account is
//! selected), so handlers narrow what it sees and registration can tell an
//! admin from a stranger.

use super::caller::Caller;
use super::errors::{run_db, AdminError};
use crate::db::{accounts, DbPool};
use crate::domain::{digest_hex, Secret};
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::AUTHORIZATION;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse, ResponseError};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Account-key look-ups in flight at once: each is a database query that
/// anyone can cause by sending a key, so they are bounded (503 beyond).
const ACCOUNT_LOOKUPS: usize = 32;

#[derive(Debug, Clone)]
pub struct AdminAuth {
    pub token: Option<Secret>,
    pub open_registration: bool,
    accounts: AccountKeys,
}

/// Finds the account an account key belongs to.
#[derive(Debug, Clone)]
struct AccountKeys {
    pool: DbPool,
    in_flight: Arc<Semaphore>,
}

impl AccountKeys {
    /// The account whose key `presented` is. Keys are looked up by their
    /// SHA-256: the index sees only the digest, never the key.
    async fn owner(&self, presented: &str) -> Result<Option<String>, AdminError> {
        let Ok(_permit) = self.in_flight.try_acquire() else {
            return Err(AdminError::Unavailable(
                "Too many account-key checks in flight; retry shortly.".into(),
            ));
        };
        let digest = digest_hex(presented);
        run_db(&self.pool, move |conn| {
            Ok(accounts::key_owner(conn, &digest)?)
        })
        .await
    }
}

impl AdminAuth {
    pub fn new(token: Option<Secret>, open_registration: bool, pool: DbPool) -> Self {
        Self {
            token,
            open_registration,
            accounts: AccountKeys {
                pool,
                in_flight: Arc::new(Semaphore::new(ACCOUNT_LOOKUPS)),
            },
        }
    }

    /// Routes that need no caller at all.
    fn is_open(req: &ServiceRequest) -> bool {
        super::is_public_path(req.path())
    }

    /// Registration reaches its handler without a caller when open, or when
    /// the request presents an agent key (an agent registering itself
    /// again): the handler then checks the key.
    fn is_open_registration(&self, req: &ServiceRequest) -> bool {
        req.path() == "/agents/register"
            && (self.open_registration || req.headers().contains_key("x-agent-api-key"))
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

    /// Who the request acts for; None when it presents nothing that admits
    /// it; an error when it selects an account with a key not of it.
    async fn identify(&self, req: &ServiceRequest) -> Result<Option<Caller>, AdminError> {
        let presented = self.presented(req);
        let selected = req.headers().get("x-selected-account-id");
        match &self.token {
            Some(token) if presented.is_some_and(|t| token.matches(t)) => {
                return Ok(Some(Caller::Root))
            }
            None if selected.is_none() => return Ok(Some(Caller::Root)),
            _ => {}
        }
        let Some(selected) = selected else {
            return Ok(None);
        };
        let account = selected
            .to_str()
            .ok()
            .and_then(|s| uuid::Uuid::parse_str(s.trim()).ok())
            .ok_or_else(|| {
                AdminError::Unauthorized(
                    "Header 'x-selected-account-id' must be an account id (a UUID).".into(),
                )
            })?
            .to_string();
        let Some(key) = presented.filter(|k| !k.is_empty()) else {
            return Err(AdminError::Unauthorized(format!(
                "Account {account} is selected but no account key was sent: send it in \
                 'x-api-key' or 'Authorization: Bearer'."
            )));
        };
        match self.accounts.owner(key).await? {
            Some(owner) if owner == account => Ok(Some(Caller::Account(owner))),
            Some(_) => Err(AdminError::Unauthorized(format!(
                "The account key does not belong to account {account}."
            ))),
            None => Err(AdminError::Unauthorized(format!(
                "Invalid account key for account {account}."
            ))),
        }
    }
}

pub async fn admin_auth(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let auth = req.app_data::<web::Data<AdminAuth>>().cloned();
    let caller = match auth {
        _ if AdminAuth::is_open(&req) => None,
        None => Some(Caller::Root),
        Some(auth) => match auth.identify(&req).await {
            Ok(Some(caller)) => Some(caller),
            Ok(None) if auth.is_open_registration(&req) => None,
            Ok(None) => return Ok(refuse(req, missing_token())),
            Err(refusal) => return Ok(refuse(req, refusal)),
        },
    };
    if let Some(caller) = caller {
        req.extensions_mut().insert(caller);
    }
    Ok(next.call(req).await?.map_into_left_body())
}

fn missing_token() -> AdminError {
    AdminError::Unauthorized(
        "Missing or invalid admin token: send 'x-api-key: TOKEN' or 'Authorization: Bearer TOKEN'."
            .into(),
    )
}

/// The contract's shape for an authentication refusal: `{"detail": …}`.
fn refuse<B>(req: ServiceRequest, refusal: AdminError) -> ServiceResponse<EitherBody<B>> {
    let response = HttpResponse::build(refusal.status_code())
        .json(serde_json::json!({ "detail": refusal.to_string() }));
    req.into_response(response).map_into_right_body()
}
