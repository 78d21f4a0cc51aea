//! `spawn_app()`, a recording upstream agent, per-test databases, and an
//! HTTP client speaking to hookgate.

use actix_web::http::header::HeaderMap;
use actix_web::http::{Method, StatusCode};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use bytes::Bytes;
use diesel::{Connection, PgConnection, RunQueryDsl};
use hookgate::config::Settings;
use hookgate::master_key::MasterKeySetting;
use hookgate::startup::Application;
use serde_json::{json, Value};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Generates a `sqlite` and a `postgres` test for each async test body
/// `async fn name(backend: Backend)`.
macro_rules! db_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[actix_rt::test]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[actix_rt::test]
            async fn postgres() {
                match $crate::helpers::Backend::postgres() {
                    Some(backend) => super::$name(backend).await,
                    None => eprintln!("HOOKGATE_TEST_POSTGRES_URL unset: PostgreSQL run skipped"),
                }
            }
        }
    )*};
}

#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    /// The server URL tests create their own databases on.
    Postgres(String),
}

impl Backend {
    pub fn postgres() -> Option<Self> {
        std::env::var("HOOKGATE_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .map(Self::Postgres)
    }
}

/// A database of one test's own, removed when the test ends.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_drop: Option<(String, String)>,
}

impl TestDb {
    pub fn new(backend: &Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = dir.path().join("hookgate.db").display().to_string();
                Self {
                    url,
                    _dir: Some(dir),
                    pg_drop: None,
                }
            }
            Backend::Postgres(server) => {
                let name = format!("hookgate_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin =
                    PgConnection::establish(server).expect("connect to test PostgreSQL");
                diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
                    .execute(&mut admin)
                    .expect("create test database");
                Self {
                    url: with_database(server, &name),
                    _dir: None,
                    pg_drop: Some((server.clone(), name)),
                }
            }
        }
    }
}

impl TestDb {
    /// Another handle on a database some other `TestDb` owns (no clean-up).
    pub fn shared(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            _dir: None,
            pg_drop: None,
        }
    }
}

/// Where a hookgate on PostgreSQL database `url` spools (a SQLite one
/// spools beside its file, in its test's own directory): one per database,
/// so a restarted process finds what its predecessor left.
pub fn test_spool_dir(url: &str) -> std::path::PathBuf {
    let name = url
        .split('?')
        .next()
        .unwrap_or(url)
        .rsplit('/')
        .next()
        .unwrap_or("db");
    std::env::temp_dir().join(format!("hookgate-test-spool-{name}"))
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((server, name)) = &self.pg_drop {
            let _ = std::fs::remove_dir_all(test_spool_dir(&self.url));
            if let Ok(mut admin) = PgConnection::establish(server) {
                let _ =
                    diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .execute(&mut admin);
            }
        }
    }
}

