//! `GET /providers`: the registry as data, so the dashboard's key form and
//! other tooling list what hookgate verifies without a copy of the list.

use crate::verify::described;
use crate::verify::providers::PROVIDERS;
use crate::verify::{Descriptor, SecretSource};
use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderResponse {
    /// The key type (`api_key_type`, webhook-trigger `source`).
    pub kind: String,
    /// `generated` (hookgate makes one when none is given), `provider_made`,
    /// `public_key` or `not_a_trigger`.
    pub secret: &'static str,
    /// Where the user finds a secret hookgate cannot make.
    pub secret_found_in: Option<&'static str>,
    /// Headers whose presence picks the provider (with `selected_by_prefix`,
    /// what the value starts with when the header is shared).
    pub selected_by: Vec<&'static str>,
    pub selected_by_prefix: &'static str,
    /// Headers carrying the caller's credential (never stored or forwarded).
    pub credential_headers: Vec<&'static str>,
    /// Headers carrying a signature.
    pub signature_headers: Vec<&'static str>,
    /// Every other header it reads.
    pub reads: Vec<&'static str>,
    /// Whether its events name a conversation (`{conversation}`).
    pub conversation: bool,
    /// Whether it has set-up or liveness calls hookgate answers.
    pub handshakes: bool,
    /// Whether its events name who caused them (loop guard, `actor`).
    pub actors: bool,
}

impl From<&'static Descriptor> for ProviderResponse {
    fn from(d: &'static Descriptor) -> Self {
        Self {
            kind: d.kind.as_str().to_owned(),
            secret: match d.secret {
                SecretSource::Generated => "generated",
                SecretSource::ProviderMade { .. } => "provider_made",
                SecretSource::PublicKey { .. } => "public_key",
                SecretSource::NotATrigger => "not_a_trigger",
            },
            secret_found_in: d.secret.found_in(),
            selected_by: d.selected_by.to_vec(),
            selected_by_prefix: d.selected_by_prefix,
            credential_headers: d.credential_headers.to_vec(),
            signature_headers: d.signature_headers.to_vec(),
            reads: d.reads.to_vec(),
            conversation: described::has_conversation(d),
            handshakes: !d.handshakes.is_empty(),
            actors: !d.actors.is_empty(),
        }
    }
}

#[utoipa::path(get, path = "/providers", operation_id = "list_providers", tag = "providers",
    responses((status = 200, body = [ProviderResponse],
        description = "Every provider hookgate verifies, in the order calls are matched")))]
pub async fn list() -> HttpResponse {
    let listed: Vec<ProviderResponse> = PROVIDERS.iter().map(|p| p.descriptor().into()).collect();
    HttpResponse::Ok().json(listed)
}
