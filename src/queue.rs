//! The queue: the deliveries table and the workers that fill and drain it.
//! An accepted call is committed by the [`intake::IntakeWriter`] (group
//! commit) before its 202; the [`dispatcher::DispatcherActor`] claims task
//! heads there is room for, hands each to the agent's `ForwarderActor` for
//! one [`attempt`], and records the outcome; the [`spool`] keeps accepted
//! calls on local disk while the database is away; the [`circuit`] pauses an agent
//! that keeps failing; [`retention`] purges what is finished. The SQL lives
//! in `db::deliveries`; nothing durable lives only here.

pub mod attempt;
pub mod circuit;
pub mod dispatcher;
pub mod intake;
pub mod retention;
pub mod spool;

pub use dispatcher::{DispatcherActor, Wake};
pub use intake::IntakeWriter;
