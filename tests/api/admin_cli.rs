//! The admin CLI (issue 13) against a real hookgate process and a real
//! agent: agents, keys, routes, deliveries, tasks, send-test, tail, completions,
//! tables and `--json`, and the exit codes scripts rely on.

use crate::a2a_agent::A2aAgent;
use crate::acp_agent::AcpAgent;
use crate::delivery::{acp_setup_at, pr_event, send_pr};
use crate::helpers::*;
use crate::process::{free_port, Process};
use serde_json::Value;
use std::process::Output;

const TOKEN: &str = "admin-cli-token-0123456789abcdef0123456789";

/// `hookgate <args>` against the process, with the token; off the async
/// thread so the test's own servers keep answering.
async fn cli(port: u16, args: &[&str]) -> Output {
    cli_with(port, Some(TOKEN), args).await
}

/// As [`cli`], the arguments written as one line (none holds a space).
async fn cli_line(port: u16, line: &str) -> Output {
    let args: Vec<&str> = line.split_whitespace().collect();
    cli(port, &args).await
}

async fn cli_with(port: u16, token: Option<&str>, args: &[&str]) -> Output {
    cli_env(port, token, args, &[]).await
}

/// As [`cli_with`], with more environment variables set.
async fn cli_env(port: u16, token: Option<&str>, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = hookgate_command();
    cmd.args(args)
        .envs(env.iter().copied())
        .env("HOOKGATE_URL", format!("http://127.0.0.1:{port}"));
    if let Some(token) = token {
        cmd.env("HOOKGATE_ADMIN_TOKEN", token);
    }
    actix_web::rt::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// Stdout of a run that must succeed.
fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{:?}: {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn json_of(output: &Output) -> Value {
    serde_json::from_str(&ok(output)).unwrap()
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exited")
}

async fn start(db: &TestDb, env: &[(&str, &str)]) -> Process {
    let mut all = vec![("HOOKGATE_ADMIN_TOKEN", TOKEN)];
    all.extend_from_slice(env);
    Process::start_with(&db.url, free_port(), &all).await
}

fn app_of(process: &Process, db: TestDb) -> TestApp {
    let mut app = process.app(db);
    app.admin_token = Some(TOKEN.to_owned());
    app
}

db_tests!(
    agents_of_both_protocols_are_registered_through_the_cli,
    agents_keys_and_routes_through_the_cli,
    deliveries_list_show_and_retry_through_the_cli,
    send_test_reaches_a_real_agent_and_tail_shows_it
);

async fn agents_of_both_protocols_are_registered_through_the_cli(backend: Backend) {
    let db = TestDb::new(&backend);
    let process = start(&db, &[]).await;
    let port = process.port;
    let token = "a2a-cli-bearer-5e1d";
    let agent = A2aAgent::start_with(Some(token)).await;
    let registered = ok(&cli_env(
        port,
        Some(TOKEN),
        &[
            "agents",
            "register",
            "a2a-cli",
            "--agent-card-url",
            &agent.url(),
            "--outbound-token-env",
            "AGENT_TOKEN",
        ],
        &[("AGENT_TOKEN", token)],
    )
    .await);
    assert!(
        registered.contains("Registered A2A agent a2a-cli: A2A 1.0 at"),
        "{registered}"
    );
    assert!(registered.contains("Its internal key"), "{registered}");
    assert!(
        !registered.contains(token),
        "the token is never printed: {registered}"
    );
    let acp = ok(&cli_line(port, "agents register acp-cli --acp-url http://127.0.0.1:9").await);
    assert!(
        acp.contains("Registered ACP agent acp-cli at http://127.0.0.1:9"),
        "{acp}"
    );
    let listed = ok(&cli_line(port, "agents list").await);
    assert!(
        listed.contains("PROTOCOL") && listed.contains(&format!("{}/", agent.url())),
        "{listed}"
    );
    let read = ok(&cli_line(port, "agents refresh-card a2a-cli").await);
    assert!(
        read.contains("Read the card of a2a-cli again: A2A 1.0"),
        "{read}"
    );
    let shown = ok(&cli_line(port, "agents show a2a-cli").await);
    assert!(
        shown.contains("outbound") && !shown.contains(token),
        "{shown}"
    );

    let no_address = cli_line(port, "agents register lost").await;
    assert_eq!(code(&no_address), 2, "clap refuses it before any call");
    let unreadable = format!("agents register bad --agent-card-url {}", closed_port_url());
    let refused = cli_line(port, &unreadable).await;
    assert_eq!(code(&refused), 5, "a 422 is a refusal");
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("cannot be used"), "{said}");
    let not_a2a = cli_line(port, "agents refresh-card acp-cli").await;
    assert_eq!(code(&not_a2a), 5);
}

async fn agents_keys_and_routes_through_the_cli(backend: Backend) {
    let db = TestDb::new(&backend);
    let agent = AcpAgent::start().await;
    let process = start(&db, &[]).await;
    let port = process.port;
    let app = app_of(&process, db);
    app.register("cli-agent", &agent.url).await;

    let listed = ok(&cli_line(port, "agents list").await);
    assert!(listed.starts_with("NAME"), "{listed}");
    assert!(
        listed.contains("cli-agent") && listed.contains(&agent.url),
        "{listed}"
    );

    // A created value is printed once, and never by a list or show.
    let created = ok(&cli_line(
        port,
        "keys create --agent cli-agent --name octo/hello --type github",
    )
    .await);
    let value = created
        .lines()
        .find_map(|l| l.strip_prefix("Value (shown only now): "))
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned();
    assert_eq!(value.len(), 64, "{created}");
    let made = json_of(&cli_line(port, "keys create --agent cli-agent --name ops --json").await);
    let external = made["api_key"].as_str().unwrap().to_owned();
    let key_id = made["id"].as_str().unwrap().to_owned();
    assert_eq!(made["api_key_type"], "external");

    let route = json_of(
        &cli_line(port, "routes create --agent cli-agent --path github/* --task-key {body.pull_request.number} --json")
        .await,
    );
    assert_eq!(route["mode"], "acp_event");
    let routes = json_of(&cli_line(port, "routes list --agent cli-agent --json").await);
    assert_eq!(routes.as_array().unwrap().len(), 1);

    let shown = ok(&cli_line(port, "agents show cli-agent").await);
    for needle in [
        "octo/hello",
        "github",
        "ops",
        "github/*",
        "{body.pull_request.number}",
    ] {
        assert!(shown.contains(needle), "{needle}: {shown}");
    }
    let keys = ok(&cli_line(port, "keys list --agent cli-agent").await);
    for secret in [&value, &external] {
        assert!(!shown.contains(secret.as_str()) && !keys.contains(secret.as_str()));
    }

    let rotated = json_of(
        &cli(
            port,
            &["keys", "rotate", &key_id, "--grace-secs", "0", "--json"],
        )
        .await,
    );
    let new_value = rotated["api_key"].as_str().unwrap();
    assert_ne!(new_value, external);
    let old = app
        .forward(
            actix_web::http::Method::POST,
            "cli-agent",
            "hook",
            &[("x-agent-api-key", &external)],
            "{}",
        )
        .await;
    assert_eq!(old.status, 401, "the old value stopped at once");

    let route_id = route["id"].as_str().unwrap();
    ok(&cli(port, &["routes", "delete", route_id]).await);
    ok(&cli(port, &["keys", "delete", &key_id]).await);
    assert_eq!(
        code(&cli(port, &["keys", "delete", &key_id]).await),
        3,
        "gone"
    );
    ok(&cli_line(port, "agents delete cli-agent").await);
    assert_eq!(code(&cli_line(port, "agents show cli-agent").await), 3);

    // Exit codes: refused token 4, refused request 5, unreachable 6, usage 2.
    assert_eq!(code(&cli_with(port, None, &["agents", "list"]).await), 4);
    assert_eq!(
        code(
            &cli_with(
                port,
                Some("wrong-token-0123456789abcdef0123456789"),
                &["agents", "list"]
            )
            .await
        ),
        4
    );
    app.register("cli-agent", &agent.url).await;
    let bad_mode = cli_line(
        port,
        "routes create --agent cli-agent --path x --mode sideways",
    )
    .await;
    assert_eq!(code(&bad_mode,), 5);
    assert!(String::from_utf8_lossy(&bad_mode.stderr).contains("mode"));
    assert_eq!(code(&cli(free_port(), &["agents", "list"]).await), 6);
    assert_eq!(
        code(&cli_line(port, "keys list").await),
        2,
        "--agent is required"
    );
    process.crash();
}

async fn deliveries_list_show_and_retry_through_the_cli(backend: Backend) {
    let db = TestDb::new(&backend);
    let down = format!("http://127.0.0.1:{}", free_port()); // nothing listens
    let process = start(&db, &[("HOOKGATE_DELIVERY_MAX_ATTEMPTS", "1")]).await;
    let port = process.port;
    let app = app_of(&process, db);
    let registered = acp_setup_at(&app, &down).await;
    let mut ids = Vec::new();
    for pr in 1..=3 {
        let reply = send_pr(&app, &pr_event(pr, "opened"), &format!("cli-d-{pr}")).await;
        assert_eq!(reply.status, 202, "{}", reply.text());
        ids.push(reply.json()["event_id"].as_str().unwrap().to_owned());
    }
    let failed_ids = || async {
        let listed = json_of(
            &cli_line(
                port,
                "deliveries list --agent pr-agent --status failed --json",
            )
            .await,
        );
        let mut found: Vec<String> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_owned())
            .collect();
        found.sort();
        found
    };
    let mut expected = ids.clone();
    expected.sort();
    for _ in 0..200 {
        if failed_ids().await == expected {
            break;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        failed_ids().await,
        expected,
        "each delivery failed after its one attempt"
    );

    let table = ok(&cli_line(port, "deliveries list --agent pr-agent").await);
    assert!(
        table.starts_with("ID") && ids.iter().all(|id| table.contains(id.as_str())),
        "{table}"
    );
    // Tasks go by their keys, in deliveries and on their own.
    assert!(table.contains("github:octo/hello#2"), "{table}");
    let tasks = ok(&cli_line(
        port,
        "tasks list --agent pr-agent --name github:octo/hello#",
    )
    .await);
    let names: Vec<&str> = tasks
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        names.len(),
        3,
        "one task per pull request, newest first: {tasks}"
    );
    assert!(names.contains(&"github:octo/hello#1"), "{tasks}");
    let one = ok(&cli_line(
        port,
        "tasks list --agent pr-agent --name github:octo/hello#3",
    )
    .await);
    assert_eq!(one.lines().count(), 2, "the header and one task: {one}");
    let shown = ok(&cli(port, &["deliveries", "show", &ids[0], "--payload"]).await);
    assert!(
        shown.contains("Attempts:") && shown.contains("failed"),
        "{shown}"
    );
    assert!(
        shown.contains("\"full_name\": \"octo/hello\""),
        "the body, pretty: {shown}"
    );

    // Paused, the agent's retried deliveries stay pending.
    let pause = format!("/agents/{}/pause", registered["id"].as_str().unwrap());
    assert_eq!(
        app.post_json(&pause, serde_json::json!({})).await.status,
        200
    );
    let retried = ok(&cli(port, &["deliveries", "retry", &ids[0]]).await);
    assert_eq!(retried.trim(), format!("{}: pending", ids[0]));
    assert_eq!(
        code(&cli(port, &["deliveries", "retry", &ids[0]]).await),
        5,
        "409: not failed any more"
    );
    let bulk = ok(&cli_line(port, "deliveries retry --bulk --agent pr-agent").await);
    assert_eq!(bulk.trim(), "2 deliveries back to pending.");
    assert_eq!(
        code(&cli_line(port, "deliveries retry --agent pr-agent").await),
        2,
        "ids or --bulk"
    );
    assert_eq!(
        code(&cli_line(port, "deliveries show 00000000-0000-0000-0000-000000000000").await),
        3
    );
    process.crash();
}

