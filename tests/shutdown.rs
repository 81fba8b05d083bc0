//! The audit trail keeps every answered call however the server stops: SIGTERM and SIGINT
//! under load (thousands of calls in flight) on stdio and on streamable HTTP, and a clean
//! close of stdin. Each server exits 0 within 10 s, and every call a client got an answer
//! for has its line in the trail (a coalesced refusal line counts its `count`).
mod auth_support;
mod common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "secure-tool-shutdown-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(path.join("root/docs")).unwrap();
        std::fs::write(path.join("root/docs/a.txt"), "a").unwrap();
        // Loosened on purpose: the load is of calls that run, not of refusals.
        std::fs::write(
            path.join("policy.toml"),
            "[tools.list_dir]\nrate = \"100000/sec\"\nallow_loosen = true\n",
        )
        .unwrap();
        Self(path)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The calls the trail accounts for: one per `tool_call` line, `count` for a coalesced one.
fn calls_in_trail(path: &Path) -> u64 {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("every line is whole JSON"))
        .filter(|line| line["event"] == "tool_call")
        .map(|line| line["count"].as_u64().unwrap_or(1))
        .sum()
}

fn fs_server(dir: &Dir) -> Child {
    Command::new(common::fs_server_binary())
        .arg("--root")
        .arg(dir.0.join("root"))
        .args(["--grant", "fs.read", "--policy"])
        .arg(dir.0.join("policy.toml"))
        .arg("--audit-log")
        .arg(dir.0.join("audit.jsonl"))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("fs_server starts")
}

/// Start a stdio session and send `calls` `tools/call` requests without waiting for any
/// answer; a thread counts the answers as they come.
fn stdio_load(
    child: &mut Child,
    calls: u64,
) -> (
    std::process::ChildStdin,
    std::sync::Arc<std::sync::atomic::AtomicU64>,
    std::thread::JoinHandle<()>,
) {
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "load", "version": "1"}}});
    writeln!(stdin, "{init}").unwrap();
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(line.contains("\"result\""), "initialized: {line}");
    writeln!(
        stdin,
        "{}",
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
    )
    .unwrap();
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = std::sync::Arc::clone(&answered);
    let reader = std::thread::spawn(move || {
        let mut line = String::new();
        while stdout.read_line(&mut line).unwrap_or(0) > 0 {
            if let Ok(message) = serde_json::from_str::<Value>(&line)
                && message["id"].as_u64().is_some_and(|id| id > 0)
                && message.get("result").is_some()
            {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            line.clear();
        }
    });
    let mut batch = String::new();
    for id in 1..=calls {
        let request = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": "list_dir", "arguments": {"path": "docs"}}});
        batch.push_str(&request.to_string());
        batch.push('\n');
    }
    stdin.write_all(batch.as_bytes()).unwrap();
    stdin.flush().unwrap();
    (stdin, answered, reader)
}

