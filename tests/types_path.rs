//! `SafePath` + `Sandbox` against an attack corpus through a real rmcp client, a benign
//! corpus, symlink escapes and a rename race.
mod common;
use common::{Client, call, connect, error_text, ok_text};

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use secure_tool::types::{SafePath, Sandbox, SandboxErrorKind};
use secure_tool::{SecureInput, SecureServer, Security, ToolError, secure_tool};
use serde_json::json;

const SECRET: &str = "SECRET-OUTSIDE-THE-ROOT";

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Read {
    path: SafePath,
}

#[derive(Clone)]
struct Files {
    security: Security,
    sandbox: Sandbox,
    tool_router: ToolRouter<Self>,
}

impl SecureServer for Files {
    fn security(&self) -> &Security {
        &self.security
    }
}

#[tool_router]
impl Files {
    #[secure_tool(public)]
    #[tool(description = "Read a file")]
    async fn read(&self, Parameters(args): Parameters<Read>) -> Result<String, ToolError> {
        Ok(self.sandbox.read_to_string(&args.path, 4096)?)
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Files {}

struct Tree {
    base: PathBuf,
}

impl Tree {
    fn new(name: &str) -> Self {
        let base = std::env::temp_dir().join(format!("st-path-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("root");
        std::fs::create_dir_all(root.join("docs/deep")).unwrap();
        std::fs::write(root.join("docs/readme.txt"), "inside").unwrap();
        std::fs::write(root.join("docs/deep/notes.md"), "deep inside").unwrap();
        std::fs::write(root.join("café.txt"), "accents").unwrap();
        std::fs::write(root.join(".hidden"), "dotfile").unwrap();
        std::fs::create_dir_all(base.join("outside")).unwrap();
        std::fs::write(base.join("outside/secret.txt"), SECRET).unwrap();
        std::fs::write(base.join("secret.txt"), SECRET).unwrap();
        std::os::unix::fs::symlink(base.join("secret.txt"), root.join("link-to-secret")).unwrap();
        std::os::unix::fs::symlink(base.join("outside"), root.join("link-to-outside")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("link-to-passwd")).unwrap();
        std::os::unix::fs::symlink("docs/readme.txt", root.join("link-inside")).unwrap();
        Self { base }
    }

    fn root(&self) -> PathBuf {
        self.base.join("root")
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

async fn server(tree: &Tree) -> Client {
    connect(Files {
        security: Security::default(),
        sandbox: Sandbox::open(tree.root()).unwrap(),
        tool_router: Files::tool_router(),
    })
    .await
}

/// Payloads that must never read outside the root: traversal in every spelling.
fn attacks(base: &str) -> Vec<String> {
    let mut list: Vec<String> = [
        "..",
        "../",
        "../secret.txt",
        "../../secret.txt",
        "../../../../../../etc/passwd",
        "docs/../../secret.txt",
        "docs/../docs/../../secret.txt",
        "./../secret.txt",
        "docs/./../../secret.txt",
        "/etc/passwd",
        "/",
        "//etc/passwd",
        "///etc//passwd",
        "~/.ssh/id_rsa",
        "~root/.bashrc",
        "C:\\Windows\\win.ini",
        "c:/windows/win.ini",
        "C:secret.txt",
        "\\\\server\\share\\secret.txt",
        "\\\\?\\C:\\secret.txt",
        "..\\secret.txt",
        "docs\\..\\..\\secret.txt",
        "%2e%2e%2fsecret.txt",
        "%2e%2e/secret.txt",
        "..%2fsecret.txt",
        "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "%252e%252e%252fsecret.txt",
        "..%252fsecret.txt",
        "%c0%ae%c0%ae/secret.txt",
        "..%c0%afsecret.txt",
        "%uff0e%uff0e/x",
        "\u{FF0E}\u{FF0E}/secret.txt",
        "\u{FF0E}\u{FF0E}\u{FF0F}secret.txt",
        "docs\u{FF0F}..\u{FF0F}..\u{FF0F}secret.txt",
        "..\u{2215}secret.txt",
        "..\u{2044}secret.txt",
        "\u{2024}\u{2024}/secret.txt",
        "\u{2025}/secret.txt",
        "..\u{29F8}secret.txt",
        "\u{FE52}\u{FE52}/secret.txt",
        "..\u{FF3C}secret.txt",
        "docs/readme.txt\u{0000}.png",
        "\u{0000}../secret.txt",
        "docs/\n../../secret.txt",
        "docs/\r/../secret.txt",
        "..\u{200B}/secret.txt",
        "\u{202E}txt.terces/..",
        "...",
        "..../secret.txt",
        "docs/.../x",
        "docs/readme.txt.",
        "docs/readme.txt ",
        " ../secret.txt",
        "docs/readme.txt:stream",
        "CON",
        "docs/nul.txt",
        "aux",
        "lpt1.log",
        "docs//readme.txt",
        "docs/",
        "link-to-secret",
        "link-to-outside/secret.txt",
        "link-to-passwd",
        "link-to-outside",
        "docs/deep/../../../secret.txt",
        // Round three: what becomes a separator, `..`, a drive or an escape when folded.
        "\u{FF23}\u{FF1A}/secret.txt",
        "COM\u{00B9}.txt",
        "LPT\u{00B2}.log",
        "COM0",
        "CONIN$",
        "\u{FF43}\u{FF4F}\u{FF4E}.txt",
        "\u{FF05}2e\u{FF05}2e/secret.txt",
        "docs\u{2216}..\u{2216}secret.txt",
        "\u{3002}\u{3002}/secret.txt",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    list.push(format!("{base}/secret.txt"));
    list.push(format!("{base}/root/../secret.txt"));
    list.push("a/".repeat(70) + "x");
    list.push("x".repeat(300));
    list.push("y/".repeat(600));
    list
}

#[tokio::test]
async fn every_traversal_spelling_is_refused_without_echo() {
    let tree = Tree::new("attack");
    let client = server(&tree).await;
    let base = tree.base.to_str().unwrap().to_owned();
    let corpus = attacks(&base);
    assert!(corpus.len() >= 60, "{}", corpus.len());
    for payload in &corpus {
        let result = call(&client, "read", json!({ "path": payload })).await;
        let message = error_text(&result);
        assert!(!message.contains(SECRET), "{payload:?} leaked: {message}");
        assert!(
            !message.contains(&base),
            "{payload:?} echoed a path: {message}"
        );
        if payload.len() > 4 {
            assert!(
                !message.contains(payload.as_str()),
                "{payload:?} echoed: {message}"
            );
        }
    }
}

#[tokio::test]
async fn ordinary_paths_are_accepted() {
    let tree = Tree::new("benign");
    let client = server(&tree).await;
    let benign = [
        ("docs/readme.txt", "inside"),
        ("./docs/readme.txt", "inside"),
        ("docs/./readme.txt", "inside"),
        ("docs/deep/notes.md", "deep inside"),
        ("café.txt", "accents"),
        ("cafe\u{0301}.txt", "accents"),
        (".hidden", "dotfile"),
        ("link-inside", "inside"),
    ];
    for (path, expected) in benign {
        let result = call(&client, "read", json!({ "path": path })).await;
        assert_eq!(ok_text(&result), expected, "{path:?}");
    }
    let not_found = error_text(&call(&client, "read", json!({"path": "docs/missing.txt"})).await);
    assert_eq!(not_found, "no such file or directory");
    let more = [
        "a.txt",
        "dir/file.rs",
        "src/main.rs",
        "a-b_c.d",
        "My Documents/report 2024.pdf",
        "日本語/ファイル.txt",
        "emoji-🦀.md",
        "v1.2.3/notes",
        "x..y",
        "..x",
        "a/.b/c",
        "README",
        "Cargo.toml",
        &("deep/".repeat(30) + "leaf"),
        // Real file names whose look-alikes change only their look (round three).
        "会议纪要：第三季度.docx",
        "資料～最新版.xlsx",
        "レポート（最終版）.pdf",
        "Ｑ１報告書.txt",
        "議事録　2024年.md",
        "ｶﾀｶﾅ.txt",
        "メモ．下書き.txt",
        "①章/第一節.md",
        "résumé ～ final.docx",
        "～まとめ～.docx",
        "Draft\u{2026}",
        "Notes\u{FF0E}",
    ];
    for path in more {
        assert!(SafePath::parse(path).is_ok(), "{path:?} refused");
    }
}

#[test]
fn a_rename_race_cannot_escape_the_root() {
    let tree = Tree::new("race");
    let root = tree.root();
    std::fs::create_dir_all(root.join("swap/inner")).unwrap();
    std::fs::write(root.join("swap/inner/file.txt"), "inside").unwrap();
    std::fs::create_dir_all(tree.base.join("outside/inner")).unwrap();
    std::fs::write(tree.base.join("outside/inner/file.txt"), SECRET).unwrap();
    let sandbox = Sandbox::open(&root).unwrap();
    let path = SafePath::parse("swap/inner/file.txt").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let attacker = {
        let stop = stop.clone();
        let swaps = swaps.clone();
        let (root, outside) = (root.clone(), tree.base.join("outside"));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                // Swap the directory for a symlink to outside, then back.
                if std::fs::rename(root.join("swap"), root.join("swap.real")).is_ok() {
                    let _ = std::os::unix::fs::symlink(&outside, root.join("swap"));
                    std::thread::yield_now();
                    let _ = std::fs::remove_file(root.join("swap"));
                    let _ = std::fs::rename(root.join("swap.real"), root.join("swap"));
                    swaps.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let (mut inside, mut refused) = (0, 0);
    // Bounded in swaps and in time: read for as long as the attacker keeps swapping.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while swaps.load(Ordering::Relaxed) < 2_000 && std::time::Instant::now() < deadline {
        match sandbox.read_to_string(&path, 1024) {
            Ok(text) => {
                assert_ne!(text, SECRET, "read outside the root through a rename race");
                inside += 1;
            }
            Err(error) => {
                assert!(
                    matches!(
                        error.kind(),
                        SandboxErrorKind::Denied | SandboxErrorKind::NotFound
                    ),
                    "{error:?}"
                );
                refused += 1;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    attacker.join().unwrap();
    let swaps = swaps.load(Ordering::Relaxed);
    assert!(
        swaps >= 2_000,
        "the race did not run long enough: {swaps} swaps"
    );
    assert!(
        inside > 0 && refused > 0,
        "inside {inside}, refused {refused}"
    );
}

#[test]
fn a_read_only_sandbox_refuses_every_write() {
    let tree = Tree::new("readonly");
    let sandbox = Sandbox::open_read_only(tree.root()).unwrap();
    let path = SafePath::parse("docs/new.txt").unwrap();
    assert_eq!(
        sandbox.write(&path, "x").unwrap_err().kind(),
        SandboxErrorKind::ReadOnly
    );
    assert_eq!(
        sandbox.create_new(&path, "x").unwrap_err().kind(),
        SandboxErrorKind::ReadOnly
    );
    assert_eq!(
        sandbox
            .create_dir_all(&SafePath::parse("d").unwrap())
            .unwrap_err()
            .kind(),
        SandboxErrorKind::ReadOnly
    );
    let existing = SafePath::parse("docs/readme.txt").unwrap();
    assert_eq!(
        sandbox.remove_file(&existing).unwrap_err().kind(),
        SandboxErrorKind::ReadOnly
    );
    assert!(!tree.root().join("docs/new.txt").exists());
    assert_eq!(sandbox.read_to_string(&existing, 100).unwrap(), "inside");
}

#[test]
fn writes_through_symlinks_cannot_land_outside() {
    let tree = Tree::new("write");
    let sandbox = Sandbox::open(tree.root()).unwrap();
    for target in [
        "link-to-secret",
        "link-to-outside/new.txt",
        "link-to-outside/secret.txt",
    ] {
        let path = SafePath::parse(target).unwrap();
        let error = sandbox.write(&path, "pwned").unwrap_err();
        assert_eq!(error.kind(), SandboxErrorKind::Denied, "{target}");
    }
    assert_eq!(
        std::fs::read_to_string(tree.base.join("secret.txt")).unwrap(),
        SECRET
    );
    assert!(!tree.base.join("outside/new.txt").exists());
    // Metadata, list and remove all stay inside too.
    let outside = SafePath::parse("link-to-outside").unwrap();
    assert!(sandbox.list(&outside, 10).is_err());
    assert!(
        sandbox
            .remove_file(&SafePath::parse("link-to-outside/secret.txt").unwrap())
            .is_err()
    );
    assert!(tree.base.join("outside/secret.txt").exists());
    let root = SafePath::parse(".").unwrap();
    let names: Vec<_> = sandbox
        .list(&root, 100)
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert!(names.contains(&"docs".to_owned()), "{names:?}");
    assert!(
        sandbox
            .metadata(&SafePath::parse("docs").unwrap())
            .unwrap()
            .is_dir
    );
}

#[tokio::test]
async fn the_schema_tells_the_model_the_rule() {
    let tree = Tree::new("schema");
    let tools = server(&tree).await.list_all_tools().await.unwrap();
    let schema = serde_json::Value::Object((*tools[0].input_schema).clone());
    let path = &schema["properties"]["path"];
    assert_eq!(path["maxLength"], 1024);
    assert!(path["pattern"].is_string());
    assert!(path["description"].as_str().unwrap().contains("no `..`"));
}

/// `mkfifo`/`mknod` through the system's own tools (no unsafe code in the tests).
fn make(args: &[&str]) -> bool {
    std::process::Command::new(args[0])
        .args(&args[1..])
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn pipes_sockets_and_devices_are_refused_without_blocking() {
    let tree = Tree::new("special");
    let root = tree.root();
    assert!(make(&["mkfifo", root.join("fifo").to_str().unwrap()]));
    let _socket = std::os::unix::net::UnixListener::bind(root.join("socket")).unwrap();
    std::os::unix::fs::symlink("fifo", root.join("link-to-fifo")).unwrap();
    // A character device (1:3, what /dev/null is) where the sandbox can make one (root).
    let device = make(&["mknod", root.join("null").to_str().unwrap(), "c", "1", "3"]);
    let sandbox = Sandbox::open(&root).unwrap();
    let mut special = vec!["fifo", "socket", "link-to-fifo"];
    if device {
        special.push("null");
    } else {
        eprintln!("not root: the device node case is left out");
    }
    // Each is answered at once (a blocking open of the FIFO would hang this test).
    let (done, finished) = std::sync::mpsc::channel();
    let worker = {
        let sandbox = sandbox.clone();
        let special: Vec<String> = special.iter().map(|s| (*s).to_owned()).collect();
        std::thread::spawn(move || {
            for name in special {
                let path = SafePath::parse(&name).unwrap();
                let read = sandbox.read(&path, 100).unwrap_err();
                let write = sandbox.write(&path, "x").unwrap_err();
                done.send((name, read.kind(), write.kind(), read.to_string()))
                    .unwrap();
            }
        })
    };
    for _ in &special {
        let (name, read, write, message) = finished
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("a special file blocked the sandbox");
        assert_eq!(read, SandboxErrorKind::Special, "{name}");
        assert_eq!(write, SandboxErrorKind::Special, "{name}");
        assert!(message.contains("pipe, socket or device"), "{message}");
    }
    worker.join().unwrap();
    // Benign: regular files, directories and links to them inside the root still work.
    assert_eq!(
        sandbox
            .read_to_string(&SafePath::parse("link-inside").unwrap(), 100)
            .unwrap(),
        "inside"
    );
    sandbox
        .write(&SafePath::parse("docs/new.txt").unwrap(), "new")
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(root.join("docs/new.txt")).unwrap(),
        "new"
    );
    assert!(sandbox.list(&SafePath::parse("docs").unwrap(), 10).is_ok());
}
