//! Stage 7: internal errors are redacted to a ref whose full text is logged; public
//! messages and outputs are scrubbed of secrets; outputs are capped.
mod common;
use common::*;
use serde_json::json;

fn error_ref(message: &str) -> String {
    let r = message
        .strip_prefix("internal error (ref ")
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or_else(|| panic!("not a redacted error: {message}"));
    assert_eq!(r.len(), 8);
    assert!(r.chars().all(|c| c.is_ascii_hexdigit()));
    r.to_owned()
}

#[tokio::test]
async fn an_internal_error_reaches_the_model_as_a_ref_and_the_log_has_it_all_but_credentials() {
    let capture = Capture::default();
    let _guard = capture.install();
    let client = connect(TestServer::with_scopes(&[])).await;
    let message = error_text(&call(&client, "internal_fail", json!({})).await);
    assert!(!message.contains("hunter2") && !message.contains("postgres"));
    let r = error_ref(&message);

    let logged = capture.events(secure_tool::ERROR_TARGET);
    let entry = logged
        .iter()
        .find(|e| e.get("error_ref") == Some(r.as_str()))
        .expect("the full error is logged under the ref the model saw");
    // Everything an operator needs (host, user, database), never the password (CWE-532).
    assert_eq!(
        entry.get("error").unwrap(),
        "connect to postgres://admin:[redacted]@10.0.0.5/db failed"
    );
    assert_eq!(entry.get("tool"), Some("internal_fail"));
    let audit = capture.events(secure_tool::AUDIT_TARGET);
    assert!(
        audit
            .iter()
            .any(|e| e.get("error_ref") == Some(r.as_str()) && e.get("outcome") == Some("error"))
    );
}

#[tokio::test]
async fn refs_are_fresh_per_call() {
    let client = connect(TestServer::with_scopes(&[])).await;
    let a = error_ref(&error_text(
        &call(&client, "internal_fail", json!({})).await,
    ));
    let b = error_ref(&error_text(
        &call(&client, "internal_fail", json!({})).await,
    ));
    assert_ne!(a, b);
}

#[tokio::test]
async fn std_errors_through_a_result_alias_are_redacted() {
    let client = connect(TestServer::with_scopes(&[])).await;
    let message = error_text(&call(&client, "io_fail", json!({})).await);
    error_ref(&message);
    assert!(!message.contains("/definitely"));
}

#[tokio::test]
async fn rmcp_error_data_under_an_alias_is_redacted_not_sent_verbatim() {
    let client = connect(TestServer::with_scopes(&[])).await;
    let message = error_text(&call(&client, "rpc_fail", json!({})).await);
    error_ref(&message);
}

#[tokio::test]
async fn a_public_error_is_shown_with_secrets_and_paths_scrubbed() {
    let client = connect(TestServer::with_scopes(&[])).await;
    let message = error_text(&call(&client, "public_fail", json!({})).await);
    assert_eq!(
        message,
        "no such record (tried [path] with key [redacted key])"
    );
}

#[tokio::test]
async fn a_panic_message_goes_to_the_log_only() {
    let capture = Capture::default();
    let _guard = capture.install();
    let client = connect(TestServer::with_scopes(&[])).await;
    let r = error_ref(&error_text(&call(&client, "boom", json!({})).await));
    let logged = capture.events(secure_tool::ERROR_TARGET);
    let entry = logged
        .iter()
        .find(|e| e.get("error_ref") == Some(r.as_str()))
        .unwrap();
    assert!(entry.get("error").unwrap().contains("/etc/shadow"));
    assert_eq!(entry.get("kind"), Some("panic"));
}

#[tokio::test]
async fn secrets_in_a_successful_output_are_scrubbed() {
    let client = connect(TestServer::with_scopes(&[])).await;
    let text = ok_text(&call(&client, "leaky", json!({})).await);
    assert_eq!(text, "config: api_key=[redacted] and Bearer [redacted]");
}

#[tokio::test]
async fn output_scrubbing_can_be_turned_off() {
    let security = secure_tool::Security::builder().scrub_output(false).build();
    let client = connect(TestServer::new(security)).await;
    let text = ok_text(&call(&client, "leaky", json!({})).await);
    assert!(text.contains("abcd1234efgh5678"));
}

#[tokio::test]
async fn an_oversized_output_is_refused() {
    let client = connect(TestServer::with_scopes(&[])).await;
    let message = error_text(&call(&client, "chatty", json!({})).await);
    assert_eq!(
        message,
        "the tool's output was too large (1000 bytes, limit 64 bytes)"
    );
}

#[tokio::test]
async fn the_security_wide_output_cap_applies_too() {
    let security = secure_tool::Security::builder().max_output(3).build();
    let client = connect(TestServer::new(security)).await;
    let message = error_text(&call(&client, "sync_echo", echo_args()).await);
    assert_eq!(
        message,
        "the tool's output was too large (4 bytes, limit 3 bytes)"
    );
}

#[tokio::test]
async fn the_operator_can_keep_credentials_in_the_log() {
    let capture = Capture::default();
    let _guard = capture.install();
    let security = secure_tool::Security::builder().scrub_logs(false).build();
    let client = connect(TestServer::new(security)).await;
    let r = error_ref(&error_text(
        &call(&client, "internal_fail", json!({})).await,
    ));
    let logged = capture.events(secure_tool::ERROR_TARGET);
    let entry = logged
        .iter()
        .find(|e| e.get("error_ref") == Some(r.as_str()))
        .unwrap();
    assert!(entry.get("error").unwrap().contains("admin:hunter2@"));
}
