//! `SafeUrl` against the IANA IPv4 and IPv6 Special-Purpose Address Registries: one test
//! per registry entry, so an entry the classifier misses shows up by name. Each checks the
//! block's first, middle and last address, written as a URL host and returned by DNS.
//! The entries are written here from the registries themselves, independently of the
//! classifier's own table. The last test sends every entry through a real rmcp client.
mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use secure_tool::types::SafeUrl;
use secure_tool::{SecureInput, SecureServer, Security, secure_tool};

fn url_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("http://{v4}/"),
        IpAddr::V6(v6) => format!("http://[{v6}]/"),
    }
}

/// Whether `ip` is refused both as a literal host and as a DNS answer.
fn refused(ip: IpAddr) -> bool {
    let literal = SafeUrl::parse(&url_host(ip)).is_err();
    let answer = SafeUrl::parse("https://example.com/")
        .unwrap()
        .pin([ip])
        .is_err();
    assert_eq!(literal, answer, "{ip}: literal and DNS answer disagree");
    literal
}

/// First, middle and last address of a CIDR block.
fn samples(cidr: &str) -> Vec<IpAddr> {
    let (addr, len) = cidr.split_once('/').unwrap();
    let len: u32 = len.parse().unwrap();
    match addr.parse::<IpAddr>().unwrap() {
        IpAddr::V4(v4) => {
            let first = u32::from(v4);
            let size = 1u64 << (32 - len);
            let last = (first as u64 + size - 1) as u32;
            let mid = (first as u64 + size / 2) as u32;
            [first, mid, last]
                .map(|a| IpAddr::V4(Ipv4Addr::from(a)))
                .to_vec()
        }
        IpAddr::V6(v6) => {
            let first = u128::from(v6);
            let host_bits = 128 - len;
            let span = if host_bits == 128 {
                u128::MAX
            } else {
                (1u128 << host_bits) - 1
            };
            let last = first | span;
            let mid = first | (span >> 1) ^ 0x1234;
            [first, mid & last, last]
                .map(|a| IpAddr::V6(Ipv6Addr::from(a)))
                .to_vec()
        }
    }
}

macro_rules! registry {
    ($list:ident { $($test:ident: $cidr:literal, $name:literal;)* }) => {
        const $list: &[&str] = &[$($cidr),*];
        $(
            #[test]
            fn $test() {
                for ip in samples($cidr) {
                    assert!(refused(ip), "{ip} in {} ({}) is accepted", $cidr, $name);
                }
            }
        )*
    };
}

// IANA IPv4 Special-Purpose Address Registry, every entry, and multicast.
registry! { IPV4_ENTRIES {
    v4_this_network: "0.0.0.0/8", "\"This network\"";
    v4_this_host: "0.0.0.0/32", "\"This host on this network\"";
    v4_private_10: "10.0.0.0/8", "Private-Use";
    v4_shared_address_space: "100.64.0.0/10", "Shared Address Space";
    v4_loopback: "127.0.0.0/8", "Loopback";
    v4_link_local: "169.254.0.0/16", "Link Local";
    v4_private_172: "172.16.0.0/12", "Private-Use";
    v4_ietf_protocol_assignments: "192.0.0.0/24", "IETF Protocol Assignments";
    v4_service_continuity: "192.0.0.0/29", "IPv4 Service Continuity Prefix";
    v4_dummy: "192.0.0.8/32", "IPv4 dummy address";
    v4_pcp_anycast: "192.0.0.9/32", "Port Control Protocol Anycast";
    v4_turn_anycast: "192.0.0.10/32", "Traversal Using Relays around NAT Anycast";
    v4_nat64_discovery_170: "192.0.0.170/32", "NAT64/DNS64 Discovery";
    v4_nat64_discovery_171: "192.0.0.171/32", "NAT64/DNS64 Discovery";
    v4_test_net_1: "192.0.2.0/24", "Documentation (TEST-NET-1)";
    v4_as112: "192.31.196.0/24", "AS112-v4";
    v4_amt: "192.52.193.0/24", "AMT";
    v4_6to4_relay_anycast: "192.88.99.0/24", "Deprecated (6to4 Relay Anycast)";
    v4_6a44_relay: "192.88.99.2/32", "6a44-relay anycast address";
    v4_private_192: "192.168.0.0/16", "Private-Use";
    v4_as112_direct_delegation: "192.175.48.0/24", "Direct Delegation AS112 Service";
    v4_benchmarking: "198.18.0.0/15", "Benchmarking";
    v4_test_net_2: "198.51.100.0/24", "Documentation (TEST-NET-2)";
    v4_test_net_3: "203.0.113.0/24", "Documentation (TEST-NET-3)";
    v4_multicast: "224.0.0.0/4", "Multicast";
    v4_reserved: "240.0.0.0/4", "Reserved";
    v4_limited_broadcast: "255.255.255.255/32", "Limited Broadcast";
}}