/// The server URL with its database name replaced.
fn with_database(server: &str, name: &str) -> String {
    let (base, query) = match server.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (server, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    format!("{host_part}/{name}{query}")
}

/// A running hookgate and a client for it.
pub struct TestApp {
    pub address: String,
    pub client: awc::Client,
    /// The app's own database (lives as long as the app).
    pub db: TestDb,
    pub admin_token: Option<String>,
    /// Stops an in-process hookgate (None for a child process).
    pub server: Option<InProcess>,
}

/// The handle of a hookgate running in the test's own process.
pub struct InProcess {
    handle: actix_web::dev::ServerHandle,
    stopped: Mutex<Option<tokio::sync::oneshot::Receiver<()>>>,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_on(TestDb::new(&backend), tweak).await
}

/// A hookgate on a given database (a second instance shares the first's).
pub async fn spawn_app_on(db: TestDb, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    // RUST_LOG=… shows hookgate's logs when a test fails.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    }
    let mut settings = Settings {
        bind: "127.0.0.1:0".parse().unwrap(),
        database_url: db.url.clone(),
        master_key: test_master_key(&db.url),
        spool_dir: db
            .url
            .starts_with("postgres")
            .then(|| test_spool_dir(&db.url)),
        ..Settings::default()
    };
    tweak(&mut settings);
    let admin_token = settings.admin_token.as_ref().map(|t| t.expose().to_owned());
    let app = Application::build(settings).expect("hookgate builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let (done, stopped) = tokio::sync::oneshot::channel();
    actix_rt::spawn(async move {
        let _ = app.run_until_stopped().await;
        let _ = done.send(());
    });
    TestApp {
        address,
        client: client(),
        db,
        admin_token,
        server: Some(InProcess {
            handle,
            stopped: Mutex::new(Some(stopped)),
        }),
    }
}

/// A GitHub push for `repo`, signed with `secret`, forwarded to `agent-a`.
pub async fn github_push(app: &TestApp, repo: &str, secret: &str) -> Reply {
    let body = json!({"repository": {"full_name": repo}, "ref": "main"}).to_string();
    let signature = hookgate::verify::providers::github::sign(secret.as_bytes(), body.as_bytes());
    let headers = [("x-hub-signature-256", signature.as_str())];
    app.forward(Method::POST, "agent-a", "gh", &headers, body)
        .await
}

/// The status of [`github_push`] for `octo/app`, the repository most tests use.
pub async fn github_status(app: &TestApp, secret: &str) -> u16 {
    github_push(app, "octo/app", secret).await.status.as_u16()
}

/// The master key tests use: a SQLite database gets its key file made beside
/// it, as in production; a PostgreSQL one a key derived from its URL, so
/// every instance a test starts on one database shares it.
pub fn test_master_key(db_url: &str) -> MasterKeySetting {
    match test_master_key_value(db_url) {
        Some(key) => MasterKeySetting::Value(hookgate::domain::Secret::new(key)),
        None => MasterKeySetting::Auto,
    }
}

pub fn test_master_key_value(db_url: &str) -> Option<String> {
    use base64::Engine;
    use sha2::Digest;
    db_url.starts_with("postgres").then(|| {
        let digest = sha2::Sha256::digest(format!("hookgate test master key {db_url}"));
        base64::engine::general_purpose::STANDARD.encode(digest)
    })
}

pub fn client() -> awc::Client {
    client_waiting(Duration::from_secs(60))
}

/// A client that waits up to `timeout` for each answer.
pub fn client_waiting(timeout: Duration) -> awc::Client {
    // Idle connections are dropped before hookgate's 5 s keep-alive ends
    // them: a pooled connection the server has just closed would fail the
    // next request sent on it.
    let connector = awc::Connector::new().conn_keep_alive(Duration::from_secs(3));
    awc::Client::builder()
        .connector(connector)
        .timeout(timeout)
        .disable_redirects()
        .finish()
}

/// What an HTTP call answered.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status and the exact `{"detail": …}` body.
    pub fn assert_detail(&self, status: u16, detail: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text());
        assert_eq!(self.json(), json!({ "detail": detail }));
    }

    /// Asserts the status and the exact `{"message": …}` body of an admin error.
    pub fn assert_message(&self, status: u16, message: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text());
        assert_eq!(self.json(), json!({ "message": message }));
    }
}

