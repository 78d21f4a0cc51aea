//! What a request says about where it came from: the scheme and host the
//! caller used, and the client's address. Forwarding headers (`Forwarded`,
//! `X-Forwarded-Host`, `-Proto`, `-For`) are believed only from the peers in
//! `HOOKGATE_TRUSTED_PROXIES` (none by default); from anyone else they are
//! ignored, so a caller cannot choose the URL a Twilio signature is checked
//! against, nor the address logs name.

use actix_web::http::header::{HeaderMap, HOST};
use actix_web::HttpRequest;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The reverse proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    pub fn new(nets: &[IpNet]) -> Self {
        Self(nets.into())
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    fn trusts_peer(&self, peer: Option<SocketAddr>) -> bool {
        peer.is_some_and(|peer| self.trusts(peer.ip()))
    }

    /// `scheme://host` as the caller named it: the proxy's forwarding
    /// headers when the peer is a trusted proxy, else the connection's own
    /// scheme and the `Host` header.
    pub fn origin(&self, req: &HttpRequest) -> String {
        if self.trusts_peer(req.peer_addr()) {
            let info = req.connection_info();
            return format!("{}://{}", info.scheme(), info.host());
        }
        let scheme = match req.app_config().secure() {
            true => "https",
            false => "http",
        };
        let host = req
            .headers()
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| req.uri().authority().map(|a| a.as_str()))
            .unwrap_or_else(|| req.app_config().host());
        format!("{scheme}://{host}")
    }

    /// The client's address: the peer's, or behind trusted proxies the last
    /// address the forwarding headers name that is not one of them (the
    /// ones before it were written by whoever called the first proxy).
    pub fn client_address(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer.map(|p| p.ip());
        if !peer.is_some_and(|ip| self.trusts(ip)) {
            return peer;
        }
        let hops = forwarded_for(headers);
        let mut client = peer;
        for hop in hops.iter().rev() {
            match parse_hop(hop) {
                Some(ip) if self.trusts(ip) => client = Some(ip),
                Some(ip) => return Some(ip),
                None => break,
            }
        }
        client
    }
}

/// The `for=` hops of `Forwarded`, else those of `X-Forwarded-For`, in order.
fn forwarded_for(headers: &HeaderMap) -> Vec<String> {
    let values = |name: &str| {
        headers
            .get_all(name)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|hop| hop.trim().to_owned())
            .collect::<Vec<_>>()
    };
    let forwarded: Vec<String> = values("forwarded")
        .iter()
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                name.eq_ignore_ascii_case("for")
                    .then(|| value.trim_matches('"').to_owned())
            })
        })
        .collect();
    match forwarded.is_empty() {
        true => values("x-forwarded-for"),
        false => forwarded,
    }
}

/// An address as a hop names it: `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]:4711`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Ok(addr) = hop.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    hop.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::headers;

    #[test]
    fn forwarding_headers_count_only_from_trusted_peers() {
        let proxies = TrustedProxies::new(&["10.0.0.0/8".parse().unwrap()]);
        let spoofed = headers(&[("x-forwarded-for", "6.6.6.6")]);
        let stranger: SocketAddr = "203.0.113.9:5000".parse().unwrap();
        let proxy: SocketAddr = "10.1.2.3:5000".parse().unwrap();
        let client =
            |peer, h: &HeaderMap| proxies.client_address(Some(peer), h).unwrap().to_string();
        assert_eq!(client(stranger, &spoofed), "203.0.113.9");
        assert_eq!(client(proxy, &spoofed), "6.6.6.6");
        // The caller wrote the first hop; the proxy appended the real one.
        let chain = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.9.9.9")]);
        assert_eq!(client(proxy, &chain), "198.51.100.7");
        let rfc = headers(&[(
            "forwarded",
            "for=\"[2001:db8::1]:4711\";proto=https, for=10.0.0.2",
        )]);
        assert_eq!(client(proxy, &rfc), "2001:db8::1");
        assert_eq!(client(proxy, &headers(&[])), "10.1.2.3");
        let none = TrustedProxies::default();
        assert_eq!(
            none.client_address(Some(proxy), &spoofed)
                .unwrap()
                .to_string(),
            "10.1.2.3"
        );
    }
}
