//! Encryption at rest: no secret is readable in the database (the SQLite
//! file, a `pg_dump`), a wrong or missing master key stops start-up with a
//! clear error, and `hookgate rekey` changes the master key while a running
//! instance goes on verifying.

use crate::helpers::*;
use crate::process::{free_port, Process};
use serde_json::json;
use std::process::Command;

db_tests!(
    the_database_holds_no_secret_in_plaintext,
    a_wrong_or_missing_master_key_stops_start_up,
    rekey_changes_the_master_key_while_verification_goes_on,
    rekey_data_key_seals_every_secret_again,
);

/// Everything the database holds, as bytes: the SQLite file with its WAL,
/// or a `pg_dump` of the PostgreSQL database.
pub fn database_bytes(db_url: &str) -> Vec<u8> {
    if db_url.starts_with("postgres") {
        let out = Command::new("pg_dump")
            .arg(db_url)
            .output()
            .expect("pg_dump (PostgreSQL's client tools) runs");
        assert!(
            out.status.success(),
            "pg_dump: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stdout.is_empty());
        return out.stdout;
    }
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        if let Ok(mut b) = std::fs::read(format!("{db_url}{suffix}")) {
            bytes.append(&mut b);
        }
    }
    assert!(!bytes.is_empty(), "the SQLite file exists");
    bytes
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

async fn the_database_holds_no_secret_in_plaintext(backend: Backend) {
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    let registered = app.register("agent-a", &upstream.url).await;
    let mut values = vec![registered["agent_api_key"].as_str().unwrap().to_owned()];
    let given = [
        ("github", "octo/app", "github-secret-value-1"),
        ("slack", "A0SLACK", "slack-signing-secret-value-2"),
        ("stripe", "payments", "whsec_stripe_secret_value_3"),
        ("shopify", "shop.myshopify.com", "shopify-secret-value-4"),
        ("linear", "workspace", "linear-secret-value-5"),
        ("gitlab", "group/app", "gitlab-token-value-6"),
    ];
    for (kind, name, value) in given {
        app.create_key("agent-a", name, kind, Some(value)).await;
        values.push(value.to_owned());
    }
    // An A2A agent's bearer token, given at registration.
    let cards = crate::a2a::CardServer::start();
    cards.card(json!([{"url": upstream.url, "protocolBinding": "JSONRPC"}]));
    let token = "a2a-bearer-token-value-8";
    let a2a = app
        .post_json(
            "/agents/register",
            json!({"name": "agent-b", "protocol": "a2a", "agent_card_url": cards.url, "outbound_token": token}),
        )
        .await;
    assert_eq!(a2a.status, 200, "{}", a2a.text());
    values.push(token.to_owned());
    for kind in ["external", "standard_webhooks"] {
        let created = app.create_key("agent-a", kind, kind, None).await;
        values.push(created["api_key"].as_str().unwrap().to_owned());
    }
    let rotated = app
        .post_json(
            &format!(
                "/agent_api_keys/{}/rotate",
                app.get("/agent_api_keys/name/octo%2Fapp?agent_name=agent-a&api_key_type=github")
                    .await
                    .json()["id"]
                    .as_str()
                    .unwrap()
            ),
            json!({"api_key": "github-secret-value-7"}),
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.text());
    values.push("github-secret-value-7".into());
    // Still usable: verification opens them.
    assert_eq!(github_status(&app, "github-secret-value-1").await, 200);
    assert_eq!(github_status(&app, "github-secret-value-7").await, 200);

    let stored = database_bytes(&app.db.url);
    assert!(
        contains(&stored, "octo/app"),
        "the dump is readable: key names are there"
    );
    for value in &values {
        assert!(!contains(&stored, value), "{value} is stored in plaintext");
    }
    if !app.db.url.starts_with("postgres") {
        let key_file = format!("{}.key", app.db.url);
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&key_file).unwrap().permissions(),
        );
        assert_eq!(
            mode & 0o777,
            0o600,
            "the key file made beside the database is the owner's alone"
        );
    }
}

/// Runs `hookgate serve` on the database and returns its stderr, expecting
/// it to exit at once with an error.
fn failed_start(db_url: &str, master_key: Option<&str>) -> String {
    let mut cmd = hookgate_command();
    cmd.arg("serve")
        .env("HOOKGATE_BIND", format!("127.0.0.1:{}", free_port()))
        .env("HOOKGATE_DATABASE_URL", db_url)
        .env_remove("HOOKGATE_MASTER_KEY");
    if let Some(key) = master_key {
        cmd.env("HOOKGATE_MASTER_KEY", key);
    }
    let out = cmd.output().expect("hookgate runs");
    assert!(!out.status.success(), "hookgate must refuse to start");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("error: ")).count(),
        1,
        "{stderr}"
    );
    stderr
}

