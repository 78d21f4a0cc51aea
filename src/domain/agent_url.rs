use super::ParseError;
use actix_web::http::Uri;

/// An agent's address as a registration or a card gives it: an absolute
/// `http://` or `https://` URL with a host; the error names `field`.
pub fn absolute_http_url(field: &str, raw: &str) -> Result<Uri, ParseError> {
    let bad = |why: &str| ParseError(format!("Field '{field}' {why}, got {raw:?}."));
    let uri: Uri = raw.parse().map_err(|_| bad("must be a URL"))?;
    match uri.scheme_str() {
        Some("http" | "https") if uri.host().is_some() => Ok(uri),
        _ => Err(bad("must be an absolute http:// or https:// URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_absolute_http_urls_pass() {
        assert!(absolute_http_url("acp_url", "https://a.example/x").is_ok());
        let relative = absolute_http_url("acp_url", "/rpc").unwrap_err().0;
        assert_eq!(
            relative,
            "Field 'acp_url' must be an absolute http:// or https:// URL, got \"/rpc\"."
        );
        assert!(absolute_http_url("u", "ftp://a.example/").is_err());
        assert!(absolute_http_url("u", "not a url")
            .unwrap_err()
            .0
            .contains("must be a URL"));
    }
}
