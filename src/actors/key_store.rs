//! `KeyStoreActor`: the verifier's window on the database. Runs on a
//! `SyncArbiter`, so blocking Diesel calls never touch the async workers.

use crate::crypto::DataKey;
use crate::db::routes::{self, Route};
use crate::db::{agents, agents::Agent, api_keys, DbError, DbPool};
use crate::domain::{KeyKind, LiveUntil, TimedSecret};
use actix::prelude::*;
use std::sync::Arc;

pub struct KeyStoreActor {
    pool: DbPool,
    data_key: Arc<DataKey>,
}

impl KeyStoreActor {
    /// Starts `threads` actors sharing the pool; the address balances between them.
    pub fn start(pool: DbPool, data_key: Arc<DataKey>, threads: usize) -> Addr<Self> {
        SyncArbiter::start(threads, move || Self {
            pool: pool.clone(),
            data_key: data_key.clone(),
        })
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

/// Until when the agent's key of digest-only `kind` with this `digest` (of
/// a presented value) verifies; `None` when it does not.
#[derive(Message)]
#[rtype(result = "Result<Option<LiveUntil>, DbError>")]
pub struct CheckKeyDigest {
    pub agent_id: String,
    pub kind: KeyKind,
    pub digest: String,
}

impl Handler<CheckKeyDigest> for KeyStoreActor {
    type Result = Result<Option<LiveUntil>, DbError>;

    fn handle(&mut self, msg: CheckKeyDigest, _: &mut Self::Context) -> Self::Result {
        let mut conn = self.pool.get()?;
        Ok(api_keys::digest_live_until(
            &mut conn,
            &msg.agent_id,
            msg.kind,
            &msg.digest,
        )?)
    }
}

/// The live secret versions of the agent's keys of `kind` (of the key
/// `name`, when the payload names one).
#[derive(Message)]
#[rtype(result = "Result<Vec<TimedSecret>, DbError>")]
pub struct FindSecrets {
    pub agent_id: String,
    pub kind: KeyKind,
    pub name: Option<String>,
}

impl Handler<FindSecrets> for KeyStoreActor {
    type Result = Result<Vec<TimedSecret>, DbError>;

    fn handle(&mut self, msg: FindSecrets, _: &mut Self::Context) -> Self::Result {
        let mut conn = self.pool.get()?;
        api_keys::live_secrets(
            &mut conn,
            &self.data_key,
            &msg.agent_id,
            msg.kind,
            msg.name.as_deref(),
        )
    }
}
