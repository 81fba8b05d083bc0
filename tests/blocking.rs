//! No call hung by a body that blocks: the timeout counts from the call's start (a body
//! that spends its first poll blocked is answered at its first `Pending` past the
//! deadline, not a whole timeout later), blocking I/O moved to `spawn_blocking` is
//! answered on time while other tools are served, and `fs_server` refuses a FIFO at once.
mod common;
use common::{call, connect, error_text, ok_text};

use std::time::{Duration, Instant};

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use secure_tool::{SecureInput, SecureServer, Security, secure_tool};
use serde_json::json;

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Fifo {
    /// Where the FIFO is (the test's own path, not a model's).
    #[validate(length(max = 200))]
    #[secure(plain = "the test opens its own FIFO outside any sandbox")]
    path: String,
}

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Nothing {}

#[derive(Clone)]
struct Blocking {
    security: Security,
    tool_router: ToolRouter<Self>,
}

impl SecureServer for Blocking {
    fn security(&self) -> &Security {
        &self.security
    }
}

#[tool_router]
impl Blocking {
    #[secure_tool(public, timeout = "500ms")]
    #[tool(description = "Opens a FIFO for reading on a blocking thread")]
    async fn open_fifo(&self, Parameters(f): Parameters<Fifo>) -> String {
        let opened = tokio::task::spawn_blocking(move || std::fs::File::open(f.path).is_ok())
            .await
            .unwrap_or(false);
        opened.to_string()
    }

    #[secure_tool(public, timeout = "500ms")]
    #[tool(description = "Blocks its thread for a second, then waits forever")]
    async fn stall(&self, Parameters(_): Parameters<Nothing>) -> String {
        std::thread::sleep(Duration::from_millis(1_000));
        std::future::pending::<()>().await;
        unreachable!()
    }

    #[secure_tool(public)]
    #[tool(description = "Answers at once")]
    async fn fast(&self, Parameters(_): Parameters<Nothing>) -> String {
        "fast".into()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Blocking {}

fn server() -> Blocking {
    Blocking {
        security: Security::default(),
        tool_router: Blocking::tool_router(),
    }
}

fn fifo(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "secure-tool-blocking-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap()
            .success()
    );
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_blocked_reads_on_two_workers_are_each_answered_on_time() {
    let path = fifo("spawned");
    // However the test ends, the threads left blocked on the FIFO are released (the
    // runtime waits for them when it shuts down): an open for reading and writing never
    // blocks on Linux, and releases every reader.
    struct Release(std::path::PathBuf);
    impl Drop for Release {
        fn drop(&mut self) {
            let _ = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&self.0);
            let _ = std::fs::remove_dir_all(self.0.parent().unwrap());
        }
    }
    let _release = Release(path.clone());
    let client = std::sync::Arc::new(connect(server()).await);
    let started = Instant::now();
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let client = client.clone();
            let path = path.display().to_string();
            tokio::spawn(async move { call(&client, "open_fifo", json!({"path": path})).await })
        })
        .collect();
    // Meanwhile, other tools are served.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(ok_text(&call(&client, "fast", json!({})).await), "fast");
    assert!(started.elapsed() < Duration::from_millis(450));
    for handle in calls {
        let result = handle.await.unwrap();
        assert_eq!(
            error_text(&result),
            "the tool did not finish within its time limit of 500ms"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // Unblock the four threads left behind (documented: they cannot be reclaimed before):
    // an open for reading and writing never blocks on Linux, and releases every reader.
    let _ = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_counts_from_the_call_not_from_the_first_pending() {
    let client = connect(server()).await;
    let started = Instant::now();
    let result = call(&client, "stall", json!({})).await;
    assert_eq!(
        error_text(&result),
        "the tool did not finish within its time limit of 500ms"
    );
    // The first poll took a second: the deadline had passed, so the answer came at the
    // first `Pending`, not 500 ms after it.
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(1_000));
    assert!(elapsed < Duration::from_millis(1_400), "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_server_refuses_fifos_at_once_and_serves_meanwhile() {
    use rmcp::ServiceExt as _;
    let path = fifo("fs-server");
    let root = path.parent().unwrap().to_owned();
    std::fs::write(root.join("hello.txt"), "hello").unwrap();
    let mut command = tokio::process::Command::new(common::fs_server_binary());
    command
        .env("RUST_LOG", "warn")
        .arg("--root")
        .arg(&root)
        .args(["--grant", "fs.read"]);
    let client = std::sync::Arc::new(
        ().serve(rmcp::transport::TokioChildProcess::new(command).unwrap())
            .await
            .unwrap(),
    );
    let started = Instant::now();
    let reads: Vec<_> = (0..4)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { call(&client, "read_file", json!({"path": "fifo"})).await })
        })
        .collect();
    assert_eq!(
        ok_text(&call(&client, "read_file", json!({"path": "hello.txt"})).await),
        "hello"
    );
    for read in reads {
        let message = error_text(&read.await.unwrap());
        assert!(message.contains("pipe, socket or device"), "{message}");
    }
    assert!(started.elapsed() < Duration::from_secs(3));
    let _ = std::fs::remove_dir_all(root);
}
