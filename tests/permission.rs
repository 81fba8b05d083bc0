//! Stage 3: the declared scopes must all be held; `public` tools skip the check.
mod common;
use common::*;

#[tokio::test]
async fn a_missing_scope_is_denied_by_name_and_the_body_never_runs() {
    let server = TestServer::with_scopes(&[]);
    let runs = server.ran.clone();
    let client = connect(server).await;
    let message = error_text(&call(&client, "echo", echo_args()).await);
    assert_eq!(
        message,
        "permission denied: this tool requires the `echo` scope, which the caller has not been granted"
    );
    assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test]
async fn every_declared_scope_is_required() {
    let client = connect(TestServer::with_scopes(&["a"])).await;
    let message = error_text(&call(&client, "needs_two", serde_json::json!({})).await);
    assert!(message.contains("`b` scope"), "{message}");

    let client = connect(TestServer::with_scopes(&["b", "a"])).await;
    assert_eq!(
        ok_text(&call(&client, "needs_two", serde_json::json!({})).await),
        "both"
    );
}

#[tokio::test]
async fn default_security_is_anonymous_with_no_scopes() {
    let client = connect(TestServer::new(secure_tool::Security::default())).await;
    assert!(error_text(&call(&client, "echo", echo_args()).await).contains("permission denied"));
    // Public tools still work for the anonymous caller.
    assert_eq!(
        ok_text(&call(&client, "sync_echo", echo_args()).await),
        "hihi"
    );
}

#[tokio::test]
async fn a_similar_scope_is_not_the_scope() {
    for near in ["Echo", "echo ", "ech", "echo.admin", "*"] {
        let client = connect(TestServer::with_scopes(&[near])).await;
        let message = error_text(&call(&client, "echo", echo_args()).await);
        assert!(message.contains("permission denied"), "{near:?}: {message}");
    }
}

#[tokio::test]
async fn permission_is_checked_before_the_arguments() {
    // An unauthorised caller learns nothing about the input rules.
    let client = connect(TestServer::with_scopes(&[])).await;
    let message = error_text(&call(&client, "echo", serde_json::json!({"bogus": 1})).await);
    assert!(message.starts_with("permission denied"), "{message}");
}