impl TestApp {
    /// Stops an in-process hookgate gracefully and waits until it let go of
    /// its database (and, on SQLite, of the database's lock).
    pub async fn stop(&self) {
        let Some(server) = &self.server else { return };
        server.handle.stop(true).await;
        let stopped = server.stopped.lock().unwrap().take();
        if let Some(stopped) = stopped {
            let _ = stopped.await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Any request; `headers` are sent as given, admin token added when set.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        let token = self.admin_token.as_deref().map(|t| ("x-api-key", t));
        let all: Vec<(&str, &str)> = token.into_iter().chain(headers.iter().copied()).collect();
        self.send(method, &self.url(path), &all, body.into()).await
    }

    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Reply {
        let mut req = self.client.request(method, url);
        for (name, value) in headers {
            req = req.append_header((*name, *value));
        }
        let mut res = req.send_body(body).await.expect("hookgate answers");
        let body = res.body().limit(64 << 20).await.expect("body");
        Reply {
            status: res.status(),
            headers: res.headers().clone(),
            body,
        }
    }

    pub async fn post_json(&self, path: &str, body: Value) -> Reply {
        self.call(
            Method::POST,
            path,
            &[("content-type", "application/json")],
            body.to_string(),
        )
        .await
    }

    pub async fn put_json(&self, path: &str, body: Value) -> Reply {
        self.call(
            Method::PUT,
            path,
            &[("content-type", "application/json")],
            body.to_string(),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, &[], Bytes::new()).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, &[], Bytes::new()).await
    }

    /// Registers an agent and returns the answer (agent + internal key).
    pub async fn register(&self, name: &str, acp_url: &str) -> Value {
        let reply = self
            .post_json(
                "/agents/register",
                json!({"name": name, "acp_url": acp_url, "acp_type": "async"}),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json()
    }

    /// Creates a key and returns the creation answer.
    pub async fn create_key(
        &self,
        agent: &str,
        name: &str,
        kind: &str,
        value: Option<&str>,
    ) -> Value {
        let reply = self
            .post_json(
                "/agent_api_keys",
                json!({"agent_name": agent, "name": name, "api_key_type": kind, "api_key": value}),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json()
    }

    /// A call to the forward route of `agent` with sub-path `path`.
    pub async fn forward(
        &self,
        method: Method,
        agent: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        let url = self.url(&format!("/agents/forward/name/{agent}/{path}"));
        self.send(method, &url, headers, body.into()).await
    }
}

/// One request the upstream agent received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: Method,
    /// Raw path and query, as sent on the wire.
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A real agent server on loopback that records every request. Paths:
/// `/slow…` waits 3 s; `/status/{code}` answers that code; `/redirect`
/// answers 302; `/echo…` returns the body; anything else 200 JSON.
pub struct Upstream {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

/// Runs a test server on `listener`, over TLS when `tls` is given; its URL
/// (`https://localhost:…` for TLS, whose certificates name localhost).
pub fn serve<F, I, S, B>(
    server: HttpServer<F, I, S, B>,
    listener: TcpListener,
    tls: Option<rustls::ServerConfig>,
) -> String
where
    F: Fn() -> I + Send + Clone + 'static,
    I: actix_service::IntoServiceFactory<S, actix_http::Request>,
    S: actix_web::dev::ServiceFactory<actix_http::Request, Config = actix_web::dev::AppConfig>
        + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<actix_http::Response<B>> + 'static,
    <S::Service as actix_web::dev::Service<actix_http::Request>>::Future: 'static,
    S::Service: 'static,
    B: actix_web::body::MessageBody + 'static,
{
    let port = listener.local_addr().unwrap().port();
    let (url, server) = match tls {
        None => (format!("http://127.0.0.1:{port}"), server.listen(listener)),
        Some(tls) => (
            format!("https://localhost:{port}"),
            server.listen_rustls_0_23(listener, tls),
        ),
    };
    actix_rt::spawn(server.unwrap().run());
    url
}

impl Upstream {
    pub async fn start() -> Self {
        Self::start_with(None)
    }

    /// An upstream served over TLS at `https://localhost:{port}`.
    pub async fn start_tls(tls: rustls::ServerConfig) -> Self {
        Self::start_with(Some(tls))
    }

    fn start_with(tls: Option<rustls::ServerConfig>) -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let shared = received.clone();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(shared.clone()))
                .app_data(web::PayloadConfig::new(64 << 20))
                .default_service(web::to(record))
        })
        .workers(1);
        let url = serve(server, listener, tls);
        Self { url, received }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The only request received so far.
    pub fn single(&self) -> Received {
        let all = self.received();
        assert_eq!(all.len(), 1, "expected one request upstream, got {all:?}");
        all.into_iter().next().unwrap()
    }
}

