//! Deliveries signed by the providers' own libraries: `tests/vectors/sign.py`
//! run in a virtualenv (target/tmp/vectors-venv) that the first caller makes
//! from `tests/vectors/requirements.txt`.

use crate::venv::{self, project_file};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The venv's python, made once per test run (and reused across runs while
/// the requirements are unchanged).
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| venv::python("tests/vectors/requirements.txt", "vectors-venv"))
}

/// Makes the venv now (the first call may take a while for pip).
pub fn ready() {
    python();
}

/// The headers `provider`'s library puts on a delivery of `body`.
pub fn sign(
    provider: &str,
    secret: &str,
    body: &str,
    timestamp: i64,
    id: &str,
) -> Vec<(String, String)> {
    sign_with(
        json!({"provider": provider, "secret": secret, "body": body, "timestamp": timestamp, "id": id, "fresh": true}),
    )
}

/// As [`sign`], for a timestamp the library itself would refuse.
pub fn sign_stale(
    provider: &str,
    secret: &str,
    body: &str,
    timestamp: i64,
    id: &str,
) -> Vec<(String, String)> {
    sign_with(
        json!({"provider": provider, "secret": secret, "body": body, "timestamp": timestamp, "id": id, "fresh": false}),
    )
}

pub fn sign_with(request: Value) -> Vec<(String, String)> {
    let mut sign = Command::new(python());
    sign.arg(project_file("tests/vectors/sign.py"));
    let answer = ask_json(sign, "sign.py", &request);
    answer["headers"]
        .as_object()
        .expect("headers")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

/// Runs `command` with `request` on its stdin and reads the JSON it
/// prints; `what` names it when it fails.
pub fn ask_json(mut command: Command, what: &str, request: &Value) -> Value {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {what}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{what} answers JSON: {e}"))
}

/// A generic HMAC signature, computed by Python's `hmac` from `spec`
/// (`algorithm`, `encoding`, `content`, `header`, `prefix`?, `timestamp_header`?).
pub fn sign_hmac(spec: Value, secret: &str, body: &str, timestamp: i64) -> Vec<(String, String)> {
    let mut request = spec;
    request["provider"] = "hmac".into();
    request["secret"] = secret.into();
    request["body"] = body.into();
    request["timestamp"] = timestamp.into();
    sign_with(request)
}

/// The signed headers without `name` (to test a missing header).
pub fn without(signed: &[(String, String)], name: &str) -> Vec<(String, String)> {
    signed.iter().filter(|(k, _)| k != name).cloned().collect()
}

/// Borrowed pairs for `TestApp::forward`, plus any extra headers.
pub fn with<'a>(
    signed: &'a [(String, String)],
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    signed
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(extra.iter().copied())
        .collect()
}
