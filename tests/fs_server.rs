//! `examples/fs_server.rs` launched as a real stdio child process, driven by rmcp's
//! client the way an MCP host drives it: grants, traversal and symlink escapes.
mod common;
use common::{error_text, fs_server_binary, ok_text, text};

use std::path::{Path, PathBuf};

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
        let base =
            std::env::temp_dir().join(format!("secure-tool-fs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("root");
        std::fs::create_dir_all(root.join("docs")).unwrap();
        std::fs::write(root.join("docs/hello.txt"), "hello from inside").unwrap();
        std::fs::write(base.join("secret.txt"), "TOP SECRET outside the root").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(base.join("secret.txt"), root.join("link-out")).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&base, root.join("dir-out")).unwrap();
        Self { dir: base }
    }

    fn root(&self) -> PathBuf {
        self.dir.join("root")
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn launch(root: &Path, grants: &[&str]) -> RunningService<RoleClient, ()> {
    let mut command = tokio::process::Command::new(fs_server_binary());
    command.env("RUST_LOG", "warn");
    command.arg("--root").arg(root);
    for grant in grants {
        command.arg("--grant").arg(grant);
    }
    let transport = TokioChildProcess::new(command).expect("fs_server starts");
    ().serve(transport)
        .await
        .expect("client connects to fs_server")
}

async fn call(
    client: &RunningService<RoleClient, ()>,
    tool: &str,
    args: Value,
) -> rmcp::model::CallToolResult {
    let params = CallToolRequestParams::new(tool.to_owned())
        .with_arguments(args.as_object().cloned().unwrap_or_default());
    client
        .call_tool(params)
        .await
        .expect("a tool result, not a protocol error")
}

#[tokio::test]
async fn read_list_and_write_inside_the_root() {
    let fx = Fixture::new("ok");
    let client = launch(&fx.root(), &["fs.read", "fs.write"]).await;
    let tools: Vec<_> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert_eq!(tools.len(), 3, "{tools:?}");
    assert_eq!(
        ok_text(&call(&client, "read_file", json!({"path": "docs/hello.txt"})).await),
        "hello from inside"
    );
    let listing = ok_text(&call(&client, "list_dir", json!({"path": "."})).await);
    assert!(listing.contains("docs/"), "{listing}");
    ok_text(
        &call(
            &client,
            "write_file",
            json!({"path": "docs/new.txt", "content": "made by a tool"}),
        )
        .await,
    );
    assert_eq!(
        std::fs::read_to_string(fx.root().join("docs/new.txt")).unwrap(),
        "made by a tool"
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn no_grant_means_every_tool_is_denied() {
    let fx = Fixture::new("nogrant");
    let client = launch(&fx.root(), &[]).await;
    for (tool, args) in [
        ("read_file", json!({"path": "docs/hello.txt"})),
        ("list_dir", json!({"path": "."})),
        ("write_file", json!({"path": "x", "content": "y"})),
    ] {
        assert!(error_text(&call(&client, tool, args).await).starts_with("permission denied"));
    }
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn read_grant_does_not_allow_writes() {
    let fx = Fixture::new("readonly");
    let client = launch(&fx.root(), &["fs.read"]).await;
    let message = error_text(
        &call(
            &client,
            "write_file",
            json!({"path": "docs/hello.txt", "content": "pwned"}),
        )
        .await,
    );
    assert!(message.contains("`fs.write` scope"), "{message}");
    assert_eq!(
        std::fs::read_to_string(fx.root().join("docs/hello.txt")).unwrap(),
        "hello from inside"
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn escapes_are_refused_and_nothing_outside_leaks() {
    let fx = Fixture::new("escape");
    let client = launch(&fx.root(), &["fs.read", "fs.write"]).await;
    let outside = fx.dir.join("secret.txt");
    let attempts = [
        json!({"path": "../secret.txt"}),
        json!({"path": "docs/../../secret.txt"}),
        json!({"path": outside.to_str().unwrap()}),
        json!({"path": "/etc/passwd"}),
        json!({"path": "link-out"}),
        json!({"path": "dir-out/secret.txt"}),
        json!({"path": "./../root/../secret.txt"}),
    ];
    for args in attempts {
        let result = call(&client, "read_file", args.clone()).await;
        let message = error_text(&result);
        assert!(!message.contains("TOP SECRET"), "{args}: {message}");
        assert!(
            !message.contains(fx.dir.to_str().unwrap()),
            "{args}: path leaked: {message}"
        );
    }
    for args in [json!({"path": "../"}), json!({"path": "dir-out"})] {
        let message = error_text(&call(&client, "list_dir", args.clone()).await);
        assert!(!message.contains("secret"), "{args}: {message}");
    }
    let result = call(
        &client,
        "write_file",
        json!({"path": "../escaped.txt", "content": "x"}),
    )
    .await;
    error_text(&result);
    assert!(!fx.dir.join("escaped.txt").exists());
    let result = call(
        &client,
        "write_file",
        json!({"path": "dir-out/escaped.txt", "content": "x"}),
    )
    .await;
    error_text(&result);
    assert!(!fx.dir.join("escaped.txt").exists());
    // Still serving.
    assert_eq!(
        text(&call(&client, "read_file", json!({"path": "docs/hello.txt"})).await),
        "hello from inside"
    );
    client.cancel().await.unwrap();
}

/// The manifest as a reviewed artifact: a change to any tool's scopes, limits or waivers
/// (or a tool that stops being served) fails this test until `tests/manifest/fs_server.json`
/// changes with it, where review sees it as a diff. Where each tool is declared moves with
/// every edit above it, so `location` is left out. To accept a change:
/// `SECURE_TOOL_UPDATE_MANIFEST=1 cargo test --test fs_server`.
#[test]
fn the_manifest_is_the_reviewed_copy() {
    let output = std::process::Command::new(fs_server_binary())
        .args(["--manifest", "--json"])
        .output()
        .expect("fs_server runs");
    assert!(output.status.success());
    let mut actual: Value = serde_json::from_slice(&output.stdout).unwrap();
    for tool in actual["tools"].as_array_mut().unwrap() {
        tool.as_object_mut().unwrap().remove("location");
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/manifest/fs_server.json");
    if std::env::var_os("SECURE_TOOL_UPDATE_MANIFEST").is_some() {
        let text = serde_json::to_string_pretty(&actual).unwrap() + "\n";
        std::fs::write(&path, text).unwrap();
    }
    let reviewed: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        actual, reviewed,
        "fs_server's manifest changed: review the difference, then accept it with `SECURE_TOOL_UPDATE_MANIFEST=1 cargo test --test fs_server`"
    );
}

/// The operator can review every tool's access rule and limits before granting anything.
#[test]
fn manifest_flag_lists_every_tool_with_its_scope_and_limits() {
    let output = std::process::Command::new(fs_server_binary())
        .arg("--manifest")
        .output()
        .expect("fs_server runs");
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.starts_with("3 secured tool(s), 0 waiver(s)\n"),
        "{text}"
    );
    for (tool, scope, rate) in [
        ("list_dir", "fs.read", "120/min"),
        ("read_file", "fs.read", "120/min"),
        ("write_file", "fs.write", "30/min"),
    ] {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{tool} ")))
            .unwrap_or_else(|| panic!("{tool} missing: {text}"));
        assert!(
            line.contains(&format!("scope {scope}  rate {rate}")),
            "{line}"
        );
        assert!(line.contains("timeout 5s"), "{line}");
    }
}
