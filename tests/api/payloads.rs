//! Real provider deliveries: GitHub's, from `@octokit/webhooks-examples`
//! (the community's collection of real payloads), signed by GitHub's own
//! `@octokit/webhooks-methods`, through `tests/payloads/github.mjs`. The
//! packages are installed in `tests/payloads/node_modules` with `npm ci`
//! on first use (versions pinned by its package-lock.json).

use crate::vectors::ask_json;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// One delivery as GitHub makes it.
#[derive(Debug, Clone)]
pub struct GithubDelivery {
    /// `X-GitHub-Event`.
    pub event: String,
    /// The payload's JSON text, as signed.
    pub body: String,
    /// `X-Hub-Signature-256`.
    pub signature: String,
}

impl GithubDelivery {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("an example is JSON")
    }
}

fn payloads_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/payloads")
}

/// Installs the packages once per test run (kept between runs).
fn installed() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = payloads_dir();
        if !dir.join("node_modules/@octokit/webhooks-methods").exists() {
            let status = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--silent"])
                .current_dir(&dir)
                .status()
                .expect("npm runs (the real-payload tests need Node.js and npm)");
            assert!(status.success(), "npm ci in tests/payloads failed");
        }
        dir
    })
}

/// The examples named (event name, index in the collection), signed with
/// `secret`.
pub fn github(secret: &str, examples: &[(&str, usize)]) -> Vec<GithubDelivery> {
    let dir = installed();
    let mut node = Command::new("node");
    node.arg(dir.join("github.mjs")).current_dir(dir);
    let request = json!({"secret": secret, "examples": examples});
    let made = ask_json(node, "github.mjs", &request);
    made.as_array()
        .expect("a list")
        .iter()
        .map(|d| GithubDelivery {
            event: d["event"].as_str().unwrap().to_owned(),
            body: d["body"].as_str().unwrap().to_owned(),
            signature: d["signature"].as_str().unwrap().to_owned(),
        })
        .collect()
}
