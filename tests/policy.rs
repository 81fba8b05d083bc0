//! The operator's policy file, through `examples/fs_server.rs` launched as a real stdio
//! child process and driven by rmcp's client: grants by role, a tightened rate,
//! `enabled = false`, broken files at start-up and on reload, live reload by file change
//! and by SIGHUP, the audit log, and the annotations and `_meta` of `tools/list`.
mod common;
use common::{error_text, fs_server_binary, ok_text, text};

use std::path::PathBuf;
use std::time::Duration;

use rmcp::RoleClient;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use serde_json::{Value, json};

struct Fixture {
    dir: PathBuf,
}

impl Fixture {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("secure-tool-policy-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("root")).unwrap();
        std::fs::write(dir.join("root/hello.txt"), "hello").unwrap();
        Self { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.join("root")
    }

    fn policy(&self) -> PathBuf {
        self.dir.join("secure-tool.toml")
    }

    fn audit(&self) -> PathBuf {
        self.dir.join("audit.jsonl")
    }

    /// Replace the policy the way an editor saves: a new file renamed over the old.
    fn write_policy(&self, text: &str) {
        let next = self.dir.join("secure-tool.toml.new");
        std::fs::write(&next, text).unwrap();
        std::fs::rename(&next, self.policy()).unwrap();
    }

    fn audit_lines(&self) -> Vec<Value> {
        std::fs::read_to_string(self.audit())
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).expect("each audit line is JSON"))
            .collect()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const READER: &str = r#"
[roles]
reader = ["fs.read"]
writer = ["fs.read", "fs.write"]

[principals]
local = { roles = ["reader"] }
alice = { roles = ["writer"] }
"#;

fn command(fx: &Fixture, extra: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(fs_server_binary());
    command.env("RUST_LOG", "warn");
    command
        .arg("--root")
        .arg(fx.root())
        .arg("--policy")
        .arg(fx.policy())
        .arg("--audit-log")
        .arg(fx.audit());
    command.args(extra);
    command
}

async fn launch(fx: &Fixture, extra: &[&str]) -> (RunningService<RoleClient, ()>, u32) {
    let transport = TokioChildProcess::new(command(fx, extra)).expect("fs_server starts");
    let pid = transport.id().expect("a running child");
    let client = ().serve(transport).await.expect("client connects");
    (client, pid)
}

async fn call(
    client: &RunningService<RoleClient, ()>,
    tool: &str,
    args: Value,
) -> rmcp::model::CallToolResult {
    let params = CallToolRequestParams::new(tool.to_owned())
        .with_arguments(args.as_object().cloned().unwrap_or_default());
    client.call_tool(params).await.expect("a tool result")
}

/// Wait until `check` passes (a reload is asynchronous), at most 10 s.
async fn eventually<F: AsyncFnMut() -> bool>(mut check: F) -> bool {
    for _ in 0..100 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Start fs_server with a policy expected to be refused: its exit and its stderr.
fn refused_at_start(fx: &Fixture, policy: &str) -> (bool, String) {
    std::fs::write(fx.policy(), policy).unwrap();
    let output = std::process::Command::new(fs_server_binary())
        .arg("--root")
        .arg(fx.root())
        .arg("--policy")
        .arg(fx.policy())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_role_granted_to_the_local_principal_is_what_it_may_do() {
    let fx = Fixture::new("role");
    std::fs::write(fx.policy(), READER).unwrap();
    let (client, _) = launch(&fx, &[]).await;
    let read = call(&client, "read_file", json!({"path": "hello.txt"})).await;
    assert_eq!(ok_text(&read), "hello");
    let write = call(
        &client,
        "write_file",
        json!({"path": "x.txt", "content": "x"}),
    )
    .await;
    assert!(error_text(&write).contains("`fs.write` scope"), "{write:?}");
    assert!(!fx.root().join("x.txt").exists());
    client.cancel().await.unwrap();

    // `--grant` adds to the policy's grants (the union).
    let (client, _) = launch(&fx, &["--grant", "fs.write"]).await;
    let write = call(
        &client,
        "write_file",
        json!({"path": "x.txt", "content": "x"}),
    )
    .await;
    assert_eq!(ok_text(&write), "wrote 1 bytes");
    client.cancel().await.unwrap();

    // A denial in the policy wins over the command line's grant.
    std::fs::write(
        fx.policy(),
        format!("{READER}\n[principals.local2]\nroles = []\n").replace(
            "local = { roles = [\"reader\"] }",
            "local = { roles = [\"writer\"], deny = [\"fs.write\"] }",
        ),
    )
    .unwrap();
    let (client, _) = launch(&fx, &["--grant", "fs.write"]).await;
    let write = call(
        &client,
        "write_file",
        json!({"path": "y.txt", "content": "y"}),
    )
    .await;
    assert!(error_text(&write).contains("`fs.write` scope"), "{write:?}");
    let read = call(&client, "read_file", json!({"path": "hello.txt"})).await;
    assert_eq!(ok_text(&read), "hello");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_tool_override_tightens_its_rate_and_disabled_tools_are_gone() {
    let fx = Fixture::new("tighten");
    std::fs::write(
        fx.policy(),
        format!(
            "{READER}\n[tools.read_file]\nrate = \"3/min\"\n\n[tools.write_file]\nenabled = false\n"
        ),
    )
    .unwrap();
    let (client, _) = launch(&fx, &["--grant", "fs.write"]).await;
    for _ in 0..3 {
        let read = call(&client, "read_file", json!({"path": "hello.txt"})).await;
        assert_eq!(ok_text(&read), "hello");
    }
    let limited = call(&client, "read_file", json!({"path": "hello.txt"})).await;
    assert!(
        error_text(&limited).contains("rate limit exceeded"),
        "{limited:?}"
    );
    // The other tool keeps the code's 120/min.
    for _ in 0..5 {
        let list = call(&client, "list_dir", json!({"path": "."})).await;
        assert!(ok_text(&list).contains("hello.txt"));
    }

    let names: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(!names.contains(&"write_file".to_owned()), "{names:?}");
    let write = call(
        &client,
        "write_file",
        json!({"path": "x.txt", "content": "x"}),
    )
    .await;
    assert!(error_text(&write).contains("disabled"), "{write:?}");
    assert!(!fx.root().join("x.txt").exists());
    client.cancel().await.unwrap();

    // The manifest shows the effective policy, marking what the file changed.
    let output = std::process::Command::new(fs_server_binary())
        .args(["--manifest", "--json", "--policy"])
        .arg(fx.policy())
        .output()
        .unwrap();
    assert!(output.status.success());
    let manifest: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(manifest["policy"].as_str().unwrap().starts_with("sha256:"));
    let tool = |name: &str| {
        manifest["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(tool("read_file")["rate"], "3/min");
    assert_eq!(tool("read_file")["policy"], json!(["rate"]));
    assert_eq!(tool("write_file")["enabled"], false);
    assert_eq!(tool("write_file")["policy"], json!(["enabled"]));
    assert_eq!(tool("list_dir")["rate"], "120/min");
    assert!(tool("list_dir").get("policy").is_none());
}

#[test]
fn a_broken_policy_stops_the_server_with_its_file_and_line() {
    let fx = Fixture::new("broken");
    let cases: &[(&str, &str, &str)] = &[
        (
            "[tools.wrte_file]\nenabled = false\n",
            ":1:",
            "did you mean `write_file`",
        ),
        (
            "[roles]\nreader = [\"fs.read\"]\n\n[principals]\nlocal = { roles = [\"raeder\"] }\n",
            ":5:",
            "unknown role `raeder`",
        ),
        (
            "[tools.read_file]\nrate = \"3/min\"\nrtae = 4\n",
            ":3:",
            "unknown field `rtae`",
        ),
        (
            "[tools.read_file]\nrate = \"3/week\"\n",
            ":2:",
            "invalid `rate`",
        ),
        (
            "[tools.read_file]\nrate = \"1000/min\"\n",
            ":2:",
            "allow_loosen",
        ),
        ("[tools.read_file]\nconcurrency = 0\n", ":2:", "concurrency"),
        ("[principals\nlocal = 1\n", ":1:", ""),
        ("[bogus]\nx = 1\n", ":1:", "unknown field `bogus`"),
    ];
    for (policy, line, words) in cases {
        let (ok, stderr) = refused_at_start(&fx, policy);
        assert!(!ok, "the server started with {policy:?}");
        assert!(
            stderr.contains(&format!("secure-tool.toml{line}")),
            "{policy:?}: {stderr}"
        );
        assert!(stderr.contains(words), "{policy:?}: {stderr}");
    }
    // Loosening is allowed when the table says so.
    let (ok, stderr) = refused_at_start(
        &fx,
        "[tools.read_file]\nrate = \"1000/min\"\nallow_loosen = true\n[tools.nope]\n",
    );
    assert!(!ok && stderr.contains("unknown tool `nope`"), "{stderr}");
}

#[tokio::test]
async fn a_reload_takes_effect_without_a_restart_and_a_broken_one_is_refused() {
    let fx = Fixture::new("reload");
    std::fs::write(fx.policy(), READER).unwrap();
    let (client, pid) = launch(&fx, &[]).await;
    let write = call(
        &client,
        "write_file",
        json!({"path": "x.txt", "content": "x"}),
    )
    .await;
    assert!(error_text(&write).contains("`fs.write` scope"));

    // The file changes: the new grant applies, with no restart.
    fx.write_policy(&READER.replace(
        "local = { roles = [\"reader\"] }",
        "local = { roles = [\"writer\"] }",
    ));
    assert!(
        eventually(async || {
            let write = call(
                &client,
                "write_file",
                json!({"path": "x.txt", "content": "x"}),
            )
            .await;
            write.is_error != Some(true)
        })
        .await,
        "the reloaded grant never applied"
    );

    // A broken file is refused: the policy in force stays, and the refusal is audited.
    fx.write_policy("[tools.read_file]\nrate = \"lots\"\n");
    assert!(
        eventually(async || fx
            .audit_lines()
            .iter()
            .any(|l| l["event"] == "policy_reload" && l["outcome"] == "refused"))
        .await,
        "the refused reload was not audited"
    );
    let write = call(
        &client,
        "write_file",
        json!({"path": "x.txt", "content": "again"}),
    )
    .await;
    assert_eq!(ok_text(&write), "wrote 5 bytes");
    let refused = fx
        .audit_lines()
        .into_iter()
        .find(|l| l["outcome"] == "refused")
        .unwrap();
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("secure-tool.toml:2:"),
        "{refused}"
    );

    // SIGHUP reloads too: write the reader policy without notify seeing a new name, then
    // signal. (The watch may see the write as well; either way the grant is gone.)
    std::fs::write(fx.policy(), READER).unwrap();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        eventually(async || {
            let write = call(
                &client,
                "write_file",
                json!({"path": "x.txt", "content": "x"}),
            )
            .await;
            write.is_error == Some(true) && text(&write).contains("`fs.write` scope")
        })
        .await,
        "the reload on SIGHUP never applied"
    );
    let reloads: Vec<Value> = fx
        .audit_lines()
        .into_iter()
        .filter(|l| l["event"] == "policy_reload" && l["outcome"] == "ok")
        .collect();
    assert!(reloads.len() >= 2, "{reloads:?}");
    for reload in &reloads {
        assert!(reload["policy"].as_str().unwrap().starts_with("sha256:"));
    }
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn the_audit_log_has_a_line_per_call_and_tools_list_has_hints_and_scopes() {
    let fx = Fixture::new("audit");
    std::fs::write(fx.policy(), READER).unwrap();
    let (client, _) = launch(&fx, &[]).await;
    let tools = client.list_all_tools().await.unwrap();
    let tool = |name: &str| tools.iter().find(|t| t.name == name).unwrap().clone();
    let read = tool("read_file");
    let hints = read.annotations.clone().expect("read_file has annotations");
    assert_eq!(hints.read_only_hint, Some(true));
    let write = tool("write_file");
    let hints = write
        .annotations
        .clone()
        .expect("write_file has annotations");
    assert_eq!(hints.destructive_hint, Some(true));
    assert_eq!(hints.read_only_hint, Some(false));
    assert_eq!(hints.idempotent_hint, Some(true));
    let scopes = |t: &rmcp::model::Tool| {
        serde_json::to_value(&t.meta).unwrap()["secure-tool/scopes"].clone()
    };
    assert_eq!(scopes(&read), json!(["fs.read"]));
    assert_eq!(scopes(&write), json!(["fs.write"]));

    let _ = call(&client, "read_file", json!({"path": "hello.txt"})).await;
    let _ = call(
        &client,
        "write_file",
        json!({"path": "x.txt", "content": "secret-ish"}),
    )
    .await;
    let _ = call(&client, "read_file", json!({"path": "../etc/passwd"})).await;
    client.cancel().await.unwrap();
    assert!(
        eventually(async || fx.audit_lines().len() >= 3).await,
        "{:?}",
        fx.audit_lines()
    );
    let lines = fx.audit_lines();
    let outcomes: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| (l["tool"].as_str().unwrap(), l["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("read_file", "ok"),
            ("write_file", "denied"),
            ("read_file", "invalid")
        ]
    );
    for line in &lines {
        assert_eq!(line["event"], "tool_call");
        assert_eq!(line["principal"], "local");
        assert!(line["time"].as_str().unwrap().ends_with('Z'));
        assert!(line["duration_us"].is_u64());
        assert!(line["policy"].as_str().unwrap().starts_with("sha256:"));
        assert!(
            line.get("arguments").is_none(),
            "no argument is audited by default"
        );
    }
    let text = std::fs::read_to_string(fx.audit()).unwrap();
    for value in ["hello.txt", "secret-ish", "passwd"] {
        assert!(
            !text.contains(value),
            "an argument value reached the audit log: {value}"
        );
    }
}

/// A client that counts `notifications/tools/list_changed`.
#[derive(Clone, Default)]
struct Counting(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl rmcp::ClientHandler for Counting {
    async fn on_tool_list_changed(&self, _: rmcp::service::NotificationContext<RoleClient>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test]
async fn disabling_a_tool_live_tells_the_client_and_hides_it() {
    let fx = Fixture::new("list-changed");
    std::fs::write(fx.policy(), READER).unwrap();
    let counting = Counting::default();
    let transport = TokioChildProcess::new(command(&fx, &[])).expect("fs_server starts");
    let client = counting
        .clone()
        .serve(transport)
        .await
        .expect("client connects");
    assert_eq!(client.list_all_tools().await.unwrap().len(), 3);

    fx.write_policy(&format!("{READER}\n[tools.write_file]\nenabled = false\n"));
    let count = || counting.0.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        eventually(async || count() >= 1).await,
        "no tools/list_changed"
    );
    let names: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert!(!names.contains(&"write_file".to_owned()), "{names:?}");
    // A reload that changes only a limit lists the same tools: no notification.
    fx.write_policy(&format!(
        "{READER}\n[tools.write_file]\nenabled = false\n\n[tools.read_file]\nrate = \"5/min\"\n"
    ));
    assert!(
        eventually(async || fx
            .audit_lines()
            .iter()
            .filter(|l| l["event"] == "policy_reload")
            .count()
            >= 2)
        .await
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count(), 1);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn an_empty_file_is_refused_and_each_reload_audits_what_it_loosens() {
    let fx = Fixture::new("empty-diff");
    // At start-up, an empty file stops the server like a broken one.
    for empty in ["", "\n  \n", "# being written\n"] {
        let (ok, stderr) = refused_at_start(&fx, empty);
        assert!(!ok, "{empty:?} was accepted at start-up");
        assert!(stderr.contains("the policy file is empty"), "{stderr}");
    }
    std::fs::write(fx.policy(), READER).unwrap();
    let (client, _) = launch(&fx, &[]).await;
    // On reload: what an editor leaves mid-write is refused, and the policy stays.
    for (n, empty) in ["", "# being written\n"].into_iter().enumerate() {
        fx.write_policy(empty);
        assert!(
            eventually(async || fx
                .audit_lines()
                .iter()
                .filter(|l| l["event"] == "policy_reload" && l["outcome"] == "refused")
                .count()
                > n)
            .await,
            "the empty file was not refused"
        );
    }
    let read = call(&client, "read_file", json!({"path": "hello.txt"})).await;
    assert_eq!(ok_text(&read), "hello", "the grants in force stayed");
    let refused: Vec<Value> = fx
        .audit_lines()
        .into_iter()
        .filter(|l| l["outcome"] == "refused")
        .collect();
    assert!(
        refused
            .iter()
            .all(|l| l["error"].as_str().unwrap().contains("empty")),
        "{refused:?}"
    );

    // An accepted reload says what it loosens and what it tightens.
    fx.write_policy(&format!(
        "{}\n[tools.read_file]\nrate = \"10/min\"\n\n[tools.list_dir]\nenabled = false\n",
        READER.replace(
            "local = { roles = [\"reader\"] }",
            "local = { roles = [\"writer\"] }"
        )
    ));
    assert!(
        eventually(async || fx
            .audit_lines()
            .iter()
            .any(|l| l["event"] == "policy_reload" && l["outcome"] == "ok"))
        .await,
        "the reload was not audited"
    );
    let reload = fx
        .audit_lines()
        .into_iter()
        .find(|l| l["event"] == "policy_reload" && l["outcome"] == "ok")
        .unwrap();
    assert_eq!(
        reload["loosened"],
        json!(["principal `local`: grants `fs.write`"]),
        "{reload}"
    );
    assert_eq!(
        reload["tightened"],
        json!([
            "tool `list_dir`: disabled",
            "tool `read_file`: rate 120/min -> 10/min",
            "tool `read_file`: burst 120 -> 10"
        ]),
        "{reload}"
    );
    // Back again: each change reads the other way round.
    fx.write_policy(READER);
    assert!(
        eventually(async || fx
            .audit_lines()
            .iter()
            .filter(|l| l["event"] == "policy_reload" && l["outcome"] == "ok")
            .count()
            >= 2)
        .await
    );
    let back = fx
        .audit_lines()
        .into_iter()
        .filter(|l| l["event"] == "policy_reload" && l["outcome"] == "ok")
        .nth(1)
        .unwrap();
    assert_eq!(
        back["tightened"],
        json!(["principal `local`: no longer grants `fs.write`"])
    );
    assert_eq!(back["loosened"].as_array().unwrap().len(), 3, "{back}");
    client.cancel().await.unwrap();
}
