//! `SafeUrl` against an SSRF corpus through a real rmcp client, benign URLs, the field
//! annotation's host lists, and the DNS re-check.
mod common;
use common::{call, connect, error_text, ok_text};

use std::net::IpAddr;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use secure_tool::types::SafeUrl;
use secure_tool::{SecureInput, SecureServer, Security, secure_tool};
use serde_json::json;

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Fetch {
    url: SafeUrl,
}

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct GitHub {
    #[secure(url(allow_hosts = ["api.github.com", "*.githubusercontent.com"], deny_hosts = ["gist.githubusercontent.com"]))]
    url: SafeUrl,
}

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct NotThese {
    #[secure(url(deny_hosts = ["1.1.1.1", "[2606:4700:4700::1111]", "2001:4860:4860::8888", "bücher.example", "*.例え.jp"]))]
    url: SafeUrl,
}

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct OnlyThese {
    #[secure(url(allow_hosts = ["8.8.8.8", "[2001:4860:4860::8844]", "*.bücher.example"]))]
    url: SafeUrl,
}

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Socket {
    #[secure(url(schemes = ["wss"]))]
    endpoint: SafeUrl,
}

#[derive(Clone)]
struct Web {
    security: Security,
    tool_router: ToolRouter<Self>,
}

impl SecureServer for Web {
    fn security(&self) -> &Security {
        &self.security
    }
}

#[tool_router]
impl Web {
    #[secure_tool(public)]
    #[tool(description = "Fetch a URL (echoes the checked URL)")]
    async fn fetch(&self, Parameters(args): Parameters<Fetch>) -> String {
        args.url.to_string()
    }

    #[secure_tool(public)]
    #[tool(description = "GitHub only")]
    async fn github(&self, Parameters(args): Parameters<GitHub>) -> String {
        args.url.host().to_owned()
    }

    #[secure_tool(public)]
    #[tool(description = "Some hosts denied")]
    async fn not_these(&self, Parameters(args): Parameters<NotThese>) -> String {
        args.url.to_string()
    }

    #[secure_tool(public)]
    #[tool(description = "Some hosts allowed")]
    async fn only_these(&self, Parameters(args): Parameters<OnlyThese>) -> String {
        args.url.to_string()
    }

