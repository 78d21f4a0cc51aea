//! The `hookgate` command: `serve` (the daemon), `config`, `migrate`,
//! `rekey`, the admin client (`agents`, `keys`, `routes`, `deliveries`, `tasks`,
//! `send-test`, `tail`) and `completions`.

mod cli;

use clap::{CommandFactory, Parser, Subcommand};
use cli::admin::{self, Admin, Request, Single};
use hookgate::config::{MigrateArgs, RekeyArgs, ServeArgs, Settings};
use hookgate::startup::Application;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "hookgate", version, about = "Webhook gateway for AI agents")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (migrates the database first).
    Serve(Box<ServeArgs>),
    /// Print the settings `serve` would run with (secrets as ***), and
    /// where each comes from; takes the same flags, variables and file.
    Config(Box<ServeArgs>),
    /// Apply pending database migrations and exit.
    Migrate(MigrateArgs),
    /// Encrypt the stored secrets under a new master key; running instances
    /// go on verifying, and need the new key only when they restart.
    Rekey(RekeyArgs),
    /// Agents on a running hookgate: list, show, delete.
    Agents(Admin<admin::agents::AgentsCommand>),
    /// An agent's keys: create (the value printed once), list, rotate, delete.
    Keys(Admin<admin::keys::KeysCommand>),
    /// An agent's routes: create, list, delete.
    Routes(Admin<admin::routes::RoutesCommand>),
    /// Deliveries: list (with the API's filters), show, retry (or --bulk).
    Deliveries(Admin<admin::deliveries::DeliveriesCommand>),
    /// Tasks by their names (the rendered task keys): list.
    Tasks(Admin<admin::tasks::TasksCommand>),
    /// Send a sample event signed with the agent's key, as the provider
    /// would, and print hookgate's answer.
    SendTest(Single<admin::send_test::SendTestArgs>),
    /// Follow an agent's deliveries as they happen.
    Tail(Single<admin::tail::TailArgs>),
    /// Print a shell completion script.
    Completions(cli::completions::CompletionsArgs),
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<admin::CliError>() => {
            let failure = e.downcast_ref::<admin::CliError>().expect("checked");
            eprintln!("error: {failure}");
            ExitCode::from(failure.exit_code())
        }
        Err(e) => {
            // One line, whatever the driver's message looked like.
            let message = format!("{e:#}");
            eprintln!(
                "error: {}",
                message.split_whitespace().collect::<Vec<_>>().join(" ")
            );
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let parsed = cli::parse::parse::<Cli>("serve")?;
    match parsed.cli.command {
        Command::Serve(args) => {
            // Kept to the end: dropping it flushes the spans not yet sent.
            let _exporter = cli::logging::init(&args.logs)?;
            let settings = Settings::from_args(*args)?;
            actix::System::new().block_on(async move {
                let app = Application::build(settings)?;
                app.run_until_stopped().await?;
                anyhow::Ok(())
            })
        }
        Command::Config(args) => {
            Settings::from_args(*args)?;
            let (_, matches) = parsed.matches.subcommand().expect("a subcommand");
            let serve = Cli::command();
            let serve = serve.find_subcommand("serve").expect("serve exists");
            print!(
                "{}",
                cli::settings_report::render(serve, matches, parsed.file.as_ref())
            );
            Ok(())
        }
        Command::Migrate(args) => {
            cli::logging::init_from_env("info");
            let applied = hookgate::db::migrate(&args.database.database_url)?;
            println!("{applied} migration(s) applied");
            Ok(())
        }
        Command::Rekey(args) => {
            cli::logging::init_from_env("info");
            rekey(args)
        }
        Command::Completions(args) => {
            cli::completions::print(&args, Cli::command());
            Ok(())
        }
        Command::Agents(a) => admin_run(&a.remote, Request::Agents(a.command)),
        Command::Keys(a) => admin_run(&a.remote, Request::Keys(a.command)),
        Command::Routes(a) => admin_run(&a.remote, Request::Routes(a.command)),
        Command::Deliveries(a) => admin_run(&a.remote, Request::Deliveries(a.command)),
        Command::Tasks(a) => admin_run(&a.remote, Request::Tasks(a.command)),
        Command::SendTest(s) => admin_run(&s.remote, Request::SendTest(s.args)),
        Command::Tail(s) => admin_run(&s.remote, Request::Tail(s.args)),
    }
}

fn admin_run(remote: &admin::Remote, request: Request) -> anyhow::Result<()> {
    cli::logging::init_from_env("warn");
    Ok(admin::run(remote, request)?)
}

fn rekey(args: RekeyArgs) -> anyhow::Result<()> {
    let url = args.database.database_url;
    let current = args.master_key.setting()?;
    let (pool, backend) = hookgate::db::connect(&url, 1)?;
    let mut conn = pool.get()?;
    let new = hookgate::master_key::NewKeys {
        value: args.new_master_key.filter(|k| !k.expose().is_empty()),
        file: args.new_master_key_file,
        data_key: args.data_key,
    };
    let done = hookgate::master_key::rekey(&mut conn, &current, new, &url, backend)?;
    println!("{done}");
    Ok(())
}
