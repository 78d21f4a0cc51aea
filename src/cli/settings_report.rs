//! `hookgate config`: the settings `serve` would run with, as a TOML file
//! that could be given back to `--config`, each line saying where its value
//! came from. Secrets print as `***`.

use hookgate::config_file::{key_of, ConfigFile};

/// The report for the `config` subcommand's matches (its flags are
/// `serve`'s).
pub fn render(
    cmd: &clap::Command,
    matches: &clap::ArgMatches,
    file: Option<&ConfigFile>,
) -> String {
    let mut out = String::from(
        "# Effective settings of `hookgate serve`: flags > environment > config file > defaults.\n",
    );
    if let Some(file) = file {
        out.push_str(&format!("# Config file: {}\n", file.path.display()));
    }
    for arg in cmd.get_arguments() {
        let Some(key) = key_of(arg) else { continue };
        out.push_str(&line(arg, &key, matches, file));
        out.push('\n');
    }
    out
}

fn line(
    arg: &clap::Arg,
    key: &str,
    matches: &clap::ArgMatches,
    file: Option<&ConfigFile>,
) -> String {
    let id = arg.get_id().as_str();
    let values: Vec<String> = matches
        .get_raw(id)
        .map(|raw| raw.map(|v| v.to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    if values.is_empty() {
        return format!("# {key} = (unset)");
    }
    let value = if arg.is_hide_env_values_set() {
        toml::Value::String("***".into())
    } else if arg.get_value_delimiter().is_some() {
        toml::Value::Array(values.iter().map(|v| typed(v)).collect())
    } else {
        typed(&values[0])
    };
    format!("{key} = {value}  # {}", source(arg, matches, file))
}

/// Where a value came from, in the words an operator would look for.
fn source(arg: &clap::Arg, matches: &clap::ArgMatches, file: Option<&ConfigFile>) -> String {
    let id = arg.get_id().as_str();
    let long = arg.get_long().unwrap_or(id);
    match matches.value_source(id) {
        Some(clap::parser::ValueSource::CommandLine) => format!("flag --{long}"),
        Some(clap::parser::ValueSource::EnvVariable) => {
            arg.get_env().map_or("environment".into(), |env| {
                env.to_string_lossy().into_owned()
            })
        }
        _ if file.is_some_and(|f| f.sets(id)) => "config file".into(),
        _ => "default".into(),
    }
}

/// A value as TOML writes it: numbers and booleans bare, the rest quoted.
fn typed(value: &str) -> toml::Value {
    if let Ok(i) = value.parse::<i64>() {
        toml::Value::Integer(i)
    } else if let (true, Ok(f)) = (value.contains('.'), value.parse::<f64>()) {
        toml::Value::Float(f)
    } else if let Ok(b) = value.parse::<bool>() {
        toml::Value::Boolean(b)
    } else {
        toml::Value::String(value.to_owned())
    }
}