    #[secure_tool(public)]
    #[tool(description = "Secure websockets only")]
    async fn socket(&self, Parameters(args): Parameters<Socket>) -> String {
        args.endpoint.to_string()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Web {}

fn web() -> Web {
    Web {
        security: Security::default(),
        tool_router: Web::tool_router(),
    }
}

const ATTACKS: &[&str] = &[
    // loopback in every notation
    "http://127.0.0.1/",
    "http://127.0.0.1:8080/admin",
    "http://127.1/",
    "http://127.0.1/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0x7f.0x0.0x0.0x1/",
    "http://0177.0.0.1/",
    "http://0177.0000.0000.0001/",
    "http://017700000001/",
    "http://127.000.000.001/",
    "http://127.255.255.254/",
    "http://[::1]/",
    "http://[0:0:0:0:0:0:0:1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::127.0.0.1]/",
    "http://[64:ff9b::127.0.0.1]/",
    "http://[2002:7f00:1::]/",
    // unspecified
    "http://0.0.0.0/",
    "http://0/",
    "http://[::]/",
    "http://0.0.0.0:22/",
    // private, CGNAT, link-local, metadata
    "http://10.0.0.1/",
    "http://10.255.255.255/",
    "http://172.16.0.1/",
    "http://172.31.255.255/",
    "http://192.168.0.1/",
    "http://192.168.1.1:8443/",
    "http://100.64.0.1/",
    "http://100.127.255.254/",
    "http://169.254.169.254/latest/meta-data/",
    "http://169.254.170.2/v2/credentials",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[fec0::1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://0xa9fea9fe/",
    "http://2852039166/",
    "http://0251.0376.0251.0376/",
    // multicast, broadcast, reserved
    "http://224.0.0.1/",
    "http://[ff02::1]/",
    "http://255.255.255.255/",
    "http://240.0.0.1/",
    "http://198.18.0.1/",
    "http://192.0.0.1/",
    "http://[2001:db8::1]/",
    "http://[2001::1]/",
    "http://[64:ff9b:1::a00:1]/",
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
    "http://192.31.196.1/",
    "http://[3fff::1]/",
    "http://[5f00::1]/",
    // local names
    "http://localhost/",
    "http://localhost./",
    "http://LOCALHOST/",
    "http://localhost:3000/",
    "http://foo.localhost/",
    "http://printer.local/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://metadata/",
    "http://db.internal/",
    "http://router/",
    "http://intranet/",
    "http://kubernetes.default.svc/",
    "http://nas.home.arpa/",
    // smuggling: credentials, whitespace, backslashes, odd schemes
    "http://user:pass@example.com/",
    "http://example.com@127.0.0.1/",
    "http://exa\tmple.com/",
    "http://example.com\n.evil/",
    "http://127.0.0.1\\@example.com/",
    "http://example.com\\@127.0.0.1/",
    " http://example.com/",
    "http://ex\u{200B}ample.com/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
    "dict://127.0.0.1:11211/stats",
    "ftp://example.com/",
    "javascript:alert(1)",
    "data:text/html,x",
    "ldap://127.0.0.1/",
    "//example.com/",
    "example.com/path",
    "http:///path",
    "http://",
    "http://[::1",
    "http://%31%32%37.0.0.1/",
];

#[tokio::test]
async fn every_ssrf_spelling_is_refused_without_echo() {
    let client = connect(web()).await;
    assert!(ATTACKS.len() >= 50, "{}", ATTACKS.len());
    for payload in ATTACKS {
        let message = error_text(&call(&client, "fetch", json!({ "url": payload })).await);
        assert!(
            message.starts_with("invalid arguments: `url`: "),
            "{payload:?}: {message}"
        );
        assert!(
            !message.contains(payload.trim()),
            "{payload:?} echoed: {message}"
        );
        assert!(
            !message.contains("127.0.0.1") && !message.contains("169.254"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn public_urls_are_accepted_and_normalised() {
    let client = connect(web()).await;
    for (url, normalised) in [
        (
            "https://api.github.com/repos/x/y",
            "https://api.github.com/repos/x/y",
        ),
        ("http://example.com", "http://example.com/"),
        (
            "https://EXAMPLE.com:8443/a?b=c",
            "https://example.com:8443/a?b=c",
        ),
        ("https://bücher.example/", "https://xn--bcher-kva.example/"),
        ("http://8.8.8.8/dns", "http://8.8.8.8/dns"),
        (
            "https://[2606:4700:4700::1111]/",
            "https://[2606:4700:4700::1111]/",
        ),
        ("https://example.com./x", "https://example.com./x"),
        // A pasted documentation link: the fragment is dropped (never sent to a server).
        (
            "https://docs.rs/url/latest/url/#parsing",
            "https://docs.rs/url/latest/url/",
        ),
        ("http://[64:ff9b::808:808]/", "http://[64:ff9b::808:808]/"),
        (
            "https://sub.domain.example.org/path/../q",
            "https://sub.domain.example.org/q",
        ),
    ] {
        assert_eq!(
            ok_text(&call(&client, "fetch", json!({ "url": url })).await),
            normalised
        );
    }
}

#[tokio::test]
async fn field_annotations_narrow_hosts_and_schemes() {
    let client = connect(web()).await;
    let ok = |host: &str| json!({ "url": format!("https://{host}/x") });
    assert_eq!(
        ok_text(&call(&client, "github", ok("api.github.com")).await),
        "api.github.com"
    );
    assert_eq!(
        ok_text(&call(&client, "github", ok("raw.githubusercontent.com")).await),
        "raw.githubusercontent.com"
    );
    for host in [
        "github.com",
        "githubusercontent.com",
        "api.github.com.evil.com",
        "evilgithub.com",
    ] {
        let message = error_text(&call(&client, "github", ok(host)).await);
        assert!(
            message.contains("only these hosts are allowed"),
            "{host}: {message}"
        );
    }
    let denied = error_text(&call(&client, "github", ok("gist.githubusercontent.com")).await);
    assert!(denied.contains("this host is not allowed"), "{denied}");
    // Default fields accept http(s) only; a field may choose its own schemes.
    assert!(
        error_text(&call(&client, "fetch", json!({"url": "wss://example.com/"})).await)
            .contains("only these URL schemes are allowed: http, https")
    );
    ok_text(
        &call(
            &client,
            "socket",
            json!({"endpoint": "wss://example.com/feed"}),
        )
        .await,
    );
    assert!(
        error_text(
            &call(
                &client,
                "socket",
                json!({"endpoint": "https://example.com/"})
            )
            .await
        )
        .contains("wss")
    );
}

#[tokio::test]
async fn dns_answers_are_checked_again() {
    let url = SafeUrl::parse("https://rebind.example.com/").unwrap();
    let public: IpAddr = "93.184.216.34".parse().unwrap();
    assert_eq!(url.pin([public]).unwrap()[0].port(), 443);
    for private in [
        "127.0.0.1",
        "10.1.2.3",
        "169.254.169.254",
        "::1",
        "::ffff:10.0.0.1",
        "fd00::1",
    ] {
        let ip: IpAddr = private.parse().unwrap();
        // One bad answer among good ones refuses the whole name (rebinding mixes them).
        let error = url.pin([public, ip]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the host resolves to a private, local or reserved address"
        );
    }
    assert!(url.pin([]).is_err());
    // A literal public address resolves to itself, without DNS.
    let literal = SafeUrl::parse("http://1.1.1.1:8080/").unwrap();
    let pinned = literal.resolve().await.unwrap();
    assert_eq!(pinned, vec!["1.1.1.1:8080".parse().unwrap()]);
}

#[tokio::test]
async fn the_schema_tells_the_model_the_rule() {
    let tools = connect(web()).await.list_all_tools().await.unwrap();
    let fetch = tools.iter().find(|t| t.name == "fetch").unwrap();
    let schema = serde_json::Value::Object((*fetch.input_schema).clone());
    assert_eq!(schema["properties"]["url"]["format"], "uri");
    assert!(
        schema["properties"]["url"]["description"]
            .as_str()
            .unwrap()
            .contains("metadata")
    );
}

#[tokio::test]
async fn host_lists_compare_addresses_as_addresses_and_names_in_ascii() {
    let client = connect(web()).await;
    // Every spelling of a denied address or name reaches it: refused.
    for url in [
        "http://1.1.1.1/",
        "http://[::ffff:1.1.1.1]/",
        "http://[::ffff:101:101]/",
        "http://[64:ff9b::101:101]/",
        "http://[64:ff9b::1.1.1.1]/",
        "http://[2002:101:101::1]/",
        "http://[2606:4700:4700::1111]/",
        "http://[2606:4700:4700:0:0:0:0:1111]/",
        "http://[2001:4860:4860::8888]/",
        "http://bücher.example/",
        "http://xn--bcher-kva.example/",
        "http://BÜCHER.example./",
        "http://api.例え.jp/",
        "http://api.xn--r8jz45g.jp/",
    ] {
        let message = error_text(&call(&client, "not_these", json!({ "url": url })).await);
        assert!(
            message.contains("this host is not allowed"),
            "{url}: {message}"
        );
    }
    // Neighbours are not denied by accident.
    for url in [
        "http://1.1.1.2/",
        "http://[2606:4700:4700::1001]/",
        "http://xbücher.example/",
        "http://例え.jp/",
    ] {
        assert!(
            call(&client, "not_these", json!({ "url": url }))
                .await
                .is_error
                != Some(true),
            "{url} refused"
        );
    }
    // An allow list matches the same way, and nothing else.
    for url in [
        "http://8.8.8.8/",
        "http://[::ffff:8.8.8.8]/",
        "http://[2001:4860:4860::8844]/",
        "http://shop.bücher.example/",
        "http://shop.xn--bcher-kva.example/",
    ] {
        assert!(
            call(&client, "only_these", json!({ "url": url }))
                .await
                .is_error
                != Some(true),
            "{url} refused"
        );
    }
    for url in [
        "http://8.8.4.4/",
        "http://bücher.example/",
        "http://evil.example/",
    ] {
        let message = error_text(&call(&client, "only_these", json!({ "url": url })).await);
        assert!(
            message.contains("only these hosts are allowed"),
            "{url}: {message}"
        );
    }
}
