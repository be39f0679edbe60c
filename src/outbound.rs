//! Requests the server makes to addresses others chose (webhook receivers, push services): only
//! to public addresses, unless a setting allows private ones (tests, a LAN). The check is made
//! on the addresses a name resolves to when the request is sent, so a name that later resolves to
//! an inside address (DNS rebinding) is refused too.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Whether `ip` is a globally routable unicast address: not loopback, private, link-local,
/// carrier-grade NAT, documentation, benchmarking, multicast, reserved or unspecified (coturn's
/// recommended `denied-peer-ip` list).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let seg0 = v6.segments()[0];
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (seg0 & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (seg0 & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (seg0 == 0x2001 && v6.segments()[1] == 0x0db8) // documentation
                || v6.segments()[..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible, deprecated
                || seg0 == 0x0064 && v6.segments()[1] == 0xff9b) // NAT64 to anything
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

/// Whether a URL's host may be sent to as written: a name (checked when it resolves), or an
/// address literal that is public (or any, when private addresses are allowed).
pub fn host_allowed(url: &url::Url, allow_private: bool) -> bool {
    match url.host() {
        Some(url::Host::Domain(_)) => true,
        Some(url::Host::Ipv4(ip)) => allow_private || is_public(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => allow_private || is_public(IpAddr::V6(ip)),
        None => false,
    }
}

/// A name that resolves to no public address (what [`client`]'s resolver answers then).
#[derive(Debug)]
pub struct NotPublic(pub String);

impl std::fmt::Display for NotPublic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} resolves to no public address", self.0)
    }
}

impl std::error::Error for NotPublic {}

/// Whether a request failed because its name resolved to no public address.
pub fn refused_as_not_public(err: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<NotPublic>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// Resolves names with the system resolver and keeps only the public addresses.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(Box::new(NotPublic(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            let addrs: reqwest::dns::Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// A client for requests to addresses others chose: no redirects, bounded time, and (unless
/// `allow_private`) public addresses only. Callers also check address literals with
/// [`host_allowed`]: a literal is not resolved, so the resolver never sees it.
pub fn client(
    user_agent: &str,
    timeout: Duration,
    allow_private: bool,
) -> anyhow::Result<reqwest::Client> {
    let builder = reqwest::Client::builder()
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .pool_idle_timeout(Duration::from_secs(30))
        .user_agent(user_agent);
    let builder = if allow_private {
        builder
    } else {
        builder.dns_resolver(Arc::new(PublicOnly))
    };
    Ok(builder.build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for inside in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(inside.parse().unwrap()), "{inside}");
        }
        for outside in ["1.1.1.1", "113.161.0.1", "2001:4860::8888"] {
            assert!(is_public(outside.parse().unwrap()), "{outside}");
        }
    }

    #[test]
    fn address_literals_are_checked_and_names_left_to_the_resolver() {
        let url = |s: &str| url::Url::parse(s).unwrap();
        assert!(!host_allowed(&url("https://127.0.0.1/h"), false));
        assert!(!host_allowed(&url("https://[::1]:8443/h"), false));
        assert!(!host_allowed(&url("https://169.254.169.254/latest"), false));
        assert!(host_allowed(&url("https://127.0.0.1/h"), true));
        assert!(host_allowed(&url("https://113.161.0.1/h"), false));
        assert!(host_allowed(&url("https://hooks.example.vn/h"), false));
    }

    /// `localhost` resolves, but only to loopback: the request is refused before it connects.
    #[tokio::test]
    async fn a_name_resolving_only_inside_is_refused() {
        let client = client("test", Duration::from_secs(2), false).unwrap();
        let err = client
            .get("http://localhost:9/never")
            .send()
            .await
            .unwrap_err();
        assert!(refused_as_not_public(&err), "{err:?}");
    }
}
