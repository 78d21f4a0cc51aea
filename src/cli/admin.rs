//! The admin CLI: `hookgate agents|keys|routes|deliveries|tasks|send-test|tail`
//! talk to a running hookgate over its HTTP admin API (`--url`,
//! `HOOKGATE_URL`; token from `HOOKGATE_ADMIN_TOKEN`).

pub mod agents;
pub mod client;
pub mod deliveries;
pub mod keys;
pub mod output;
pub mod remote_url;
pub mod routes;
pub mod send_test;
pub mod tail;
pub mod tasks;

pub use client::{CliError, Remote};

/// A command group (`agents list`, …) with where hookgate is.
#[derive(Debug, clap::Args)]
pub struct Admin<C: clap::Subcommand> {
    #[command(flatten)]
    pub remote: Remote,
    #[command(subcommand)]
    pub command: C,
}

/// A single command (`send-test`, `tail`) with where hookgate is.
#[derive(Debug, clap::Args)]
pub struct Single<A: clap::Args> {
    #[command(flatten)]
    pub remote: Remote,
    #[command(flatten)]
    pub args: A,
}

/// What the admin CLI can be asked.
pub enum Request {
    Agents(agents::AgentsCommand),
    Keys(keys::KeysCommand),
    Routes(routes::RoutesCommand),
    Deliveries(deliveries::DeliveriesCommand),
    Tasks(tasks::TasksCommand),
    SendTest(send_test::SendTestArgs),
    Tail(tail::TailArgs),
}

/// Runs one admin command to its end.
pub fn run(remote: &Remote, request: Request) -> Result<(), CliError> {
    let json = remote.json;
    actix_web::rt::System::new().block_on(async move {
        let api = client::Api::new(remote)?;
        match request {
            Request::Agents(c) => agents::run(&api, c, json).await,
            Request::Keys(c) => keys::run(&api, c, json).await,
            Request::Routes(c) => routes::run(&api, c, json).await,
            Request::Deliveries(c) => deliveries::run(&api, c, json).await,
            Request::Tasks(c) => tasks::run(&api, c, json).await,
            Request::SendTest(a) => send_test::run(&api, a, json).await,
            Request::Tail(a) => tail::run(&api, a, json).await,
        }
    })
}
