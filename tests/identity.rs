//! Stages 2 and 3 over each transport: on stdio-like transports the caller is the
//! operator's local principal; on streamable HTTP it is the principal that auth
//! middleware put in the request, and never the local one.
mod common;
use common::*;

use std::sync::Arc;

use axum::extract::Request;
use axum::middleware::Next;
use rmcp::ServiceExt;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use secure_tool::{Principal, Security};
use serde_json::json;

#[tokio::test]
async fn stdio_callers_are_the_configured_local_principal() {
    let capture = Capture::default();
    let _guard = capture.install();
    let client = connect(TestServer::with_scopes(&["echo"])).await;
    ok_text(&call(&client, "echo", echo_args()).await);
    let events = capture.events(secure_tool::AUDIT_TARGET);
    assert_eq!(events[0].get("principal"), Some("tester"));
}

/// Test-only authentication: a fixed token table. (JWT validation is its own module.)
async fn auth(mut request: Request, next: Next) -> axum::response::Response {
    let token = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let principal = match token.as_deref() {
        Some("alice-token") => Some(Principal::new("alice").with_scopes(["echo"])),
        Some("bob-token") => Some(Principal::new("bob")),
        // Carol, before and after she is granted `echo`: one principal, one rate budget.
        Some("carol-ungranted") => Some(Principal::new("carol")),
        Some("carol-granted") => Some(Principal::new("carol").with_scopes(["echo"])),
        _ => None,
    };
    if let Some(principal) = principal {
        request.extensions_mut().insert(principal);
    }
    next.run(request).await
}

/// A streamable HTTP server whose local principal holds every scope (to prove it is
/// never used for HTTP callers), with the auth middleware in front.
async fn http_server() -> String {
    let security = Security::builder()
        .local_principal(Principal::new("operator").with_scopes(["echo", "a", "b"]))
        .build();
    // One Security for every session: limits hold across sessions.
    let service = StreamableHttpService::new(
        move || Ok(TestServer::new(security.clone())),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let app = axum::Router::new()
        .nest_service("/mcp", service)
        .layer(axum::middleware::from_fn(auth));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/mcp")
}

async fn http_client(uri: &str, token: Option<&str>) -> Client {
    let mut config = StreamableHttpClientTransportConfig::with_uri(uri.to_owned());
    if let Some(token) = token {
        config = config.auth_header(token.to_owned());
    }
    ().serve(StreamableHttpClientTransport::from_config(config))
        .await
        .expect("http client connects")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_callers_are_who_the_middleware_says() {
    let uri = http_server().await;

    let alice = http_client(&uri, Some("alice-token")).await;
    assert_eq!(ok_text(&call(&alice, "echo", echo_args()).await), "hihi");

    let bob = http_client(&uri, Some("bob-token")).await;
    let denied = error_text(&call(&bob, "echo", echo_args()).await);
    assert!(denied.contains("requires the `echo` scope"), "{denied}");

    let nobody = http_client(&uri, None).await;
    assert!(error_text(&call(&nobody, "echo", echo_args()).await).contains("permission denied"));
    assert!(error_text(&call(&nobody, "needs_two", json!({})).await).contains("permission denied"));
    // Public tools serve everyone.
    assert_eq!(
        ok_text(&call(&nobody, "sync_echo", echo_args()).await),
        "hihi"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_extension_and_cancellation_extractors_keep_working() {
    let uri = http_server().await;
    let client = http_client(&uri, None).await;
    let text = ok_text(&call(&client, "http_host", json!({})).await);
    assert!(
        text.starts_with("127.0.0.1:"),
        "the HTTP parts reach the tool: {text}"
    );
    assert!(text.ends_with("cancelled=false"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_rate_limits_are_per_principal_and_survive_new_sessions() {
    let uri = http_server().await;
    let alice = http_client(&uri, Some("alice-token")).await;
    for _ in 0..3 {
        ok_text(&call(&alice, "limited", json!({})).await);
    }
    assert!(error_text(&call(&alice, "limited", json!({})).await).starts_with("rate limit"));
    // A new session does not reset alice's budget.
    let alice_again = http_client(&uri, Some("alice-token")).await;
    assert!(error_text(&call(&alice_again, "limited", json!({})).await).starts_with("rate limit"));
    // Bob has his own.
    let bob = http_client(&uri, Some("bob-token")).await;
    assert_eq!(ok_text(&call(&bob, "limited", json!({})).await), "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_call_spends_no_rate() {
    let uri = http_server().await;
    // Ten calls refused for lack of the scope...
    let ungranted = http_client(&uri, Some("carol-ungranted")).await;
    for _ in 0..10 {
        let denied = error_text(&call(&ungranted, "scoped_limited", json!({})).await);
        assert!(denied.contains("requires the `echo` scope"), "{denied}");
    }
    // ...leave carol's budget whole: two calls, then the limit.
    let granted = http_client(&uri, Some("carol-granted")).await;
    for _ in 0..2 {
        assert_eq!(
            ok_text(&call(&granted, "scoped_limited", json!({})).await),
            "ok"
        );
    }
    let limited = error_text(&call(&granted, "scoped_limited", json!({})).await);
    assert!(limited.starts_with("rate limit"), "{limited}");
}

// Current-thread runtime: the capture is thread-local, and every task runs here.
#[tokio::test]
async fn http_audit_names_the_authenticated_principal() {
    let capture = Capture::default();
    let _guard = capture.install();
    let uri = http_server().await;
    let alice = http_client(&uri, Some("alice-token")).await;
    ok_text(&call(&alice, "echo", echo_args()).await);
    let nobody = http_client(&uri, None).await;
    error_text(&call(&nobody, "echo", echo_args()).await);
    let principals: Vec<_> = capture
        .events(secure_tool::AUDIT_TARGET)
        .iter()
        .map(|e| e.get("principal").unwrap_or_default().to_owned())
        .collect();
    assert!(principals.contains(&"alice".to_owned()), "{principals:?}");
    assert!(
        principals.contains(&"anonymous".to_owned()),
        "{principals:?}"
    );
    assert!(
        !principals.contains(&"operator".to_owned()),
        "{principals:?}"
    );
}
