//! Keeping deliveries off the server's own network (SSRF). A store's endpoint may name any
//! host; unless the operator allows private targets, a message goes only to public addresses.
//! The check runs on the addresses actually connected to: the HTTP client resolves names
//! through [`GuardedResolver`], so a name that resolved to a public address at registration and
//! to 127.0.0.1 later (DNS rebinding) is refused at delivery.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use regulars_domain::FieldError;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

/// Whether an address is one a delivery may not reach without `allow_private_targets`:
/// unspecified, loopback, private (RFC 1918), shared/CGNAT, link-local, unique-local,
/// multicast, broadcast, documentation, benchmarking and reserved ranges, and IPv6 forms that
/// embed one of those IPv4 addresses.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    if let Some(v4) = embedded_v4(ip) {
        return forbidden_v4(v4);
    }
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00 // unique local
        || (segments[0] & 0xffc0) == 0xfe80 // link-local
        || (segments[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
        || (segments[0] == 0x0100 && segments[1..4] == [0, 0, 0]) // discard-only
}

/// The IPv4 address inside an IPv4-mapped, IPv4-compatible, NAT64 or 6to4 IPv6 address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    // ::a.b.c.d (deprecated IPv4-compatible), but not :: and ::1 themselves.
    if s[..6] == [0; 6] && !(s[6] == 0 && s[7] <= 1) {
        return Some(tail());
    }
    if s[0] == 0x0064 && s[1] == 0xff9b && s[2..6] == [0; 4] {
        return Some(tail()); // NAT64
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    None
}

/// Why a target was refused.
#[derive(Debug, thiserror::Error)]
pub enum TargetRefused {
    #[error("the host resolves only to private or reserved addresses")]
    Private,
    #[error("the host could not be resolved: {0}")]
    Unresolved(String),
}

/// The HTTP client's name resolver: the system's, with forbidden addresses removed.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    pub allow_private_targets: bool,
}

