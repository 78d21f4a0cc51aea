//! The command line's parts that are not the daemon: parsing with the
//! config file, logging set-up and the `config` report.

pub mod logging;
pub mod parse;
pub mod settings_report;
