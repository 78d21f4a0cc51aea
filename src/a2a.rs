//! A2A (Agent2Agent) as hookgate speaks it to agents: reading an Agent
//! Card for its JSON-RPC interface (`card.rs`), and the `SendMessage` (1.0)
//! or `message/send` (0.3) call that carries one event (`message.rs`).
//! Pure: the reading and sending are the callers' (`actors`, `queue`).

pub mod card;
pub mod message;

/// The path where A2A agents publish their card.
pub const WELL_KNOWN_CARD_PATH: &str = "/.well-known/agent-card.json";
