//! Accounts, as Agentex's deployed mode has them (issue 11): the admin token
//! manages accounts and their keys; an account key with its
//! `x-selected-account-id` sees and changes only that account's agents,
//! keys, routes and deliveries, and another account's objects answer 404.

use crate::helpers::*;
use actix_web::http::Method;
use hookgate::domain::Secret;
use serde_json::{json, Value};

db_tests!(
    accounts_are_isolated_on_every_admin_route,
    account_credentials_are_checked,
    the_admin_token_manages_accounts_and_sees_everything,
    agent_ids_cannot_be_probed_across_accounts,
);

const TOKEN: &str = "the-root-admin-token-of-forty-characters";

async fn token_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| s.admin_token = Some(Secret::new(TOKEN.into()))).await
}

/// An account and one key of it, made with the admin token.
#[derive(Debug, Clone)]
struct Account {
    id: String,
    key: String,
}

async fn new_account(app: &TestApp, name: &str) -> Account {
    let made = app.post_json("/accounts", json!({ "name": name })).await;
    assert_eq!(made.status, 200, "{}", made.text());
    let id = made.json()["id"].as_str().unwrap().to_owned();
    let key = app
        .post_json(&format!("/accounts/{id}/api_keys"), json!({}))
        .await;
    assert_eq!(key.status, 200, "{}", key.text());
    let key = key.json()["api_key"].as_str().unwrap().to_owned();
    Account { id, key }
}

/// A request made with an account's key and id (never the admin token).
async fn as_account(
    app: &TestApp,
    account: &Account,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Reply {
    let mut headers = vec![
        ("x-api-key", account.key.as_str()),
        ("x-selected-account-id", account.id.as_str()),
    ];
    if body.is_some() {
        headers.push(("content-type", "application/json"));
    }
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    app.send(method, &app.url(path), &headers, body.into())
        .await
}

/// What one account owns: an agent (deliveries paused, so one stays
/// pending), an external key, a `forward_async` route and one delivery.
struct Owned {
    agent_id: String,
    key_id: String,
    route_id: String,
    delivery_id: String,
}

async fn populate(app: &TestApp, account: &Account, agent: &str, upstream: &Upstream) -> Owned {
    let registered = as_account(
        app,
        account,
        Method::POST,
        "/agents/register",
        Some(json!({"name": agent, "acp_url": upstream.url, "acp_type": "async"})),
    )
    .await;
    assert_eq!(registered.status, 200, "{}", registered.text());
    let registered = registered.json();
    assert_eq!(registered["account_id"], account.id.as_str());
    let agent_id = registered["id"].as_str().unwrap().to_owned();
    let paused = as_account(
        app,
        account,
        Method::POST,
        &format!("/agents/{agent_id}/pause"),
        None,
    )
    .await;
    assert_eq!(paused.status, 200, "{}", paused.text());
    let key = as_account(
        app,
        account,
        Method::POST,
        "/agent_api_keys",
        Some(json!({"agent_name": agent, "name": "caller", "api_key": format!("{agent}-caller-key")})),
    )
    .await;
    assert_eq!(key.status, 200, "{}", key.text());
    let route = as_account(
        app,
        account,
        Method::POST,
        "/agent_routes",
        Some(json!({"agent_name": agent, "path": "queued", "mode": "forward_async"})),
    )
    .await;
    assert_eq!(route.status, 200, "{}", route.text());
    let caller_key = format!("{agent}-caller-key");
    let accepted = app
        .forward(
            Method::POST,
            agent,
            "queued",
            &[("x-agent-api-key", caller_key.as_str())],
            "{}",
        )
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.text());
    Owned {
        agent_id,
        key_id: key.json()["id"].as_str().unwrap().to_owned(),
        route_id: route.json()["id"].as_str().unwrap().to_owned(),
        delivery_id: accepted.json()["event_id"].as_str().unwrap().to_owned(),
    }
}

