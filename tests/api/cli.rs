//! The `hookgate` binary: start-up errors, the default SQLite file, migrate,
//! and a graceful SIGTERM.

use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn hookgate(dir: &std::path::Path) -> Command {
    let mut cmd = crate::helpers::hookgate_command();
    cmd.current_dir(dir);
    cmd
}

pub fn run(dir: &std::path::Path, args: &[&str]) -> Output {
    hookgate(dir).args(args).output().expect("hookgate runs")
}

pub fn assert_fails_with(output: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "should fail: {stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: ") && last.contains(needle),
        "{stderr}"
    );
}

#[test]
fn bad_settings_fail_fast_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    assert_fails_with(
        &run(dir.path(), &["serve", "--bind", "localhost:port"]),
        "HOOKGATE_BIND",
    );
    assert_fails_with(
        &run(dir.path(), &["serve", "--bind", "0.0.0.0:0"]),
        "HOOKGATE_ADMIN_TOKEN",
    );
    let short = run(
        dir.path(),
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--admin-token",
            "only-twenty-one-chars",
        ],
    );
    assert_fails_with(&short, "at least 32");
    assert!(
        !String::from_utf8_lossy(&short.stderr).contains("only-twenty-one-chars"),
        "the token is not printed"
    );
    let xml = hookgate(dir.path())
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("HOOKGATE_LOG_FORMAT", "xml")
        .output()
        .unwrap();
    assert_fails_with(&xml, "HOOKGATE_LOG_FORMAT");
    let no_ca = dir.path().join("missing-ca.pem");
    assert_fails_with(
        &run(
            dir.path(),
            &[
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--agent-ca-file",
                no_ca.to_str().unwrap(),
            ],
        ),
        "HOOKGATE_AGENT_CA_FILE",
    );
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let pg = format!("postgres://postgres:pw@127.0.0.1:{closed}/none");
    let out = run(
        dir.path(),
        &["serve", "--bind", "127.0.0.1:0", "--database-url", &pg],
    );
    assert_fails_with(&out, "cannot open database");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains(":pw@"),
        "passwords are not printed"
    );
    let missing_dir = dir.path().join("no/such/dir/h.db");
    let out = run(
        dir.path(),
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--database-url",
            missing_dir.to_str().unwrap(),
        ],
    );
    assert_fails_with(&out, "cannot open database");
    let out = hookgate(dir.path())
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("HOOKGATE_FORWARD_TIMEOUT_SECS", "soon")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("forward-timeout-secs"));
    assert!(
        !dir.path().join("hookgate.db").exists(),
        "nothing was created by failed starts"
    );
}

