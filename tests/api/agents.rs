//! Contract §1: agent registration, list, get, delete.

use crate::helpers::*;
use serde_json::json;

db_tests!(
    registration_creates_agent_and_internal_key,
    registration_is_idempotent_by_name,
    registration_rejects_bad_fields,
    agents_can_be_listed_fetched_and_deleted,
);

async fn registration_creates_agent_and_internal_key(backend: Backend) {
    let app = spawn_app(backend).await;
    let reply = app
        .post_json(
            "/agents/register",
            json!({"name": "my-agent", "description": "d", "acp_url": "http://127.0.0.1:8000",
                   "acp_type": "async", "principal_context": null,
                   "registration_metadata": {"team": "infra"}, "agent_id": null,
                   "agent_input_type": null}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["name"], "my-agent");
    assert_eq!(body["status"], "Ready");
    assert_eq!(body["acp_type"], "async");
    assert_eq!(body["registration_metadata"], json!({"team": "infra"}));
    assert_eq!(body["description"], "d");
    assert!(uuid::Uuid::parse_str(body["id"].as_str().unwrap()).is_ok());
    for field in ["created_at", "updated_at", "registered_at"] {
        let text = body[field].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(text).is_ok(),
            "{field}: {text}"
        );
    }
    let key = body["agent_api_key"].as_str().unwrap();
    assert_eq!(key.len(), 64);
    assert!(key.bytes().all(|b| b.is_ascii_hexdigit()));

    // The internal key is listed as a key of type internal, without its value.
    let keys = app.get("/agent_api_keys?agent_name=my-agent").await;
    assert_eq!(keys.status, 200);
    assert_eq!(keys.json()[0]["api_key_type"], "internal");
    assert!(!keys.text().contains(key));
}

async fn registration_is_idempotent_by_name(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.register("agent-a", "http://127.0.0.1:8000").await;
    let second = app
        .post_json(
            "/agents/register",
            json!({"name": "agent-a", "acp_url": "http://127.0.0.1:9000/", "acp_type": "agentic",
                   "description": "moved"}),
        )
        .await
        .json();
    assert_eq!(second["id"], first["id"]);
    assert_eq!(second["agent_api_key"], first["agent_api_key"]);
    assert_eq!(second["created_at"], first["created_at"]);
    assert_eq!(second["acp_url"], "http://127.0.0.1:9000/");
    assert_eq!(second["acp_type"], "agentic");
    assert_eq!(second["description"], "moved");
    assert_ne!(second["registered_at"], first["registered_at"]);
    let listed = app.get("/agents").await.json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let keys = app.get("/agent_api_keys?agent_name=agent-a").await.json();
    assert_eq!(keys.as_array().unwrap().len(), 1, "one internal key only");
}

async fn registration_rejects_bad_fields(backend: Backend) {
    let app = spawn_app(backend).await;
    let cases = [
        (
            json!({"name": "My_Agent", "acp_url": "http://127.0.0.1:1"}),
            "'name'",
        ),
        (json!({"acp_url": "http://127.0.0.1:1"}), "name"),
        (json!({"name": "a", "acp_url": "not a url"}), "'acp_url'"),
        (
            json!({"name": "a", "acp_url": "http://127.0.0.1:1", "acp_type": "batch"}),
            "'acp_type'",
        ),
        (
            json!({"name": "a", "acp_url": "http://127.0.0.1:1", "agent_id": "x"}),
            "'agent_id'",
        ),
    ];
    for (body, field) in cases {
        let reply = app.post_json("/agents/register", body.clone()).await;
        assert_eq!(reply.status, 422, "{body}: {}", reply.text());
        let message = reply.json()["message"].as_str().unwrap().to_owned();
        assert!(message.contains(field), "{message} should name {field}");
    }
    assert_eq!(app.get("/agents").await.json(), json!([]), "nothing stored");
}

async fn agents_can_be_listed_fetched_and_deleted(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.register("agent-a", "http://127.0.0.1:8000").await;
    let b = app.register("agent-b", "http://127.0.0.1:8001").await;
    assert_eq!(
        b["description"], "",
        "no description is an empty string, as Agentex's model needs"
    );
    let internal_a = a["agent_api_key"].as_str().unwrap().to_owned();
    let (id_a, id_b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());

    let listed = app.get("/agents").await;
    let names: Vec<_> = listed
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("agent-a"), json!("agent-b")]);
    assert!(
        !listed.text().contains(&internal_a),
        "no key values in listings"
    );
    assert_eq!(
        app.get("/agents?limit=1&page_number=2").await.json()[0]["name"],
        "agent-b"
    );
    assert_eq!(app.get("/agents?limit=0").await.status, 422);

    let by_id = app.get(&format!("/agents/{id_a}")).await;
    assert_eq!(by_id.json()["name"], "agent-a");
    assert!(!by_id.text().contains(&internal_a));
    assert_eq!(app.get("/agents/name/agent-b").await.json()["id"], id_b);
    let missing = app.get("/agents/name/nobody").await;
    assert_eq!(missing.status, 404);
    assert!(missing.json()["message"]
        .as_str()
        .unwrap()
        .contains("nobody"));
    assert_eq!(
        app.get("/agents/00000000-0000-0000-0000-000000000000")
            .await
            .status,
        404
    );

    let key = app.create_key("agent-a", "k", "external", None).await;
    let deleted = app.delete(&format!("/agents/{id_a}")).await;
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.json()["id"], id_a);
    assert_eq!(app.get(&format!("/agents/{id_a}")).await.status, 404);
    // Its keys went with it.
    let key_id = key["id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/agent_api_keys/{key_id}")).await.status,
        404
    );
    assert_eq!(app.delete(&format!("/agents/{id_a}")).await.status, 404);

    assert_eq!(app.delete("/agents/name/agent-b").await.status, 200);
    assert_eq!(app.get("/agents").await.json(), json!([]));
}
