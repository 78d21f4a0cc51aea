//! Who is registering an agent, and what they may register: the admin
//! anything, an account its own agents and free names, anyone else (open
//! registration) a new agent, or an existing one by its own internal key.

use crate::crypto::DataKey;
use crate::db::{agents, api_keys, DbConnection};
use crate::domain::{AgentName, Secret};
use crate::routes::admin_auth::AdminAuth;
use crate::routes::caller::Caller;
use crate::routes::errors::AdminError;
use actix_web::{web, HttpMessage, HttpRequest};

/// Who is registering: the admin may create or change any agent; an
/// account creates agents in itself and changes its own; anyone else (open
/// registration) may create a new agent, or change an existing one by
/// presenting its internal key in `x-agent-api-key`, as the Agentex SDK
/// does when it registers again with `AGENT_API_KEY` set.
pub(super) enum Registrant {
    Admin,
    Account(String),
    Other {
        agent_key: Option<Secret>,
        /// Open registration: new agents may be created.
        may_create: bool,
    },
}

impl Registrant {
    pub(super) fn of(req: &HttpRequest) -> Self {
        match req.extensions().get::<Caller>() {
            Some(Caller::Root) => return Self::Admin,
            Some(Caller::Account(id)) => return Self::Account(id.clone()),
            None => {}
        }
        let agent_key = req
            .headers()
            .get("x-agent-api-key")
            .and_then(|v| v.to_str().ok())
            .map(|v| Secret::new(v.trim().to_owned()));
        let may_create = req
            .app_data::<web::Data<AdminAuth>>()
            .is_some_and(|auth| auth.open_registration);
        Self::Other {
            agent_key,
            may_create,
        }
    }

    /// The account new agents of this registrant belong to.
    pub(super) fn account(&self) -> Option<&str> {
        match self {
            Self::Account(id) => Some(id),
            _ => None,
        }
    }

    /// Refuses a change to an existing agent the registrant cannot prove
    /// is theirs; nothing is written and no key is returned.
    pub(super) fn may_register(
        &self,
        conn: &mut DbConnection,
        data_key: &DataKey,
        name: &AgentName,
    ) -> Result<(), AdminError> {
        let (agent_key, may_create) = match self {
            Self::Admin => return Ok(()),
            Self::Account(id) => return Self::account_may_register(conn, id, name),
            Self::Other {
                agent_key,
                may_create,
            } => (agent_key, may_create),
        };
        let Some(existing) = agents::find_by_name(conn, name.as_str())? else {
            return match may_create {
                true => Ok(()),
                false => Err(AdminError::Unauthorized(format!(
                    "Agent '{}' is not registered: creating an agent needs the admin token.",
                    name.as_str()
                ))),
            };
        };
        let Some(presented) = agent_key else {
            return Err(AdminError::Conflict(format!(
                "Agent '{name}' is already registered. Registering it again needs the admin \
                 token, or the agent's own key (returned when it was first registered) in \
                 'x-agent-api-key'.",
                name = name.as_str()
            )));
        };
        let own = api_keys::find_internal_secret(conn, data_key, &existing.id)?;
        if own.is_some_and(|own| own.matches(presented.expose())) {
            return Ok(());
        }
        Err(AdminError::Unauthorized(format!(
            "Invalid agent key for agent '{}': 'x-agent-api-key' must be the key returned \
             when it was first registered.",
            name.as_str()
        )))
    }
}

impl Registrant {
    /// Agent names are global (the forward route names no account): an
    /// account may take a free name or change its own agent, nothing else.
    fn account_may_register(
        conn: &mut DbConnection,
        account: &str,
        name: &AgentName,
    ) -> Result<(), AdminError> {
        match agents::find_by_name(conn, name.as_str())? {
            Some(existing) if existing.account_id.as_deref() != Some(account) => {
                Err(AdminError::Conflict(format!(
                    "Agent name '{}' is already taken; agent names are unique across accounts.",
                    name.as_str()
                )))
            }
            _ => Ok(()),
        }
    }
}
