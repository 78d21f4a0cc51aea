//! The benchmark's upstream agent: answers every request 200 with a small
//! JSON body, as fast as it can. `scripts/bench` runs it as the "direct"
//! baseline and behind nginx and hookgate.
//!
//! Run: `cargo run --release --example bench_upstream -- 127.0.0.1:9100`

use actix_web::{web, App, HttpResponse, HttpServer};

async fn ok(body: web::Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(format!(r#"{{"ok":true,"received":{}}}"#, body.len()))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9100".into());
    let workers = std::env::var("UPSTREAM_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(1);
    HttpServer::new(|| {
        App::new()
            .app_data(web::PayloadConfig::new(32 << 20))
            .default_service(web::to(ok))
    })
    .workers(workers)
    .backlog(4096)
    .bind(bind)?
    .run()
    .await
}