impl GuardedResolver {
    /// The addresses of `host` a delivery may connect to.
    pub async fn lookup(&self, host: &str) -> Result<Vec<SocketAddr>, TargetRefused> {
        let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
            .await
            .map_err(|e| TargetRefused::Unresolved(e.to_string()))?
            .collect();
        let allowed: Vec<SocketAddr> = resolved
            .into_iter()
            .filter(|a| self.allow_private_targets || !is_forbidden(a.ip()))
            .collect();
        if allowed.is_empty() {
            return Err(TargetRefused::Private);
        }
        Ok(allowed)
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = *self;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs = guard.lookup(&host).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

fn refused(code: &'static str, message: impl Into<String>) -> FieldError {
    FieldError::new("url", code, message)
}

/// The parts of a target URL that need no network: an http(s) URL with a host; https unless
/// private targets are allowed; an IP-literal host (which the client connects to without
/// resolving) only if it is not forbidden. Host names are checked by [`GuardedResolver`].
pub fn check_url_shape(raw: &str, allow_private_targets: bool) -> Result<Url, FieldError> {
    let url = Url::parse(raw.trim()).map_err(|e| refused("invalid_url", format!("not a URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private_targets => {}
        "http" => {
            return Err(refused(
                "https_required",
                "an endpoint URL must use https:// (this server allows http:// only for private targets)",
            ))
        }
        other => {
            return Err(refused(
                "invalid_url_scheme",
                format!("{other}: an endpoint URL must use https://"),
            ))
        }
    }
    let private = || {
        refused(
            "private_target",
            "this address is private, loopback or reserved; deliveries go to public addresses only",
        )
    };
    match url.host() {
        None => return Err(refused("invalid_url", "an endpoint URL needs a host")),
        Some(url::Host::Ipv4(ip)) if !allow_private_targets && is_forbidden(IpAddr::V4(ip)) => {
            return Err(private())
        }
        Some(url::Host::Ipv6(ip)) if !allow_private_targets && is_forbidden(IpAddr::V6(ip)) => {
            return Err(private())
        }
        _ => {}
    }
    Ok(url)
}

/// Checks an endpoint URL at registration: [`check_url_shape`], then, for a host name, that
/// it does not resolve to a forbidden address. A name that does not resolve yet is accepted
/// (it is checked again at every delivery).
pub async fn check_endpoint_url(raw: &str, allow_private_targets: bool) -> Result<Url, FieldError> {
    let url = check_url_shape(raw, allow_private_targets)?;
    if allow_private_targets {
        return Ok(url);
    }
    if let Some(url::Host::Domain(name)) = url.host() {
        // Loopback by definition (RFC 6761), whatever the resolver says.
        let plain = name.trim_end_matches('.').to_ascii_lowercase();
        if plain == "localhost" || plain.ends_with(".localhost") {
            return Err(refused(
                "private_target",
                "localhost is this server itself; deliveries go to public addresses only",
            ));
        }
        let lookup = tokio::time::timeout(Duration::from_secs(5), tokio::net::lookup_host((name, 0))).await;
        if let Ok(Ok(addrs)) = lookup {
            if addrs.into_iter().any(|a| is_forbidden(a.ip())) {
                return Err(refused(
                    "private_target",
                    "this host resolves to a private, loopback or reserved address; deliveries go to public addresses only",
                ));
            }
        }
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn private_and_reserved_addresses_are_forbidden() {
        for s in [
            "127.0.0.1",
            "127.8.9.10",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.0.8",
            "198.18.0.1",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2001:db8::1",
        ] {
            assert!(is_forbidden(ip(s)), "{s}");
        }
        for s in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "2002:0808:0808::",
        ] {
            assert!(!is_forbidden(ip(s)), "{s}");
        }
    }

    #[test]
    fn url_shapes_are_checked_before_any_lookup() {
        let code = |raw: &str, allow: bool| {
            check_url_shape(raw, allow)
                .map(|_| "ok")
                .unwrap_or_else(|e| e.code)
        };
        assert_eq!(code("https://hooks.example.com/in", false), "ok");
        assert_eq!(code("http://hooks.example.com/in", false), "https_required");
        assert_eq!(code("http://127.0.0.1:9000/in", true), "ok");
        assert_eq!(code("ftp://hooks.example.com/", false), "invalid_url_scheme");
        assert_eq!(code("file:///etc/passwd", true), "invalid_url_scheme");
        assert_eq!(code("not a url", false), "invalid_url");
        for private in [
            "https://127.0.0.1/",
            "https://10.0.0.1/",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/",
            "https://2130706433/",
            "https://0x7f.1/",
        ] {
            assert_eq!(code(private, false), "private_target", "{private}");
            assert_eq!(code(private, true), "ok", "{private}");
        }
    }

    #[tokio::test]
    async fn registration_refuses_names_of_this_machine() {
        for url in [
            "https://localhost:8443/",
            "https://api.localhost/",
            "https://LOCALHOST./x",
        ] {
            let e = check_endpoint_url(url, false).await.unwrap_err();
            assert_eq!((e.field.as_str(), e.code), ("url", "private_target"), "{url}");
            assert!(check_endpoint_url(url, true).await.is_ok(), "{url}");
        }
        let e = check_endpoint_url("https://169.254.169.254/", false)
            .await
            .unwrap_err();
        assert_eq!(e.code, "private_target");
    }

    #[tokio::test]
    async fn the_resolver_drops_forbidden_addresses() {
        let strict = GuardedResolver {
            allow_private_targets: false,
        };
        assert!(matches!(
            strict.lookup("localhost").await,
            Err(TargetRefused::Private)
        ));
        assert!(matches!(
            strict.lookup("127.0.0.1").await,
            Err(TargetRefused::Private)
        ));
        let open = GuardedResolver {
            allow_private_targets: true,
        };
        let addrs = open.lookup("127.0.0.1").await.unwrap();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()));
    }
}
