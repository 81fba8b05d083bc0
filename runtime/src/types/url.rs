//! Network: [`SafeUrl`], an http(s) URL whose host cannot be this machine, its network,
//! or a cloud metadata service, in any notation, before and after DNS.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::Problem;

/// Longest accepted URL, in bytes.
pub const MAX_URL_BYTES: usize = 2048;

/// An absolute `http`/`https` URL (also `ws`/`wss` where a field allows them) that is safe
/// to fetch from the server: no user info, no fragment, and a host that is not loopback,
/// private, link-local, CGNAT, multicast, unspecified, reserved or a metadata endpoint,
/// whatever the notation (`2130706433`, `0177.0.0.1`, `0x7f.1`, `127.1`, `[::1]`,
/// `[::ffff:127.0.0.1]`, trailing dots, IDN).
///
/// Parsing checks the URL as written; [`SafeUrl::resolve`] checks what its name resolves
/// to (DNS rebinding) and returns the addresses to connect to.
///
/// ```
/// use secure_tool::types::SafeUrl;
///
/// assert!(SafeUrl::parse("https://api.github.com/repos").is_ok());
/// for bad in ["http://127.1/", "http://2130706433/", "http://[::ffff:7f00:1]/",
///             "http://169.254.169.254/latest/meta-data", "http://localhost./",
///             "http://user:pw@example.com/", "file:///etc/passwd"] {
///     assert!(SafeUrl::parse(bad).is_err(), "{bad}");
/// }
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SafeUrl(url::Url);

/// Why a URL was refused. Names the rule, never the URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlRejection(Cow<'static, str>);

impl fmt::Display for UrlRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UrlRejection {}

fn reject<T>(why: &'static str) -> Result<T, UrlRejection> {
    Err(UrlRejection(Cow::Borrowed(why)))
}

/// Names that always mean this machine or its cloud's internals.
const BLOCKED_NAMES: &[&str] = &[
    "localhost",
    "localhost.localdomain",
    "ip6-localhost",
    "ip6-loopback",
    "metadata",
    "metadata.google.internal",
    "metadata.goog",
    "instance-data",
    "instance-data.ec2.internal",
    "kubernetes",
    "kubernetes.default",
];

/// Suffixes of names that are local by definition.
const BLOCKED_SUFFIXES: &[&str] = &[
    ".localhost",
    ".local",
    ".localdomain",
    ".internal",
    ".home.arpa",
    ".lan",
    ".intranet",
    ".corp",
    ".svc",
    ".cluster.local",
];

impl SafeUrl {
    /// Check `text` (http, https, ws or wss; a field narrows this to http/https unless
    /// its annotation says otherwise).
    pub fn parse(text: &str) -> Result<Self, UrlRejection> {
        if text.is_empty() {
            return reject("the URL is empty");
        }
        if text.len() > MAX_URL_BYTES {
            return reject("the URL is too long (at most 2048 bytes)");
        }
        // The URL parser silently drops tabs and newlines and reads `\` as `/`: what it
        // would quietly rewrite is refused instead, so what was checked is what was sent.
        if text
            .chars()
            .any(|c| c.is_whitespace() || c == '\\' || super::hidden_class(c).is_some())
        {
            return reject("the URL contains whitespace, backslashes or hidden characters");
        }
        let url = url::Url::parse(text).map_err(|_| UrlRejection("the URL is not valid".into()))?;
        if !matches!(url.scheme(), "http" | "https" | "ws" | "wss") {
            return reject("only http and https URLs are allowed");
        }
        if !url.username().is_empty() || url.password().is_some() {
            return reject("user names and passwords in URLs are not allowed");
        }
        if url.fragment().is_some() {
            return reject("fragments (`#...`) are not allowed");
        }
        match url.host() {
            None => return reject("the URL has no host"),
            Some(url::Host::Ipv4(ip)) => check_ip(IpAddr::V4(ip))?,
            Some(url::Host::Ipv6(ip)) => check_ip(IpAddr::V6(ip))?,
            Some(url::Host::Domain(domain)) => check_domain(domain)?,
        }
        Ok(Self(url))
    }

    /// The URL, normalised by the WHATWG parser.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The parsed URL.
    pub fn url(&self) -> &url::Url {
        &self.0
    }

    /// The host, as checked (lowercase, punycode, IPv6 in brackets).
    pub fn host(&self) -> &str {
        self.0.host_str().unwrap_or_default()
    }

    /// The port, explicit or the scheme's default.
    pub fn port(&self) -> u16 {
        self.0.port_or_known_default().unwrap_or(80)
    }

    /// Resolve the host and check every address it resolves to. Any blocked address
    /// refuses the whole URL (a rebinding answer mixes a public and a private one).
    /// Connect only to the addresses returned: resolving again would ask DNS again.
    pub async fn resolve(&self) -> Result<Vec<SocketAddr>, UrlRejection> {
        let port = self.port();
        let addrs: Vec<IpAddr> = match self.0.host() {
            Some(url::Host::Ipv4(ip)) => vec![IpAddr::V4(ip)],
            Some(url::Host::Ipv6(ip)) => vec![IpAddr::V6(ip)],
            _ => tokio::net::lookup_host((self.host(), port))
                .await
                .map_err(|_| UrlRejection("the host name could not be resolved".into()))?
                .map(|a| a.ip())
                .collect(),
        };
        self.pin(addrs)
    }

    /// Check resolved addresses and pair them with the port: what [`resolve`](Self::resolve)
    /// does after DNS, for callers with their own resolver.
    pub fn pin(
        &self,
        addrs: impl IntoIterator<Item = IpAddr>,
    ) -> Result<Vec<SocketAddr>, UrlRejection> {
        let port = self.port();
        let mut pinned = Vec::new();
        for ip in addrs {
            check_ip(ip).map_err(|_| {
                UrlRejection("the host resolves to a private, local or reserved address".into())
            })?;
            pinned.push(SocketAddr::new(ip, port));
        }
        if pinned.is_empty() {
            return reject("the host name resolved to no address");
        }
        Ok(pinned)
    }

