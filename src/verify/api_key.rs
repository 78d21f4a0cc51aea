//! Shared API keys: `x-agent-api-key: KEY` or `Authorization: AgentKey KEY`.

use actix_web::http::header::{HeaderMap, HeaderValue, AUTHORIZATION};

pub const HEADER: &str = "x-agent-api-key";

/// The key a caller presents, if any (scheme name case-insensitive).
pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(key) = headers.get(HEADER).and_then(|v| v.to_str().ok()) {
        return Some(key.trim());
    }
    headers
        .get_all(AUTHORIZATION)
        .find_map(|v| agent_key_of_authorization(v))
}

/// The KEY of an `Authorization: AgentKey KEY` value.
pub fn agent_key_of_authorization(value: &HeaderValue) -> Option<&str> {
    let (scheme, key) = value.to_str().ok()?.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("agentkey")
        .then(|| key.trim())
        .filter(|k| !k.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderName;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        map
    }

    #[test]
    fn reads_either_header_with_any_scheme_case() {
        assert_eq!(presented_key(&headers(&[(HEADER, "k1")])), Some("k1"));
        assert_eq!(
            presented_key(&headers(&[("authorization", "agentKEY k2")])),
            Some("k2")
        );
    }

    #[test]
    fn ignores_other_authorization_schemes() {
        assert_eq!(
            presented_key(&headers(&[("authorization", "Bearer abc")])),
            None
        );
        assert_eq!(
            presented_key(&headers(&[("authorization", "AgentKey ")])),
            None
        );
    }
}
