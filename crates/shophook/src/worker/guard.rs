//! The SSRF guard at the network edge: a DNS resolver that answers only with
//! addresses the policy allows, so the address that was checked is the address
//! that is connected to (no DNS-rebinding window). Literal-IP URLs never reach a
//! resolver, so [`check_literal`] judges them before the request is made.

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use shophook_core::ssrf::{Refused, TargetPolicy};

/// Resolver used by the delivery HTTP client.
pub struct GuardedResolver {
    policy: Arc<TargetPolicy>,
}

impl GuardedResolver {
    /// A resolver enforcing `policy`.
    pub fn new(policy: Arc<TargetPolicy>) -> Self {
        GuardedResolver { policy }
    }
}

/// The host resolved to nothing at all.
#[derive(Debug, thiserror::Error)]
#[error("host `{0}` has no address")]
pub struct NoAddress(String);

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut allowed = Vec::with_capacity(found.len());
            let mut refused: Option<Refused> = None;
            for addr in found {
                match policy.check(addr.ip()) {
                    Ok(()) => allowed.push(addr),
                    Err(r) => refused = Some(r),
                }
            }
            if allowed.is_empty() {
                return Err(match refused {
                    Some(r) => Box::new(r) as Box<dyn std::error::Error + Send + Sync>,
                    None => Box::new(NoAddress(host)),
                });
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// Judges a URL whose host is an IP literal (after the URL parser normalised
/// spellings such as `0x7f.1` or `2130706433` to dotted form).
pub fn check_literal(url: &url::Url, policy: &TargetPolicy) -> Result<(), Refused> {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => policy.check(ip.into()),
        Some(url::Host::Ipv6(ip)) => policy.check(ip.into()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_spellings_are_normalised_before_the_check() {
        let p = TargetPolicy::default();
        for u in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0x7f.0.0.1/",
            "http://0177.0.0.1/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0/",
            "http://127.1/",
        ] {
            let url = url::Url::parse(u).unwrap();
            assert!(check_literal(&url, &p).is_err(), "{u} must be refused");
        }
        assert!(check_literal(&url::Url::parse("http://93.184.215.14/").unwrap(), &p).is_ok());
        assert!(check_literal(&url::Url::parse("http://example.com/").unwrap(), &p).is_ok());
    }
}