async fn record(
    req: HttpRequest,
    body: Bytes,
    log: web::Data<Arc<Mutex<Vec<Received>>>>,
) -> HttpResponse {
    let uri = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    log.lock().unwrap().push(Received {
        method: req.method().clone(),
        uri: uri.clone(),
        headers: req.headers().clone(),
        body: body.clone(),
    });
    let path = req.uri().path();
    if path.starts_with("/slow") {
        actix_rt::time::sleep(Duration::from_secs(3)).await;
    }
    if let Some(code) = path.strip_prefix("/status/") {
        let status = StatusCode::from_u16(code.parse().unwrap()).unwrap();
        return HttpResponse::build(status)
            .insert_header(("x-upstream", "status"))
            .insert_header(("keep-alive", "timeout=5"))
            .body(format!("status {code}"));
    }
    if path == "/redirect" {
        return HttpResponse::Found()
            .insert_header(("location", "/elsewhere"))
            .finish();
    }
    if path.starts_with("/echo") {
        return HttpResponse::Ok()
            .content_type("application/octet-stream")
            .body(body);
    }
    HttpResponse::Ok()
        .insert_header(("x-upstream", "ok"))
        .json(serde_json::json!({"received": uri, "method": req.method().as_str()}))
}

/// A loopback address nothing listens on, for good: its port stays bound,
/// without listening, for the rest of the test process, so connections are
/// refused and no later test can be handed the port (a released one was,
/// and a test's "unreachable" agent answered).
pub fn closed_port_url() -> String {
    let closed = ClosedPort::new();
    let url = closed.url.clone();
    std::mem::forget(closed);
    url
}

/// A loopback port bound without listening: connections to it are refused
/// and no other test can be handed it, until [`ClosedPort::listen`].
pub struct ClosedPort {
    socket: tokio::net::TcpSocket,
    pub url: String,
}

impl ClosedPort {
    pub fn new() -> Self {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let port = socket.local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}");
        Self { socket, url }
    }

    /// The same port, listening now (an agent "comes back"), with no
    /// moment in which another test could take it.
    pub fn listen(self) -> TcpListener {
        let listener = self.socket.listen(1024).unwrap().into_std().unwrap();
        listener.set_nonblocking(false).unwrap();
        listener
    }
}

/// An agent registered at `upstream` with one external key; returns the key.
pub async fn agent_with_key(app: &TestApp, agent: &str, upstream: &Upstream) -> String {
    app.register(agent, &upstream.url).await;
    let created = app.create_key(agent, "caller", "external", None).await;
    created["api_key"].as_str().unwrap().to_owned()
}

pub fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Sends raw bytes over one TCP connection and returns everything answered.
pub async fn raw_http(address: &str, request: String) -> String {
    let addr = address.trim_start_matches("http://").to_owned();
    actix_web::rt::task::spawn_blocking(move || raw_http_blocking(&addr, &request))
        .await
        .unwrap()
}

/// [`raw_http`] for synchronous tests; `addr` is `host:port`.
pub fn raw_http_blocking(addr: &str, request: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

/// `hookgate` (the binary under test) without any `HOOKGATE_*` setting the
/// test run itself may carry.
pub fn hookgate_command() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hookgate"));
    for (name, _) in std::env::vars() {
        if name.starts_with("HOOKGATE_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// A forward call to `agent-a` on `hook` that must be refused with
/// `status` and exactly `detail`.
pub async fn refused(
    app: &TestApp,
    headers: &[(&str, &str)],
    body: &str,
    status: u16,
    detail: &str,
) {
    let reply = app
        .forward(Method::POST, "agent-a", "hook", headers, body.to_owned())
        .await;
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(reply.json()["detail"], detail);
}
