//! Where the admin CLI sends the admin token. Credentials written into
//! `HOOKGATE_URL` (`http://ops:pw@host`, for a proxy with Basic auth) are
//! taken out before the URL is printed anywhere and sent as an
//! `Authorization: Basic` header; a redirect is never followed, so the
//! token never reaches an address the user did not name.

use base64::Engine;
use hookgate::domain::Secret;

/// The base URL without credentials, and the credentials as a header value.
#[derive(Debug, Clone)]
pub struct RemoteUrl {
    /// Printable: never holds userinfo.
    pub base: String,
    /// `Basic …` when the URL carried `user:password@`.
    pub basic_auth: Option<Secret>,
}

impl RemoteUrl {
    pub fn parse(raw: &str) -> Self {
        let raw = raw.trim().trim_end_matches('/');
        let (base, userinfo) = split_userinfo(raw);
        let basic_auth = userinfo.map(|userinfo| {
            let decoded = percent_encoding::percent_decode_str(userinfo).decode_utf8_lossy();
            let encoded = base64::engine::general_purpose::STANDARD.encode(decoded.as_bytes());
            Secret::new(format!("Basic {encoded}"))
        });
        Self { base, basic_auth }
    }
}

/// `url` without its userinfo, and the userinfo.
fn split_userinfo(url: &str) -> (String, Option<&str>) {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return (url.to_owned(), None);
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => (
            format!("{}{}", &url[..scheme_end], &rest[at + 1..]),
            Some(&rest[..at]),
        ),
        None => (url.to_owned(), None),
    }
}

/// A URL as it may be printed: without userinfo.
pub fn printable(url: &str) -> String {
    split_userinfo(url).0
}

/// `scheme://host[:port]` of an absolute URL, lower-cased; None for a
/// relative one.
pub fn origin(url: &str) -> Option<String> {
    let url = printable(url);
    let scheme_end = url.find("://")? + 3;
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(format!("{}{}", &url[..scheme_end], &rest[..authority_end]).to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_leave_the_url_for_a_header() {
        let remote = RemoteUrl::parse("http://ops:p%40ss@hooks.example.com:5003/");
        assert_eq!(remote.base, "http://hooks.example.com:5003");
        let header = remote.basic_auth.unwrap();
        assert_eq!(header.expose(), "Basic b3BzOnBAc3M=");
        assert!(!format!("{header:?}").contains("b3Bz"));
        let plain = RemoteUrl::parse("https://h/x@y");
        assert_eq!(
            (plain.base.as_str(), plain.basic_auth.is_none()),
            ("https://h/x@y", true)
        );
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        assert_eq!(
            origin("HTTP://Evil.example:80/a?b").as_deref(),
            Some("http://evil.example:80")
        );
        assert_eq!(origin("https://u:p@h/x").as_deref(), Some("https://h"));
        assert_eq!(origin("/relative"), None);
        assert_eq!(printable("http://u:p@h/x@y"), "http://h/x@y");
    }
}
