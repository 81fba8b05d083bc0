//! `Security::manifest()`: every secured tool of the program, its access rule, its
//! effective limits and every waiver its inputs carry (nested ones included), complete
//! without a list to keep in sync.
use std::time::Duration;

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use secure_tool::{Bytes, Millis, SecureInput, SecureServer, Security, secure_tool};

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Upload {
    #[secure(unbounded = "a patch can be long; the raw 64 KiB string limit caps it")]
    patch: String,
    meta: Meta,
    #[validate(length(max = 4))]
    metas: Vec<Meta>,
    mode: Mode,
}

#[derive(
    serde::Deserialize, serde::Serialize, schemars::JsonSchema, validator::Validate, SecureInput,
)]
#[serde(deny_unknown_fields)]
struct Meta {
    #[validate(length(max = 200))]
    #[secure(hidden_text = "terminal transcripts keep their escape codes")]
    transcript: String,
}

#[derive(serde::Deserialize, schemars::JsonSchema, SecureInput)]
#[serde(deny_unknown_fields)]
#[secure(allow_unknown_fields = "old clients send `force`, which is ignored")]
enum Mode {
    Fast,
    Careful {
        #[secure(opaque = "a Duration is two integers checked by serde")]
        pause: Duration,
    },
}

struct Repo {
    security: Security,
}

impl SecureServer for Repo {
    fn security(&self) -> &Security {
        &self.security
    }
}

#[tool_router]
impl Repo {
    #[secure_tool(scopes = ["repo.read", "repo.write"], rate = "30/min", burst = 5, timeout = "2s", concurrency = 2, max_output = "64KiB", max_input = "1MiB")]
    #[tool(description = "Upload a patch")]
    async fn upload(&self, Parameters(upload): Parameters<Upload>) -> String {
        upload.patch
    }

    #[secure_tool(public)]
    #[tool(name = "status_v2", description = "Status")]
    async fn status(&self) -> String {
        String::new()
    }

    #[secure_tool(scope = "repo.read")]
    #[tool(description = "Count")]
    fn count(&self) -> String {
        String::new()
    }
}

/// Never constructed: its router is never built, so it serves nothing.
#[allow(dead_code)]
struct Unused {
    security: Security,
}

impl SecureServer for Unused {
    fn security(&self) -> &Security {
        &self.security
    }
}

#[tool_router]
impl Unused {
    #[secure_tool(public)]
    #[tool(description = "Never served")]
    async fn never_served(&self) -> String {
        String::new()
    }
}

/// The server's `Security`, after building its router (as creating the server does).
fn security() -> Security {
    let _ = Repo::tool_router();
    Security::builder()
        .default_timeout(Some(Duration::from_secs(7)))
        .max_output(4096)
        .build()
}

#[test]
fn every_served_tool_is_listed_with_its_declared_and_effective_limits() {
    let manifest = security().manifest();
    let names: Vec<_> = manifest.tools().iter().map(|t| t.name).collect();
    // `Unused::never_served` is not listed: its router was never built.
    assert_eq!(names, ["count", "status_v2", "upload"]);
    // Building a router again (rmcp does, per HTTP session) lists nothing twice.
    let _ = Repo::tool_router();
    assert_eq!(security().manifest().tools().len(), 3);

    let upload = manifest.tool("upload").unwrap();
    assert_eq!(upload.scopes, ["repo.read", "repo.write"]);
    assert!(!upload.public);
    let limits = &upload.limits;
    assert_eq!(
        limits.rate.map(|r| r.to_string()).as_deref(),
        Some("30/min")
    );
    assert_eq!(limits.burst, Some(5));
    assert_eq!(limits.timeout, Some(Millis(2000)));
    assert_eq!(limits.concurrency, Some(2));
    assert_eq!(limits.max_output, Some(Bytes(64 * 1024)));
    assert_eq!(limits.max_input, Some(Bytes(1 << 20)));
    assert_eq!(upload.server, "manifest::Repo");
    assert_eq!(upload.input, "Upload");
    assert_eq!(upload.module, "manifest");
    assert!(
        upload.location.starts_with("tests/manifest.rs:"),
        "{}",
        upload.location
    );

    // Undeclared limits are the server's: its default timeout, output cap and raw limit.
    let status = manifest.tool("status_v2").unwrap();
    assert!(status.public && status.scopes.is_empty());
    let limits = &status.limits;
    assert_eq!((limits.rate, limits.burst), (None, None));
    assert_eq!(limits.timeout, Some(Millis(7000)));
    assert_eq!(limits.max_output, Some(Bytes(4096)));
    assert_eq!(limits.max_input, Some(Bytes(256 * 1024)));
    assert_eq!(status.input, "-");
    // A sync tool cannot be interrupted, so it has no timeout whatever the default.
    assert_eq!(manifest.tool("count").unwrap().limits.timeout, None);
}

#[test]
fn every_waiver_is_reported_once_with_its_reason_nested_ones_included() {
    let manifest = security().manifest();
    let upload = manifest.tool("upload").unwrap();
    let waivers: Vec<_> = upload.opt_outs.iter().map(|o| (o.field, o.rule)).collect();
    // `Meta` is held twice (meta, metas) but listed once.
    assert_eq!(
        waivers,
        [
            ("Upload.patch", "unbounded"),
            ("Meta.transcript", "hidden_text"),
            ("Mode::Careful.pause", "opaque"),
            ("Mode", "allow_unknown_fields"),
        ]
    );
    assert_eq!(
        upload.opt_outs[0].reason,
        "a patch can be long; the raw 64 KiB string limit caps it"
    );
    assert_eq!(manifest.opt_outs().count(), 4);
    assert!(manifest.tool("status_v2").unwrap().opt_outs.is_empty());
}

#[test]
fn the_manifest_prints_for_operators_and_serializes_for_review() {
    let manifest = security().manifest();
    let text = manifest.to_string();
    assert!(
        text.starts_with("3 secured tool(s), 4 waiver(s)\n"),
        "{text}"
    );
    assert!(
        text.contains("upload     scope repo.read + repo.write  rate 30/min (burst 5)  timeout 2s  concurrency 2  output <= 64 KiB  input <= 1 MiB"),
        "{text}"
    );
    assert!(
        text.contains("status_v2  public  rate unlimited  timeout 7s"),
        "{text}"
    );
    assert!(
        text.contains("count      scope repo.read  rate unlimited  no timeout"),
        "{text}"
    );
    assert!(
        text.contains("    waiver Meta.transcript: hidden_text (\"terminal transcripts keep their escape codes\")"),
        "{text}"
    );

    let json = serde_json::to_value(&manifest).unwrap();
    let upload = &json["tools"][2];
    assert_eq!(upload["name"], "upload");
    assert_eq!(
        upload["scopes"],
        serde_json::json!(["repo.read", "repo.write"])
    );
    assert_eq!(upload["opt_outs"][2]["rule"], "opaque");
    assert_eq!(upload["timeout_ms"], 2000);
}
