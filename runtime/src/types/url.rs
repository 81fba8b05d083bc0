//! Network: [`SafeUrl`], an http(s) URL whose host cannot be this machine, its network,
//! or a cloud metadata service, in any notation, before and after DNS.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::problem::Problem;

/// Longest accepted URL, in bytes.
pub const MAX_URL_BYTES: usize = 2048;

/// An absolute `http`/`https` URL (also `ws`/`wss` where a field allows them) that is safe
/// to fetch from the server: no user info, and a host that is a public unicast address
/// whatever the notation (`2130706433`, `0177.0.0.1`, `0x7f.1`, `127.1`, `[::1]`,
/// `[::ffff:127.0.0.1]`, trailing dots, IDN).
///
/// Addresses are classified against the IANA IPv4 and IPv6 Special-Purpose Address
/// Registries, every entry: an IPv6 address must be global unicast (`2000::/3`) outside
/// the registry's entries, and one that embeds an IPv4 address (IPv4-mapped,
/// -compatible and -translated, the NAT64 well-known prefix, 6to4) is judged by that
/// address; Teredo and the local-use NAT64 prefix are refused whole.
///
/// A `#fragment` is dropped, never refused: browsers never send it, so a pasted
/// documentation link works, and [`as_str`](Self::as_str) is exactly what is fetched.
///
/// Parsing checks the URL as written; [`SafeUrl::resolve`] checks what its name resolves
/// to (DNS rebinding) and returns the addresses to connect to. **A name is not resolved
/// by parsing**: `http://127.0.0.1.nip.io/` is a valid `SafeUrl`, and reaches the loopback
/// interface if fetched by name. Connect to the addresses `resolve` returns, or fetch
/// through `secure_tool::net` (feature `reqwest`), whose resolver refuses them:
///
/// ```no_run
/// # async fn fetch(url: secure_tool::types::SafeUrl) -> Result<(), Box<dyn std::error::Error>> {
/// let addrs = url.resolve().await?; // every answer checked: refuses 127.0.0.1.nip.io
/// let stream = tokio::net::TcpStream::connect(&addrs[..]).await?;
/// # drop(stream); Ok(()) }
/// ```
///
/// ```
/// use secure_tool::types::SafeUrl;
///
/// assert!(SafeUrl::parse("https://api.github.com/repos").is_ok());
/// let doc = SafeUrl::parse("https://docs.rs/url/latest/url/#parsing").unwrap();
/// assert_eq!(doc.as_str(), "https://docs.rs/url/latest/url/");
/// for bad in ["http://127.1/", "http://2130706433/", "http://[::ffff:7f00:1]/",
///             "http://169.254.169.254/latest/meta-data", "http://localhost./",
///             "http://user:pw@example.com/", "file:///etc/passwd"] {
///     assert!(SafeUrl::parse(bad).is_err(), "{bad}");
/// }
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SafeUrl(url::Url);

/// Why a URL was refused. Names the rule, never the URL.
pub type UrlRejection = super::Rejection;

use super::checked::reject;

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
        let url = url::Url::parse(text).map_err(|_| UrlRejection::new("the URL is not valid"))?;
        if !matches!(url.scheme(), "http" | "https" | "ws" | "wss") {
            return reject("only http and https URLs are allowed");
        }
        if !url.username().is_empty() || url.password().is_some() {
            return reject("user names and passwords in URLs are not allowed");
        }
        // A fragment is never sent to a server: it is dropped, so a pasted documentation
        // link (`.../guide#install`) works and what is kept is exactly what is fetched.
        let mut url = url;
        url.set_fragment(None);
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
                .map_err(|_| UrlRejection::new("the host name could not be resolved"))?
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
                UrlRejection::new("the host resolves to a private, local or reserved address")
            })?;
            pinned.push(SocketAddr::new(ip, port));
        }
        if pinned.is_empty() {
            return reject("the host name resolved to no address");
        }
        Ok(pinned)
    }

    /// Whether the host matches `pattern`: an exact name, `*.example.com` for any
    /// subdomain of `example.com` (not `example.com` itself), or an IP address.
    ///
    /// Compared as the connection would reach them: an address pattern (`1.1.1.1`,
    /// `2606:4700::1111`, with or without brackets) matches the URL's address however it is
    /// written, an IPv6 address that embeds an IPv4 one (`[::ffff:1.1.1.1]`,
    /// `[64:ff9b::101:101]`) judged as that IPv4; names are compared in their ASCII form
    /// (`*.bücher.example` matches `xn--bcher-kva.bücher.example`'s punycode), case and a
    /// trailing dot aside.
    pub fn host_matches(&self, pattern: &str) -> bool {
        host_matches(&self.0, pattern)
    }
}

