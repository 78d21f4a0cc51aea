//! A stand-in agent for the README walkthrough: prints every request that
//! hookgate forwards to it and answers 200 JSON.
//!
//! Run: `cargo run --example echo_agent` (listens on 127.0.0.1:8000, or on
//! the address in `ECHO_AGENT_BIND`).

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};

async fn echo(req: HttpRequest, body: web::Bytes) -> HttpResponse {
    println!("{} {}", req.method(), req.uri());
    for (name, value) in req.headers() {
        println!("  {name}: {}", value.to_str().unwrap_or("<binary>"));
    }
    println!(
        "  body ({} bytes): {}\n",
        body.len(),
        String::from_utf8_lossy(&body)
    );
    HttpResponse::Ok().json(serde_json::json!({ "received": true, "bytes": body.len() }))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::var("ECHO_AGENT_BIND").unwrap_or_else(|_| "127.0.0.1:8000".into());
    println!("echo agent listening on http://{bind}");
    HttpServer::new(|| {
        App::new()
            .app_data(web::PayloadConfig::new(32 << 20))
            .default_service(web::to(echo))
    })
    .workers(1)
    .bind(bind)?
    .run()
    .await
}
