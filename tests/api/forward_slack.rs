//! Contract §3: Slack's `v0=` signature, JSON and form bodies, and the
//! URL-verification challenge (answered only once verified).

use crate::helpers::*;
use crate::process::{free_port, Process};
use actix_web::http::Method;
use hookgate::verify::providers::slack;
use serde_json::json;

db_tests!(
    signed_slack_requests_reach_the_agent,
    url_verification_is_answered_only_when_signed,
    slack_refusals_follow_the_contract,
    the_tolerance_is_a_setting
);

const SECRET: &str = "slack-signing-secret";
const APP_ID: &str = "A0123456";

async fn setup(backend: Backend) -> (TestApp, Upstream) {
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    app.register("agent-a", &upstream.url).await;
    app.create_key("agent-a", APP_ID, "slack", Some(SECRET))
        .await;
    (app, upstream)
}

async fn send(app: &TestApp, body: &str, content_type: &str, ts: &str, signature: &str) -> Reply {
    let headers = [
        ("content-type", content_type),
        ("x-slack-request-timestamp", ts),
        ("x-slack-signature", signature),
    ];
    app.forward(
        Method::POST,
        "agent-a",
        "slack/events",
        &headers,
        body.to_owned(),
    )
    .await
}

async fn signed_slack_requests_reach_the_agent(backend: Backend) {
    let (app, upstream) = setup(backend).await;
    let ts = now_secs().to_string();
    let sign = |body: &str| slack::sign(SECRET.as_bytes(), &ts, body.as_bytes());
    let event = json!({"type": "event_callback", "api_app_id": APP_ID, "event": {"type": "message", "text": "hi"}}).to_string();
    let command = format!("token=t&team_id=T1&command=%2Fdeploy&text=now&api_app_id={APP_ID}");
    let interactive = format!(
        "payload={}",
        urlencode(&json!({"type": "block_actions", "api_app_id": APP_ID}).to_string())
    );
    for (body, ct) in [
        (event.as_str(), "application/json"),
        (command.as_str(), "application/x-www-form-urlencoded"),
        (
            interactive.as_str(),
            "application/x-www-form-urlencoded; charset=utf-8",
        ),
    ] {
        let reply = send(&app, body, ct, &ts, &sign(body)).await;
        assert_eq!(reply.status, 200, "{ct}: {}", reply.text());
    }
    let got = upstream.received();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].body, event.as_bytes());
    assert_eq!(got[1].body, command.as_bytes());
    assert_eq!(got[2].body, interactive.as_bytes());
    assert_eq!(got[0].uri, "/slack/events");
}

