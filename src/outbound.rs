//! Where hookgate may connect to reach agents. Whoever registers an agent
//! chooses its URL, so without a policy hookgate would fetch from the cloud
//! metadata service (169.254.169.254, fd00:ec2::254) or other link-local
//! addresses on their behalf. Those ranges are refused by default;
//! `HOOKGATE_AGENT_DENY_NETS` refuses more, `HOOKGATE_AGENT_ALLOW_NETS`
//! lets chosen ranges through. Checked at registration (an address in the
//! URL) and at every connection (the addresses a name resolves to).

use actix_tls::connect::Resolve;
use futures_util::future::LocalBoxFuture;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// Refused whatever the settings add: link-local (which holds the metadata
/// services of AWS, GCP and Azure) and AWS's IPv6 metadata address.
const DENIED_BY_DEFAULT: [&str; 3] = ["169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128"];

#[derive(Debug, Clone)]
pub struct OutboundPolicy {
    deny: Vec<IpNet>,
    allow: Vec<IpNet>,
}

impl OutboundPolicy {
    /// The default ranges plus `deny`, except what `allow` names.
    pub fn new(deny: &[IpNet], allow: &[IpNet]) -> Self {
        let mut all: Vec<IpNet> = DENIED_BY_DEFAULT
            .iter()
            .map(|net| net.parse().expect("a valid built-in range"))
            .collect();
        all.extend_from_slice(deny);
        Self {
            deny: all,
            allow: allow.to_vec(),
        }
    }

    /// Why connecting to `ip` is refused, naming the setting that would
    /// change it; `None` when it is allowed.
    pub fn refusal(&self, ip: IpAddr) -> Option<String> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        if self.allow.iter().any(|net| net.contains(&ip)) {
            return None;
        }
        let net = self.deny.iter().find(|net| net.contains(&ip))?;
        Some(format!(
            "address {ip} is in {net}, which hookgate does not connect to (link-local and \
             cloud metadata addresses by default, HOOKGATE_AGENT_DENY_NETS); \
             HOOKGATE_AGENT_ALLOW_NETS lets a range through"
        ))
    }

    /// The refusal for a URL whose host is an address (names are checked
    /// when they resolve).
    pub fn refusal_for_host(&self, host: &str) -> Option<String> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        bare.parse::<IpAddr>().ok().and_then(|ip| self.refusal(ip))
    }
}

/// A resolver that drops refused addresses, and fails when none is left.
#[derive(Debug, Clone)]
pub struct PolicyResolver(pub std::sync::Arc<OutboundPolicy>);

impl Resolve for PolicyResolver {
    fn lookup<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> LocalBoxFuture<'a, Result<Vec<SocketAddr>, Box<dyn std::error::Error>>> {
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
            let mut refusals = Vec::new();
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|addr| match self.0.refusal(addr.ip()) {
                    Some(why) => {
                        refusals.push(why);
                        false
                    }
                    None => true,
                })
                .collect();
            match (allowed.is_empty(), refusals.pop()) {
                (true, Some(why)) => Err(format!("{host} resolves to an {why}").into()),
                _ => Ok(allowed),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn metadata_and_link_local_are_refused_by_default() {
        let policy = OutboundPolicy::new(&[], &[]);
        for refused in [
            "169.254.169.254",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:169.254.169.254",
        ] {
            let why = policy.refusal(ip(refused)).unwrap_or_default();
            assert!(
                why.contains("HOOKGATE_AGENT_ALLOW_NETS"),
                "{refused}: {why}"
            );
        }
        for allowed in ["127.0.0.1", "10.1.2.3", "::1", "93.184.216.34"] {
            assert_eq!(policy.refusal(ip(allowed)), None, "{allowed}");
        }
        assert!(policy.refusal_for_host("[fd00:ec2::254]").is_some());
        assert_eq!(policy.refusal_for_host("agent.internal"), None);
    }

    #[test]
    fn settings_add_and_lift_ranges() {
        let deny: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let allow: Vec<IpNet> = vec!["169.254.10.0/24".parse().unwrap()];
        let policy = OutboundPolicy::new(&deny, &allow);
        assert!(policy.refusal(ip("10.9.9.9")).is_some());
        assert_eq!(policy.refusal(ip("169.254.10.7")), None);
        assert!(policy.refusal(ip("169.254.169.254")).is_some());
    }
}