async fn send_test_reaches_a_real_agent_and_tail_shows_it(backend: Backend) {
    let db = TestDb::new(&backend);
    let agent = AcpAgent::start().await;
    let process = start(&db, &[]).await;
    let port = process.port;
    let app = app_of(&process, db);
    acp_setup_at(&app, &agent.url).await;

    // tail follows from its start: run it while a test call is sent.
    let tail = Tail::start(port);
    let sent = ok(&cli_line(port, "send-test --agent pr-agent --provider github").await);
    assert!(
        sent.contains("/agents/forward/name/pr-agent/code_changes"),
        "{sent}"
    );
    assert!(sent.lines().nth(1) == Some("202"), "{sent}");
    agent
        .wait_for("the test event", |_| !agent.events().is_empty())
        .await;
    let event = &agent.events()[0];
    let data = &event["params"]["event"]["content"]["data"];
    assert_eq!(
        data["body"]["repository"]["full_name"], "octo/hello",
        "{event}"
    );
    assert_eq!(data["headers"]["x-github-event"], "pull_request", "{event}");

    let lines = tail.until(" delivered ").await;
    let delivered = lines.last().unwrap();
    // Tasks go by their names, the rendered keys.
    let task = event["params"]["task"]["name"].as_str().unwrap();
    assert!(lines[0].starts_with("TIME"), "{lines:?}");
    assert!(
        delivered.contains(task) && delivered.contains("ms"),
        "{lines:?}"
    );

    // Started later, tail shows the latest deliveries first (as tail -n).
    let late = ok(&cli_line(port, "tail --agent pr-agent -n 1 --count 1").await);
    let shown: Vec<&str> = late.lines().collect();
    assert_eq!(shown.len(), 2, "{late}");
    assert!(
        shown[1].contains(" delivered ") && shown[1].contains(task),
        "{late}"
    );

    // A body of one's own, as JSON; a key type hookgate cannot sign for.
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("body.json");
    std::fs::write(&body, pr_event(42, "closed")).unwrap();
    let own = json_of(
        &cli(
            port,
            &[
                "send-test",
                "--agent",
                "pr-agent",
                "--provider",
                "github",
                "--body",
                body.to_str().unwrap(),
                "--json",
            ],
        )
        .await,
    );
    assert_eq!(own["status"], 202, "{own}");
    app.create_key("pr-agent", "gl", "gitlab", None).await;
    let refused = cli_line(port, "send-test --agent pr-agent --provider gitlab").await;
    assert_eq!(code(&refused), 5);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("digest"));
    assert_eq!(
        code(&cli_line(port, "send-test --agent pr-agent --provider slack").await),
        3,
        "no slack key"
    );
    let wrong_path = cli_line(
        port,
        "send-test --agent pr-agent --provider github --path elsewhere",
    )
    .await;
    assert_eq!(
        code(&wrong_path),
        0,
        "no route there: forwarded as is (the agent answers)"
    );
    process.crash();
}