#[test]
fn migrate_applies_pending_migrations_once() {
    let dir = tempfile::tempdir().unwrap();
    let first = run(dir.path(), &["migrate", "--database-url", "m.db"]);
    assert!(first.status.success(), "{first:?}");
    let applied: usize = String::from_utf8_lossy(&first.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(applied > 0);
    let second = run(dir.path(), &["migrate", "--database-url", "m.db"]);
    assert!(
        String::from_utf8_lossy(&second.stdout).starts_with("0 "),
        "{second:?}"
    );
}

#[test]
fn serve_creates_a_wal_sqlite_file_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = hookgate(dir.path())
        .arg("serve")
        .env("HOOKGATE_BIND", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_ready(port);
    let db = dir.path().join("hookgate.db");
    assert!(db.exists());
    let mut bytes = [0u8; 20];
    use std::io::Read;
    std::fs::File::open(&db)
        .unwrap()
        .read_exact(&mut bytes)
        .unwrap();
    assert_eq!(bytes[18], 2, "file format write version 2 means WAL mode");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(40);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "hookgate did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
}

/// `hookgate serve` on a free loopback port in `dir`, with `env`, its
/// stderr captured; returns once it is ready.
fn serve_logging(dir: &std::path::Path, env: &[(&str, &str)]) -> (std::process::Child, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = hookgate(dir)
        .arg("serve")
        .env("HOOKGATE_BIND", format!("127.0.0.1:{port}"))
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_ready(port);
    (child, port)
}

/// SIGTERM, then everything the process logged.
fn stop_and_read_logs(child: std::process::Child) -> String {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn logs_never_show_keys_secrets_signatures_or_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let (child, port) = serve_logging(dir.path(), &[("RUST_LOG", "trace")]);
    let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
    let agent_url = format!("http://{}", upstream.local_addr().unwrap());
    drop(upstream); // the agent is down: the failure path gets logged too
    let call = |method: &str, path: &str, headers: &[(&str, &str)], body: &str| {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (n, v) in headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        raw_call(port, &format!("{head}\r\n{body}"))
    };
    let json = [("content-type", "application/json")];
    let registered = call(
        "POST",
        "/agents/register",
        &json,
        &format!(r#"{{"name":"a","acp_url":"{agent_url}"}}"#),
    );
    let internal = registered.split("\"agent_api_key\":\"").nth(1).unwrap()[..64].to_owned();
    let api_key = "EXTERNAL-KEY-3f9a1c";
    let secret = "GITHUB-SECRET-77e0b2";
    call(
        "POST",
        "/agent_api_keys",
        &json,
        &format!(r#"{{"agent_name":"a","name":"k","api_key":"{api_key}"}}"#),
    );
    let github = call(
        "POST",
        "/agent_api_keys",
        &json,
        &format!(
            r#"{{"agent_name":"a","name":"o/r","api_key_type":"github","api_key":"{secret}"}}"#
        ),
    );
    let github_id = github.split("\"id\":\"").nth(1).unwrap()[..36].to_owned();
    let created = call(
        "POST",
        "/agent_api_keys",
        &json,
        r#"{"agent_name":"a","name":"g","api_key_type":"gitlab","api_key":"GITLAB-TOKEN-9b3d"}"#,
    );
    let gitlab_id = created.split("\"id\":\"").nth(1).unwrap()[..36].to_owned();
    call(
        "POST",
        &format!("/agent_api_keys/{gitlab_id}/rotate"),
        &json,
        r#"{"api_key":"ROTATED-TOKEN-4c1a"}"#,
    );
    let body = r#"{"repository":{"full_name":"o/r"},"marker":"BODY-MARKER-51c2"}"#;
    call(
        "POST",
        "/agents/forward/name/a/x",
        &[("x-gitlab-token", "ROTATED-TOKEN-4c1a")],
        body,
    );
    let signature = hookgate::verify::providers::github::sign(secret.as_bytes(), body.as_bytes());
    call(
        "POST",
        "/agents/forward/name/a/x",
        &[("x-agent-api-key", api_key)],
        body,
    );
    call(
        "POST",
        "/agents/forward/name/a/x",
        &[("x-agent-api-key", "WRONG-KEY-0d1e")],
        body,
    );
    let answer = call(
        "POST",
        "/agents/forward/name/a/x",
        &[("x-hub-signature-256", &signature)],
        body,
    );
    assert!(answer.starts_with("HTTP/1.1 502"), "{answer}");

    let logs = stop_and_read_logs(child);
    assert!(logs.contains("forward"), "trace logs were written");
    for key_id in [&gitlab_id, &github_id] {
        let field = format!("key.id={key_id}");
        assert!(
            logs.contains(&field),
            "the verify span names the key that passed: {field}"
        );
    }
    let sig_hex = signature.trim_start_matches("sha256=");
    let master_key = std::fs::read_to_string(dir.path().join("hookgate.db.key")).unwrap();
    assert!(
        logs.contains("hookgate.db.key"),
        "the key file's creation is said"
    );
    for needle in [
        master_key.trim(),
        "GITLAB-TOKEN-9b3d",
        "ROTATED-TOKEN-4c1a",
        api_key,
        secret,
        internal.as_str(),
        sig_hex,
        "WRONG-KEY-0d1e",
        "BODY-MARKER-51c2",
    ] {
        assert!(!logs.contains(needle), "{needle} appeared in the logs");
    }
}

pub fn raw_call(port: u16, request: &str) -> String {
    crate::helpers::raw_http_blocking(&format!("127.0.0.1:{port}"), request)
}

pub fn wait_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let ok = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            && raw_call(
                port,
                "GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
            )
            .starts_with("HTTP/1.1 200");
        if ok {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("hookgate did not become ready on port {port}");
}

/// `HOOKGATE_LOG_FORMAT=json` (issue 13): every line hookgate logs is one
/// JSON object with its fields, and a request's lines name its request id.
#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("HOOKGATE_LOG_FORMAT", "json"), ("RUST_LOG", "info")];
    let (child, port) = serve_logging(dir.path(), &env);
    let body = r#"{"name":"a","acp_url":"http://127.0.0.1:9"}"#;
    let registered = raw_call(
        port,
        &format!(
            "POST /agents/register HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
             X-Request-Id: req-json-logs-1\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(registered.starts_with("HTTP/1.1 200"), "{registered}");
    let logs = stop_and_read_logs(child);
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert!(lines.len() >= 2, "{logs}");
    assert!(lines
        .iter()
        .all(|l| l["level"].is_string() && l["fields"].is_object()));
    let listening = lines
        .iter()
        .find(|l| l["fields"]["message"] == "hookgate listening")
        .unwrap_or_else(|| panic!("{logs}"));
    assert_eq!(listening["fields"]["port"], port);
    let registered = lines
        .iter()
        .find(|l| l["fields"]["message"] == "agent registered")
        .unwrap_or_else(|| panic!("{logs}"));
    assert_eq!(
        registered["span"]["request.id"], "req-json-logs-1",
        "{registered}"
    );
}
