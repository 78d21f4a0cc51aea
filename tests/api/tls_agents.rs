//! `https://` agents (issue 11): reached for forward and `acp_event` calls
//! with a private CA given in `HOOKGATE_AGENT_CA_FILE`, refused without it.
//! The certificates are made here (rcgen), the agents serve real TLS.

use crate::acp_agent::AcpAgent;
use crate::helpers::*;
use actix_web::http::Method;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;

db_tests!(
    https_agents_are_reached_with_the_configured_ca,
    an_https_agent_with_an_unknown_ca_is_not_trusted,
    a_self_signed_agent_listed_in_the_ca_file_is_trusted_as_itself
);

/// A private CA and a `localhost` certificate it signed.
struct TestCa {
    ca_file: tempfile::NamedTempFile,
    leaf: CertificateDer<'static>,
    leaf_key: Vec<u8>,
}

impl TestCa {
    fn new() -> Self {
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&leaf_key, &ca)
            .unwrap();
        let ca_file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(ca_file.path(), ca.pem()).unwrap();
        Self {
            ca_file,
            leaf: leaf.der().clone(),
            leaf_key: leaf_key.serialize_der(),
        }
    }

    fn server_config(&self) -> rustls::ServerConfig {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.leaf_key.clone()));
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![self.leaf.clone()], key)
            .unwrap()
    }
}

/// A forward call with the agent's caller key.
async fn call(app: &TestApp, agent: &str, path: &str, key: &str, body: &'static str) -> Reply {
    app.forward(Method::POST, agent, path, &[("x-agent-api-key", key)], body)
        .await
}

async fn https_agents_are_reached_with_the_configured_ca(backend: Backend) {
    let ca = TestCa::new();
    let ca_path = ca.ca_file.path().to_owned();
    let app = spawn_app_with(backend, move |s| s.agent_ca_file = Some(ca_path)).await;
    // Forward: the agent's answer comes back through TLS.
    let upstream = Upstream::start_tls(ca.server_config()).await;
    assert!(upstream.url.starts_with("https://"));
    let key = agent_with_key(&app, "agent-a", &upstream).await;
    let reply = call(&app, "agent-a", "hook", &key, "{\"n\":1}").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(upstream.single().body, "{\"n\":1}");
    // acp_event: task/create and event/send over TLS.
    acp_event_over_tls(&app, "agent-b", ca.server_config()).await;
}

/// An `acp_event` route to an ACP agent served with `tls`: the event
/// arrives.
async fn acp_event_over_tls(app: &TestApp, name: &str, tls: rustls::ServerConfig) {
    let agent = AcpAgent::start_tls(tls);
    app.register(name, &agent.url).await;
    let key = app.create_key(name, "caller", "external", None).await;
    let key = key["api_key"].as_str().unwrap().to_owned();
    let route = json!({"agent_name": name, "path": "events", "mode": "acp_event",
        "task_key": "t:{body.id}"});
    assert_eq!(app.post_json("/agent_routes", route).await.status, 200);
    let reply = call(app, name, "events", &key, "{\"id\":7}").await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    agent
        .wait_for("the event over TLS", |_| agent.event_count() == 1)
        .await;
    assert_eq!(
        agent.events()[0]["params"]["event"]["content"]["data"]["body"]["id"],
        7
    );
}

async fn an_https_agent_with_an_unknown_ca_is_not_trusted(backend: Backend) {
    let ca = TestCa::new();
    let app = spawn_app(backend).await; // system roots only
    let upstream = Upstream::start_tls(ca.server_config()).await;
    let key = agent_with_key(&app, "agent-a", &upstream).await;
    let reply = call(&app, "agent-a", "hook", &key, "{}").await;
    assert_eq!(reply.status, 502, "{}", reply.text());
    assert!(
        upstream.received().is_empty(),
        "nothing reached the untrusted agent"
    );
}

/// A certificate made as operators make one: `openssl req -x509`, which
/// marks it as its own CA (`CA:TRUE`), for `localhost`.
struct OpensslSelfSigned {
    _dir: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
}

impl OpensslSelfSigned {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let made = std::process::Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args([
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=DNS:localhost",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("openssl runs");
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        let text = std::process::Command::new("openssl")
            .args(["x509", "-noout", "-text", "-in"])
            .arg(&cert)
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&text.stdout).contains("CA:TRUE"),
            "openssl's self-signed certificate says it is a CA"
        );
        Self {
            _dir: dir,
            cert,
            key,
        }
    }

    fn server_config(&self) -> rustls::ServerConfig {
        use rustls::pki_types::pem::PemObject;
        let certs = CertificateDer::pem_file_iter(&self.cert)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(&self.key).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap()
    }

    fn path(&self) -> &Path {
        &self.cert
    }
}

async fn a_self_signed_agent_listed_in_the_ca_file_is_trusted_as_itself(backend: Backend) {
    let listed = OpensslSelfSigned::new();
    let other = OpensslSelfSigned::new();
    let ca_path = listed.path().to_owned();
    let app = spawn_app_with(backend, move |s| s.agent_ca_file = Some(ca_path)).await;
    let upstream = Upstream::start_tls(listed.server_config()).await;
    let key = agent_with_key(&app, "pinned", &upstream).await;
    let reply = call(&app, "pinned", "hook", &key, "{\"n\":1}").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(upstream.single().body, "{\"n\":1}");
    // acp_event over the same pinned certificate.
    acp_event_over_tls(&app, "pinned-acp", listed.server_config()).await;
    // Another self-signed certificate for the same name is not trusted.
    let impostor = Upstream::start_tls(other.server_config()).await;
    let key = agent_with_key(&app, "impostor", &impostor).await;
    let reply = call(&app, "impostor", "hook", &key, "{}").await;
    assert_eq!(reply.status, 502, "{}", reply.text());
    assert!(
        impostor.received().is_empty(),
        "nothing reached the impostor"
    );
}
