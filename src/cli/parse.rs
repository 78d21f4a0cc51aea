//! Parses the command line with the config file in its place: flags >
//! environment > file > defaults. A first pass finds `--config` (or
//! `HOOKGATE_CONFIG`); the file's values then become the flags' defaults
//! and the command line is parsed again.

use hookgate::config::ConfigError;
use hookgate::config_file::ConfigFile;

/// The parsed command line, its raw matches and the config file read.
pub struct Parsed<T> {
    pub cli: T,
    pub matches: clap::ArgMatches,
    pub file: Option<ConfigFile>,
}

/// Parses `T` (exiting with clap's message on a usage error, as clap does),
/// applying the config file the invoked subcommand names. `settings` is
/// the subcommand whose flags are the settings a file may hold.
pub fn parse<T: clap::Parser>(settings: &str) -> Result<Parsed<T>, ConfigError> {
    let cmd = T::command();
    let first = cmd.clone().get_matches();
    let Some((name, sub)) = first.subcommand() else {
        return finish(first, None);
    };
    let path = sub
        .try_get_one::<std::path::PathBuf>("config")
        .ok()
        .flatten();
    let Some(path) = path else {
        return finish(first, None);
    };
    let known = cmd
        .find_subcommand(settings)
        .expect("the settings subcommand exists")
        .clone();
    let file = ConfigFile::load(path, &known)?;
    let name = name.to_owned();
    let matches = cmd
        .mut_subcommand(&name, |sub| file.apply(sub))
        .get_matches();
    finish(matches, Some(file))
}

fn finish<T: clap::FromArgMatches>(
    matches: clap::ArgMatches,
    file: Option<ConfigFile>,
) -> Result<Parsed<T>, ConfigError> {
    let cli = T::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    Ok(Parsed { cli, matches, file })
}
