//! A database made by an earlier release keeps working after the upgrade:
//! keys stored before key versions existed verify after migration 000004.

use crate::helpers::*;
use actix_web::http::Method;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use hookgate::domain::digest_hex;

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");
/// The migrations of the release before key versions.
const BEFORE_KEY_VERSIONS: usize = 3;

db_tests!(keys_stored_before_key_versions_still_verify);

/// The rows an earlier release wrote: an agent, an external key (digest
/// only) and a GitHub secret, in the old columns.
fn old_rows(acp_url: &str, external: &str) -> String {
    format!(
        "INSERT INTO agents (id, name, acp_url, acp_type, status, created_at, updated_at)
           VALUES ('a1', 'agent-a', '{acp_url}', 'async', 'Ready', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);
         INSERT INTO agent_api_keys (id, agent_id, name, api_key_type, key_digest, secret, created_at)
           VALUES ('k1', 'a1', 'caller', 'external', '{}', NULL, CURRENT_TIMESTAMP),
                  ('k2', 'a1', 'octo/old', 'github', NULL, 'old-gh-secret', CURRENT_TIMESTAMP);",
        digest_hex(external)
    )
}

fn upgrade_from_old_release(backend: &Backend, url: &str, rows: &str) {
    match backend {
        Backend::Sqlite => {
            let mut conn = SqliteConnection::establish(url).unwrap();
            for _ in 0..BEFORE_KEY_VERSIONS {
                conn.run_next_migration(SQLITE).expect("old migration");
            }
            conn.batch_execute(rows).expect("old rows");
        }
        Backend::Postgres(_) => {
            let mut conn = PgConnection::establish(url).unwrap();
            for _ in 0..BEFORE_KEY_VERSIONS {
                conn.run_next_migration(POSTGRES).expect("old migration");
            }
            conn.batch_execute(rows).expect("old rows");
        }
    }
}

async fn keys_stored_before_key_versions_still_verify(backend: Backend) {
    let upstream = Upstream::start().await;
    let db = TestDb::new(&backend);
    let external = "an-external-key-from-the-old-release";
    upgrade_from_old_release(&backend, &db.url, &old_rows(&upstream.url, external));
    let app = spawn_app_on(db, |_| {}).await; // applies 000004 and on

    let reply = app
        .forward(
            Method::POST,
            "agent-a",
            "x",
            &[("x-agent-api-key", external)],
            "{}",
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let reply = github_push(&app, "octo/old", "old-gh-secret").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let keys = app.get("/agent_api_keys?agent_name=agent-a").await.json();
    let ids: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["k1", "k2"], "the keys keep their ids");
    assert_eq!(upstream.received().len(), 2);
    let stored = crate::secrets_at_rest::database_bytes(&app.db.url);
    assert!(
        !crate::secrets_at_rest::contains(&stored, "old-gh-secret"),
        "the old plaintext secret was encrypted, and no copy of it is left"
    );
}
