//! Stage 4: rate limit per (tool, principal) and concurrency cap, both refusals as results.
mod common;
use common::*;
use serde_json::json;

#[tokio::test]
async fn a_burst_is_cut_by_the_rate_limit_with_a_retry_time() {
    let server = TestServer::with_scopes(&[]);
    let runs = server.ran.clone();
    let client = connect(server).await;
    for _ in 0..3 {
        assert_eq!(ok_text(&call(&client, "limited", json!({})).await), "ok");
    }
    for _ in 0..5 {
        let message = error_text(&call(&client, "limited", json!({})).await);
        assert!(
            message.starts_with("rate limit exceeded for this tool: retry after "),
            "{message}"
        );
        // 3/min replenishes one call every 20s.
        let secs: u64 = message
            .trim_start_matches("rate limit exceeded for this tool: retry after ")
            .trim_end_matches('s')
            .parse()
            .unwrap();
        assert!((1..=20).contains(&secs), "{secs}");
    }
    assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 3);
    // Other tools have their own budget.
    assert_eq!(
        ok_text(&call(&client, "sync_echo", echo_args()).await),
        "hihi"
    );
}

#[tokio::test]
async fn burst_overrides_the_bucket_size() {
    let client = connect(TestServer::with_scopes(&[])).await;
    assert_eq!(ok_text(&call(&client, "burst", json!({})).await), "ok");
    assert_eq!(ok_text(&call(&client, "burst", json!({})).await), "ok");
    let message = error_text(&call(&client, "burst", json!({})).await);
    // 1/hour: the next call is about an hour away.
    assert!(message.contains("retry after 3"), "{message}");
}

#[tokio::test]
async fn limits_are_per_server_instance() {
    let client = connect(TestServer::with_scopes(&[])).await;
    for _ in 0..3 {
        ok_text(&call(&client, "limited", json!({})).await);
    }
    error_text(&call(&client, "limited", json!({})).await);
    let fresh = connect(TestServer::with_scopes(&[])).await;
    ok_text(&call(&fresh, "limited", json!({})).await);
}

#[tokio::test]
async fn concurrency_over_the_cap_is_refused_not_queued() {
    let client = connect(TestServer::with_scopes(&[])).await;
    let first = call(&client, "slow", json!({}));
    let second = async {
        // Let the first call take its slot.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        call(&client, "slow", json!({})).await
    };
    let (first, second) = tokio::join!(first, second);
    assert_eq!(ok_text(&first), "done");
    assert_eq!(
        error_text(&second),
        "too many concurrent calls of this tool (limit 1): retry when one has finished"
    );
    // The slot is released: a later call runs.
    assert_eq!(ok_text(&call(&client, "slow", json!({})).await), "done");
}

// That a denied call spends no rate is tested in `identity.rs`: it takes one principal
// whose scopes change between calls, which only an HTTP request can carry.

/// Two servers stamped out by one `macro_rules!`: their tools share a file, a line and a
/// name, and nothing else. Each must run under its own declaration.
mod stamped {
    use rmcp::handler::server::router::tool::ToolRouter;
    use rmcp::{ServerHandler, tool, tool_handler, tool_router};
    use secure_tool::{SecureServer, Security, secure_tool};

    macro_rules! server {
        ($name:ident, $scope:literal, $rate:literal) => {
            #[derive(Clone)]
            pub struct $name {
                security: Security,
                tool_router: ToolRouter<Self>,
            }

            impl SecureServer for $name {
                fn security(&self) -> &Security {
                    &self.security
                }
            }

            #[tool_router]
            impl $name {
                pub fn new(security: Security) -> Self {
                    Self {
                        security,
                        tool_router: Self::tool_router(),
                    }
                }

                #[secure_tool(scope = $scope, rate = $rate)]
                #[tool(description = "Search")]
                async fn search(&self) -> String {
                    stringify!($name).to_owned()
                }
            }

            #[tool_handler(router = self.tool_router)]
            impl ServerHandler for $name {}
        };
    }

    server!(Strict, "strict.search", "1/min");
    server!(Loose, "loose.search", "50/min");
}

#[tokio::test]
async fn tools_stamped_out_by_one_macro_keep_their_own_declarations() {
    use secure_tool::{Principal, Security};
    let security = Security::builder()
        .local_principal(Principal::new("p").with_scopes(["strict.search", "loose.search"]))
        .build();
    let strict = connect(stamped::Strict::new(security.clone())).await;
    let loose = connect(stamped::Loose::new(security.clone())).await;
    assert_eq!(ok_text(&call(&strict, "search", json!({})).await), "Strict");
    assert!(error_text(&call(&strict, "search", json!({})).await).starts_with("rate limit"));
    // Same Security, same file, line and name: still its own limits and its own budget.
    for _ in 0..10 {
        assert_eq!(ok_text(&call(&loose, "search", json!({})).await), "Loose");
    }
    // And its own scope: a caller with only the strict scope is refused by the loose tool.
    let only_strict = Security::builder()
        .local_principal(Principal::new("q").with_scopes(["strict.search"]))
        .build();
    let loose = connect(stamped::Loose::new(only_strict)).await;
    let message = error_text(&call(&loose, "search", json!({})).await);
    assert!(message.contains("`loose.search`"), "{message}");
}