// IANA IPv6 Special-Purpose Address Registry, every entry, and what else is not global
// unicast (multicast, the deprecated site-local block).
registry! { IPV6_ENTRIES {
    v6_loopback: "::1/128", "Loopback Address";
    v6_unspecified: "::/128", "Unspecified Address";
    v6_ipv4_mapped: "::ffff:0:0/96", "IPv4-mapped Address";
    v6_nat64_well_known: "64:ff9b::/96", "IPv4-IPv6 Translat.";
    v6_nat64_local_use: "64:ff9b:1::/48", "IPv4-IPv6 Translat. (local use)";
    v6_discard_only: "100::/64", "Discard-Only Address Block";
    v6_dummy_prefix: "100:0:0:1::/64", "Dummy IPv6 Prefix";
    v6_ietf_protocol_assignments: "2001::/23", "IETF Protocol Assignments";
    v6_teredo: "2001::/32", "TEREDO";
    v6_pcp_anycast: "2001:1::1/128", "Port Control Protocol Anycast";
    v6_turn_anycast: "2001:1::2/128", "Traversal Using Relays around NAT Anycast";
    v6_dns_sd_srp_anycast: "2001:1::3/128", "DNS-SD Service Registration Protocol Anycast";
    v6_benchmarking: "2001:2::/48", "Benchmarking";
    v6_amt: "2001:3::/32", "AMT";
    v6_as112: "2001:4:112::/48", "AS112-v6";
    v6_orchid: "2001:10::/28", "Deprecated (previously ORCHID)";
    v6_orchid_v2: "2001:20::/28", "ORCHIDv2";
    v6_drone_remote_id: "2001:30::/28", "Drone Remote ID Protocol Entity Tags (DETs) Prefix";
    v6_documentation: "2001:db8::/32", "Documentation";
    v6_6to4: "2002::/16", "6to4";
    v6_as112_direct_delegation: "2620:4f:8000::/48", "Direct Delegation AS112 Service";
    v6_documentation_3fff: "3fff::/20", "Documentation";
    v6_srv6_sids: "5f00::/16", "Segment Routing (SRv6) SIDs";
    v6_unique_local: "fc00::/7", "Unique-Local";
    v6_link_local: "fe80::/10", "Link-Local Unicast";
    v6_site_local: "fec0::/10", "Site-Local (deprecated)";
    v6_multicast: "ff00::/8", "Multicast";
}}

/// The prefixes that embed an IPv4 address reach that address: a private one is refused,
/// a public one is what the connection really reaches, so it passes.
#[test]
fn prefixes_embedding_ipv4_are_judged_by_the_embedded_address() {
    for (prefix, private, public) in [
        ("mapped", "::ffff:127.0.0.1", "::ffff:8.8.8.8"),
        ("mapped", "::ffff:169.254.169.254", "::ffff:1.1.1.1"),
        ("compatible", "::10.0.0.1", "::8.8.8.8"),
        ("translated", "::ffff:0:192.168.1.1", "::ffff:0:8.8.8.8"),
        ("NAT64 well-known", "64:ff9b::10.0.0.1", "64:ff9b::8.8.8.8"),
        ("NAT64 well-known", "64:ff9b::a9fe:a9fe", "64:ff9b::808:808"),
        ("6to4", "2002:a9fe:a9fe::1", "2002:808:808::1"),
        ("6to4", "2002:7f00:1::", "2002:101:101::"),
    ] {
        assert!(refused(private.parse().unwrap()), "{prefix}: {private}");
        assert!(!refused(public.parse().unwrap()), "{prefix}: {public}");
    }
    // Refused whole, whatever they embed: Teredo's addresses are obfuscated and reach a
    // relay, and the local-use NAT64 prefix is local by definition (RFC 8215).
    for whole in ["2001:0:4136:e378:8000:63bf:f7f7:f7f7", "64:ff9b:1::808:808"] {
        assert!(refused(whole.parse().unwrap()), "{whole}");
    }
}

