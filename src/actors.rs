//! The actors of one webhook's path: [`VerifierActor`] authenticates it,
//! consulting [`KeyStoreActor`] (Diesel on the blocking pool), and the agent's
//! [`ForwarderActor`], found through a [`ForwarderRegistry`], delivers it.

pub mod card_reader;
pub mod forwarder;
pub mod key_store;
pub mod verifier;

pub use forwarder::{ForwarderActor, ForwarderRegistry};
pub use key_store::KeyStoreActor;
pub use verifier::VerifierActor;