fn host_matches(url: &url::Url, pattern: &str) -> bool {
    let pattern = pattern.trim();
    let bare = pattern
        .strip_prefix('[')
        .and_then(|p| p.strip_suffix(']'))
        .unwrap_or(pattern);
    if let Ok(address) = bare.parse::<IpAddr>() {
        let host = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            _ => return false,
        };
        return reached(host) == reached(address);
    }
    let Some(url::Host::Domain(host)) = url.host() else {
        return false;
    };
    let host = host.trim_end_matches('.');
    let (wildcard, name) = match pattern.strip_prefix("*.") {
        Some(suffix) => (true, suffix),
        None => (false, pattern),
    };
    // The name as the URL holds hosts: lowercase ASCII, punycode for Unicode labels.
    let Ok(url::Host::Domain(name)) = url::Host::parse(name.trim_end_matches('.')) else {
        return false;
    };
    if wildcard {
        host.len() > name.len() + 1
            && host.ends_with(name.as_str())
            && host.as_bytes()[host.len() - name.len() - 1] == b'.'
    } else {
        host == name
    }
}

/// The address a connection to `ip` reaches: an IPv6 address embedding an IPv4 one is
/// that IPv4 address.
fn reached(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => embedded_v4(v6).map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
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

/// An address block: the first address as an integer, and the prefix length.
struct Block<T> {
    first: T,
    len: u32,
    /// The registry's name for it (documentation, and the test that names each entry).
    #[allow(dead_code, reason = "read in tests and by whoever audits this table")]
    name: &'static str,
}

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u32, name: &'static str) -> Block<u32> {
    Block {
        first: u32::from_be_bytes([a, b, c, d]),
        len,
        name,
    }
}

/// The IANA IPv4 Special-Purpose Address Registry, every entry (RFC 6890 and its
/// updates), plus multicast (224.0.0.0/4, its own registry). A fetch tool has no business
/// with any of them, including the few the registry marks globally reachable (anycast
/// relays, AS112 sinks, AMT): they are infrastructure, not web servers.
const IPV4_SPECIAL: &[Block<u32>] = &[
    v4(0, 0, 0, 0, 8, "\"This network\" (RFC 791)"),
    v4(0, 0, 0, 0, 32, "\"This host on this network\" (RFC 1122)"),
    v4(10, 0, 0, 0, 8, "Private-Use (RFC 1918)"),
    v4(100, 64, 0, 0, 10, "Shared Address Space (RFC 6598)"),
    v4(127, 0, 0, 0, 8, "Loopback (RFC 1122)"),
    v4(169, 254, 0, 0, 16, "Link Local (RFC 3927), cloud metadata"),
    v4(172, 16, 0, 0, 12, "Private-Use (RFC 1918)"),
    v4(192, 0, 0, 0, 24, "IETF Protocol Assignments (RFC 6890)"),
    v4(
        192,
        0,
        0,
        0,
        29,
        "IPv4 Service Continuity Prefix (RFC 7335)",
    ),
    v4(192, 0, 0, 8, 32, "IPv4 dummy address (RFC 7600)"),
    v4(192, 0, 0, 9, 32, "Port Control Protocol Anycast (RFC 7723)"),
    v4(
        192,
        0,
        0,
        10,
        32,
        "Traversal Using Relays around NAT Anycast (RFC 8155)",
    ),
    v4(192, 0, 0, 170, 32, "NAT64/DNS64 Discovery (RFC 8880)"),
    v4(192, 0, 0, 171, 32, "NAT64/DNS64 Discovery (RFC 8880)"),
    v4(192, 0, 2, 0, 24, "Documentation, TEST-NET-1 (RFC 5737)"),
    v4(192, 31, 196, 0, 24, "AS112-v4 (RFC 7535)"),
    v4(192, 52, 193, 0, 24, "AMT (RFC 7450)"),
    v4(
        192,
        88,
        99,
        0,
        24,
        "Deprecated (6to4 Relay Anycast) (RFC 7526)",
    ),
    v4(192, 88, 99, 2, 32, "6a44-relay anycast address (RFC 6751)"),
    v4(192, 168, 0, 0, 16, "Private-Use (RFC 1918)"),
    v4(
        192,
        175,
        48,
        0,
        24,
        "Direct Delegation AS112 Service (RFC 7534)",
    ),
    v4(198, 18, 0, 0, 15, "Benchmarking (RFC 2544)"),
    v4(198, 51, 100, 0, 24, "Documentation, TEST-NET-2 (RFC 5737)"),
    v4(203, 0, 113, 0, 24, "Documentation, TEST-NET-3 (RFC 5737)"),
    v4(224, 0, 0, 0, 4, "Multicast (RFC 5771)"),
    v4(240, 0, 0, 0, 4, "Reserved (RFC 1112)"),
    v4(255, 255, 255, 255, 32, "Limited Broadcast (RFC 919)"),
];

const fn v6(first: u128, len: u32, name: &'static str) -> Block<u128> {
    Block { first, len, name }
}

