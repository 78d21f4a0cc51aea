//! TLS to agents: the client configuration every forwarder uses for
//! `https://` agents (rustls with the ring provider), trusting the system's
//! roots and, when `HOOKGATE_AGENT_CA_FILE` names one, a private CA's
//! certificates too. A certificate in that file is also trusted as itself
//! when an agent presents it (pinned): `openssl req -x509` makes a
//! self-signed certificate that says it is a CA, which WebPKI refuses as a
//! server's own (`CaUsedAsEndEntity`) though curl's `--cacert` takes it.

mod pinned;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(String);

/// The client configuration for agents.
pub fn agent_client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    // Unreadable system certificates are skipped: a private CA may be all
    // an installation uses.
    let (added, _) =
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    tracing::debug!(system_roots = added, "TLS roots loaded");
    let pinned = match ca_file {
        Some(path) => add_ca_file(&mut roots, path)?,
        None => Vec::new(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = pinned::PinnedOrWebPki::new(pinned, roots, provider.clone())?;
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(format!("TLS set-up failed: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    // awc speaks HTTP/1.1 to agents, as over plain TCP.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Adds the file's certificates to `roots` and returns them (each is also
/// trusted as itself).
fn add_ca_file(
    roots: &mut RootCertStore,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let unreadable =
        |why: String| TlsError(format!("HOOKGATE_AGENT_CA_FILE {}: {why}", path.display()));
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| unreadable(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unreadable(format!("not PEM certificates ({e})")))?;
    if certs.is_empty() {
        return Err(unreadable("holds no PEM certificate".into()));
    }
    for cert in &certs {
        roots
            .add(cert.clone())
            .map_err(|e| unreadable(format!("a certificate was refused ({e})")))?;
    }
    Ok(certs)
}
