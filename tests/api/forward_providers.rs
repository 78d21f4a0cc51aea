//! Standard Webhooks (and Svix), Stripe, Shopify, GitLab and Linear: a
//! genuine delivery, signed by the provider's library where one exists, is
//! forwarded; each kind of wrong delivery gets its own 4xx and reaches
//! nobody.

use crate::helpers::*;
use crate::vectors::{self, with};
use actix_web::http::Method;
use serde_json::json;

db_tests!(
    standard_webhooks_and_svix_deliveries,
    stripe_deliveries,
    shopify_deliveries,
    shopify_events_carry_no_signature,
    gitlab_deliveries,
    linear_deliveries,
    generic_hmac_deliveries,
);

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A wrong delivery: its headers and body, and the status and detail it
/// must be answered.
type Wrong<'a> = (Vec<(&'a str, &'a str)>, &'a str, u16, &'a str);

/// Each wrong delivery gets its own answer (none reaches the agent: the
/// callers count what the agent received).
async fn all_refused(app: &TestApp, wrongs: &[Wrong<'_>]) {
    for (headers, body, status, detail) in wrongs {
        refused(app, headers, body, *status, detail).await;
    }
}

async fn standard_webhooks_and_svix_deliveries(backend: Backend) {
    vectors::ready(); // first, before any connection can sit idle meanwhile
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    let agent = app.register("agent-a", &upstream.url).await;
    let agent_id = agent["id"].as_str().unwrap();
    let body = json!({"type": "invoice.paid", "data": {"id": "in_1"}}).to_string();
    let signed = vectors::sign(
        "standard_webhooks",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        &body,
        now(),
        "msg_1",
    );
    refused(
        &app,
        &with(&signed, &[]),
        &body,
        404,
        &format!("No Standard Webhooks key found for agent ID {agent_id}."),
    )
    .await;

    let created = app
        .create_key("agent-a", "openai", "standard_webhooks", None)
        .await;
    let secret = created["api_key"].as_str().unwrap();
    assert!(
        secret.starts_with("whsec_"),
        "generated in the spec's format"
    );
    let other = app
        .create_key(
            "agent-a",
            "svix",
            "standard_webhooks",
            Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        )
        .await;
    assert_eq!(other["api_key"], "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");

    for (library, key) in [
        ("standard_webhooks", secret),
        ("svix", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    ] {
        let signed = vectors::sign(library, key, &body, now(), &format!("msg_{library}"));
        let reply = app
            .forward(
                Method::POST,
                "agent-a",
                "hook",
                &with(&signed, &[("content-type", "application/json")]),
                body.clone(),
            )
            .await;
        assert_eq!(reply.status, 200, "{library}: {}", reply.text());
    }
    let got = upstream.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].body, body.as_bytes());
    assert_eq!(got[0].header("webhook-id"), Some("msg_standard_webhooks"));
    assert_eq!(got[1].header("svix-id"), Some("msg_svix"));

    let wrong = vectors::sign(
        "standard_webhooks",
        "whsec_c2VjcmV0LW5vYm9keS1rbm93cw==",
        &body,
        now(),
        "msg_2",
    );
    let genuine = vectors::sign("standard_webhooks", secret, &body, now(), "msg_3");
    let stale = vectors::sign_stale("standard_webhooks", secret, &body, now() - 600, "msg_4");
    let no_id = vectors::without(&genuine, "webhook-id");
    let no_ts = vectors::without(&genuine, "webhook-timestamp");
    let bad_ts: Vec<(String, String)> = genuine
        .iter()
        .map(|(k, v)| {
            if k == "webhook-timestamp" {
                (k.clone(), "soon".into())
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    let altered = body.replace("in_1", "in_2");
    let bad_signature = "Invalid Standard Webhooks signature";
    all_refused(
        &app,
        &[
            (with(&wrong, &[]), &body, 401, bad_signature),
            (with(&genuine, &[]), &altered, 401, bad_signature),
            (
                with(&stale, &[]),
                &body,
                400,
                "Standard Webhooks request has bad timestamp.",
            ),
            (with(&no_id, &[]), &body, 400, "Missing webhook-id header."),
            (
                with(&no_ts, &[]),
                &body,
                400,
                "Missing webhook-timestamp header.",
            ),
            (
                with(&bad_ts, &[]),
                &body,
                400,
                "Invalid webhook-timestamp header value.",
            ),
        ],
    )
    .await;
    assert_eq!(
        upstream.received().len(),
        2,
        "no refused call reached the agent"
    );

    let bad_secret = app
        .post_json("/agent_api_keys", json!({"agent_name": "agent-a", "name": "x", "api_key_type": "standard_webhooks", "api_key": "whsec_not base64!"}))
        .await;
    assert_eq!(bad_secret.status, 422);
    assert!(bad_secret.json()["message"]
        .as_str()
        .unwrap()
        .contains("'api_key'"));
}

async fn stripe_deliveries(backend: Backend) {
    vectors::ready(); // first, before any connection can sit idle meanwhile
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    let agent = app.register("agent-a", &upstream.url).await;
    let agent_id = agent["id"].as_str().unwrap();
    let secret = "whsec_stripe_endpoint_secret";
    let body =
        json!({"id": "evt_1", "object": "event", "type": "payment_intent.succeeded"}).to_string();
    let signed = vectors::sign("stripe", secret, &body, now(), "");
    refused(
        &app,
        &with(&signed, &[]),
        &body,
        404,
        &format!("No Stripe key found for agent ID {agent_id}."),
    )
    .await;
    app.create_key("agent-a", "payments", "stripe", Some(secret))
        .await;
    let reply = app
        .forward(
            Method::POST,
            "agent-a",
            "hook",
            &with(&signed, &[("content-type", "application/json")]),
            body.clone(),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let got = upstream.single();
    assert_eq!(got.body, body.as_bytes());
    assert!(
        got.header("stripe-signature").is_some(),
        "agents may re-verify"
    );

    let wrong = vectors::sign("stripe", "whsec_someone_else", &body, now(), "");
    let stale = vectors::sign_stale("stripe", secret, &body, now() - 600, "");
    let altered = body.replace("evt_1", "evt_2");
    let bad_signature = "Invalid Stripe webhook signature";
    all_refused(
        &app,
        &[
            (with(&wrong, &[]), &body, 401, bad_signature),
            (with(&signed, &[]), &altered, 401, bad_signature),
            (
                with(&stale, &[]),
                &body,
                400,
                "Stripe webhook request has bad timestamp.",
            ),
            (
                vec![("stripe-signature", "v1=abc")],
                &body,
                400,
                "Invalid Stripe-Signature header.",
            ),
        ],
    )
    .await;
    assert_eq!(
        upstream.received().len(),
        1,
        "no refused call reached the agent"
    );
}

/// An `acp_event` from Shopify reaches the agent with the provider's event
/// headers and without its signature (issue 11).
async fn shopify_events_carry_no_signature(backend: Backend) {
    vectors::ready();
    let app = spawn_app(backend).await;
    let agent = crate::acp_agent::AcpAgent::start().await;
    app.register("agent-a", &agent.url).await;
    let (secret, shop) = ("shpss_app_client_secret", "hookgate-test.myshopify.com");
    app.create_key("agent-a", shop, "shopify", Some(secret))
        .await;
    let route = json!({"agent_name": "agent-a", "path": "orders", "mode": "acp_event",
        "task_key": "shop:{header.x-shopify-shop-domain}"});
    assert_eq!(app.post_json("/agent_routes", route).await.status, 200);
    let body = json!({"id": 820982911946154508u64}).to_string();
    let signed = vectors::sign("shopify", secret, &body, now(), "");
    let headers = with(
        &signed,
        &[
            ("x-shopify-shop-domain", shop),
            ("x-shopify-topic", "orders/create"),
        ],
    );
    assert!(headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("x-shopify-hmac-sha256")));
    let reply = app
        .forward(Method::POST, "agent-a", "orders", &headers, body)
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    agent
        .wait_for("the event", |_| agent.event_count() == 1)
        .await;
    let event = &agent.events()[0];
    let sent = &event["params"]["event"]["content"]["data"]["headers"];
    assert_eq!(sent["x-shopify-topic"], "orders/create", "{sent}");
    let names: Vec<&String> = sent.as_object().unwrap().keys().collect();
    assert!(
        names.iter().all(|n| !n.contains("hmac")),
        "no signature in the event: {names:?}"
    );
}

async fn shopify_deliveries(backend: Backend) {
    vectors::ready(); // first, before any connection can sit idle meanwhile
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    app.register("agent-a", &upstream.url).await;
    let secret = "shpss_app_client_secret";
    let shop = "hookgate-test.myshopify.com";
    let body = json!({"id": 820982911946154508u64, "email": "jon@example.com"}).to_string();
    let signed = vectors::sign("shopify", secret, &body, now(), "");
    let shop_header = [
        ("x-shopify-shop-domain", shop),
        ("x-shopify-topic", "orders/create"),
    ];
    refused(
        &app,
        &with(&signed, &shop_header),
        &body,
        404,
        &format!("No API key found for Shopify shop {shop}."),
    )
    .await;
    app.create_key("agent-a", shop, "shopify", Some(secret))
        .await;
    let reply = app
        .forward(
            Method::POST,
            "agent-a",
            "hook",
            &with(&signed, &shop_header),
            body.clone(),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        upstream.single().header("x-shopify-topic"),
        Some("orders/create")
    );

    let wrong = vectors::sign("shopify", "shpss_other", &body, now(), "");
    let altered = body.replace("jon", "eve");
    let bad_signature = "Invalid Shopify webhook signature";
    all_refused(
        &app,
        &[
            (with(&wrong, &shop_header), &body, 401, bad_signature),
            (with(&signed, &shop_header), &altered, 401, bad_signature),
            (
                with(&signed, &[]),
                &body,
                400,
                "Missing X-Shopify-Shop-Domain header.",
            ),
        ],
    )
    .await;
    assert_eq!(
        upstream.received().len(),
        1,
        "no refused call reached the agent"
    );
}

async fn gitlab_deliveries(backend: Backend) {
    vectors::ready(); // first, before any connection can sit idle meanwhile
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    let agent = app.register("agent-a", &upstream.url).await;
    let agent_id = agent["id"].as_str().unwrap();
    let body =
        json!({"object_kind": "push", "project": {"path_with_namespace": "group/app"}}).to_string();
    let created = app.create_key("agent-a", "group/app", "gitlab", None).await;
    let token = created["api_key"].as_str().unwrap();
    let headers = [("x-gitlab-token", token), ("x-gitlab-event", "Push Hook")];
    let reply = app
        .forward(Method::POST, "agent-a", "hook", &headers, body.clone())
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let got = upstream.single();
    assert_eq!(got.header("x-gitlab-event"), Some("Push Hook"));
    assert_eq!(
        got.header("x-gitlab-token"),
        None,
        "the token is a credential: it stops here"
    );

    let invalid = format!("Invalid GitLab token for agent ID {agent_id}.");
    let wrong_token = vec![("x-gitlab-token", "not-the-token")];
    all_refused(&app, &[(wrong_token, &body, 401, &invalid)]).await;
    app.call(
        Method::DELETE,
        &format!("/agent_api_keys/{}", created["id"].as_str().unwrap()),
        &[],
        bytes::Bytes::new(),
    )
    .await;
    refused(&app, &headers, &body, 401, &invalid).await;
    assert_eq!(
        upstream.received().len(),
        1,
        "no refused call reached the agent"
    );
}

async fn linear_deliveries(backend: Backend) {
    vectors::ready(); // first, before any connection can sit idle meanwhile
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    let agent = app.register("agent-a", &upstream.url).await;
    let agent_id = agent["id"].as_str().unwrap();
    let secret = "lin_wh_signing_secret";
    let now_ms = chrono::Utc::now().timestamp_millis();
    let body = json!({"action": "create", "type": "Issue", "data": {"id": "i1"}, "webhookTimestamp": now_ms}).to_string();
    let signed = vectors::sign("linear", secret, &body, now(), "");
    refused(
        &app,
        &with(&signed, &[]),
        &body,
        404,
        &format!("No Linear key found for agent ID {agent_id}."),
    )
    .await;
    app.create_key("agent-a", "workspace", "linear", Some(secret))
        .await;
    let reply = app
        .forward(
            Method::POST,
            "agent-a",
            "hook",
            &with(&signed, &[("linear-event", "Issue")]),
            body.clone(),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(upstream.single().body, body.as_bytes());

    let wrong = vectors::sign("linear", "lin_wh_other", &body, now(), "");
    let altered = body.replace("i1", "i2");
    let stale_body = json!({"action": "create", "webhookTimestamp": now_ms - 120_000}).to_string();
    let stale = vectors::sign("linear", secret, &stale_body, now(), "");
    let no_ts_body = json!({"action": "create"}).to_string();
    let no_ts = vectors::sign("linear", secret, &no_ts_body, now(), "");
    let bad_signature = "Invalid Linear webhook signature";
    all_refused(
        &app,
        &[
            (with(&wrong, &[]), &body, 401, bad_signature),
            (with(&signed, &[]), &altered, 401, bad_signature),
            (
                with(&stale, &[]),
                &stale_body,
                400,
                "Linear webhook request has bad timestamp.",
            ),
            (
                with(&no_ts, &[]),
                &no_ts_body,
                400,
                "Linear webhook payload missing webhookTimestamp.",
            ),
            (
                with(&signed, &[]),
                "not json",
                400,
                "Failed to parse Linear webhook payload as JSON.",
            ),
        ],
    )
    .await;
    assert_eq!(
        upstream.received().len(),
        1,
        "no refused call reached the agent"
    );
}

async fn generic_hmac_deliveries(backend: Backend) {
    vectors::ready();
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    app.register("agent-a", &upstream.url).await;
    let legacy = json!({"header": "X-Hub-Signature", "algorithm": "sha1", "prefix": "sha1="});
    let created = app
        .post_json(
            "/agent_api_keys",
            json!({"agent_name": "agent-a", "name": "legacy", "api_key_type": "hmac",
            "api_key": "legacy-secret", "hmac": legacy}),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text());
    assert_eq!(
        created.json()["hmac"]["header"],
        "x-hub-signature",
        "normalised"
    );
    let timed = json!({"header": "X-Webhook-Signature", "algorithm": "sha512", "encoding": "base64",
        "signed_content": "{timestamp}.{body}", "timestamp_header": "X-Webhook-Timestamp", "tolerance_secs": 60});
    let created = app
        .post_json("/agent_api_keys", json!({"agent_name": "agent-a", "name": "timed", "api_key_type": "hmac", "hmac": timed}))
        .await;
    assert_eq!(created.status, 200, "{}", created.text());
    let timed_secret = created.json()["api_key"].as_str().unwrap().to_owned();
    let listed = app.get("/agent_api_keys?agent_name=agent-a").await.json();
    let shown: Vec<&serde_json::Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["api_key_type"] == "hmac")
        .collect();
    assert_eq!(shown.len(), 2);
    assert!(shown
        .iter()
        .all(|k| k["hmac"]["header"].is_string() && k.get("api_key").is_none()));

    let body = json!({"event": "thing.happened", "id": 7}).to_string();
    let legacy_spec = json!({"algorithm": "sha1", "encoding": "hex", "content": "{body}", "header": "x-hub-signature", "prefix": "sha1="});
    let timed_spec = json!({"algorithm": "sha512", "encoding": "base64", "content": "{timestamp}.{body}",
        "header": "x-webhook-signature", "timestamp_header": "x-webhook-timestamp"});
    let signed_legacy = vectors::sign_hmac(legacy_spec.clone(), "legacy-secret", &body, now());
    let signed_timed = vectors::sign_hmac(timed_spec.clone(), &timed_secret, &body, now());
    for signed in [&signed_legacy, &signed_timed] {
        let reply = app
            .forward(
                Method::POST,
                "agent-a",
                "hook",
                &with(signed, &[]),
                body.clone(),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    assert_eq!(upstream.received().len(), 2);

    let wrong = vectors::sign_hmac(legacy_spec, "not-the-secret", &body, now());
    let altered = body.replace('7', "8");
    let stale = vectors::sign_hmac(timed_spec, &timed_secret, &body, now() - 120);
    let no_ts = vectors::without(&signed_timed, "x-webhook-timestamp");
    let bad_signature = "Invalid HMAC webhook signature";
    all_refused(
        &app,
        &[
            (with(&wrong, &[]), &body, 401, bad_signature),
            (with(&signed_timed, &[]), &altered, 401, bad_signature),
            (
                with(&stale, &[]),
                &body,
                400,
                "HMAC webhook request has bad timestamp.",
            ),
            (
                with(&no_ts, &[]),
                &body,
                400,
                "Missing x-webhook-timestamp header.",
            ),
            (
                vec![("x-other", "1")],
                &body,
                403,
                "Missing authentication for forward request.",
            ),
        ],
    )
    .await;
    assert_eq!(
        upstream.received().len(),
        2,
        "no refused call reached the agent"
    );

    for (request, field) in [
        (
            json!({"agent_name": "agent-a", "name": "n1", "api_key_type": "hmac"}),
            "'hmac'",
        ),
        (
            json!({"agent_name": "agent-a", "name": "n2", "api_key_type": "hmac", "hmac": {"header": "x-hub-signature-256"}}),
            "'github'",
        ),
        (
            json!({"agent_name": "agent-a", "name": "n3", "api_key_type": "github", "hmac": {"header": "x-sig"}}),
            "'hmac'",
        ),
        (
            json!({"agent_name": "agent-a", "name": "n4", "api_key_type": "hmac", "hmac": {"header": "x-sig", "algorithm": "md5"}}),
            "md5",
        ),
    ] {
        let reply = app.post_json("/agent_api_keys", request.clone()).await;
        assert_eq!(reply.status, 422, "{request}: {}", reply.text());
        let message = reply.json()["message"].as_str().unwrap().to_owned();
        assert!(message.contains(field), "{request}: {message}");
    }
}