/// Public addresses, many just outside a registry block, pass.
#[test]
fn public_addresses_next_to_the_blocks_pass() {
    for ip in [
        "1.1.1.1",
        "8.8.8.8",
        "9.255.255.255",
        "11.0.0.0",
        "100.63.255.255",
        "100.128.0.0",
        "126.255.255.255",
        "128.0.0.0",
        "169.253.255.255",
        "169.255.0.0",
        "172.15.255.255",
        "172.32.0.0",
        "192.0.1.1",
        "192.0.3.0",
        "192.88.98.255",
        "192.167.255.255",
        "192.169.0.0",
        "198.17.255.255",
        "198.20.0.0",
        "198.51.99.255",
        "203.0.112.255",
        "223.255.255.255",
        "2606:4700:4700::1111",
        "2a00:1450:4001:80b::200e",
        "2001:200::1",
        "2001:4860:4860::8888",
        "2620:4f:7fff::1",
        "3ffe::1",
        "3fff:1000::1",
        "2c0f:fb50:4003::1",
    ] {
        let ip: IpAddr = ip.parse().unwrap();
        assert!(!refused(ip), "{ip} is public but refused");
    }
}

/// A fragment is never sent to a server: it is dropped, and the link is accepted.
#[test]
fn fragments_are_dropped_not_refused() {
    for (link, kept) in [
        (
            "https://docs.rs/tokio/latest/tokio/#features",
            "https://docs.rs/tokio/latest/tokio/",
        ),
        (
            "https://en.wikipedia.org/wiki/Rust_(programming_language)#History",
            "https://en.wikipedia.org/wiki/Rust_(programming_language)",
        ),
        ("https://example.com/a?b=c#", "https://example.com/a?b=c"),
        ("http://evil.com#@127.0.0.1/", "http://evil.com/"),
    ] {
        let url = SafeUrl::parse(link).unwrap();
        assert_eq!(url.as_str(), kept);
        assert_eq!(url.url().fragment(), None);
    }
    // The host is still what decides: a fragment cannot hide a private one.
    assert!(SafeUrl::parse("http://127.0.0.1/#https://example.com").is_err());
}

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Fetch {
    url: SafeUrl,
}

#[derive(Clone)]
struct Fetcher {
    security: Security,
    tool_router: ToolRouter<Self>,
}

impl SecureServer for Fetcher {
    fn security(&self) -> &Security {
        &self.security
    }
}

#[tool_router]
impl Fetcher {
    #[secure_tool(public)]
    #[tool(description = "Fetch a URL (echoes the checked URL)")]
    async fn fetch(&self, Parameters(args): Parameters<Fetch>) -> String {
        args.url.to_string()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Fetcher {}

/// What the model sees: every address of every entry is refused as an `isError` result
/// that names the rule and never echoes the address.
#[tokio::test]
async fn every_registry_entry_is_refused_through_a_client() {
    let client = common::connect(Fetcher {
        security: Security::default(),
        tool_router: Fetcher::tool_router(),
    })
    .await;
    let entries: Vec<&str> = IPV4_ENTRIES.iter().chain(IPV6_ENTRIES).copied().collect();
    assert!(entries.len() >= 50);
    for cidr in entries {
        for ip in samples(cidr) {
            let url = url_host(ip);
            let result = common::call(&client, "fetch", serde_json::json!({ "url": url })).await;
            let message = common::error_text(&result);
            assert!(
                message.starts_with("invalid arguments: `url`: "),
                "{url} ({cidr}): {message}"
            );
            assert!(!message.contains(&ip.to_string()), "{url} echoed");
        }
    }
}
