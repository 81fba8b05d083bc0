//! An operator's controls on an in-process server, through a real rmcp client:
//! `authorize` by argument, a reload while a call is in flight, rate state across a
//! reload, and the audit trail's opted-in and sensitive fields, with every captured byte
//! of logs and trail searched for the sensitive value.
mod common;
use common::{Capture, call, connect, error_text, ok_text, text};

use std::path::PathBuf;
use std::time::Duration;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use secure_tool::{
    AUDIT_TARGET, Denied, ERROR_TARGET, Principal, SecureInput, SecureServer, Security, ToolError,
    secure_tool,
};
use serde_json::{Value, json};
use validator::Validate as _;

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Record {
    #[validate(length(max = 64))]
    #[secure(audit)]
    owner: String,
}

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Login {
    #[validate(length(max = 64))]
    #[secure(audit)]
    account: String,
    #[validate(length(max = 64))]
    #[secure(sensitive)]
    password: String,
    #[validate(length(max = 64))]
    note: String,
}

#[derive(
    serde::Deserialize, serde::Serialize, schemars::JsonSchema, validator::Validate, SecureInput,
)]
#[serde(deny_unknown_fields)]
struct Person {
    #[validate(length(max = 64))]
    name: String,
    #[validate(length(max = 64))]
    #[secure(sensitive)]
    ssn: String,
}

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Enroll {
    /// Audited whole; its sensitive field is cut out of the trail all the same.
    #[validate(nested)]
    #[secure(audit)]
    who: Person,
}

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Pause {
    #[validate(range(max = 2000))]
    ms: u64,
}

/// Callers may read only their own records.
fn own_records(caller: &Principal, input: &Record) -> Result<(), Denied> {
    if input.owner == caller.id() {
        Ok(())
    } else {
        Err(Denied::new("you may only read your own records"))
    }
}

/// The same rule, decided asynchronously (as a lookup in a database would be).
async fn own_records_later(caller: &Principal, input: &Record) -> Result<(), Denied> {
    tokio::task::yield_now().await;
    own_records(caller, input)
}

#[derive(Clone)]
struct Crm {
    security: Security,
    tool_router: ToolRouter<Self>,
}

impl SecureServer for Crm {
    fn security(&self) -> &Security {
        &self.security
    }
}

#[tool_router]
impl Crm {
    #[secure_tool(scope = "crm.read", authorize = own_records, read_only)]
    #[tool(description = "Read a record (sync authorization)")]
    fn read_record(&self, Parameters(r): Parameters<Record>) -> String {
        format!("record of {}", r.owner)
    }

    #[secure_tool(scope = "crm.read", authorize = own_records_later)]
    #[tool(description = "Read a record (async authorization)")]
    async fn read_record_async(&self, Parameters(r): Parameters<Record>) -> String {
        format!("record of {}", r.owner)
    }

    #[secure_tool(scope = "crm.login")]
    #[tool(description = "Log in; fails, quoting what it was given")]
    async fn login(&self, Parameters(l): Parameters<Login>) -> Result<String, ToolError> {
        if l.note == "public" {
            return Err(ToolError::public(format!(
                "bad password {} for {}",
                l.password, l.account
            )));
        }
        Err(ToolError::internal(std::io::Error::other(format!(
            "backend refused {}:{}",
            l.account, l.password
        ))))
    }

    #[secure_tool(scope = "crm.login")]
    #[tool(description = "Enroll; refuses, quoting the number it was given")]
    async fn enroll(&self, Parameters(e): Parameters<Enroll>) -> rmcp::model::CallToolResult {
        rmcp::model::CallToolResult::error(vec![rmcp::model::ContentBlock::text(format!(
            "cannot enroll {} with number {}",
            e.who.name, e.who.ssn
        ))])
    }

