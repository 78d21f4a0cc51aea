//! Keeps web pages from driving the admin API through the operator's
//! browser. Browsers send a cross-site form or `fetch` without asking first
//! only with a form or text content type, and always say where it comes
//! from; a DNS-rebinding page reaches a loopback server under its own name.
//! So every admin request (every route but the forward route, health and
//! `/openapi.json`) must: come from no other origin, carry a body only as
//! `application/json`, and, while no admin token is set, name a loopback
//! host.

use super::admin_auth::AdminAuth;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, ORIGIN, TRANSFER_ENCODING};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

pub async fn browser_guard(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let tokenless = req
        .app_data::<web::Data<AdminAuth>>()
        .is_none_or(|auth| auth.token.is_none());
    match refusal(&req, tokenless) {
        None => Ok(next.call(req).await?.map_into_left_body()),
        Some((status, detail)) => {
            let response =
                HttpResponse::build(status).json(serde_json::json!({ "detail": detail }));
            Ok(req.into_response(response).map_into_right_body())
        }
    }
}

fn is_admin_path(path: &str) -> bool {
    !super::is_public_path(path)
}

/// Why an admin request is refused, if it is.
fn refusal(req: &ServiceRequest, tokenless: bool) -> Option<(StatusCode, String)> {
    if !is_admin_path(req.path()) {
        return None;
    }
    let headers = req.headers();
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    if let Some(origin) = headers.get(ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if host.is_none_or(|host| !same_origin(origin, host)) {
            return Some((
                StatusCode::FORBIDDEN,
                format!(
                    "Cross-origin admin requests are refused: Origin {origin:?} is not this server."
                ),
            ));
        }
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if !matches!(site, "same-origin" | "none") {
            return Some((
                StatusCode::FORBIDDEN,
                format!("Cross-site admin requests are refused (Sec-Fetch-Site: {site})."),
            ));
        }
    }
    if tokenless {
        if let Some(host) = host.filter(|h| !is_loopback_host(h)) {
            return Some((
                StatusCode::FORBIDDEN,
                format!(
                    "Host {host:?} is not a loopback name: without an admin token, admin \
                     requests are answered only for localhost, 127.0.0.1 or [::1]. Set \
                     HOOKGATE_ADMIN_TOKEN to serve them under other names."
                ),
            ));
        }
    }
    if has_body(req) && !is_json(headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok())) {
        return Some((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Admin requests with a body must send it as 'content-type: application/json'.".into(),
        ));
    }
    None
}

fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    headers.contains_key(TRANSFER_ENCODING)
        || headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|n| n.trim() != "0")
}

/// `application/json` or `application/<anything>+json`, any parameters.
fn is_json(content_type: Option<&str>) -> bool {
    let Some(mime) = content_type.and_then(|c| c.split(';').next()) else {
        return false;
    };
    let mime = mime.trim().to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Whether `origin` (`scheme://host[:port]`) names `host` (`host[:port]`).
fn same_origin(origin: &str, host: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => "80",
        "https" => "443",
        _ => return false,
    };
    let with_port = |a: &str| {
        let a = a.to_ascii_lowercase();
        if a.ends_with(']') || !a.contains(':') {
            format!("{a}:{default_port}")
        } else {
            a
        }
    };
    with_port(authority) == with_port(host)
}

/// `localhost`, a `*.localhost` name, `127.x.x.x` or `[::1]`, any port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port))
            if !name.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && !host.ends_with(']') =>
        {
            name
        }
        _ => host,
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names() {
        for host in [
            "localhost",
            "localhost:5003",
            "api.localhost:1",
            "127.0.0.1:5003",
            "127.9.9.9",
            "[::1]:5003",
            "[::1]",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:5003",
            "localhost.evil.example",
            "10.0.0.1:5003",
            "[::2]:1",
            "127.0.0.1.nip.io",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn origins() {
        assert!(same_origin("http://127.0.0.1:5003", "127.0.0.1:5003"));
        assert!(same_origin("http://localhost", "localhost:80"));
        assert!(same_origin("https://hookgate.example", "hookgate.example"));
        assert!(!same_origin("http://evil.example", "127.0.0.1:5003"));
        assert!(!same_origin("http://127.0.0.1:5004", "127.0.0.1:5003"));
        assert!(!same_origin("null", "127.0.0.1:5003"));
        assert!(!same_origin("https://127.0.0.1:5003", "127.0.0.1"));
    }

    #[test]
    fn json_types() {
        assert!(is_json(Some("application/json")));
        assert!(is_json(Some("Application/JSON; charset=utf-8")));
        assert!(is_json(Some("application/merge-patch+json")));
        assert!(!is_json(Some("text/plain")));
        assert!(!is_json(Some("application/x-www-form-urlencoded")));
        assert!(!is_json(None));
    }
}