/// Every admin route, aimed by an outsider at `owner`'s objects.
fn routes_against(agent: &str, o: &Owned) -> Vec<(Method, String, Option<Value>)> {
    let (a, k, r, d) = (&o.agent_id, &o.key_id, &o.route_id, &o.delivery_id);
    let by_name = format!("agent_name={agent}");
    vec![
        (Method::GET, format!("/agents/{a}"), None),
        (Method::GET, format!("/agents/name/{agent}"), None),
        (Method::POST, format!("/agents/{a}/pause"), None),
        (Method::POST, format!("/agents/{a}/resume"), None),
        (
            Method::POST,
            "/agent_api_keys".into(),
            Some(json!({"agent_name": agent, "name": "intruder"})),
        ),
        (
            Method::POST,
            "/agent_api_keys".into(),
            Some(json!({"agent_id": a, "name": "intruder"})),
        ),
        (
            Method::POST,
            "/agent_api_keys/webhook-trigger".into(),
            Some(
                json!({"agent_name": agent, "source": "github", "name": "o/r", "forward_path": "gh"}),
            ),
        ),
        (Method::GET, format!("/agent_api_keys?{by_name}"), None),
        (Method::GET, format!("/agent_api_keys/{k}"), None),
        (
            Method::GET,
            format!("/agent_api_keys/name/caller?{by_name}"),
            None,
        ),
        (
            Method::POST,
            format!("/agent_api_keys/{k}/rotate"),
            Some(json!({})),
        ),
        (
            Method::DELETE,
            format!("/agent_api_keys/name/caller?{by_name}"),
            None,
        ),
        (Method::DELETE, format!("/agent_api_keys/{k}"), None),
        (
            Method::POST,
            "/agent_routes".into(),
            Some(json!({"agent_name": agent, "path": "other", "mode": "forward"})),
        ),
        (Method::GET, format!("/agent_routes?{by_name}"), None),
        (Method::GET, format!("/agent_routes/{r}"), None),
        (Method::DELETE, format!("/agent_routes/{r}"), None),
        (Method::GET, format!("/deliveries?{by_name}"), None),
        (Method::GET, format!("/deliveries/{d}"), None),
        (Method::GET, format!("/deliveries/{d}/payload"), None),
        (
            Method::POST,
            format!("/deliveries/{d}/retry"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/deliveries/{d}/cancel"),
            Some(json!({})),
        ),
        (
            Method::POST,
            "/deliveries/retry".into(),
            Some(json!({"agent_name": agent, "status": "pending"})),
        ),
        (Method::DELETE, format!("/agents/{a}"), None),
        (Method::DELETE, format!("/agents/name/{agent}"), None),
    ]
}

/// What the admin sees of an account's objects, to compare before/after.
async fn snapshot(app: &TestApp, agent: &str, o: &Owned) -> Vec<Value> {
    let mut seen = Vec::new();
    for path in [
        format!("/agents/{}", o.agent_id),
        format!("/agent_api_keys?agent_name={agent}"),
        format!("/agent_routes?agent_name={agent}"),
        format!("/deliveries/{}", o.delivery_id),
    ] {
        let reply = app.get(&path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
        seen.push(reply.json());
    }
    seen
}

fn ids(list: &Value) -> Vec<String> {
    let mut ids: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// hookgate with an admin token and two populated accounts, alpha
/// (`alpha-agent`) and beta (`beta-agent`), their agents at `upstream`.
async fn two_accounts(backend: Backend) -> (TestApp, Upstream, [(Account, Owned); 2]) {
    let app = token_app(backend).await;
    let upstream = Upstream::start().await;
    let mut both = Vec::new();
    for name in ["alpha", "beta"] {
        let account = new_account(&app, name).await;
        let owned = populate(&app, &account, &format!("{name}-agent"), &upstream).await;
        both.push((account, owned));
    }
    let both: [(Account, Owned); 2] = both.try_into().ok().expect("two accounts");
    (app, upstream, both)
}

async fn accounts_are_isolated_on_every_admin_route(backend: Backend) {
    let (app, _upstream, [(alpha, alpha_owns), (beta, beta_owns)]) = two_accounts(backend).await;
    let before = snapshot(&app, "alpha-agent", &alpha_owns).await;

    for (method, path, body) in routes_against("alpha-agent", &alpha_owns) {
        let reply = as_account(&app, &beta, method.clone(), &path, body).await;
        assert_eq!(
            reply.status,
            404,
            "{method} {path} as beta: {}",
            reply.text()
        );
    }
    // The same calls inside its own account succeed (deleting the agent and
    // the key once each: the second way of naming them then finds nothing).
    let twice = [
        format!("/agent_api_keys/{}", beta_owns.key_id),
        "/agents/name/beta-agent".to_owned(),
    ];
    let own = routes_against("beta-agent", &beta_owns)
        .into_iter()
        .filter(|(method, path, _)| !(*method == Method::DELETE && twice.contains(path)));
    for (method, path, body) in own {
        let reply = as_account(&app, &beta, method.clone(), &path, body).await;
        assert!(
            reply.status.is_success() || reply.status == 409,
            "{method} {path} as beta on its own: {} {}",
            reply.status,
            reply.text()
        );
    }
    assert_eq!(
        snapshot(&app, "alpha-agent", &alpha_owns).await,
        before,
        "alpha's objects are untouched"
    );

    // Lists show only the caller's own objects.
    let agents = as_account(&app, &alpha, Method::GET, "/agents", None)
        .await
        .json();
    assert_eq!(ids(&agents), [alpha_owns.agent_id.as_str()]);
    let deliveries = as_account(&app, &alpha, Method::GET, "/deliveries", None)
        .await
        .json();
    assert_eq!(ids(&deliveries), [alpha_owns.delivery_id.as_str()]);
    let bulk = as_account(
        &app,
        &beta,
        Method::POST,
        "/deliveries/retry",
        Some(json!({"status": "pending"})),
    )
    .await;
    assert_eq!(bulk.status, 200, "{}", bulk.text());
    assert_eq!(
        bulk.json()["moved"],
        0,
        "beta's bulk retry never reaches alpha's queue"
    );

    // Names are global: beta cannot take alpha's agent by registering it.
    let taken = as_account(
        &app,
        &beta,
        Method::POST,
        "/agents/register",
        Some(json!({"name": "alpha-agent", "acp_url": "http://127.0.0.1:9"})),
    )
    .await;
    assert_eq!(taken.status, 409, "{}", taken.text());
    assert!(taken.json().get("agent_api_key").is_none());
    assert_eq!(snapshot(&app, "alpha-agent", &alpha_owns).await, before);
}

async fn account_credentials_are_checked(backend: Backend) {
    let app = token_app(backend).await;
    let (alpha, beta) = (
        new_account(&app, "alpha").await,
        new_account(&app, "beta").await,
    );
    let crossed = Account {
        id: beta.id.clone(),
        key: alpha.key.clone(),
    };
    let unknown = Account {
        id: alpha.id.clone(),
        key: format!("hga_{}", "0".repeat(64)),
    };
    let malformed = Account {
        id: "not-a-uuid".into(),
        key: alpha.key.clone(),
    };
    for (case, who) in [
        ("key of another account", &crossed),
        ("unknown key", &unknown),
        ("malformed id", &malformed),
    ] {
        let reply = as_account(&app, who, Method::GET, "/agents", None).await;
        assert_eq!(reply.status, 401, "{case}: {}", reply.text());
        assert!(
            reply.json()["detail"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{case}"
        );
    }
    // The selected account without a key, and an account key used as if it
    // were the admin token (no account selected).
    let no_key = app
        .send(
            Method::GET,
            &app.url("/agents"),
            &[("x-selected-account-id", alpha.id.as_str())],
            "".into(),
        )
        .await;
    assert_eq!(no_key.status, 401, "{}", no_key.text());
    let unselected = app
        .send(
            Method::GET,
            &app.url("/agents"),
            &[("x-api-key", alpha.key.as_str())],
            "".into(),
        )
        .await;
    assert_eq!(unselected.status, 401, "{}", unselected.text());
    // Account keys do not manage accounts.
    for (method, path) in [
        (Method::GET, "/accounts".to_owned()),
        (Method::POST, format!("/accounts/{}/api_keys", alpha.id)),
        (Method::DELETE, format!("/accounts/{}", beta.id)),
    ] {
        let reply = as_account(&app, &alpha, method.clone(), &path, None).await;
        assert_eq!(reply.status, 403, "{method} {path}: {}", reply.text());
    }
    // A deleted key stops working at once.
    let keys = app
        .get(&format!("/accounts/{}/api_keys", alpha.id))
        .await
        .json();
    let key_id = keys[0]["id"].as_str().unwrap().to_owned();
    assert!(
        keys[0].get("api_key").is_none(),
        "listed keys carry no value: {keys}"
    );
    assert_eq!(
        as_account(&app, &alpha, Method::GET, "/agents", None)
            .await
            .status,
        200
    );
    let gone = app
        .delete(&format!("/accounts/{}/api_keys/{key_id}", alpha.id))
        .await;
    assert_eq!(gone.status, 200, "{}", gone.text());
    assert_eq!(
        as_account(&app, &alpha, Method::GET, "/agents", None)
            .await
            .status,
        401
    );
}

async fn the_admin_token_manages_accounts_and_sees_everything(backend: Backend) {
    let (app, upstream, [(alpha, alpha_owns), (beta, beta_owns)]) = two_accounts(backend).await;
    let root_agent = app.register("root-agent", &upstream.url).await;
    assert!(root_agent.get("account_id").is_none(), "{root_agent}");

    let agents = app.get("/agents").await.json();
    let mut expected = vec![
        alpha_owns.agent_id.clone(),
        beta_owns.agent_id.clone(),
        root_agent["id"].as_str().unwrap().to_owned(),
    ];
    expected.sort();
    assert_eq!(ids(&agents), expected);
    let mut both = vec![
        alpha_owns.delivery_id.clone(),
        beta_owns.delivery_id.clone(),
    ];
    both.sort();
    assert_eq!(ids(&app.get("/deliveries").await.json()), both);
    // Root's own agent is invisible to accounts.
    let hidden = as_account(&app, &alpha, Method::GET, "/agents/name/root-agent", None).await;
    assert_eq!(hidden.status, 404);

    let listed = app.get("/accounts").await.json();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alpha", "beta"]);
    assert_eq!(
        app.post_json("/accounts", json!({"name": "alpha"}))
            .await
            .status,
        409
    );
    assert_eq!(
        app.post_json("/accounts", json!({"name": " "}))
            .await
            .status,
        422
    );
    let one = app.get(&format!("/accounts/{}", alpha.id)).await;
    assert_eq!(one.json()["name"], "alpha");

    // Deleting an account takes its agents (and their queue) with it.
    let deleted = app.delete(&format!("/accounts/{}", beta.id)).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    assert_eq!(deleted.json()["deleted_agents"], 1);
    assert_eq!(app.get("/agents/name/beta-agent").await.status, 404);
    assert_eq!(
        app.get(&format!("/deliveries/{}", beta_owns.delivery_id))
            .await
            .status,
        404
    );
    assert_eq!(app.get(&format!("/accounts/{}", beta.id)).await.status, 404);
    assert_eq!(
        as_account(&app, &beta, Method::GET, "/agents", None)
            .await
            .status,
        401
    );
    assert_eq!(
        app.get("/agents/name/alpha-agent").await.status,
        200,
        "other accounts keep theirs"
    );
}

/// Issue 26: registering with another account's `agent_id` answered 500
/// (`UNIQUE constraint failed`) where a free id answered 200: an existence
/// oracle. A taken id is 409 whoever holds it, and nothing changes.
async fn agent_ids_cannot_be_probed_across_accounts(backend: Backend) {
    let app = token_app(backend).await;
    let (owner, prober) = (
        new_account(&app, "owner").await,
        new_account(&app, "prober").await,
    );
    let register = |account: Account, name: &'static str, id: String| {
        let app = &app;
        async move {
            let body = json!({"name": name, "acp_url": "http://127.0.0.1:9", "agent_id": id});
            as_account(app, &account, Method::POST, "/agents/register", Some(body)).await
        }
    };
    let theirs = uuid::Uuid::new_v4().to_string();
    let made = register(owner.clone(), "owned-agent", theirs.clone()).await;
    assert_eq!(made.status, 200, "{}", made.text());
    assert_eq!(made.json()["id"], theirs.as_str());
    let own_other = uuid::Uuid::new_v4().to_string();
    let mine = register(owner.clone(), "second-agent", own_other.clone()).await;
    assert_eq!(mine.status, 200, "{}", mine.text());

    let probe = register(prober.clone(), "probe-agent", theirs.clone()).await;
    let own_probe = register(owner.clone(), "third-agent", own_other.clone()).await;
    for reply in [&probe, &own_probe] {
        assert_eq!(reply.status, 409, "{}", reply.text());
        let detail = reply.json()["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(detail.contains("'agent_id'"), "{detail}");
        assert!(
            !detail.contains(&owner.id) && !detail.contains("owned-agent"),
            "{detail}"
        );
    }
    // The two refusals read alike: nothing tells whose the id is.
    let strip = |r: &Reply, id: &str| r.json()["message"].as_str().unwrap().replace(id, "ID");
    assert_eq!(strip(&probe, &theirs), strip(&own_probe, &own_other));

    let fresh = register(
        prober.clone(),
        "probe-agent",
        uuid::Uuid::new_v4().to_string(),
    )
    .await;
    assert_eq!(fresh.status, 200, "{}", fresh.text());
    let owned = app.get(&format!("/agents/{theirs}")).await;
    assert_eq!(owned.status, 200, "{}", owned.text());
    assert_eq!(owned.json()["name"], "owned-agent");
    let listed = as_account(&app, &prober, Method::GET, "/agents", None).await;
    let names: Vec<String> = listed
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["probe-agent"]);
}
