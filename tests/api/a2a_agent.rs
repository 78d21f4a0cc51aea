//! An unmodified `a2a-sdk` agent (`tests/a2a/agent.py`: the SDK's own
//! request handler, task store and routes) run as a process on a loopback
//! port, recording every message it is given to a file that outlives its
//! restarts.

use crate::helpers::client;
use crate::venv;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| venv::python("tests/a2a/requirements.txt", "a2a-venv"))
}

pub struct A2aAgent {
    pub port: u16,
    token: Option<String>,
    /// Serves a 0.3 card and the SDK's 0.3 compatibility.
    older: bool,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl A2aAgent {
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    /// An agent whose card declares a bearer scheme and which refuses
    /// calls without `token`.
    pub async fn start_with(token: Option<&str>) -> Self {
        Self::launch(token, false).await
    }

    /// An agent as the SDK's 0.3 releases made them: a 0.3 card, 0.3 calls.
    pub async fn start_older() -> Self {
        Self::launch(None, true).await
    }

    async fn launch(token: Option<&str>, older: bool) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut agent = Self {
            port,
            token: token.map(str::to_owned),
            older,
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        agent.run().await;
        agent
    }

    /// The server's URL: its card is at `/.well-known/agent-card.json`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn record(&self) -> PathBuf {
        self.dir.path().join("messages.jsonl")
    }

    async fn run(&mut self) {
        let mut command = Command::new(python());
        command
            .arg(venv::project_file("tests/a2a/agent.py"))
            .args(["--port", &self.port.to_string(), "--record"])
            .arg(self.record())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(token) = &self.token {
            command.args(["--token", token]);
        }
        if self.older {
            command.arg("--v0.3");
        }
        self.child = Some(command.spawn().expect("start tests/a2a/agent.py"));
        let card = format!("{}/.well-known/agent-card.json", self.url());
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(answer) = client().get(&card).send().await {
                if answer.status().is_success() {
                    return;
                }
            }
            actix_rt::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the A2A agent did not serve its card within 60 s");
    }

    /// Stops the agent (SIGKILL): its port refuses connections.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, keeping what it recorded.
    pub async fn restart(&mut self) {
        self.stop();
        self.run().await;
    }

    /// Every message received, as the SDK parsed it (proto JSON).
    pub fn messages(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.record()).unwrap_or_default();
        text.lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap()["message"].clone())
            .collect()
    }

    /// Waits (60 s at most) until `count` messages arrived; returns them.
    pub async fn wait_for(&self, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let messages = self.messages();
            if messages.len() >= count || Instant::now() > deadline {
                return messages;
            }
            actix_rt::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for A2aAgent {
    fn drop(&mut self) {
        self.stop();
    }
}