/// `hookgate tail` as a child whose lines are read as they come.
struct Tail {
    child: std::process::Child,
    stdout: std::io::BufReader<std::process::ChildStdout>,
    heading: String,
}

impl Tail {
    /// Starts tail and waits for its heading (it has taken its baseline).
    fn start(port: u16) -> Self {
        let mut child = hookgate_command()
            .args(["tail", "--agent", "pr-agent", "--interval-ms", "100"])
            .env("HOOKGATE_URL", format!("http://127.0.0.1:{port}"))
            .env("HOOKGATE_ADMIN_TOKEN", TOKEN)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut heading = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut heading).unwrap();
        Self {
            child,
            stdout,
            heading,
        }
    }

    /// Lines up to the first holding `needle` (bounded: 30 s), then stops it.
    async fn until(self, needle: &'static str) -> Vec<String> {
        use std::io::BufRead;
        let stdout = self.stdout;
        let pid = self.child.id();
        let reader = actix_web::rt::task::spawn_blocking(move || {
            let mut lines = vec![self.heading.trim_end().to_owned()];
            for line in stdout.lines() {
                let line = line.unwrap();
                let found = line.contains(needle);
                lines.push(line);
                if found {
                    break;
                }
            }
            lines
        });
        let watchdog = actix_web::rt::spawn(async move {
            actix_rt::time::sleep(std::time::Duration::from_secs(30)).await;
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
        });
        let lines = reader.await.unwrap();
        watchdog.abort();
        let mut child = self.child;
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(
            lines.last().is_some_and(|l| l.contains(needle)),
            "{lines:?}"
        );
        lines
    }
}

