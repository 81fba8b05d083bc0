//! Stage 6: the body runs under its timeout and the request's cancellation; a panic is
//! contained and the server keeps serving.
mod common;
use common::*;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_timeout_ends_the_call_with_a_clear_error() {
    let client = connect(TestServer::with_scopes(&[])).await;
    let started = Instant::now();
    let message = error_text(&call(&client, "hang", json!({})).await);
    assert_eq!(
        message,
        "the tool did not finish within its time limit of 50ms"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "waited for the body"
    );
    assert_eq!(
        ok_text(&call(&client, "sync_echo", echo_args()).await),
        "hihi"
    );
}

/// A body that always has work ready uses up its task's budget at every poll and never
/// waits: its time limit must still end it (tokio's timer, polled after the budget is
/// gone, would say "not yet" for ever unless it is polled outside the budget).
#[tokio::test]
async fn a_body_that_never_waits_still_times_out() {
    let client = connect(TestServer::with_scopes(&[])).await;
    let result = tokio::time::timeout(Duration::from_secs(10), call(&client, "busy", json!({})))
        .await
        .expect("the call ended");
    assert_eq!(
        error_text(&result),
        "the tool did not finish within its time limit of 50ms"
    );
}

#[tokio::test]
async fn the_security_default_timeout_applies_to_tools_without_one() {
    let security = secure_tool::Security::builder()
        .default_timeout(Some(Duration::from_millis(100)))
        .build();
    let client = connect(TestServer::new(security)).await;
    let message = error_text(&call(&client, "slow", json!({})).await);
    assert_eq!(
        message,
        "the tool did not finish within its time limit of 100ms"
    );
}

#[tokio::test]
async fn a_panic_is_contained_redacted_and_the_server_keeps_serving() {
    let client = connect(TestServer::with_scopes(&[])).await;
    for tool in ["boom", "sync_boom", "boom"] {
        let message = error_text(&call(&client, tool, json!({})).await);
        assert!(message.starts_with("internal error (ref "), "{message}");
        assert!(!message.contains("secret"), "{message}");
    }
    assert_eq!(
        ok_text(&call(&client, "sync_echo", echo_args()).await),
        "hihi"
    );
}

#[tokio::test]
async fn a_cancelled_request_stops_the_body() {
    let capture = Capture::default();
    let _guard = capture.install();
    let server = TestServer::with_scopes(&[]);
    let client = connect(server).await;
    // Dropping a call future sends notifications/cancelled (rmcp cancels on drop).
    let pending = call(&client, "hang", json!({}));
    let _ = tokio::time::timeout(Duration::from_millis(20), pending).await;
    // The body would have run 30s; the cancellation ends it and frees the server.
    tokio::time::sleep(Duration::from_millis(40)).await;
    let outcomes: Vec<_> = capture
        .events(secure_tool::AUDIT_TARGET)
        .iter()
        .filter(|e| e.get("tool") == Some("hang"))
        .map(|e| e.get("outcome").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(outcomes, ["cancelled"]);
    assert_eq!(
        ok_text(&call(&client, "sync_echo", echo_args()).await),
        "hihi"
    );
}

#[tokio::test]
async fn other_extractors_keep_working() {
    let client = connect(TestServer::with_scopes(&[])).await;
    let text = ok_text(&call(&client, "with_context", echo_args()).await);
    assert!(text.starts_with("hi #"), "{text}");
}

#[tokio::test]
async fn the_peer_extractor_keeps_working() {
    let client = connect(TestServer::with_scopes(&[])).await;
    let name = ok_text(&call(&client, "client_name", json!({})).await);
    assert_eq!(name, "rmcp");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_on_a_multi_thread_runtime() {
    let client = std::sync::Arc::new(connect(TestServer::with_scopes(&["echo"])).await);
    let mut tasks = Vec::new();
    for i in 0..50 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let args = if i % 2 == 0 {
                echo_args()
            } else {
                json!({"text": "", "times": 1})
            };
            call(&client, "echo", args).await.is_error == Some(true)
        }));
    }
    let mut errors = 0;
    for task in tasks {
        errors += usize::from(task.await.unwrap());
    }
    assert_eq!(errors, 25);
}
