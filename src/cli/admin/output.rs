//! How the admin CLI prints: aligned tables and `key: value` lines for
//! people, the API's own JSON with `--json` for scripts.

use serde_json::Value;

/// Prints `value` as pretty JSON (a command's whole output, hence Ok).
pub fn json(value: &Value) -> Result<(), super::CliError> {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON values print")
    );
    Ok(())
}

/// A short answer (a deletion's message): as JSON, or as its text.
pub fn said(value: &Value, as_json: bool) -> Result<(), super::CliError> {
    match as_json {
        true => json(value),
        false => {
            println!("{}", text(value));
            Ok(())
        }
    }
}

/// A field of a JSON object as table text: strings bare, null as `-`.
pub fn field(object: &Value, key: &str) -> String {
    text(&object[key])
}

pub fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(s) if s.is_empty() => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Columns aligned to their widest cell; the last column is not padded.
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| match i == last {
                true => (*c).to_owned(),
                false => format!("{c:<width$}", width = widths[i]),
            })
            .collect();
        println!("{}", padded.join("  "));
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// A table of JSON objects: one row each, the given fields as columns.
pub fn objects(items: &[Value], columns: &[(&str, &str)]) {
    let headers: Vec<&str> = columns.iter().map(|(header, _)| *header).collect();
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|item| columns.iter().map(|(_, key)| field(item, key)).collect())
        .collect();
    table(&headers, &rows);
}

/// `key: value` lines of an object's fields, in the order given.
pub fn details(object: &Value, keys: &[&str]) {
    let width = keys.iter().map(|k| k.len()).max().unwrap_or(0);
    for key in keys {
        println!(
            "{:<width$}  {}",
            format!("{key}:"),
            field(object, key),
            width = width + 1
        );
    }
}

/// An array answer's items.
pub fn items(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// The key types a caller may name, from hookgate's registry (its own
/// `internal` keys aside): clap lists them in `--help` and refuses others.
pub fn key_types() -> clap::builder::PossibleValuesParser {
    let kinds = hookgate::verify::providers::kinds()
        .filter(|k| *k != hookgate::domain::KeyKind::INTERNAL)
        .map(|k| k.as_str());
    clap::builder::PossibleValuesParser::new(kinds)
}
