//! Who an admin request acts for. The admin-auth middleware decides it and
//! stores it in the request; handlers take it as an extractor and narrow
//! every lookup to what the caller may see. Another account's object is
//! answered exactly like a missing one (404), so ids cannot be probed.

use super::errors::AdminError;
use crate::db::accounts::owner_of_agent;
use crate::db::agents::Agent;
use crate::db::api_keys::KeyInfo;
use crate::db::deliveries::{Attempt, Delivery, Task};
use crate::db::routes::Route;
use crate::db::DbConnection;
use actix_web::{dev::Payload, FromRequest, HttpMessage, HttpRequest};
use std::future::{ready, Ready};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The admin token (or none configured): every object, and accounts.
    Root,
    /// An account key with its `x-selected-account-id`: that account's
    /// agents and what hangs off them, nothing else.
    Account(String),
}

impl FromRequest for Caller {
    type Error = AdminError;
    type Future = Ready<Result<Self, AdminError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(req.extensions().get::<Caller>().cloned().ok_or_else(|| {
            AdminError::Unauthorized("This route needs the admin token or an account key.".into())
        }))
    }
}

/// An object that belongs to one agent (and so to the agent's account).
pub trait OfAgent {
    fn agent_id(&self) -> &str;
}

impl OfAgent for KeyInfo {
    fn agent_id(&self) -> &str {
        &self.agent_id
    }
}

impl OfAgent for Route {
    fn agent_id(&self) -> &str {
        &self.agent_id
    }
}

impl OfAgent for Task {
    fn agent_id(&self) -> &str {
        &self.agent_id
    }
}

impl OfAgent for Delivery {
    fn agent_id(&self) -> &str {
        &self.agent_id
    }
}

impl OfAgent for (Delivery, Vec<Attempt>) {
    fn agent_id(&self) -> &str {
        &self.0.agent_id
    }
}

impl Caller {
    /// The account the caller is confined to; None for root.
    pub fn account(&self) -> Option<&str> {
        match self {
            Self::Root => None,
            Self::Account(id) => Some(id),
        }
    }

    /// Refuses an account caller: `what` needs the admin token.
    pub fn require_root(&self, what: &str) -> Result<(), AdminError> {
        match self {
            Self::Root => Ok(()),
            Self::Account(_) => Err(AdminError::Forbidden(format!(
                "{what} needs the admin token; an account key cannot do it."
            ))),
        }
    }

    pub fn may_see(&self, agent: &Agent) -> bool {
        self.owns(agent.account_id.as_deref())
    }

    fn owns(&self, owner: Option<&str>) -> bool {
        match self {
            Self::Root => true,
            Self::Account(id) => owner == Some(id.as_str()),
        }
    }

    /// `found` when it belongs to an agent the caller may see, else the
    /// `missing` error (the same answer as for an object that is not there).
    pub fn only_own<T: OfAgent>(
        &self,
        conn: &mut DbConnection,
        found: Option<T>,
        missing: impl FnOnce() -> AdminError,
    ) -> Result<T, AdminError> {
        let Some(found) = found else {
            return Err(missing());
        };
        if *self == Self::Root {
            return Ok(found);
        }
        match owner_of_agent(conn, found.agent_id())? {
            Some(owner) if self.owns(owner.as_deref()) => Ok(found),
            _ => Err(missing()),
        }
    }
}
