//! Contract §2: `/agent_api_keys` and webhook-trigger.

use crate::helpers::*;
use serde_json::json;

db_tests!(
    create_requires_exactly_one_agent_selector,
    create_generates_or_keeps_values_and_refuses_duplicates,
    keys_are_listed_and_fetched_without_values,
    keys_are_deleted_by_id_and_by_name,
    webhook_trigger_sets_up_github_and_slack,
    external_keys_are_stored_only_as_digests,
);

async fn create_requires_exactly_one_agent_selector(backend: Backend) {
    let app = spawn_app(backend).await;
    let agent = app.register("agent-a", "http://127.0.0.1:8000").await;
    let neither = app.post_json("/agent_api_keys", json!({"name": "k"})).await;
    assert_eq!(neither.status, 400);
    assert_eq!(
        neither.json(),
        json!({"message": "Either 'agent_id' or 'agent_name' must be provided to create an agent api_key."})
    );
    let both = app
        .post_json(
            "/agent_api_keys",
            json!({"name": "k", "agent_name": "agent-a", "agent_id": agent["id"]}),
        )
        .await;
    assert_eq!(both.status, 400);
    assert_eq!(
        both.json(),
        json!({"message": "Only one of 'agent_id' or 'agent_name' should be provided to create an agent api_key."})
    );
    let list_neither = app.get("/agent_api_keys").await;
    assert_eq!(list_neither.status, 400);
    assert_eq!(
        list_neither.json()["message"],
        "Either 'agent_id' or 'agent_name' must be provided to list agent api_keys."
    );
    let list_both = app
        .get(&format!(
            "/agent_api_keys?agent_name=agent-a&agent_id={}",
            agent["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        list_both.json()["message"],
        "Only one of 'agent_id' or 'agent_name' should be provided to list agent api_keys."
    );
    let unknown_name = app
        .post_json(
            "/agent_api_keys",
            json!({"name": "k", "agent_name": "ghost"}),
        )
        .await;
    assert_eq!(unknown_name.status, 404);
    assert!(unknown_name.json()["message"]
        .as_str()
        .unwrap()
        .contains("ghost"));
    let ghost_id = uuid::Uuid::new_v4().to_string();
    let unknown_id = app
        .post_json(
            "/agent_api_keys",
            json!({"name": "k", "agent_id": ghost_id}),
        )
        .await;
    assert_eq!(unknown_id.status, 404);
    assert!(unknown_id.json()["message"]
        .as_str()
        .unwrap()
        .contains(&ghost_id));
    let bad_type = app
        .post_json(
            "/agent_api_keys",
            json!({"name": "k", "agent_name": "agent-a", "api_key_type": "bitbucket"}),
        )
        .await;
    assert_eq!(bad_type.status, 422);
    assert!(bad_type.json()["message"]
        .as_str()
        .unwrap()
        .contains("api_key_type"));
    let keys = app.get("/agent_api_keys?agent_name=agent-a").await.json();
    assert_eq!(
        keys.as_array().unwrap().len(),
        1,
        "only the internal key: nothing was stored"
    );
}

async fn create_generates_or_keeps_values_and_refuses_duplicates(backend: Backend) {
    let app = spawn_app(backend).await;
    let agent = app.register("agent-a", "http://127.0.0.1:8000").await;
    let generated = app.create_key("agent-a", "gen", "external", None).await;
    let value = generated["api_key"].as_str().unwrap();
    assert_eq!(value.len(), 64);
    assert_eq!(generated["agent_id"], agent["id"]);
    assert_eq!(generated["api_key_type"], "external");
    assert_eq!(generated["name"], "gen");
    assert!(
        chrono::DateTime::parse_from_rfc3339(generated["created_at"].as_str().unwrap()).is_ok()
    );
    let other = app.create_key("agent-a", "gen2", "external", None).await;
    assert_ne!(other["api_key"], generated["api_key"]);

    let given = app
        .create_key("agent-a", "octo/repo", "github", Some("my-existing-secret"))
        .await;
    assert_eq!(given["api_key"], "my-existing-secret");
    // Default type is external.
    let defaulted = app
        .post_json(
            "/agent_api_keys",
            json!({"agent_name": "agent-a", "name": "plain"}),
        )
        .await
        .json();
    assert_eq!(defaulted["api_key_type"], "external");

    let duplicate = app
        .post_json(
            "/agent_api_keys",
            json!({"agent_name": "agent-a", "name": "gen", "api_key_type": "external"}),
        )
        .await;
    assert_eq!(duplicate.status, 409);
    assert!(duplicate.json()["message"]
        .as_str()
        .unwrap()
        .contains("already exists"));
    // Same name, other type: a different key.
    app.create_key("agent-a", "gen", "slack", Some("s")).await;
    // The duplicate changed nothing: the first value still authenticates.
    let upstream = Upstream::start().await;
    app.register("agent-a", &upstream.url).await;
    let ok = app
        .forward(
            actix_web::http::Method::GET,
            "agent-a",
            "x",
            &[("x-agent-api-key", value)],
            "",
        )
        .await;
    assert_eq!(ok.status, 200);
}

async fn keys_are_listed_and_fetched_without_values(backend: Backend) {
    let app = spawn_app(backend).await;
    let agent = app.register("agent-a", "http://127.0.0.1:8000").await;
    let created = app.create_key("agent-a", "k1", "external", None).await;
    let gh = app
        .create_key("agent-a", "octo/repo", "github", Some("gh-secret-value"))
        .await;
    let values = [
        created["api_key"].as_str().unwrap(),
        "gh-secret-value",
        agent["agent_api_key"].as_str().unwrap(),
    ];

    let id = created["id"].as_str().unwrap();
    let agent_id = agent["id"].as_str().unwrap();
    let replies = [
        app.get("/agent_api_keys?agent_name=agent-a").await,
        app.get(&format!("/agent_api_keys?agent_id={agent_id}"))
            .await,
        app.get(&format!("/agent_api_keys/{id}")).await,
        app.get("/agent_api_keys/name/k1?agent_name=agent-a").await,
        app.get("/agent_api_keys/name/octo%2Frepo?agent_name=agent-a&api_key_type=github")
            .await,
    ];
    for reply in &replies {
        assert_eq!(reply.status, 200, "{}", reply.text());
        for value in values {
            assert!(
                !reply.text().contains(value),
                "a key value leaked: {}",
                reply.text()
            );
        }
        assert!(
            !reply.text().contains("api_key\""),
            "no api_key field: {}",
            reply.text()
        );
    }
    assert_eq!(replies[0].json().as_array().unwrap().len(), 3);
    assert_eq!(replies[0].json(), replies[1].json());
    assert_eq!(
        replies[2].json(),
        json!({
        "id": id, "agent_id": agent_id, "created_at": created["created_at"],
        "name": "k1", "api_key_type": "external"})
    );
    assert_eq!(replies[3].json()["id"], id);
    assert_eq!(replies[4].json()["id"], gh["id"]);
    let paged = app
        .get("/agent_api_keys?agent_name=agent-a&limit=1&page_number=3")
        .await
        .json();
    assert_eq!(paged.as_array().unwrap().len(), 1);

    let missing = app
        .get(&format!("/agent_api_keys/{}", uuid::Uuid::new_v4()))
        .await;
    assert_eq!(missing.status, 404);
    assert!(missing.json()["message"]
        .as_str()
        .unwrap()
        .contains("does not exist"));
    // By name, the type defaults to external: the github key is not found that way.
    let wrong_type = app
        .get("/agent_api_keys/name/octo%2Frepo?agent_name=agent-a")
        .await;
    assert_eq!(wrong_type.status, 404);
    assert!(wrong_type.json()["message"]
        .as_str()
        .unwrap()
        .contains("not found"));
}

async fn keys_are_deleted_by_id_and_by_name(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("agent-a", "http://127.0.0.1:8000").await;
    let k1 = app.create_key("agent-a", "k1", "external", None).await;
    app.create_key("agent-a", "k2", "external", None).await;
    app.create_key("agent-a", "A123", "slack", Some("s")).await;
    let id = k1["id"].as_str().unwrap();

    let deleted = app.delete(&format!("/agent_api_keys/{id}")).await;
    assert_eq!(deleted.status, 200);
    assert_eq!(
        deleted.json(),
        json!(format!("Agent API key with ID {id} deleted"))
    );
    let again = app.delete(&format!("/agent_api_keys/{id}")).await;
    assert_eq!(again.status, 404);
    assert!(again.json()["message"]
        .as_str()
        .unwrap()
        .contains("does not exist"));

    let by_name = app
        .delete("/agent_api_keys/name/k2?agent_name=agent-a")
        .await;
    assert_eq!(by_name.status, 200);
    assert_eq!(by_name.json(), json!("Agent api_key 'k2' deleted"));
    assert_eq!(
        app.delete("/agent_api_keys/name/k2?agent_name=agent-a")
            .await
            .status,
        404
    );
    let slack = app
        .delete("/agent_api_keys/name/A123?agent_name=agent-a&api_key_type=slack")
        .await;
    assert_eq!(slack.json(), json!("Agent api_key 'A123' deleted"));
    let neither = app.delete("/agent_api_keys/name/k2").await;
    assert_eq!(neither.status, 400);
    let left = app.get("/agent_api_keys?agent_name=agent-a").await.json();
    assert_eq!(
        left.as_array().unwrap().len(),
        1,
        "only the internal key is left: {left}"
    );
}

async fn webhook_trigger_sets_up_github_and_slack(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.public_url = Some("https://hooks.example.test".into())
    })
    .await;
    app.register("agent-a", "http://127.0.0.1:8000").await;
    let github = app
        .post_json("/agent_api_keys/webhook-trigger",
            json!({"agent_name": "agent-a", "source": "github", "name": "octo/repo", "forward_path": "code_changes"}))
        .await;
    assert_eq!(github.status, 200, "{}", github.text());
    let body = github.json();
    assert_eq!(body["secret"].as_str().unwrap().len(), 64);
    assert_eq!(
        body["webhook_path"],
        "/agents/forward/name/agent-a/code_changes"
    );
    assert_eq!(
        body["webhook_url"],
        "https://hooks.example.test/agents/forward/name/agent-a/code_changes"
    );
    assert_eq!(
        (
            body["source"].as_str(),
            body["name"].as_str(),
            body["agent_name"].as_str()
        ),
        (Some("github"), Some("octo/repo"), Some("agent-a"))
    );
    let stored = app
        .get(&format!(
            "/agent_api_keys/{}",
            body["key_id"].as_str().unwrap()
        ))
        .await
        .json();
    assert_eq!(stored["api_key_type"], "github");

    let slack_no_secret = app
        .post_json("/agent_api_keys/webhook-trigger",
            json!({"agent_name": "agent-a", "source": "slack", "name": "A1", "forward_path": "slack"}))
        .await;
    assert_eq!(slack_no_secret.status, 400);
    assert!(slack_no_secret.json()["message"]
        .as_str()
        .unwrap()
        .contains("secret"));
    let slack = app
        .post_json("/agent_api_keys/webhook-trigger",
            json!({"agent_name": "agent-a", "source": "slack", "name": "A1", "forward_path": "/slack",
                   "secret": "signing", "base_url": "http://gw.test/"}))
        .await
        .json();
    assert_eq!(slack["secret"], "signing");
    assert_eq!(
        slack["webhook_url"],
        "http://gw.test/agents/forward/name/agent-a/slack"
    );

    let dup = app
        .post_json("/agent_api_keys/webhook-trigger",
            json!({"agent_name": "agent-a", "source": "github", "name": "octo/repo", "forward_path": "x"}))
        .await;
    assert_eq!(dup.status, 409);
    let unknown = app
        .post_json(
            "/agent_api_keys/webhook-trigger",
            json!({"agent_name": "ghost", "source": "github", "name": "o/r", "forward_path": "x"}),
        )
        .await;
    assert_eq!(unknown.status, 404);
    let bad_source = app
        .post_json("/agent_api_keys/webhook-trigger",
            json!({"agent_name": "agent-a", "source": "external", "name": "o/r", "forward_path": "x"}))
        .await;
    assert_eq!(bad_source.status, 422);
    assert!(bad_source.json()["message"]
        .as_str()
        .unwrap()
        .contains("source"));
}