async fn a_wrong_or_missing_master_key_stops_start_up(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("agent-a", "http://127.0.0.1:9").await;
    app.create_key("agent-a", "octo/app", "github", Some("the-secret"))
        .await;
    let sqlite = !app.db.url.starts_with("postgres");
    if sqlite {
        // One process serves a SQLite database at a time.
        app.stop().await;
    }
    let other = hookgate::crypto::MasterKey::generate().encoded();
    let wrong = failed_start(&app.db.url, Some(&other));
    assert!(
        wrong.contains("does not open this database's secrets"),
        "{wrong}"
    );
    assert!(!wrong.contains(&other), "the key is never printed");
    let malformed = failed_start(&app.db.url, Some("too-short"));
    assert!(
        malformed.contains("HOOKGATE_MASTER_KEY must hold 32 bytes"),
        "{malformed}"
    );
    if app.db.url.starts_with("postgres") {
        let missing = failed_start(&app.db.url, None);
        assert!(
            missing.contains("PostgreSQL needs a master key"),
            "{missing}"
        );
    } else {
        let key_file = format!("{}.key", app.db.url);
        std::fs::rename(&key_file, format!("{key_file}.moved")).unwrap();
        let missing = failed_start(&app.db.url, None);
        assert!(missing.contains("is missing"), "{missing}");
        std::fs::rename(format!("{key_file}.moved"), &key_file).unwrap();
    }
    // Nothing was harmed: the running instance (on SQLite, the next one)
    // still verifies.
    let again = match sqlite {
        true => Some(spawn_app_on(TestDb::shared(&app.db.url), |_| {}).await),
        false => None,
    };
    let serving = again.as_ref().unwrap_or(&app);
    let upstream = Upstream::start().await;
    serving.register("agent-a", &upstream.url).await;
    assert_eq!(github_status(serving, "the-secret").await, 200);
}

