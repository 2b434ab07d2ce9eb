//! Where a webhook may be sent (SSRF protection): a URL whose host is, or resolves to, a
//! loopback, private, link-local, shared (CGNAT), unique-local, multicast, broadcast or
//! unspecified address is refused unless `VCA_WEBHOOK_ALLOW_PRIVATE=true`.
//!
//! It is checked twice: when a webhook is written ([`check_url`]), and at every delivery
//! by [`CheckedResolver`], the delivery client's DNS resolver, which hands the connector
//! only the allowed addresses it resolved, so the address checked is the address connected
//! to (a name that re-resolves to a private address later gets nowhere).

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why a webhook URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// Not an http(s) URL with a host.
    #[error("url must be an http or https URL with a host")]
    NotHttp,
    /// The host does not resolve.
    #[error("the url's host does not resolve")]
    Unresolvable,
    /// The host is or resolves to an address webhooks may not reach.
    #[error("the url's host is or resolves to a loopback, private or link-local address ({0})")]
    Forbidden(IpAddr),
}

/// Whether `ip` is an address webhooks may not reach (unless private ones are allowed).
#[must_use]
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => forbidden_v4(v4),
            None => forbidden_v6(v6),
        },
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        // 100.64.0.0/10, shared address space (carrier-grade NAT).
        || (a == 100 && (64..128).contains(&b))
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // fc00::/7 unique local, fe80::/10 link-local.
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
}

/// The host and port of an http(s) URL.
fn host_and_port(url: &str) -> Result<(url::Host<String>, u16), AddressError> {
    let parsed = url::Url::parse(url).map_err(|_| AddressError::NotHttp)?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(AddressError::NotHttp);
    }
    let host = parsed.host().ok_or(AddressError::NotHttp)?.to_owned();
    let port = parsed
        .port_or_known_default()
        .ok_or(AddressError::NotHttp)?;
    Ok((host, port))
}

/// The allowed addresses of `host:port`: every resolved one, or only the public ones.
async fn resolve(
    host: &str,
    port: u16,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, AddressError> {
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| AddressError::Unresolvable)?
        .collect();
    let first = *found.first().ok_or(AddressError::Unresolvable)?;
    if allow_private {
        return Ok(found);
    }
    let allowed: Vec<SocketAddr> = found
        .into_iter()
        .filter(|a| !is_forbidden(a.ip()))
        .collect();
    if allowed.is_empty() {
        return Err(AddressError::Forbidden(first.ip()));
    }
    Ok(allowed)
}

/// Checks a webhook URL when it is written: http(s), a host that resolves, and (unless
/// `allow_private`) no forbidden address among those it resolves to.
pub async fn check_url(url: &str, allow_private: bool) -> Result<(), AddressError> {
    let (host, port) = host_and_port(url)?;
    match host {
        url::Host::Ipv4(v4) => literal(IpAddr::V4(v4), allow_private),
        url::Host::Ipv6(v6) => literal(IpAddr::V6(v6), allow_private),
        url::Host::Domain(name) => {
            let all = resolve(&name, port, true).await?;
            match all.iter().find(|a| is_forbidden(a.ip())) {
                Some(bad) if !allow_private => Err(AddressError::Forbidden(bad.ip())),
                _ => Ok(()),
            }
        }
    }
}

/// Checks a URL whose host is an IP literal at delivery (the resolver is not asked then).
pub fn check_literal(url: &str, allow_private: bool) -> Result<(), AddressError> {
    match host_and_port(url)?.0 {
        url::Host::Ipv4(v4) => literal(IpAddr::V4(v4), allow_private),
        url::Host::Ipv6(v6) => literal(IpAddr::V6(v6), allow_private),
        url::Host::Domain(_) => Ok(()),
    }
}

fn literal(ip: IpAddr, allow_private: bool) -> Result<(), AddressError> {
    if !allow_private && is_forbidden(ip) {
        Err(AddressError::Forbidden(ip))
    } else {
        Ok(())
    }
}

/// The delivery client's resolver: resolves, then keeps only allowed addresses.
#[derive(Debug, Clone, Copy)]
pub struct CheckedResolver {
    /// Keep private addresses too.
    pub allow_private: bool,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let allow_private = self.allow_private;
        let fut: Pin<Box<dyn Future<Output = _> + Send>> = Box::pin(async move {
            // Port 0: reqwest puts in the URL's port.
            match resolve(&host, 0, allow_private).await {
                Ok(addrs) => Ok(Box::new(addrs.into_iter()) as Addrs),
                Err(e) => Err(Box::new(e) as Box<dyn std::error::Error + Send + Sync>),
            }
        });
        fut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_forbidden() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            let ip: IpAddr = ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            assert!(is_forbidden(ip), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "100.128.0.1", "2606:4700::1111"] {
            let ip: IpAddr = ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            assert!(!is_forbidden(ip), "{ip}");
        }
    }

    #[tokio::test]
    async fn urls_are_checked_before_resolution_and_after() {
        assert_eq!(
            check_url("ftp://example.com/x", false).await,
            Err(AddressError::NotHttp)
        );
        assert!(matches!(
            check_url("http://127.0.0.1:9/hook", false).await,
            Err(AddressError::Forbidden(_))
        ));
        assert!(matches!(
            check_url("http://[::1]/hook", false).await,
            Err(AddressError::Forbidden(_))
        ));
        assert!(matches!(
            check_url("http://localhost:8080/hook", false).await,
            Err(AddressError::Forbidden(_))
        ));
        assert_eq!(check_url("http://127.0.0.1:9/hook", true).await, Ok(()));
        assert_eq!(check_url("http://localhost:9/hook", true).await, Ok(()));
        assert!(check_literal("http://10.0.0.1/x", false).is_err());
        assert!(check_literal("http://10.0.0.1/x", true).is_ok());
    }
}
