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

/// A body that timed out keeps its slot until it is dropped, with everything it holds: a
/// call that comes while it is being let go is refused, not run next to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn a_timed_out_body_keeps_its_slot_until_it_is_dropped() {
    let client = connect(TestServer::with_scopes(&[])).await;
    let first = call(&client, "holding", json!({}));
    let second = async {
        // The first call times out at 50ms and takes a second to drop its body.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        call(&client, "holding", json!({})).await
    };
    let (first, second) = tokio::join!(first, second);
    assert_eq!(
        error_text(&first),
        "the tool did not finish within its time limit of 50ms"
    );
    assert_eq!(
        error_text(&second),
        "too many concurrent calls of this tool (limit 1): retry when one has finished"
    );
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
    // Identical declarations: only the server type tells them apart.
    server!(Left, "twin.search", "2/min");
    server!(Right, "twin.search", "2/min");

    /// Two tools stamped by one `macro_rules!` into one server, each in its own
    /// `#[tool_router]` impl: identical declarations but for the name rmcp routes.
    #[derive(Clone)]
    pub struct Twins {
        security: Security,
        tool_router: ToolRouter<Self>,
    }

    impl SecureServer for Twins {
        fn security(&self) -> &Security {
            &self.security
        }
    }

    macro_rules! twin_tool {
        ($router:ident, $method:ident) => {
            #[tool_router(router = $router)]
            impl Twins {
                #[secure_tool(scope = "twin.search", rate = "2/min")]
                #[tool(description = "Search")]
                async fn $method(&self) -> String {
                    stringify!($method).to_owned()
                }
            }
        };
    }

    twin_tool!(first_router, first);
    twin_tool!(second_router, second);

    impl Twins {
        pub fn new(security: Security) -> Self {
            Self {
                security,
                tool_router: Self::first_router() + Self::second_router(),
            }
        }
    }

    #[tool_handler(router = self.tool_router)]
    impl ServerHandler for Twins {}
}

/// What identifies a tool, for its limiter state: its server type and the name rmcp
/// routes it by. Identical declarations stamped by one `macro_rules!` never share a
/// budget by accident; two instances of one server on one `Security` are one tool.
#[tokio::test]
async fn a_tool_is_its_server_type_and_its_name() {
    use secure_tool::{Principal, Security};
    let security = Security::builder()
        .local_principal(Principal::new("p").with_scopes(["twin.search"]))
        .build();
    let spend = |client| async move {
        let mut admitted = 0;
        for _ in 0..4 {
            if call(&client, "search", json!({})).await.is_error != Some(true) {
                admitted += 1;
            }
        }
        admitted
    };
    // Two server types, one `Security`, identical declarations: a budget each.
    assert_eq!(
        spend(connect(stamped::Left::new(security.clone())).await).await,
        2
    );
    assert_eq!(
        spend(connect(stamped::Right::new(security.clone())).await).await,
        2
    );
    // A second instance of `Left` on the same `Security` is the same tool: spent.
    assert_eq!(
        spend(connect(stamped::Left::new(security.clone())).await).await,
        0
    );

    // Two tools stamped into one server: a budget each.
    let twins = connect(stamped::Twins::new(security.clone())).await;
    for name in ["first", "second"] {
        for _ in 0..2 {
            assert_eq!(ok_text(&call(&twins, name, json!({})).await), name);
        }
        assert!(error_text(&call(&twins, name, json!({})).await).starts_with("rate limit"));
    }
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
