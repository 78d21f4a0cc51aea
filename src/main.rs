//! The `hookgate` command: `serve` (the daemon), `migrate` and `rekey`.

use clap::{Parser, Subcommand};
use hookgate::config::{DatabaseArgs, RekeyArgs, ServeArgs, Settings};
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
    /// Apply pending database migrations and exit.
    Migrate(DatabaseArgs),
    /// Encrypt the stored secrets under a new master key; running instances
    /// go on verifying, and need the new key only when they restart.
    Rekey(RekeyArgs),
}

/// Logs to stderr: text (the default), or with `HOOKGATE_LOG_FORMAT=json`
/// one JSON object per line for a log pipeline. Read before the flags, so
/// that parsing them can already log.
fn init_logging() -> Result<(), String> {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match std::env::var("HOOKGATE_LOG_FORMAT").as_deref() {
        Err(_) | Ok("text") => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        Ok("json") => logs
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .init(),
        Ok(other) => {
            return Err(format!(
                "HOOKGATE_LOG_FORMAT must be text or json, got {other:?}"
            ))
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    if let Err(e) = init_logging() {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    match run(Cli::parse()) {
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

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let settings = Settings::from_args(*args)?;
            actix::System::new().block_on(async move {
                let app = Application::build(settings)?;
                app.run_until_stopped().await?;
                anyhow::Ok(())
            })
        }
        Command::Migrate(db) => {
            let applied = hookgate::db::migrate(&db.database_url)?;
            println!("{applied} migration(s) applied");
            Ok(())
        }
        Command::Rekey(args) => {
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
    }
}
