//! The `hookgate` command: `serve` (the daemon), `config`, `migrate` and
//! `rekey`.

mod cli;

use clap::{Parser, Subcommand};
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
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
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
            cli::logging::init(&args.logs)?;
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
            let serve = <Cli as clap::CommandFactory>::command();
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
    }
}

fn rekey(args: RekeyArgs) -> anyhow::Result<()> {
    let url = args.database.database_url;
    let current = args.master_key.setting()?;
    let (pool, backend) = hookgate::db::connect(&url, 1)?;
    let mut conn = pool.get()?;
    let done = hookgate::master_key::rekey(
        &mut conn,
        &current,
        args.new_master_key.filter(|k| !k.expose().is_empty()),
        args.new_master_key_file,
        &url,
        backend,
    )?;
    println!("{done}");
    Ok(())
}
