//! Queries on `accounts` and `account_api_keys`. An account key is stored
//! as the hex SHA-256 of its value only; the value is shown once.

use super::schema::{account_api_keys, accounts, agents};
use super::{agents as agent_rows, now, DbConnection, DbResult};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = accounts)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub created_at: chrono::NaiveDateTime,
}

/// An account key without its digest.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = account_api_keys)]
pub struct AccountKey {
    pub id: String,
    pub account_id: String,
    pub created_at: chrono::NaiveDateTime,
}

pub fn create(conn: &mut DbConnection, name: &str) -> QueryResult<Account> {
    let account = Account {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.to_owned(),
        created_at: now(),
    };
    diesel::insert_into(accounts::table)
        .values(&account)
        .execute(conn)?;
    Ok(account)
}

pub fn list(conn: &mut DbConnection, limit: i64, offset: i64) -> QueryResult<Vec<Account>> {
    accounts::table
        .order((accounts::created_at.asc(), accounts::id.asc()))
        .limit(limit)
        .offset(offset)
        .select(Account::as_select())
        .load(conn)
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Account>> {
    accounts::table
        .find(id)
        .select(Account::as_select())
        .first(conn)
        .optional()
}

/// Deletes the account, its keys and every agent it owns (with their keys,
/// routes and deliveries); returns how many agents went.
pub fn delete(conn: &mut DbConnection, account: &Account) -> DbResult<usize> {
    conn.transaction(|conn| {
        let owned: Vec<agent_rows::Agent> = agents::table
            .filter(agents::account_id.eq(&account.id))
            .select(agent_rows::Agent::as_select())
            .load(conn)?;
        for agent in &owned {
            agent_rows::delete(conn, agent)?;
        }
        diesel::delete(
            account_api_keys::table.filter(account_api_keys::account_id.eq(&account.id)),
        )
        .execute(conn)?;
        diesel::delete(accounts::table.find(&account.id)).execute(conn)?;
        Ok(owned.len())
    })
}

pub fn create_key(
    conn: &mut DbConnection,
    account_id: &str,
    digest: &str,
) -> QueryResult<AccountKey> {
    let key = AccountKey {
        id: uuid::Uuid::new_v4().to_string(),
        account_id: account_id.to_owned(),
        created_at: now(),
    };
    diesel::insert_into(account_api_keys::table)
        .values((
            account_api_keys::id.eq(&key.id),
            account_api_keys::account_id.eq(&key.account_id),
            account_api_keys::key_digest.eq(digest),
            account_api_keys::created_at.eq(key.created_at),
        ))
        .execute(conn)?;
    Ok(key)
}

pub fn list_keys(conn: &mut DbConnection, account_id: &str) -> QueryResult<Vec<AccountKey>> {
    account_api_keys::table
        .filter(account_api_keys::account_id.eq(account_id))
        .order((
            account_api_keys::created_at.asc(),
            account_api_keys::id.asc(),
        ))
        .select(AccountKey::as_select())
        .load(conn)
}

/// Deletes one key of the account; false when it has no such key.
pub fn delete_key(conn: &mut DbConnection, account_id: &str, key_id: &str) -> QueryResult<bool> {
    let gone = diesel::delete(
        account_api_keys::table
            .filter(account_api_keys::id.eq(key_id))
            .filter(account_api_keys::account_id.eq(account_id)),
    )
    .execute(conn)?;
    Ok(gone > 0)
}

/// The account whose key has this digest.
pub fn key_owner(conn: &mut DbConnection, digest: &str) -> QueryResult<Option<String>> {
    account_api_keys::table
        .filter(account_api_keys::key_digest.eq(digest))
        .select(account_api_keys::account_id)
        .first(conn)
        .optional()
}

/// The account that owns the agent (None: root's), or None when there is
/// no such agent.
pub fn owner_of_agent(
    conn: &mut DbConnection,
    agent_id: &str,
) -> QueryResult<Option<Option<String>>> {
    agents::table
        .find(agent_id)
        .select(agents::account_id)
        .first(conn)
        .optional()
}