    /// Whether the host matches `pattern`: an exact name, or `*.example.com` for any
    /// subdomain of `example.com` (not `example.com` itself).
    pub fn host_matches(&self, pattern: &str) -> bool {
        host_matches(self.host(), pattern)
    }
}

fn host_matches(host: &str, pattern: &str) -> bool {
    let host = host.trim_end_matches('.');
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(suffix) => host.len() > suffix.len() + 1 && host.ends_with(&format!(".{suffix}")),
        None => host == pattern,
    }
}

fn check_domain(domain: &str) -> Result<(), UrlRejection> {
    let name = domain.trim_end_matches('.');
    if name.is_empty() || domain.ends_with("..") {
        return reject("the host name is not valid");
    }
    if BLOCKED_NAMES.contains(&name) || BLOCKED_SUFFIXES.iter().any(|s| name.ends_with(s)) {
        return reject("the host is a local or internal name");
    }
    // A single label (`intranet`, `router`) is resolved through search domains: local.
    if !name.contains('.') {
        return reject("the host must be a fully qualified domain name");
    }
    Ok(())
}

/// Refuse every address that is not a public unicast address.
pub(crate) fn check_ip(ip: IpAddr) -> Result<(), UrlRejection> {
    let blocked = match ip {
        IpAddr::V4(v4) => v4_blocked(v4),
        IpAddr::V6(v6) => v6_blocked(v6),
    };
    if blocked {
        return reject("the host is a private, local, reserved or metadata address");
    }
    Ok(())
}

fn v4_blocked(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0                                   // 0.0.0.0/8 "this network"
        || (a == 100 && (b & 0xC0) == 64)           // 100.64.0.0/10 CGNAT
        || (a == 192 && b == 0 && c == 0)           // 192.0.0.0/24 IETF assignments
        || (a == 192 && b == 88 && c == 99)         // 6to4 relay anycast
        || (a == 198 && (b & 0xFE) == 18)           // 198.18.0.0/15 benchmarking
        || a >= 240 // 240.0.0.0/4 reserved
}

fn v6_blocked(ip: Ipv6Addr) -> bool {
    let seg = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_blocked(v4);
    }
    // IPv4-compatible (::a.b.c.d, deprecated) and NAT64 (64:ff9b::/96) embed an IPv4.
    let embedded = Ipv4Addr::new(
        (seg[6] >> 8) as u8,
        seg[6] as u8,
        (seg[7] >> 8) as u8,
        seg[7] as u8,
    );
    if seg[..6] == [0; 6] || (seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6] == [0; 4]) {
        return ip.is_unspecified() || ip.is_loopback() || v4_blocked(embedded);
    }
    // 6to4 (2002::/16) embeds the IPv4 in the next 32 bits.
    if seg[0] == 0x2002 {
        let v4 = Ipv4Addr::new(
            (seg[1] >> 8) as u8,
            seg[1] as u8,
            (seg[2] >> 8) as u8,
            seg[2] as u8,
        );
        return v4_blocked(v4);
    }
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (seg[0] & 0xFE00) == 0xFC00   // fc00::/7 unique local (incl. fd00:ec2::254)
        || (seg[0] & 0xFFC0) == 0xFE80   // fe80::/10 link-local
        || (seg[0] & 0xFFC0) == 0xFEC0   // fec0::/10 site-local
        || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
        || (seg[0] == 0x2001 && seg[1] == 0)      // Teredo
        || (seg[0] == 0x0100 && seg[1..4] == [0; 3]) // discard-only
}

impl fmt::Debug for SafeUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SafeUrl").field(&self.0.as_str()).finish()
    }
}

impl fmt::Display for SafeUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for SafeUrl {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        super::deserialize_checked(deserializer, Self::parse)
    }
}

impl serde::Serialize for SafeUrl {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.as_str())
    }
}

impl schemars::JsonSchema for SafeUrl {
    fn schema_name() -> Cow<'static, str> {
        "SafeUrl".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "uri",
            "maxLength": MAX_URL_BYTES,
            "pattern": "^https?://[^/@#\\s]+(/[^#\\s]*)?$",
            "description": "An absolute http(s) URL on the public internet: no user info, no fragment, no private, local or metadata hosts."
        })
    }

    fn inline_schema() -> bool {
        true
    }
}

/// Check a `SafeUrl` field (or `Option`/`Vec` of them) against its annotation's host lists
/// and schemes (default: http and https). Called by generated code.
pub fn check_url_field<F: super::FieldValues<SafeUrl> + ?Sized>(
    value: &F,
    path: &crate::FieldPath<'_>,
    allow: &[&str],
    deny: &[&str],
    schemes: &[&str],
    problems: &mut Vec<Problem>,
) {
    let schemes = if schemes.is_empty() {
        &["http", "https"][..]
    } else {
        schemes
    };
    let problem = value.values().find_map(|url| {
        if !schemes.contains(&url.0.scheme()) {
            Some(format!(
                "only these URL schemes are allowed: {}",
                schemes.join(", ")
            ))
        } else if deny.iter().any(|p| url.host_matches(p)) {
            Some("this host is not allowed".to_owned())
        } else if !allow.is_empty() && !allow.iter().any(|p| url.host_matches(p)) {
            Some(format!(
                "only these hosts are allowed: {}",
                allow.join(", ")
            ))
        } else {
            None
        }
    });
    if let Some(rule) = problem {
        path.problem(rule, problems);
    }
}
