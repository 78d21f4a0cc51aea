//! The config file (`--config hookgate.toml`, `HOOKGATE_CONFIG`): a flat
//! TOML table whose keys are the long flags of `hookgate serve` in
//! snake_case (`forward_timeout_secs = 30`). Its values become the flags'
//! defaults, so clap's own order gives flags > environment > file >
//! built-in defaults, and every value is checked by the flag's own parser.

use crate::config::ConfigError;
use std::path::{Path, PathBuf};

/// Flags that are not settings: they cannot be set from a file.
const NOT_SETTINGS: [&str; 3] = ["config", "help", "version"];

/// A loaded config file: each key with the flag it sets and its values.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    pub path: PathBuf,
    entries: Vec<Entry>,
}

#[derive(Debug, Clone)]
struct Entry {
    /// The arg's id in clap (not always its long name).
    id: String,
    values: Vec<String>,
}

impl ConfigFile {
    /// Reads `path` and checks every key and value against `settings`, the
    /// command whose flags are the settings (`hookgate serve`).
    pub fn load(path: &Path, settings: &clap::Command) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(format!(
                "cannot read the config file {}: {e}",
                path.display()
            ))
        })?;
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            ConfigError::new(format!(
                "{}: not valid TOML: {}",
                path.display(),
                e.to_string().trim_end()
            ))
        })?;
        let in_file = |message: String| ConfigError::new(format!("{}: {message}", path.display()));
        let mut entries = Vec::with_capacity(table.len());
        for (key, value) in &table {
            let arg = setting(settings, key).ok_or_else(|| in_file(unknown_key(settings, key)))?;
            let mut values = scalars(key, value).map_err(&in_file)?;
            if let Some(delimiter) = arg.get_value_delimiter() {
                // A list may also be written as the variable is: "a,b".
                values = values
                    .iter()
                    .flat_map(|v| v.split(delimiter).map(str::to_owned))
                    .collect();
            }
            for v in &values {
                check_value(arg, key, v).map_err(&in_file)?;
            }
            entries.push(Entry {
                id: arg.get_id().to_string(),
                values,
            });
        }
        Ok(Self {
            path: path.to_owned(),
            entries,
        })
    }

    /// `cmd` with the file's values as the defaults of the flags it has
    /// (keys of settings another command has are left for that command).
    pub fn apply(&self, cmd: clap::Command) -> clap::Command {
        self.entries.iter().fold(cmd, |cmd, entry| {
            let has_it = cmd.get_arguments().any(|a| a.get_id() == entry.id.as_str());
            if !has_it {
                return cmd;
            }
            let values: Vec<clap::builder::OsStr> =
                entry.values.iter().map(|v| v.clone().into()).collect();
            cmd.mut_arg(&entry.id, |arg| arg.default_values(values))
        })
    }

    /// Whether the file sets the arg with this id.
    pub fn sets(&self, id: &str) -> bool {
        self.entries.iter().any(|e| e.id == id)
    }
}

/// The file key a flag is written as: its long name in snake_case.
pub fn key_of(arg: &clap::Arg) -> Option<String> {
    let long = arg.get_long()?;
    (!NOT_SETTINGS.contains(&long)).then(|| long.replace('-', "_"))
}

/// The flag a key names (snake_case or the flag's own kebab-case).
fn setting<'a>(settings: &'a clap::Command, key: &str) -> Option<&'a clap::Arg> {
    let long = key.replace('_', "-");
    settings
        .get_arguments()
        .find(|a| a.get_long() == Some(long.as_str()) && key_of(a).is_some())
}

fn unknown_key(settings: &clap::Command, key: &str) -> String {
    let closest = settings
        .get_arguments()
        .filter_map(key_of)
        .map(|known| (strsim::jaro_winkler(key, &known), known))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .filter(|(score, _)| *score > 0.8);
    match closest {
        Some((_, known)) => format!("unknown setting `{key}` (did you mean `{known}`?)"),
        None => format!(
            "unknown setting `{key}`; the settings are the long flags of `hookgate serve --help` \
             in snake_case"
        ),
    }
}

/// A TOML value as the strings clap would have read from the command line.
fn scalars(key: &str, value: &toml::Value) -> Result<Vec<String>, String> {
    let scalar = |v: &toml::Value| match v {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        other => Err(format!(
            "`{key}` must be a string, number or boolean (or a list of them), not a {}",
            other.type_str()
        )),
    };
    match value {
        toml::Value::Array(items) => items.iter().map(scalar).collect(),
        single => Ok(vec![scalar(single)?]),
    }
}

/// Runs the flag's own parser on a file value (by parsing it as that one
/// flag), so a bad one is refused at load naming its key.
fn check_value(arg: &clap::Arg, key: &str, value: &str) -> Result<(), String> {
    let long = arg.get_long().unwrap_or_default();
    clap::Command::new("hookgate")
        .no_binary_name(true)
        .arg(arg.clone())
        .try_get_matches_from([format!("--{long}={value}")])
        .map(drop)
        .map_err(|e| {
            let reason = e.to_string();
            let first = reason.lines().next().unwrap_or_default();
            format!(
                "`{key}` = {value:?} is not valid: {}",
                first.trim_start_matches("error: ")
            )
        })
}