async fn rekey_changes_the_master_key_while_verification_goes_on(backend: Backend) {
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    app.register("agent-a", &upstream.url).await;
    app.create_key("agent-a", "octo/app", "github", Some("before-rekey"))
        .await;
    assert_eq!(github_status(&app, "before-rekey").await, 200);

    let dir = tempfile::tempdir().unwrap();
    let new_key_file = dir.path().join("new.key");
    let postgres = app.db.url.starts_with("postgres");
    let mut rekey = hookgate_command();
    rekey
        .arg("rekey")
        .env("HOOKGATE_DATABASE_URL", &app.db.url)
        .env_remove("HOOKGATE_MASTER_KEY");
    if postgres {
        rekey
            .env(
                "HOOKGATE_MASTER_KEY",
                test_master_key_value(&app.db.url).unwrap(),
            )
            .arg("--new-master-key-file")
            .arg(&new_key_file);
    }
    let out = rekey.output().expect("hookgate rekey runs");
    assert!(
        out.status.success(),
        "rekey: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("new master key"), "{said}");

    // The running instance never needed the master key again.
    assert_eq!(github_status(&app, "before-rekey").await, 200);
    app.create_key("agent-a", "octo/other", "github", Some("after-rekey"))
        .await;
    let reply = github_push(&app, "octo/other", "after-rekey").await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    if !postgres {
        // One process serves a SQLite database at a time.
        app.stop().await;
    }
    // A restart needs the new key: the old one no longer opens the database.
    let new_key = if postgres {
        std::fs::read_to_string(&new_key_file)
            .unwrap()
            .trim()
            .to_owned()
    } else {
        std::fs::read_to_string(format!("{}.key", app.db.url))
            .unwrap()
            .trim()
            .to_owned()
    };
    if postgres {
        let old = failed_start(&app.db.url, test_master_key_value(&app.db.url).as_deref());
        assert!(old.contains("does not open"), "{old}");
    }
    let second = Process::start_with(
        &app.db.url,
        free_port(),
        &[("HOOKGATE_MASTER_KEY", &new_key)],
    )
    .await;
    let second_app = second.app(TestDb::shared(&app.db.url));
    assert_eq!(github_status(&second_app, "before-rekey").await, 200);
    assert_eq!(
        github_status(&second_app, "after-rekey").await,
        401,
        "signed for octo/app, whose secret is before-rekey"
    );
    second.crash();
}

/// A rekey that stopped half-way, on SQLite with the automatic key file:
/// whichever of `<db>.key` and `<db>.key.new` opens the database is used,
/// and the other is cleaned up.
#[actix_rt::test]
async fn an_interrupted_rekey_recovers_at_the_next_start() {
    use hookgate::crypto::MasterKey;
    use hookgate::master_key::{read_key_file, write_key_file};
    for rewrapped in [true, false] {
        let app = spawn_app(Backend::Sqlite).await;
        let upstream = Upstream::start().await;
        app.register("agent-a", &upstream.url).await;
        app.create_key("agent-a", "octo/app", "github", Some("kept-secret"))
            .await;
        app.stop().await;
        let key_file = std::path::PathBuf::from(format!("{}.key", app.db.url));
        let staged = std::path::PathBuf::from(format!("{}.key.new", app.db.url));
        let old = read_key_file(&key_file).unwrap();
        let new = MasterKey::generate();
        write_key_file(&staged, &new).unwrap();
        if rewrapped {
            // The crash came after the database update, before the rename.
            let (pool, _) = hookgate::db::connect(&app.db.url, 1).unwrap();
            hookgate::db::keyring::rewrap(&mut pool.get().unwrap(), &old, &new).unwrap();
        }
        let process = Process::start(&app.db.url, free_port()).await;
        let second = process.app(TestDb::shared(&app.db.url));
        assert_eq!(
            github_status(&second, "kept-secret").await,
            200,
            "rewrapped: {rewrapped}"
        );
        assert!(
            !staged.exists(),
            "the staged key is gone (rewrapped: {rewrapped})"
        );
        let in_place = read_key_file(&key_file).unwrap().encoded();
        let expected = if rewrapped {
            new.encoded()
        } else {
            old.encoded()
        };
        assert!(
            in_place == expected,
            "the key that opens the database is in place (rewrapped: {rewrapped})"
        );
        process.crash();
    }
}

/// Every stored ciphertext, by version id.
fn sealed_secrets(db_url: &str) -> std::collections::BTreeMap<String, String> {
    use diesel::prelude::*;
    use hookgate::db::schema::agent_key_versions as versions;
    let (pool, _) = hookgate::db::connect(db_url, 1).unwrap();
    let mut conn = pool.get().unwrap();
    let rows: Vec<(String, Option<String>)> = versions::table
        .select((versions::id, versions::secret))
        .load(&mut *conn)
        .unwrap();
    rows.into_iter()
        .filter_map(|(id, sealed)| Some((id, sealed?)))
        .collect()
}

/// `hookgate rekey --data-key` with the test's master key.
fn rekey_data_key(db_url: &str) -> std::process::Output {
    let mut cmd = hookgate_command();
    cmd.args(["rekey", "--data-key"])
        .env("HOOKGATE_DATABASE_URL", db_url);
    if let Some(key) = test_master_key_value(db_url) {
        cmd.env("HOOKGATE_MASTER_KEY", key);
    }
    cmd.output().expect("hookgate rekey runs")
}

/// Issue 29: `rekey --data-key` seals every secret again under a fresh
/// data key, refused while an instance serves the database; every secret
/// reads back the same under the new data key, and verification works
/// after the restart.
async fn rekey_data_key_seals_every_secret_again(backend: Backend) {
    let db = TestDb::new(&backend);
    let url = db.url.clone();
    let process = Process::start(&url, free_port()).await;
    let app = process.app(db);
    let upstream = Upstream::start().await;
    let registered = app.register("agent-a", &upstream.url).await;
    let agent_id = registered["id"].as_str().unwrap().to_owned();
    let internal = registered["agent_api_key"].as_str().unwrap().to_owned();
    let given = [
        ("github", "octo/app", "github-secret-value-1"),
        ("slack", "A0SLACK", "slack-signing-secret-value-2"),
        ("stripe", "payments", "whsec_stripe_secret_value_3"),
    ];
    for (kind, name, value) in given {
        app.create_key("agent-a", name, kind, Some(value)).await;
    }
    let before = sealed_secrets(&url);
    assert_eq!(
        before.len(),
        given.len() + 1,
        "the internal key too: {before:?}"
    );

    let refused = rekey_data_key(&url);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && said.contains("stop"), "{said}");
    assert_eq!(sealed_secrets(&url), before, "nothing changed while served");
    assert_eq!(github_status(&app, "github-secret-value-1").await, 200);

    process.terminate().await;
    // PostgreSQL may list a closed session for a moment.
    let mut out = rekey_data_key(&url);
    for _ in 0..50 {
        if out.status.success() {
            break;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(100)).await;
        out = rekey_data_key(&url);
    }
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("4 secret(s) sealed again under a fresh data key"),
        "{said}"
    );
    let after = sealed_secrets(&url);
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );
    for (id, sealed) in &after {
        assert_ne!(Some(sealed), before.get(id), "version {id} sealed again");
    }

    // Every secret, read back under the new data key.
    let (pool, db_backend) = hookgate::db::connect(&url, 1).unwrap();
    let mut conn = pool.get().unwrap();
    let setting = test_master_key(&url);
    let data_key =
        hookgate::master_key::open_keyring(&mut conn, &setting, &url, db_backend).unwrap();
    for (kind, name, value) in given {
        let kind = hookgate::verify::providers::named(kind)
            .unwrap()
            .descriptor()
            .kind;
        let live =
            hookgate::db::api_keys::live_secrets(&mut conn, &data_key, &agent_id, kind, Some(name))
                .unwrap();
        assert_eq!(live.len(), 1, "{name}");
        assert_eq!(live[0].secret.expose(), value, "{name}");
    }
    let opened =
        hookgate::db::api_keys::find_internal_secret(&mut conn, &data_key, &agent_id).unwrap();
    assert_eq!(opened.unwrap().expose(), internal);
    drop(conn);

    let again = Process::start(&url, free_port()).await;
    let again_app = again.app(TestDb::shared(&url));
    assert_eq!(
        github_status(&again_app, "github-secret-value-1").await,
        200
    );
    again.crash();
}
