//! `KeyStoreActor`: the verifier's window on the database. Each query runs
//! on the blocking pool (`db::blocking`), so Diesel never touches the async
//! workers; the verifier bounds how many wait at once.

use crate::crypto::DataKey;
use crate::db::routes::{self, Route};
use crate::db::{agents, agents::Agent, api_keys, blocking, DbError, DbPool};
use crate::domain::{KeyKind, LiveKey, TimedSecret};
use actix::prelude::*;
use std::sync::Arc;

pub struct KeyStoreActor {
    pool: DbPool,
    data_key: Arc<DataKey>,
}

impl KeyStoreActor {
    pub fn start(pool: DbPool, data_key: Arc<DataKey>) -> Addr<Self> {
        Self { pool, data_key }.start()
    }
}

impl Actor for KeyStoreActor {
    type Context = Context<Self>;
}

/// The agent registered under `name`, with its routes, if any.
#[derive(Message)]
#[rtype(result = "Result<Option<(Agent, Vec<Route>)>, DbError>")]
pub struct LookupAgent {
    pub name: String,
}

impl Handler<LookupAgent> for KeyStoreActor {
    type Result = ResponseFuture<Result<Option<(Agent, Vec<Route>)>, DbError>>;

    fn handle(&mut self, msg: LookupAgent, _: &mut Self::Context) -> Self::Result {
        let pool = self.pool.clone();
        Box::pin(async move {
            blocking::with_conn(&pool, move |conn| {
                let Some(agent) = agents::find_by_name(conn, &msg.name)? else {
                    return Ok(None);
                };
                let routes = routes::list(conn, &agent.id)?;
                Ok(Some((agent, routes)))
            })
            .await
        })
    }
}

/// Until when the agent's key of digest-only `kind` with this `digest` (of
/// a presented value) verifies; `None` when it does not.
#[derive(Message)]
#[rtype(result = "Result<Option<LiveKey>, DbError>")]
pub struct CheckKeyDigest {
    pub agent_id: String,
    pub kind: KeyKind,
    pub digest: String,
}

impl Handler<CheckKeyDigest> for KeyStoreActor {
    type Result = ResponseFuture<Result<Option<LiveKey>, DbError>>;

    fn handle(&mut self, msg: CheckKeyDigest, _: &mut Self::Context) -> Self::Result {
        let pool = self.pool.clone();
        Box::pin(async move {
            blocking::with_conn(&pool, move |conn| {
                let CheckKeyDigest {
                    agent_id,
                    kind,
                    digest,
                } = msg;
                Ok(api_keys::digest_live_until(conn, &agent_id, kind, &digest)?)
            })
            .await
        })
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
    type Result = ResponseFuture<Result<Vec<TimedSecret>, DbError>>;

    fn handle(&mut self, msg: FindSecrets, _: &mut Self::Context) -> Self::Result {
        let (pool, data_key) = (self.pool.clone(), self.data_key.clone());
        Box::pin(async move {
            blocking::with_conn(&pool, move |conn| {
                let name = msg.name.as_deref();
                api_keys::live_secrets(conn, &data_key, &msg.agent_id, msg.kind, name)
            })
            .await
        })
    }
}
