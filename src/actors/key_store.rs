//! `KeyStoreActor`: the verifier's window on the database. Runs on a
//! `SyncArbiter`, so blocking Diesel calls never touch the async workers.

use crate::db::routes::{self, Route};
use crate::db::{agents, agents::Agent, api_keys, DbError, DbPool};
use crate::domain::{KeyKind, Secret};
use actix::prelude::*;

pub struct KeyStoreActor {
    pool: DbPool,
}

impl KeyStoreActor {
    /// Starts `threads` actors sharing the pool; the address balances between them.
    pub fn start(pool: DbPool, threads: usize) -> Addr<Self> {
        SyncArbiter::start(threads, move || Self { pool: pool.clone() })
    }
}

impl Actor for KeyStoreActor {
    type Context = SyncContext<Self>;
}

/// The agent registered under `name`, with its routes, if any.
#[derive(Message)]
#[rtype(result = "Result<Option<(Agent, Vec<Route>)>, DbError>")]
pub struct LookupAgent {
    pub name: String,
}

impl Handler<LookupAgent> for KeyStoreActor {
    type Result = Result<Option<(Agent, Vec<Route>)>, DbError>;

    fn handle(&mut self, msg: LookupAgent, _: &mut Self::Context) -> Self::Result {
        let mut conn = self.pool.get()?;
        let Some(agent) = agents::find_by_name(&mut conn, &msg.name)? else {
            return Ok(None);
        };
        let routes = routes::list(&mut conn, &agent.id)?;
        Ok(Some((agent, routes)))
    }
}

/// Whether `digest` (of a presented key) is that of a live external key of the agent.
#[derive(Message)]
#[rtype(result = "Result<bool, DbError>")]
pub struct CheckExternalKey {
    pub agent_id: String,
    pub digest: String,
}

impl Handler<CheckExternalKey> for KeyStoreActor {
    type Result = Result<bool, DbError>;

    fn handle(&mut self, msg: CheckExternalKey, _: &mut Self::Context) -> Self::Result {
        let mut conn = self.pool.get()?;
        Ok(api_keys::external_digest_matches(
            &mut conn,
            &msg.agent_id,
            &msg.digest,
        )?)
    }
}

/// The agent's signing secret of `kind` named `name`.
#[derive(Message)]
#[rtype(result = "Result<Option<Secret>, DbError>")]
pub struct FindSigningSecret {
    pub agent_id: String,
    pub kind: KeyKind,
    pub name: String,
}

impl Handler<FindSigningSecret> for KeyStoreActor {
    type Result = Result<Option<Secret>, DbError>;

    fn handle(&mut self, msg: FindSigningSecret, _: &mut Self::Context) -> Self::Result {
        let mut conn = self.pool.get()?;
        Ok(api_keys::find_secret(
            &mut conn,
            &msg.agent_id,
            msg.kind,
            &msg.name,
        )?)
    }
}