    #[secure_tool(scope = "crm.read", rate = "2/min")]
    #[tool(description = "Wait, then answer")]
    async fn pause(&self, Parameters(p): Parameters<Pause>) -> String {
        tokio::time::sleep(Duration::from_millis(p.ms)).await;
        "done".to_owned()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Crm {}

fn crm(security: Security) -> Crm {
    Crm {
        security,
        tool_router: Crm::tool_router(),
    }
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "secure-tool-operator-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn authorize_allows_and_denies_by_argument() {
    let dir = temp("authorize");
    let security = Security::builder()
        .local_principal(Principal::new("alice").with_scopes(["crm.read"]))
        .audit_log(dir.join("audit.jsonl"))
        .unwrap()
        .build();
    let client = connect(crm(security)).await;
    for tool in ["read_record", "read_record_async"] {
        let own = call(&client, tool, json!({"owner": "alice"})).await;
        assert_eq!(ok_text(&own), "record of alice");
        let other = call(&client, tool, json!({"owner": "bob"})).await;
        assert_eq!(error_text(&other), "you may only read your own records");
    }
    // Validation runs first: an invalid input never reaches the function.
    let invalid = call(&client, "read_record", json!({"owner": 7})).await;
    assert!(!error_text(&invalid).contains("own records"));
    client.cancel().await.unwrap();

    let lines = wait_for_lines(&dir.join("audit.jsonl"), 5).await;
    let outcomes: Vec<&str> = lines
        .iter()
        .map(|l| l["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["ok", "denied", "ok", "denied", "invalid"]);
    // `owner` is opted in with `#[secure(audit)]`.
    assert_eq!(lines[1]["arguments"], json!({"owner": "bob"}));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_annotations_and_scopes_are_listed() {
    let client = connect(crm(Security::default())).await;
    let tools = client.list_all_tools().await.unwrap();
    let read = tools.iter().find(|t| t.name == "read_record").unwrap();
    assert_eq!(
        read.annotations.as_ref().unwrap().read_only_hint,
        Some(true)
    );
    let meta = serde_json::to_value(&read.meta).unwrap();
    assert_eq!(meta["secure-tool/scopes"], json!(["crm.read"]));
    let pause = tools.iter().find(|t| t.name == "pause").unwrap();
    assert!(pause.annotations.is_none(), "no hint declared, none listed");
    client.cancel().await.unwrap();
}

async fn wait_for_lines(path: &std::path::Path, count: usize) -> Vec<Value> {
    for _ in 0..100 {
        let lines: Vec<Value> = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if lines.len() >= count {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {count} audit lines in {}", path.display());
}

#[tokio::test]
async fn a_sensitive_value_is_never_written_anywhere() {
    const PASSWORD: &str = "hunter2-Zq9";
    let dir = temp("sensitive");
    let capture = Capture::default();
    let _guard = capture.install();
    let security = Security::builder()
        .local_principal(Principal::new("tester").with_scopes(["crm.login"]))
        .audit_log(dir.join("audit.jsonl"))
        .unwrap()
        .build();
    let client = connect(crm(security)).await;
    let public = call(
        &client,
        "login",
        json!({"account": "acme", "password": PASSWORD, "note": "public"}),
    )
    .await;
    assert_eq!(error_text(&public), "bad password [sensitive] for acme");
    let internal = call(
        &client,
        "login",
        json!({"account": "acme", "password": PASSWORD, "note": "x"}),
    )
    .await;
    assert!(error_text(&internal).starts_with("internal error (ref "));
    client.cancel().await.unwrap();

    let lines = wait_for_lines(&dir.join("audit.jsonl"), 2).await;
    assert_eq!(lines[0]["arguments"], json!({"account": "acme"}));
    let trail = std::fs::read_to_string(dir.join("audit.jsonl")).unwrap();
    assert!(!trail.contains(PASSWORD), "{trail}");
    assert!(!trail.contains("hunter2"), "{trail}");

    // The redacted error's log keeps the operator's text, without the password.
    let logged = capture.events(ERROR_TARGET);
    let error = logged
        .last()
        .and_then(|e| e.get("error"))
        .unwrap()
        .to_owned();
    assert_eq!(error, "backend refused acme:[sensitive]");
    assert!(!capture.events(AUDIT_TARGET).is_empty());
    // Every event of this program but rmcp's own debug-level trace of each message (which
    // holds all arguments; the examples log rmcp at `warn`, and so should an operator).
    for event in capture
        .events_all()
        .into_iter()
        .filter(|e| !e.target.starts_with("rmcp"))
    {
        for value in event.fields.values() {
            assert!(!value.contains("hunter2"), "{event:?}");
        }
    }
    assert!(!text(&public).contains("hunter2"));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_reload_changes_grants_while_a_call_in_flight_finishes_under_the_old() {
    let dir = temp("reload");
    let policy = dir.join("secure-tool.toml");
    std::fs::write(&policy, "[principals.local]\nscopes = [\"crm.read\"]\n").unwrap();
    let _ = Crm::tool_router();
    let security = Security::builder()
        .local_principal(Principal::new("local"))
        .policy_file(&policy)
        .unwrap()
        .audit_log(dir.join("audit.jsonl"))
        .unwrap()
        .build();
    let client = std::sync::Arc::new(connect(crm(security.clone())).await);

    // A long call starts under the policy that grants `crm.read`...
    let slow = {
        let client = std::sync::Arc::clone(&client);
        tokio::spawn(async move { call(&client, "pause", json!({"ms": 800})).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    // ...the grant is revoked and the rate tightened...
    std::fs::write(&policy, "[principals.local]\nscopes = []\n").unwrap();
    security.reload_policy().expect("the new policy is valid");
    let denied = call(&client, "pause", json!({"ms": 1})).await;
    assert!(
        error_text(&denied).contains("`crm.read` scope"),
        "{denied:?}"
    );
    // ...and the call in flight finishes under the policy it started with.
    assert_eq!(ok_text(&slow.await.unwrap()), "done");

    // The rate state of an unchanged limit survives a reload: the first call spent one of
    // `pause`'s 2/min, so after a reload that grants again, one call is left.
    std::fs::write(&policy, "[principals.local]\nscopes = [\"crm.read\"]\n").unwrap();
    security.reload_policy().unwrap();
    assert_eq!(
        ok_text(&call(&client, "pause", json!({"ms": 1})).await),
        "done"
    );
    let limited = call(&client, "pause", json!({"ms": 1})).await;
    assert!(
        error_text(&limited).contains("rate limit exceeded"),
        "{limited:?}"
    );
    // A tightened rate never refills the budget: both of 2/min are spent, and under
    // 1/min the caller is still refused (its spent time carried into the new limit).
    std::fs::write(
        &policy,
        "[principals.local]\nscopes = [\"crm.read\"]\n\n[tools.pause]\nrate = \"1/min\"\n",
    )
    .unwrap();
    security.reload_policy().unwrap();
    assert!(error_text(&call(&client, "pause", json!({"ms": 1})).await).contains("rate limit"));

    // A broken file is refused and the policy in force stays.
    std::fs::write(&policy, "[principals.local]\nscopes = [\"crm read\"]\n").unwrap();
    let error = security.reload_policy().unwrap_err();
    assert_eq!((error.line, error.column), (2, 11), "{error}");
    assert_eq!(
        security
            .manifest()
            .tool("pause")
            .unwrap()
            .limits
            .rate
            .unwrap()
            .to_string(),
        "1/min"
    );

    assert!(security.flush_audit(Duration::from_secs(5)));
    let lines = wait_for_lines(&dir.join("audit.jsonl"), 9).await;
    let reloads: Vec<&Value> = lines
        .iter()
        .filter(|l| l["event"] == "policy_reload")
        .collect();
    let outcomes: Vec<&str> = reloads
        .iter()
        .map(|l| l["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["ok", "ok", "ok", "refused"]);
    // Each call's line carries the digest of the policy it ran under.
    let digests: std::collections::BTreeSet<&str> = lines
        .iter()
        .filter(|l| l["event"] == "tool_call")
        .map(|l| l["policy"].as_str().unwrap())
        .collect();
    assert!(digests.len() >= 3, "{digests:?}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Whether `security` grants the local caller `crm.read` within 3 s: less than the watch's
/// 5 s poll, so a swap must be seen through its events.
async fn grants_read_eventually(security: &Security, want: bool) -> bool {
    for _ in 0..30 {
        let client = connect(crm(security.clone())).await;
        let result = call(&client, "pause", json!({"ms": 1})).await;
        let _ = client.cancel().await;
        if (result.is_error != Some(true)) == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[cfg(unix)]
#[tokio::test]
async fn a_configmap_swap_of_the_data_link_takes_effect_without_a_signal() {
    use std::os::unix::fs::symlink;
    let dir = temp("configmap");
    // As the kubelet mounts a ConfigMap: the file is a link through `..data`, which
    // points at a timestamped directory and is swapped atomically on an update.
    std::fs::create_dir_all(dir.join("..2026_12_03_01")).unwrap();
    std::fs::write(
        dir.join("..2026_12_03_01/secure-tool.toml"),
        "[principals.local]\nscopes = []\n",
    )
    .unwrap();
    symlink("..2026_12_03_01", dir.join("..data")).unwrap();
    symlink("..data/secure-tool.toml", dir.join("secure-tool.toml")).unwrap();
    let _ = Crm::tool_router();
    let security = Security::builder()
        .local_principal(Principal::new("local"))
        .policy_file(dir.join("secure-tool.toml"))
        .unwrap()
        .build();
    let _watch = security.watch_policy().unwrap();
    assert!(grants_read_eventually(&security, false).await);
    // The update: a new directory, a new link beside `..data`, renamed over it.
    std::fs::create_dir_all(dir.join("..2026_12_03_02")).unwrap();
    std::fs::write(
        dir.join("..2026_12_03_02/secure-tool.toml"),
        "[principals.local]\nscopes = [\"crm.read\"]\n",
    )
    .unwrap();
    symlink("..2026_12_03_02", dir.join("..data_tmp")).unwrap();
    std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
    std::fs::remove_dir_all(dir.join("..2026_12_03_01")).unwrap();
    assert!(
        grants_read_eventually(&security, true).await,
        "the swapped ConfigMap never took effect"
    );
    // And the next swap, through the directory the first one made.
    std::fs::write(
        dir.join("..2026_12_03_02/secure-tool.toml.new"),
        "[principals.local]\nscopes = []\n",
    )
    .unwrap();
    std::fs::rename(
        dir.join("..2026_12_03_02/secure-tool.toml.new"),
        dir.join("..2026_12_03_02/secure-tool.toml"),
    )
    .unwrap();
    assert!(grants_read_eventually(&security, false).await);
    let _ = std::fs::remove_dir_all(dir);
}

#[cfg(unix)]
#[tokio::test]
async fn a_deploy_swapping_a_current_link_takes_effect_without_a_signal() {
    use std::os::unix::fs::symlink;
    let dir = temp("current-link");
    for (release, scopes) in [("release-1", "[]"), ("release-2", "[\"crm.read\"]")] {
        std::fs::create_dir_all(dir.join(release)).unwrap();
        std::fs::write(
            dir.join(release).join("secure-tool.toml"),
            format!("[principals.local]\nscopes = {scopes}\n"),
        )
        .unwrap();
    }
    symlink("release-1", dir.join("current")).unwrap();
    let _ = Crm::tool_router();
    let security = Security::builder()
        .local_principal(Principal::new("local"))
        .policy_file(dir.join("current/secure-tool.toml"))
        .unwrap()
        .build();
    let _watch = security.watch_policy().unwrap();
    // `ln -sfn release-2 current`, done atomically.
    symlink("release-2", dir.join("current.next")).unwrap();
    std::fs::rename(dir.join("current.next"), dir.join("current")).unwrap();
    assert!(
        grants_read_eventually(&security, true).await,
        "the swapped release never took effect"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn an_edit_before_the_watch_starts_is_not_missed() {
    let dir = temp("edit-before-watch");
    let policy = dir.join("secure-tool.toml");
    std::fs::write(&policy, "[principals.local]\nscopes = []\n").unwrap();
    let _ = Crm::tool_router();
    let security = Security::builder()
        .local_principal(Principal::new("local"))
        .policy_file(&policy)
        .unwrap()
        .build();
    // Between start-up and the watch, the file changes (and no event will say so).
    std::fs::write(&policy, "[principals.local]\nscopes = [\"crm.read\"]\n").unwrap();
    let _watch = security.watch_policy().unwrap();
    assert!(
        grants_read_eventually(&security, true).await,
        "the edit made before the watch started was never read"
    );
    let _ = std::fs::remove_dir_all(dir);
}
