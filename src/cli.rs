//! The command line's parts that are not the daemon: parsing with the
//! config file, logging set-up, the `config` report, the admin client and
//! shell completions.

pub mod admin;
pub mod completions;
pub mod logging;
pub mod parse;
pub mod settings_report;
