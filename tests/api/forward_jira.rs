//! Jira webhooks (issue 12): an event signed as Atlassian documents it is
//! forwarded; each wrong one gets its own 4xx and reaches nobody. Jira and
//! Intercom share `X-Hub-Signature`: each call goes to the provider its
//! prefix names, on one agent holding keys of both.

use crate::helpers::*;
use crate::signed_provider::SignedProvider;
use crate::vectors::{self, with};
use actix_web::http::Method;
use serde_json::json;

db_tests!(jira_deliveries, jira_and_intercom_share_a_header);

const SECRET: &str = "jira-webhook-secret";
const JSON: (&str, &str) = ("content-type", "application/json");

fn issue_created(key: &str) -> String {
    json!({"webhookEvent": "jira:issue_created", "issue": {"key": key, "fields": {"summary": "Crash"}}})
        .to_string()
}

async fn jira_deliveries(backend: Backend) {
    vectors::ready();
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    app.register("agent-a", &upstream.url).await;
    let body = issue_created("PROJ-1");
    let sign = |secret: &str, body: &str| vectors::sign("jira", secret, body, 0, "");
    SignedProvider {
        kind: "jira",
        stored: SECRET,
        signing: SECRET,
        wrong_signing: "another-secret",
        sign: &sign,
        extra: &[JSON, ("x-atlassian-webhook-identifier", "wh-1")],
        body: &body,
        altered: &body.replace("Crash", "Fine"),
        no_key: "No Jira key found for agent ID {agent}.",
        bad_signature: "Invalid Jira webhook signature",
    }
    .check(&app, &upstream)
    .await;
}

async fn jira_and_intercom_share_a_header(backend: Backend) {
    vectors::ready();
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    let agent = app.register("agent-a", &upstream.url).await;
    let agent_id = agent["id"].as_str().unwrap();
    let body = issue_created("PROJ-2");
    let intercom_signed = vectors::sign("intercom", "intercom-secret", &body, 0, "");
    app.create_key("agent-a", "site", "jira", Some(SECRET))
        .await;
    let no_intercom_key = format!("No Intercom key found for agent ID {agent_id}.");
    refused(
        &app,
        &with(&intercom_signed, &[JSON]),
        &body,
        404,
        &no_intercom_key,
    )
    .await;

    app.create_key("agent-a", "app", "intercom", Some("intercom-secret"))
        .await;
    let jira_signed = vectors::sign("jira", SECRET, &body, 0, "");
    for signed in [&jira_signed, &intercom_signed] {
        let reply = app
            .forward(
                Method::POST,
                "agent-a",
                "hook",
                &with(signed, &[JSON]),
                body.clone(),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    let jira_with_intercoms_secret = vectors::sign("jira", "intercom-secret", &body, 0, "");
    let bad = "Invalid Jira webhook signature";
    refused(
        &app,
        &with(&jira_with_intercoms_secret, &[JSON]),
        &body,
        401,
        bad,
    )
    .await;
    assert_eq!(upstream.received().len(), 2);
}
