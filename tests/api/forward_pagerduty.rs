//! PagerDuty webhooks (issue 12): a delivery signed as PagerDuty's
//! documentation verifies it (beside a signature of an older secret) is
//! forwarded; each wrong one gets its own 4xx and reaches nobody; a
//! redelivery of one event is stored once.

use crate::helpers::*;
use crate::signed_provider::SignedProvider;
use crate::vectors;
use serde_json::json;

db_tests!(pagerduty_deliveries, pagerduty_redeliveries_are_stored_once);

const SECRET: &str = "pagerduty-subscription-secret";

fn body(event_id: &str) -> String {
    json!({"event": {"id": event_id, "event_type": "incident.triggered",
        "data": {"id": "PGR0VU2", "title": "Disk full"}}})
    .to_string()
}

fn sign(secret: &str, body: &str) -> Vec<(String, String)> {
    vectors::sign("pagerduty", secret, body, 0, "")
}

async fn pagerduty_deliveries(backend: Backend) {
    vectors::ready();
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    app.register("agent-a", &upstream.url).await;
    let body = body("01DEN4HPBQAGGZ6YB2VH0CANTQ");
    SignedProvider {
        kind: "pagerduty",
        stored: SECRET,
        signing: SECRET,
        wrong_signing: "another-secret",
        sign: &sign,
        extra: &[("content-type", "application/json")],
        body: &body,
        altered: &body.replace("Disk full", "Disk fine"),
        no_key: "No PagerDuty key found for agent ID {agent}.",
        bad_signature: "Invalid PagerDuty webhook signature",
    }
    .check(&app, &upstream)
    .await;
}

async fn pagerduty_redeliveries_are_stored_once(backend: Backend) {
    vectors::ready();
    let app = spawn_app(backend).await;
    let agent = crate::acp_agent::AcpAgent::start().await;
    app.register("agent-a", &agent.url).await;
    app.create_key("agent-a", "subscription", "pagerduty", Some(SECRET))
        .await;
    let route = json!({"agent_name": "agent-a", "path": "pd", "mode": "acp_event",
        "task_key": "pagerduty:{body.event.data.id}"});
    assert_eq!(app.post_json("/agent_routes", route).await.status, 200);
    let body = body("01DEN4HPBQAGGZ6YB2VH0CANTQ");
    let signed = sign(SECRET, &body);
    let mut ids = Vec::new();
    for _ in 0..2 {
        let reply = app
            .forward(
                actix_web::http::Method::POST,
                "agent-a",
                "pd",
                &vectors::with(&signed, &[("content-type", "application/json")]),
                body.clone(),
            )
            .await;
        assert_eq!(reply.status, 202, "{}", reply.text());
        ids.push(reply.json()["event_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids[0], ids[1], "the redelivery names the stored event");
    let stored = app.get("/deliveries?agent_name=agent-a").await.json();
    assert_eq!(stored.as_array().map(Vec::len), Some(1), "{stored}");
}