async fn external_keys_are_stored_only_as_digests(backend: Backend) {
    use diesel::prelude::*;
    use hookgate::db::schema::agent_key_versions as keys;
    let app = spawn_app(backend).await;
    app.register("agent-a", "http://127.0.0.1:8000").await;
    let external = app.create_key("agent-a", "caller", "external", None).await;
    let value = external["api_key"].as_str().unwrap();
    app.create_key("agent-a", "octo/repo", "github", Some("gh-secret"))
        .await;

    let (pool, _) = hookgate::db::connect(&app.db.url, 1).unwrap();
    let mut conn = pool.get().unwrap();
    let rows: Vec<(String, Option<String>, Option<String>)> = keys::table
        .select((keys::api_key_type, keys::key_digest, keys::secret))
        .order(keys::api_key_type.asc())
        .load(&mut *conn)
        .unwrap();
    let by_type = |t: &str| rows.iter().find(|r| r.0 == t).unwrap().clone();
    let (_, digest, secret) = by_type("external");
    assert_eq!(
        digest.as_deref(),
        Some(hookgate::domain::digest_hex(value).as_str())
    );
    assert_eq!(secret, None, "the external key's value is not stored");
    assert!(rows
        .iter()
        .all(|r| r.2.as_deref() != Some(value) && r.1.as_deref() != Some(value)));
    // Signing secrets must stay usable, so they are kept, sealed.
    let sealed = by_type("github").2.unwrap();
    assert!(sealed.starts_with("enc:v1:"), "{sealed}");
    assert!(!sealed.contains("gh-secret"));
}