fn wait_for(answered: &std::sync::atomic::AtomicU64, at_least: u64) {
    let start = Instant::now();
    while answered.load(std::sync::atomic::Ordering::SeqCst) < at_least {
        assert!(start.elapsed() < Duration::from_secs(30), "no answers");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn sigterm_under_load_on_stdio_keeps_every_answered_call() {
    for signal_name in ["TERM", "INT"] {
        let dir = Dir::new("stdio");
        let mut child = fs_server(&dir);
        let (stdin, answered, reader) = stdio_load(&mut child, 5_000);
        // Signal while thousands of calls are still queued or running.
        wait_for(&answered, 200);
        common::signal(&child, signal_name);
        assert_eq!(
            common::exit_code_within(&mut child, Duration::from_secs(10)),
            0,
            "SIG{signal_name}"
        );
        drop(stdin);
        reader.join().unwrap();
        let answered = answered.load(std::sync::atomic::Ordering::SeqCst);
        let trail = calls_in_trail(&dir.0.join("audit.jsonl"));
        assert!(
            trail >= answered,
            "SIG{signal_name}: {answered} calls answered, {trail} in the trail"
        );
    }
}

#[test]
fn a_clean_stdin_close_keeps_every_answered_call() {
    let dir = Dir::new("eof");
    let mut child = fs_server(&dir);
    let (stdin, answered, reader) = stdio_load(&mut child, 3_000);
    // The client is done: it closes stdin with every call still queued.
    drop(stdin);
    assert_eq!(
        common::exit_code_within(&mut child, Duration::from_secs(10)),
        0
    );
    reader.join().unwrap();
    let answered = answered.load(std::sync::atomic::Ordering::SeqCst);
    assert!(answered > 0);
    let trail = calls_in_trail(&dir.0.join("audit.jsonl"));
    assert!(
        trail >= answered,
        "{answered} calls answered, {trail} in the trail"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_on_http_keeps_every_answered_call() {
    use rmcp::ServiceExt as _;
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

    let dir = Dir::new("http");
    let trail = dir.0.join("audit.jsonl");
    let signer = auth_support::Signer::new();
    let policy = dir.0.join("policy.toml").display().to_string();
    let audit = trail.display().to_string();
    let mut server =
        auth_support::HttpServer::start(&signer, &["--policy", &policy, "--audit-log", &audit]);
    let token = signer.rs256(&auth_support::claims(&server.mcp(), "alice", "fs.read"));
    let config =
        StreamableHttpClientTransportConfig::with_uri(server.mcp()).auth_header(token.clone());
    let client = std::sync::Arc::new(
        ().serve(StreamableHttpClientTransport::from_config(config))
            .await
            .expect("connects"),
    );
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..2_000 {
        let (client, answered) = (client.clone(), answered.clone());
        calls.spawn(async move {
            let params = rmcp::model::CallToolRequestParams::new("list_dir")
                .with_arguments(json!({"path": "docs"}).as_object().unwrap().clone());
            if let Ok(Ok(result)) =
                tokio::time::timeout(Duration::from_secs(20), client.call_tool(params)).await
                && result.is_error != Some(true)
            {
                answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
    }
    let start = Instant::now();
    while answered.load(std::sync::atomic::Ordering::SeqCst) < 200 {
        assert!(start.elapsed() < Duration::from_secs(30), "no answers");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    server.signal("TERM");
    let code = tokio::task::spawn_blocking(move || {
        let code = server.exit_code_within(Duration::from_secs(10));
        (code, server)
    })
    .await
    .unwrap();
    assert_eq!(code.0, 0);
    while calls.join_next().await.is_some() {}
    let answered = answered.load(std::sync::atomic::Ordering::SeqCst);
    let written = calls_in_trail(&trail);
    assert!(
        written >= answered,
        "{answered} calls answered, {written} in the trail"
    );
}

/// The trail's file refuses writes past a size (`prlimit --fsize`, as a full disk would):
/// no torn line is left, the lines lost are counted, and once the operator moves the
/// full file away the trail goes on in a new one that starts with the count.
#[test]
fn a_failing_disk_leaves_no_torn_line_and_every_lost_line_is_counted() {
    let dir = Dir::new("full");
    let trail = dir.0.join("audit.jsonl");
    let script = format!(
        "trap '' XFSZ; exec prlimit --fsize=2500 -- {} --root {} --grant fs.read --policy {} --audit-log {}",
        common::fs_server_binary().display(),
        dir.0.join("root").display(),
        dir.0.join("policy.toml").display(),
        trail.display()
    );
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .env("RUST_LOG", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let mut request = |id: u64, message: Value, wait: bool| {
        let mut message = message;
        if wait {
            message["id"] = json!(id);
        }
        writeln!(stdin, "{message}").unwrap();
        if wait {
            line.clear();
            stdout.read_line(&mut line).unwrap();
            assert!(line.contains("\"result\""), "{line}");
        }
    };
    request(
        0,
        json!({"jsonrpc": "2.0", "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "full", "version": "1"}}}),
        true,
    );
    request(
        0,
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        false,
    );
    let list = json!({"jsonrpc": "2.0", "method": "tools/call",
        "params": {"name": "list_dir", "arguments": {"path": "docs"}}});
    for id in 1..=40 {
        request(id, list.clone(), true);
    }
    // 40 lines of ~200 bytes do not fit in 2,500: the file is full, and never torn.
    std::thread::sleep(Duration::from_millis(700));
    let full = std::fs::read_to_string(&trail).unwrap();
    assert!(full.len() <= 2_500);
    assert!(full.ends_with('\n'), "a torn line was left");
    let written = calls_in_trail(&trail);
    assert!(written < 40, "{written}");
    // The operator moves the full file away; the trail goes on at the path.
    std::fs::rename(&trail, dir.0.join("audit.jsonl.1")).unwrap();
    for id in 41..=45 {
        request(id, list.clone(), true);
    }
    drop(stdin);
    assert_eq!(
        common::exit_code_within(&mut child, Duration::from_secs(10)),
        0
    );
    let fresh: Vec<Value> = std::fs::read_to_string(&trail)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("whole JSON"))
        .collect();
    // The lines lost before the move are counted first thing in the new file, unless
    // their count already fit in the full one (a short line: then that is its last).
    let moved = std::fs::read_to_string(dir.0.join("audit.jsonl.1")).unwrap();
    let moved_last: Value = serde_json::from_str(moved.lines().last().unwrap()).unwrap();
    assert!(
        fresh[0]["event"] == "audit_dropped" || moved_last["event"] == "audit_dropped",
        "{fresh:?}"
    );
    // Counts may be in either file.
    let dropped: u64 = [dir.0.join("audit.jsonl.1"), trail.clone()]
        .iter()
        .flat_map(|file| {
            std::fs::read_to_string(file)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .collect::<Vec<_>>()
        })
        .filter(|l| l["event"] == "audit_dropped")
        .map(|l| l["dropped"].as_u64().unwrap())
        .sum();
    assert_eq!(
        written + dropped + calls_in_trail(&trail),
        45,
        "every call is written or counted"
    );
}
