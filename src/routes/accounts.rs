//! `/accounts`: the root admin's accounts and their keys. An account key
//! (shown once, stored as a digest) with `x-selected-account-id` acts
//! inside its account; only the admin token reaches these routes.

use super::agents::Page;
use super::caller::Caller;
use super::errors::{run_change, run_db, AdminError};
use super::AppState;
use crate::db::accounts::{self, Account, AccountKey};
use crate::db::agents::utc;
use crate::db::{is_unique_violation, DbConnection};
use crate::domain::{digest_hex, generate_key, Revealed, Secret};
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What tells an account key apart from other secrets (and from the admin
/// token) in logs and secret scanners.
const ACCOUNT_KEY_PREFIX: &str = "hga_";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccountRequest {
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountResponse {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<Account> for AccountResponse {
    fn from(a: Account) -> Self {
        Self {
            id: a.id,
            name: a.name,
            created_at: utc(a.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedAccountResponse {
    #[serde(flatten)]
    pub account: AccountResponse,
    /// How many agents the account owned, deleted with it.
    pub deleted_agents: usize,
}

/// An account key without its value.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountKeyResponse {
    pub id: String,
    pub account_id: String,
    pub created_at: DateTime<Utc>,
}

impl From<AccountKey> for AccountKeyResponse {
    fn from(k: AccountKey) -> Self {
        Self {
            id: k.id,
            account_id: k.account_id,
            created_at: utc(k.created_at),
        }
    }
}

/// The creation answer: the only one that carries the value.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedAccountKeyResponse {
    #[serde(flatten)]
    pub key: AccountKeyResponse,
    /// Send as `x-api-key` with `x-selected-account-id`; shown only here.
    pub api_key: Revealed,
}

fn no_such_account(id: &str) -> AdminError {
    AdminError::NotFound(format!("Account with ID {id} not found."))
}

fn find(conn: &mut DbConnection, id: &str) -> Result<Account, AdminError> {
    accounts::find(conn, id)?.ok_or_else(|| no_such_account(id))
}

const MANAGING: &str = "Managing accounts";

#[utoipa::path(post, path = "/accounts", operation_id = "create_account", tag = "accounts",
    request_body = CreateAccountRequest,
    responses((status = 200, body = AccountResponse), (status = 403, description = "Not the admin token"),
              (status = 409, description = "An account has this name"), (status = 422, description = "Bad name")))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CreateAccountRequest>,
) -> Result<HttpResponse, AdminError> {
    caller.require_root(MANAGING)?;
    let name = body.into_inner().name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 255 {
        return Err(AdminError::Unprocessable(
            "Field 'name' must be 1 to 255 characters.".into(),
        ));
    }
    let account = run_db(&state.pool, move |conn| {
        accounts::create(conn, &name).map_err(|e| match is_unique_violation(&e) {
            true => AdminError::Conflict(format!("An account named '{name}' already exists.")),
            false => e.into(),
        })
    })
    .await?;
    tracing::info!(account.id = %account.id, "account created");
    Ok(HttpResponse::Ok().json(AccountResponse::from(account)))
}

#[utoipa::path(get, path = "/accounts", operation_id = "list_accounts", tag = "accounts", params(Page),
    responses((status = 200, body = [AccountResponse]), (status = 403, description = "Not the admin token")))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    page: web::Query<Page>,
) -> Result<HttpResponse, AdminError> {
    caller.require_root(MANAGING)?;
    let (limit, offset) = page.bounds()?;
    let found = run_db(&state.pool, move |conn| {
        Ok(accounts::list(conn, limit, offset)?)
    })
    .await?;
    let body: Vec<AccountResponse> = found.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(body))
}

#[utoipa::path(get, path = "/accounts/{id}", operation_id = "get_account", tag = "accounts",
    responses((status = 200, body = AccountResponse), (status = 404, description = "No such account")))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    caller.require_root(MANAGING)?;
    let id = id.into_inner();
    let account = run_db(&state.pool, move |conn| find(conn, &id)).await?;
    Ok(HttpResponse::Ok().json(AccountResponse::from(account)))
}

#[utoipa::path(delete, path = "/accounts/{id}", operation_id = "delete_account", tag = "accounts",
    responses((status = 200, body = DeletedAccountResponse,
        description = "The account, its keys and its agents (with their keys, routes and deliveries) are gone"),
              (status = 404, description = "No such account")))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    caller.require_root(MANAGING)?;
    let id = id.into_inner();
    let (account, deleted_agents) = run_change(&state, move |conn| {
        let account = find(conn, &id)?;
        let deleted = accounts::delete(conn, &account)?;
        Ok((account, deleted))
    })
    .await?;
    tracing::info!(account.id = %account.id, deleted_agents, "account deleted");
    Ok(HttpResponse::Ok().json(DeletedAccountResponse {
        account: account.into(),
        deleted_agents,
    }))
}

#[utoipa::path(post, path = "/accounts/{id}/api_keys", operation_id = "create_account_api_key", tag = "accounts",
    responses((status = 200, body = CreatedAccountKeyResponse), (status = 404, description = "No such account")))]
pub async fn create_key(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    caller.require_root(MANAGING)?;
    let id = id.into_inner();
    let value = Secret::new(format!("{ACCOUNT_KEY_PREFIX}{}", generate_key().expose()));
    let digest = digest_hex(value.expose());
    let key = run_db(&state.pool, move |conn| {
        let account = find(conn, &id)?;
        Ok(accounts::create_key(conn, &account.id, &digest)?)
    })
    .await?;
    tracing::info!(account.id = %key.account_id, key.id = %key.id, "account key created");
    Ok(HttpResponse::Ok().json(CreatedAccountKeyResponse {
        key: key.into(),
        api_key: Revealed(value),
    }))
}

#[utoipa::path(get, path = "/accounts/{id}/api_keys", operation_id = "list_account_api_keys", tag = "accounts",
    responses((status = 200, body = [AccountKeyResponse]), (status = 404, description = "No such account")))]
pub async fn list_keys(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    caller.require_root(MANAGING)?;
    let id = id.into_inner();
    let keys = run_db(&state.pool, move |conn| {
        let account = find(conn, &id)?;
        Ok(accounts::list_keys(conn, &account.id)?)
    })
    .await?;
    let body: Vec<AccountKeyResponse> = keys.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(body))
}

#[utoipa::path(delete, path = "/accounts/{id}/api_keys/{key_id}", operation_id = "delete_account_api_key", tag = "accounts",
    responses((status = 200, body = String), (status = 404, description = "No such account or key")))]
pub async fn delete_key(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    caller.require_root(MANAGING)?;
    let (id, key_id) = path.into_inner();
    let gone = key_id.clone();
    run_db(&state.pool, move |conn| {
        let account = find(conn, &id)?;
        match accounts::delete_key(conn, &account.id, &key_id)? {
            true => Ok(()),
            false => Err(AdminError::NotFound(format!(
                "Account key with ID {key_id} does not exist in account {id}."
            ))),
        }
    })
    .await?;
    tracing::info!(key.id = %gone, "account key deleted");
    Ok(HttpResponse::Ok().json(format!("Account key with ID {gone} deleted")))
}
