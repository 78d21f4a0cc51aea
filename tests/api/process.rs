//! hookgate as a child process, for crash, restart and multi-instance tests.

use crate::helpers::{client, TestApp, TestDb};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `hookgate serve` child on its own loopback port.
pub struct Process {
    pub child: Child,
    pub port: u16,
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Process {
    /// Starts hookgate on `db_url` with fast delivery settings and waits until ready.
    pub async fn start(db_url: &str, port: u16) -> Self {
        Self::start_with(db_url, port, &[]).await
    }

    /// As [`Process::start`], with more (or overriding) environment.
    pub async fn start_with(db_url: &str, port: u16, env: &[(&str, &str)]) -> Self {
        let mut cmd = crate::helpers::hookgate_command();
        if let Some(key) = crate::helpers::test_master_key_value(db_url) {
            cmd.env("HOOKGATE_MASTER_KEY", key);
        }
        if db_url.starts_with("postgres") {
            cmd.env("HOOKGATE_SPOOL_DIR", crate::helpers::test_spool_dir(db_url));
        }
        let child = cmd
            .arg("serve")
            .env("HOOKGATE_BIND", format!("127.0.0.1:{port}"))
            .env("HOOKGATE_DATABASE_URL", db_url)
            .env("HOOKGATE_RETRY_BASE_MS", "100")
            .env("HOOKGATE_RETRY_MAX_SECS", "1")
            .env("HOOKGATE_FORWARD_TIMEOUT_SECS", "3")
            .env("RUST_LOG", "warn")
            .env("HOOKGATE_SHUTDOWN_DELAY_SECS", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .envs(env.iter().copied())
            .spawn()
            .expect("hookgate starts");
        let process = Self { child, port };
        let ready = format!("http://127.0.0.1:{port}/readyz");
        for _ in 0..400 {
            if let Ok(res) = client().get(&ready).send().await {
                if res.status() == 200 {
                    return process;
                }
            }
            actix_rt::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("hookgate on port {port} did not become ready");
    }

    /// A client for this process; `db` is only kept alive by the caller.
    pub fn app(&self, db: TestDb) -> TestApp {
        TestApp {
            address: format!("http://127.0.0.1:{}", self.port),
            client: client(),
            db,
            admin_token: None,
            server: None,
        }
    }

    /// `kill -9`: no chance to clean up.
    pub fn crash(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends SIGTERM and returns at once.
    pub fn sigterm(&self) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    }

    /// SIGTERM, then the exit status (bounded wait).
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        self.sigterm();
        self.exit_status().await
    }

    /// The exit status, once the process has exited (bounded wait).
    pub async fn exit_status(&mut self) -> std::process::ExitStatus {
        for _ in 0..600 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            actix_rt::time::sleep(Duration::from_millis(50)).await;
        }
        self.child.kill().unwrap();
        panic!("hookgate did not exit after SIGTERM");
    }
}

/// A test that fails midway leaves no hookgate behind (it would hold the
/// test runner's stderr open).
impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
