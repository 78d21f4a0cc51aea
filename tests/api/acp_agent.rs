//! A real ACP agent server for delivery tests: records every JSON-RPC call
//! on `/api` (and every other request), and answers from a script.

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use bytes::Bytes;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the agent answers its next `/api` call.
#[derive(Debug, Clone)]
pub enum Answer {
    Status(u16),
    StatusRetryAfter(u16, &'static str),
    RpcError,
    /// 200 success, after this long.
    Slow(Duration),
}

#[derive(Debug, Clone)]
pub struct Call {
    pub path: String,
    pub api_key: Option<String>,
    pub headers: actix_web::http::header::HeaderMap,
    pub body: Bytes,
}

impl Call {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn method(&self) -> String {
        self.json()["method"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

#[derive(Default)]
struct State {
    calls: Mutex<Vec<Call>>,
    script: Mutex<VecDeque<Answer>>,
    delay: Mutex<Duration>,
    /// Calls about a task whose name contains `.0` are answered `.1`.
    failing_tasks: Mutex<Vec<(String, u16)>>,
}

pub struct AcpAgent {
    pub url: String,
    state: Arc<State>,
}

impl AcpAgent {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        Self::start_on(listener)
    }

    pub fn start_on(listener: TcpListener) -> Self {
        Self::serve(listener, None)
    }

    /// An agent served over TLS at `https://localhost:{port}`.
    pub fn start_tls(tls: rustls::ServerConfig) -> Self {
        Self::serve(TcpListener::bind("127.0.0.1:0").unwrap(), Some(tls))
    }

    fn serve(listener: TcpListener, tls: Option<rustls::ServerConfig>) -> Self {
        let state = Arc::new(State::default());
        let shared = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(shared.clone()))
                .default_service(web::to(answer))
        })
        .workers(1);
        let url = crate::helpers::serve(server, listener, tls);
        Self { url, state }
    }

    /// Answers for the next `/api` calls, in order; then 200 success.
    pub fn script(&self, answers: &[Answer]) {
        self.state
            .script
            .lock()
            .unwrap()
            .extend(answers.iter().cloned());
    }

    /// Answers `status` to every call about a task whose name contains
    /// `name_part`, until [`AcpAgent::heal`].
    pub fn fail_tasks(&self, name_part: &str, status: u16) {
        self.state
            .failing_tasks
            .lock()
            .unwrap()
            .push((name_part.to_owned(), status));
    }

    /// Stops every [`AcpAgent::fail_tasks`] rule.
    pub fn heal(&self) {
        self.state.failing_tasks.lock().unwrap().clear();
    }

    /// Every `/api` answer waits this long first.
    pub fn set_delay(&self, delay: Duration) {
        *self.state.delay.lock().unwrap() = delay;
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.calls.lock().unwrap().clone()
    }

    /// The `event/send` calls received, in arrival order.
    pub fn events(&self) -> Vec<Value> {
        self.calls()
            .iter()
            .filter(|c| c.path == "/api" && c.method() == "event/send")
            .map(Call::json)
            .collect()
    }

    /// The `action` of each event the task named `task` received, in order.
    pub fn actions_of_task(&self, task: &str) -> Vec<String> {
        self.events()
            .iter()
            .filter(|e| e["params"]["task"]["name"] == task)
            .map(|e| {
                let body = &e["params"]["event"]["content"]["data"]["body"];
                body["action"].as_str().unwrap_or_default().to_owned()
            })
            .collect()
    }

    /// How many `event/send` calls arrived (cheap: no JSON parsing).
    pub fn event_count(&self) -> usize {
        let needle = b"\"event/send\"";
        self.state
            .calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.body.windows(needle.len()).any(|w| w == needle))
            .count()
    }

    /// Waits (bounded) until `done` holds for the calls received.
    pub async fn wait_for(&self, what: &str, done: impl Fn(&[Call]) -> bool) {
        self.wait_for_within(what, Duration::from_secs(30), done)
            .await
    }

    /// [`AcpAgent::wait_for`] with a bound of its own.
    pub async fn wait_for_within(
        &self,
        what: &str,
        bound: Duration,
        done: impl Fn(&[Call]) -> bool,
    ) {
        let started = std::time::Instant::now();
        while started.elapsed() < bound {
            if done(&self.calls()) {
                return;
            }
            actix_rt::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "timed out waiting for {what}; calls: {:#?}",
            self.calls()
                .iter()
                .map(|c| c.body.clone())
                .collect::<Vec<_>>()
        );
    }
}

async fn answer(req: HttpRequest, body: Bytes, state: web::Data<Arc<State>>) -> HttpResponse {
    let path = req.uri().path().to_owned();
    state.calls.lock().unwrap().push(Call {
        path: path.clone(),
        api_key: req
            .headers()
            .get("x-agent-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        headers: req.headers().clone(),
        body: body.clone(),
    });
    if path == "/heal" {
        // What [`AcpAgent::heal`] does, for a caller outside the test
        // process (the browser suite's script).
        state.failing_tasks.lock().unwrap().clear();
    }
    if path != "/api" {
        return HttpResponse::Ok().json(json!({"ok": true}));
    }
    let delay = *state.delay.lock().unwrap();
    if !delay.is_zero() {
        actix_rt::time::sleep(delay).await;
    }
    let task_name = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["params"]["task"]["name"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let failing = state
        .failing_tasks
        .lock()
        .unwrap()
        .iter()
        .find(|(part, _)| task_name.contains(part.as_str()))
        .map(|(_, status)| *status);
    if let Some(status) = failing {
        return HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
            .body("failing task");
    }
    let next = state.script.lock().unwrap().pop_front();
    let success =
        || HttpResponse::Ok().json(json!({"jsonrpc": "2.0", "result": null, "error": null}));
    match next {
        None => success(),
        Some(Answer::Slow(wait)) => {
            actix_rt::time::sleep(wait).await;
            success()
        }
        Some(Answer::Status(code)) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap()).body("scripted")
        }
        Some(Answer::StatusRetryAfter(code, after)) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap())
                .insert_header(("retry-after", after))
                .body("scripted")
        }
        Some(Answer::RpcError) => HttpResponse::Ok()
            .json(json!({"jsonrpc": "2.0", "result": null, "error": {"code": -32000, "message": "agent refused"}})),
    }
}