/// The IANA IPv6 Special-Purpose Address Registry entries inside global unicast
/// (2000::/3). Everything outside 2000::/3 (loopback, unspecified, discard-only, dummy,
/// unique-local, link-local, site-local, multicast, the local-use NAT64 prefix) is refused
/// by [`v6_blocked`] as not global unicast; the prefixes that embed an IPv4 address are
/// decided by that address ([`embedded_v4`]).
const IPV6_SPECIAL: &[Block<u128>] = &[
    // 2001::/23 holds TEREDO (2001::/32), the PCP, TURN and DNS-SD anycasts, Benchmarking
    // (2001:2::/48), AMT, AS112-v6, ORCHID, ORCHIDv2 and Drone Remote ID (DETs).
    v6(
        0x2001_0000 << 96,
        23,
        "IETF Protocol Assignments (RFC 2928)",
    ),
    v6(0x2001_0db8 << 96, 32, "Documentation (RFC 3849)"),
    v6(
        0x2620_004f_8000 << 80,
        48,
        "Direct Delegation AS112 Service (RFC 7534)",
    ),
    v6(0x3fff << 112, 20, "Documentation (RFC 9637)"),
    v6(0x5f00 << 112, 16, "Segment Routing (SRv6) SIDs (RFC 9602)"),
];

fn in_block<T>(ip: T, block: &Block<T>) -> bool
where
    T: Copy + std::ops::Shr<u32, Output = T> + PartialEq,
{
    let bits = size_of::<T>() as u32 * 8;
    block.len == 0 || ip >> (bits - block.len) == block.first >> (bits - block.len)
}

fn v4_blocked(ip: Ipv4Addr) -> bool {
    let ip = u32::from(ip);
    IPV4_SPECIAL.iter().any(|block| in_block(ip, block))
}

/// The IPv4 address that a connection to `ip` reaches, for the prefixes that embed one:
/// IPv4-mapped (`::ffff:0:0/96`), IPv4-compatible (`::/96`, deprecated), IPv4-translated
/// (`::ffff:0:0:0/96`, RFC 2765), the well-known NAT64 prefix (`64:ff9b::/96`, RFC 6052)
/// and 6to4 (`2002::/16`, RFC 3056). Teredo (`2001::/32`) and the local-use NAT64 prefix
/// (`64:ff9b:1::/48`, RFC 8215) are refused whole instead.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    let low = Ipv4Addr::from(bits as u32);
    match bits >> 32 {
        0 | 0xffff | 0xffff_0000 => Some(low),
        0x0064_ff9b_0000_0000_0000_0000 => Some(low),
        _ if bits >> 112 == 0x2002 => Some(Ipv4Addr::from((bits >> 80) as u32)),
        _ => None,
    }
}

fn v6_blocked(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return v4_blocked(v4);
    }
    let bits = u128::from(ip);
    // Allow what is known to be public: global unicast, 2000::/3 (IANA's IPv6 Global
    // Unicast Address Assignments). Everything else is reserved or local by definition.
    bits >> 125 != 0b001 || IPV6_SPECIAL.iter().any(|block| in_block(bits, block))
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

impl super::checked::Checked for SafeUrl {
    type Raw<'de> = Cow<'de, str>;

    fn check(raw: Cow<'_, str>) -> Result<Self, UrlRejection> {
        Self::parse(&raw)
    }

    fn schema_name() -> Cow<'static, str> {
        "SafeUrl".into()
    }

    fn schema() -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "uri",
            "maxLength": MAX_URL_BYTES,
            "pattern": "^https?://[^/@#\\s]+(/[^#\\s]*)?(#\\S*)?$",
            "description": "An absolute http(s) URL on the public internet: no user info, no private, local or metadata hosts. A #fragment is dropped (it is never sent to a server)."
        })
    }
}

super::checked::threat_type!([] SafeUrl);

/// The rule of a field's annotation that `url` breaks, if any: its scheme not among
/// `schemes` (default: http and https), its host matching a `deny` pattern, or none of a
/// non-empty `allow` list. The one decision behind the field check and the `net`
/// client's redirects ([`net::redirect_policy_for`](crate::net::redirect_policy_for)).
pub(crate) fn field_rule(
    url: &SafeUrl,
    allow: &[&str],
    deny: &[&str],
    schemes: &[&str],
) -> Option<String> {
    let schemes = if schemes.is_empty() {
        &["http", "https"][..]
    } else {
        schemes
    };
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
}

/// Check a `SafeUrl` field (or `Option`/`Vec` of them) against its annotation's host lists
/// and schemes (default: http and https). Called by generated code.
pub fn check_url_field<F: super::FieldValues<SafeUrl> + ?Sized>(
    value: &F,
    path: &crate::field::FieldPath<'_>,
    allow: &[&str],
    deny: &[&str],
    schemes: &[&str],
    problems: &mut Vec<Problem>,
) {
    let problem = value
        .values()
        .find_map(|url| field_rule(url, allow, deny, schemes));
    if let Some(rule) = problem {
        path.problem(rule, problems);
    }
}
