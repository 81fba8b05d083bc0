//! Stage 6 for sync tools: a sync body that blocks stalls only its own call. As many
//! blocking calls as the server has worker threads must leave every other tool answering.
mod common;
use common::{call, ok_text};

use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::{ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use secure_tool::{SecureServer, Security, secure_tool};
use serde_json::json;

/// The server's worker threads: the test blocks exactly this many calls.
const WORKERS: usize = 2;

#[derive(Clone)]
struct Blocking {
    security: Security,
    tool_router: ToolRouter<Self>,
    /// Each blocking call waits for one message here (or gives up after a minute, so a
    /// failing run still ends).
    release: Arc<Mutex<mpsc::Receiver<()>>>,
    /// Each blocking call says it has started.
    started: mpsc::SyncSender<()>,
}

impl SecureServer for Blocking {
    fn security(&self) -> &Security {
        &self.security
    }
}

#[tool_router]
impl Blocking {
    #[secure_tool(public)]
    #[tool(description = "Blocks its thread until released")]
    fn block(&self) -> String {
        let _ = self.started.send(());
        let released = self
            .release
            .lock()
            .map(|rx| rx.recv_timeout(Duration::from_secs(60)).is_ok())
            .unwrap_or(false);
        if released { "released" } else { "gave up" }.to_owned()
    }

    #[secure_tool(public)]
    #[tool(description = "Answers at once")]
    async fn ping(&self) -> String {
        "pong".to_owned()
    }

    #[secure_tool(public)]
    #[tool(description = "A sync tool that answers at once")]
    fn sync_ping(&self) -> String {
        "sync pong".to_owned()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Blocking {}

#[tokio::test]
async fn blocking_sync_calls_do_not_stall_the_other_tools() {
    let (release_tx, release_rx) = mpsc::channel();
    let (started_tx, started_rx) = mpsc::sync_channel(WORKERS);
    let server = Blocking {
        security: Security::default(),
        tool_router: Blocking::tool_router(),
        release: Arc::new(Mutex::new(release_rx)),
        started: started_tx,
    };
    // The server runs on its own runtime with exactly WORKERS worker threads, as a
    // production server would; the client stays on the test's runtime, so a stalled
    // server cannot also stall the client's timer.
    let (server_io, client_io) = tokio::io::duplex(64 * 1024);
    let server_thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKERS)
            .enable_all()
            .build()
            .expect("server runtime");
        runtime.block_on(async move {
            if let Ok(running) = server.serve(server_io).await {
                let _ = running.waiting().await;
            }
        });
    });
    let client = Arc::new(().serve(client_io).await.expect("client connects"));

    let blocked: Vec<_> = (0..WORKERS)
        .map(|_| {
            let client = Arc::clone(&client);
            tokio::spawn(async move { ok_text(&call(&client, "block", json!({})).await) })
        })
        .collect();
    // Wait (off the test's runtime) until every blocking body is running.
    let waited = tokio::task::spawn_blocking(move || {
        (0..WORKERS).all(|_| started_rx.recv_timeout(Duration::from_secs(30)).is_ok())
    })
    .await
    .unwrap();
    assert!(waited, "the blocking calls did not start");

    for tool in ["ping", "sync_ping"] {
        let answer = tokio::time::timeout(Duration::from_secs(10), call(&client, tool, json!({})))
            .await
            .unwrap_or_else(|_| {
                panic!("`{tool}` got no answer while {WORKERS} sync calls were blocking")
            });
        assert!(ok_text(&answer).ends_with("pong"));
    }

    for _ in 0..WORKERS {
        release_tx.send(()).unwrap();
    }
    for handle in blocked {
        assert_eq!(handle.await.unwrap(), "released");
    }
    drop(client);
    let _ = tokio::task::spawn_blocking(move || server_thread.join()).await;
}