#[actix_rt::test]
async fn completions_cover_every_command() {
    let output = actix_web::rt::task::spawn_blocking(|| {
        hookgate_command()
            .args(["completions", "bash"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let script = ok(&output);
    for command in [
        "serve",
        "config",
        "agents",
        "keys",
        "routes",
        "deliveries",
        "tasks",
        "send-test",
        "tail",
        "--bulk",
    ] {
        assert!(script.contains(command), "{command}");
    }
}

/// `hookgate <args>` with `HOOKGATE_URL` as given.
async fn cli_at(url: &str, args: &[&str]) -> Output {
    let mut cmd = hookgate_command();
    cmd.args(args)
        .env("HOOKGATE_URL", url)
        .env("HOOKGATE_ADMIN_TOKEN", TOKEN);
    actix_web::rt::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// A server that answers every call 307 to `location` and records the
/// headers it was sent.
fn redirecting(
    location: String,
) -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<actix_web::http::header::HeaderMap>>>,
) {
    use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let shared = seen.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = HttpServer::new(move || {
        let (seen, location) = (shared.clone(), location.clone());
        App::new().default_service(web::to(move |req: HttpRequest| {
            seen.lock().unwrap().push(req.headers().clone());
            let location = location.clone();
            async move {
                HttpResponse::TemporaryRedirect()
                    .insert_header(("location", location))
                    .finish()
            }
        }))
    })
    .workers(1);
    (serve(server, listener, None), seen)
}

/// Issue 26: a password in `HOOKGATE_URL` was printed in error messages,
/// and the CLI followed a redirect to another host with the admin token.
#[actix_rt::test]
async fn the_cli_keeps_its_secrets() {
    let password = "sekrit-pw-0b9f";
    let closed = closed_port_url();
    let at_closed = closed.replace("http://", &format!("http://ops:{password}@"));
    let down = cli_at(&at_closed, &["agents", "list"]).await;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&down.stdout),
        String::from_utf8_lossy(&down.stderr)
    );
    assert_eq!(code(&down), 6, "{said}");
    assert!(
        said.contains(closed.trim_start_matches("http://")),
        "{said}"
    );
    assert!(!said.contains(password) && !said.contains("ops:"), "{said}");

    let elsewhere = Upstream::start().await;
    let (redirector, seen) = redirecting(format!("{}/agents", elsewhere.url));
    let url = redirector.replace("http://", &format!("http://ops:{password}@"));
    for args in [&["agents", "list"][..], &["agents", "delete", "some-agent"]] {
        let refused = cli_at(&url, args).await;
        let said = String::from_utf8_lossy(&refused.stderr).into_owned();
        assert_eq!(code(&refused), 1, "{said}");
        assert!(
            said.contains("not followed") && said.contains(&elsewhere.url),
            "{said}"
        );
        assert!(!said.contains(password), "{said}");
    }
    assert!(
        elsewhere.received().is_empty(),
        "the token went to another origin"
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    // The URL's credentials reach the address named, as Basic auth.
    let basic = seen[0].get("authorization").and_then(|v| v.to_str().ok());
    assert_eq!(basic, Some("Basic b3BzOnNla3JpdC1wdy0wYjlm"));
    assert_eq!(
        seen[0].get("x-api-key").and_then(|v| v.to_str().ok()),
        Some(TOKEN)
    );
}