async fn url_verification_is_answered_only_when_signed(backend: Backend) {
    let (app, upstream) = setup(backend).await;
    let ts = now_secs().to_string();
    let challenge = format!("ch-{}", uuid::Uuid::new_v4());
    let body = json!({"type": "url_verification", "token": "t", "challenge": challenge, "api_app_id": APP_ID}).to_string();
    let bad = send(
        &app,
        &body,
        "application/json",
        &ts,
        &slack::sign(b"wrong", &ts, body.as_bytes()),
    )
    .await;
    bad.assert_detail(401, "Invalid Slack webhook signature");
    let good = send(
        &app,
        &body,
        "application/json",
        &ts,
        &slack::sign(SECRET.as_bytes(), &ts, body.as_bytes()),
    )
    .await;
    assert_eq!(good.status, 200);
    assert!(good
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(good.text(), challenge);
    assert!(
        upstream.received().is_empty(),
        "hookgate answers the challenge itself"
    );
}

async fn slack_refusals_follow_the_contract(backend: Backend) {
    let (app, upstream) = setup(backend).await;
    let now = now_secs();
    let ts = now.to_string();
    let sign = |ts: &str, body: &str| slack::sign(SECRET.as_bytes(), ts, body.as_bytes());
    let event = json!({"type": "event_callback", "api_app_id": APP_ID}).to_string();

    let missing_ts = app
        .forward(
            Method::POST,
            "agent-a",
            "s",
            &[("x-slack-signature", &sign(&ts, &event))],
            event.clone(),
        )
        .await;
    missing_ts.assert_detail(401, "Missing X-Slack-Request-Timestamp header.");
    send(&app, &event, "application/json", "12:30", "v0=00")
        .await
        .assert_detail(400, "Invalid X-Slack-Request-Timestamp header value.");
    // Well past the 300 s tolerance (the exact edge is unit-tested in verify::slack).
    for stale in [now - 310, now + 310] {
        let stale = stale.to_string();
        send(
            &app,
            &event,
            "application/json",
            &stale,
            &sign(&stale, &event),
        )
        .await
        .assert_detail(400, "Slack webhook request has bad timestamp.");
    }
    let not_json = "text=hello";
    send(&app, not_json, "text/plain", &ts, &sign(&ts, not_json))
        .await
        .assert_detail(400, "Invalid Slack verification request.");
    let broken_payload = "payload=%7Bnot-json";
    send(
        &app,
        broken_payload,
        "application/x-www-form-urlencoded",
        &ts,
        &sign(&ts, broken_payload),
    )
    .await
    .assert_detail(400, "Invalid Slack verification request.");
    let no_app = json!({"type": "event_callback"}).to_string();
    send(&app, &no_app, "application/json", &ts, &sign(&ts, &no_app))
        .await
        .assert_detail(400, "Slack webhook payload missing API app ID.");
    let other_app = json!({"type": "event_callback", "api_app_id": "A999"}).to_string();
    send(
        &app,
        &other_app,
        "application/json",
        &ts,
        &sign(&ts, &other_app),
    )
    .await
    .assert_detail(404, "No API key found for Slack app A999.");
    send(
        &app,
        &event,
        "application/json",
        &ts,
        &slack::sign(b"wrong", &ts, event.as_bytes()),
    )
    .await
    .assert_detail(401, "Invalid Slack webhook signature");
    // Signed for another timestamp than the one sent.
    let earlier = (now - 10).to_string();
    send(
        &app,
        &event,
        "application/json",
        &ts,
        &sign(&earlier, &event),
    )
    .await
    .assert_detail(401, "Invalid Slack webhook signature");
    let tampered = event.replace("event_callback", "event_callbacK");
    send(&app, &tampered, "application/json", &ts, &sign(&ts, &event))
        .await
        .assert_detail(401, "Invalid Slack webhook signature");
    assert!(upstream.received().is_empty());
}

fn urlencode(raw: &str) -> String {
    serde_urlencoded::to_string([("v", raw)]).unwrap()[2..].to_owned()
}

/// `HOOKGATE_SLACK_TOLERANCE_SECS`, declared by Slack's descriptor, reaches
/// the check: a call 600 s old passes at 900 and is refused at 300.
async fn the_tolerance_is_a_setting(backend: Backend) {
    let db = TestDb::new(&backend);
    let env = [("HOOKGATE_SLACK_TOLERANCE_SECS", "900")];
    let process = Process::start_with(&db.url, free_port(), &env).await;
    let app = process.app(db);
    let upstream = Upstream::start().await;
    app.register("agent-a", &upstream.url).await;
    app.create_key("agent-a", APP_ID, "slack", Some(SECRET))
        .await;
    let event = json!({"type": "event_callback", "api_app_id": APP_ID}).to_string();
    let old = (now_secs() - 600).to_string();
    let signature = slack::sign(SECRET.as_bytes(), &old, event.as_bytes());
    let reply = send(&app, &event, "application/json", &old, &signature).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let stale = (now_secs() - 1000).to_string();
    let signature = slack::sign(SECRET.as_bytes(), &stale, event.as_bytes());
    send(&app, &event, "application/json", &stale, &signature)
        .await
        .assert_detail(400, "Slack webhook request has bad timestamp.");
    assert_eq!(upstream.received().len(), 1);
    assert!(process.terminate().await.success());
}
