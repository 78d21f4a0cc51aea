//! The config file (issue 13): `serve --config`, `HOOKGATE_CONFIG`,
//! precedence flags > environment > file > defaults, unknown keys and bad
//! values refused naming the key, and `hookgate config` with secrets hidden.

use crate::cli::{assert_fails_with, hookgate, raw_call, run, wait_ready};
use std::collections::BTreeSet;
use std::process::{Output, Stdio};

const TOKEN: &str = "config-file-admin-token-0123456789abcdef";

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// The line of `hookgate config`'s report that sets `key`.
fn setting<'a>(report: &'a str, key: &str) -> &'a str {
    report
        .lines()
        .find(|l| l.starts_with(&format!("{key} = ")) || l.starts_with(&format!("# {key} = ")))
        .unwrap_or_else(|| panic!("{key} not reported:\n{report}"))
}

/// The keys a TOML text sets or shows commented out (`# key = …`).
fn keys(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(|l| l.trim_start_matches("# "))
        .filter_map(|l| l.split_once(" = ").map(|(k, _)| k))
        .filter(|k| k.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn flags_beat_environment_beat_file_beat_defaults() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hookgate.toml"),
        "forward_timeout_secs = 11\nretry_base_ms = 222\nmax_body_bytes = 333\n\
         agent_deny_nets = \"10.0.0.0/8,172.16.0.0/12\"\n",
    )
    .unwrap();
    let report = stdout(
        &hookgate(dir.path())
            .args([
                "config",
                "--config",
                "hookgate.toml",
                "--max-body-bytes",
                "666",
            ])
            .env("HOOKGATE_RETRY_BASE_MS", "444")
            .env("HOOKGATE_MAX_BODY_BYTES", "555")
            .output()
            .unwrap(),
    );
    assert_eq!(
        setting(&report, "forward_timeout_secs"),
        "forward_timeout_secs = 11  # config file"
    );
    assert_eq!(
        setting(&report, "retry_base_ms"),
        "retry_base_ms = 444  # HOOKGATE_RETRY_BASE_MS"
    );
    assert_eq!(
        setting(&report, "max_body_bytes"),
        "max_body_bytes = 666  # flag --max-body-bytes"
    );
    assert_eq!(
        setting(&report, "agent_deny_nets"),
        "agent_deny_nets = [\"10.0.0.0/8\", \"172.16.0.0/12\"]  # config file"
    );
    assert_eq!(
        setting(&report, "delivery_max_attempts"),
        "delivery_max_attempts = 15  # default"
    );
    assert_eq!(setting(&report, "public_url"), "# public_url = (unset)");
}

#[test]
fn secrets_print_as_stars_wherever_they_come_from() {
    let dir = tempfile::tempdir().unwrap();
    let master_key = "9C6uT8J1rQk0nW2yX5zA7bD3eF4gH6iJ8kL0mN2oP4Q=";
    std::fs::write(
        dir.path().join("hookgate.toml"),
        format!("admin_token = \"{TOKEN}\"\n"),
    )
    .unwrap();
    let report = stdout(
        &hookgate(dir.path())
            .args(["config"])
            .env("HOOKGATE_CONFIG", "hookgate.toml")
            .env("HOOKGATE_MASTER_KEY", master_key)
            .output()
            .unwrap(),
    );
    assert_eq!(
        setting(&report, "admin_token"),
        "admin_token = \"***\"  # config file"
    );
    assert_eq!(
        setting(&report, "master_key"),
        "master_key = \"***\"  # HOOKGATE_MASTER_KEY"
    );
    assert!(!report.contains(TOKEN) && !report.contains(master_key));
}

#[test]
fn unknown_keys_and_bad_values_stop_start_up_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "forward_timeout = 3\n",
            "unknown setting `forward_timeout` (did you mean `forward_timeout_secs`?)",
        ),
        (
            "[delivery]\nmax_attempts = 3\n",
            "unknown setting `delivery`",
        ),
        (
            "forward_timeout_secs = \"soon\"\n",
            "`forward_timeout_secs` = \"soon\" is not valid",
        ),
        (
            "metrics = \"maybe\"\n",
            "`metrics` = \"maybe\" is not valid",
        ),
        (
            "agent_deny_nets = [\"10.0.0.0/8\", \"nowhere\"]\n",
            "`agent_deny_nets` = \"nowhere\" is not valid",
        ),
        ("bind = \n", "not valid TOML"),
    ];
    for (text, needle) in cases {
        std::fs::write(dir.path().join("bad.toml"), text).unwrap();
        for command in ["serve", "config", "migrate"] {
            let output = run(dir.path(), &[command, "--config", "bad.toml"]);
            assert_fails_with(&output, &format!("bad.toml: {needle}"));
        }
    }
    assert_fails_with(
        &run(dir.path(), &["serve", "--config", "missing.toml"]),
        "cannot read the config file missing.toml",
    );
    assert!(
        !dir.path().join("hookgate.db").exists(),
        "a refused config file creates nothing"
    );
}

#[test]
fn serve_runs_with_the_file_settings() {
    let dir = tempfile::tempdir().unwrap();
    let port = crate::process::free_port();
    std::fs::write(
        dir.path().join("hookgate.toml"),
        format!(
            "bind = \"127.0.0.1:{port}\"\ndatabase_url = \"from-file.db\"\n\
             admin_token = \"{TOKEN}\"\nshutdown_delay_secs = 0\n"
        ),
    )
    .unwrap();
    let mut child = hookgate(dir.path())
        .args(["serve", "--config", "hookgate.toml"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_ready(port);
    let agents = |token: &str| {
        raw_call(
            port,
            &format!(
                "GET /agents HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: {token}\r\n\
                 Connection: close\r\n\r\n"
            ),
        )
    };
    let refused = agents("not-the-token");
    let allowed = agents(TOKEN);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    assert!(allowed.starts_with("HTTP/1.1 200"), "{allowed}");
    assert!(dir.path().join("from-file.db").exists());
    assert!(!dir.path().join("hookgate.db").exists());
}

/// The example file in the repository names every setting `serve` has,
/// and each of its values is accepted.
#[test]
fn the_example_file_covers_every_setting() {
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/hookgate.example.toml"
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let report = stdout(&run(dir.path(), &["config"]));
    assert_eq!(keys(&example), keys(&report));

    // Uncommented (but for the two placeholders), it is a valid file.
    let uncommented: String = example
        .lines()
        .filter_map(|l| l.strip_prefix("# "))
        .filter(|l| l.contains(" = ") && !l.contains('…'))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.path().join("example.toml"), &uncommented).unwrap();
    let report = stdout(&run(
        dir.path(),
        &["config", "--config", "example.toml", "--admin-token", TOKEN],
    ));
    for key in keys(&uncommented) {
        assert!(
            setting(&report, &key).ends_with("# config file"),
            "{key}: {report}"
        );
    }
}
