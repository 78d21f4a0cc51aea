//! `/ui/`: the dashboard's files (`ui/dist`, built by Vite from `ui/src`),
//! embedded in the binary. The files are public; everything they show comes
//! from the admin API with the token the user signs in with.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

#[derive(rust_embed::Embed)]
#[folder = "ui/dist"]
struct Assets;

/// Only hookgate's own files run, fetch and style the page.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/ui", web::get().to(to_slash))
        .route("/ui/{file:.*}", web::get().to(file));
}

async fn to_slash() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/ui/"))
        .finish()
}

async fn file(req: HttpRequest) -> HttpResponse {
    let name = req.match_info().query("file");
    let name = if name.is_empty() { "index.html" } else { name };
    let Some(found) = Assets::get(name) else {
        return HttpResponse::NotFound()
            .insert_header(header::ContentType::plaintext())
            .body("not found");
    };
    // Hashed asset names change with their content: keep them for good.
    let cache = match name.starts_with("assets/") {
        true => "public, max-age=31536000, immutable",
        false => "no-cache",
    };
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, found.metadata.mimetype()))
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .body(found.data.into_owned())
}
