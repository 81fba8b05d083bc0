//! Load on one in-process server, through 64 real rmcp clients at once: a tool that
//! panics, one that hangs until its timeout, one capped at 2 concurrent calls and one
//! rate limited, beside a fast tool. Admissions match the declared bounds exactly, the
//! fast tool stays responsive, memory stays flat, and a spray of fresh identities
//! cannot grow the limiter without bound.
mod common;
use common::{call, connect, text};

use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use secure_tool::{Principal, SecureInput, SecureServer, Security, secure_tool};
use serde_json::json;

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Nothing {}

#[derive(Clone)]
struct Mixed {
    security: Security,
    tool_router: ToolRouter<Self>,
}

impl SecureServer for Mixed {
    fn security(&self) -> &Security {
        &self.security
    }
}

#[tool_router]
impl Mixed {
    #[secure_tool(public)]
    #[tool(description = "Answers at once")]
    async fn fast(&self, Parameters(_): Parameters<Nothing>) -> String {
        "fast".into()
    }

    #[secure_tool(public)]
    #[tool(description = "Panics")]
    async fn boom(&self, Parameters(_): Parameters<Nothing>) -> String {
        panic!("boom")
    }

    #[secure_tool(public, timeout = "300ms")]
    #[tool(description = "Hangs until its timeout")]
    async fn hang(&self, Parameters(_): Parameters<Nothing>) -> String {
        std::future::pending::<()>().await;
        unreachable!()
    }

    #[secure_tool(public, concurrency = 2, timeout = "5s")]
    #[tool(description = "Two at a time")]
    async fn narrow(&self, Parameters(_): Parameters<Nothing>) -> String {
        tokio::time::sleep(Duration::from_millis(800)).await;
        "narrow".into()
    }

    #[secure_tool(public, rate = "10/min")]
    #[tool(description = "Ten a minute per caller")]
    async fn metered(&self, Parameters(_): Parameters<Nothing>) -> String {
        "metered".into()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Mixed {}

/// Resident memory of this process, in KiB (Linux).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

async fn fast_latency(clients: &[Arc<common::Client>], calls: usize) -> Duration {
    let mut times = Vec::new();
    for i in 0..calls {
        let started = Instant::now();
        let result = call(&clients[i % clients.len()], "fast", json!({})).await;
        assert_eq!(text(&result), "fast");
        times.push(started.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_clients_get_exactly_the_declared_bounds() {
    let security = Security::builder()
        .local_principal(Principal::new("one-caller"))
        .build();
    let server = Mixed {
        security,
        tool_router: Mixed::tool_router(),
    };
    let mut clients = Vec::new();
    for _ in 0..64 {
        clients.push(Arc::new(connect(server.clone()).await));
    }
    let idle = fast_latency(&clients, 64).await;
    // Memory is compared from the end of the first round: its panics load what a
    // backtrace needs (once, with RUST_BACKTRACE set), which is not growth.
    let mut before = 0;

    for round in 0..4 {
        let mut tasks = Vec::new();
        for (i, client) in clients.iter().enumerate() {
            let client = Arc::clone(client);
            let tool = ["boom", "hang", "narrow", "metered"][i % 4];
            tasks.push(tokio::spawn(async move {
                (tool, call(&client, tool, json!({})).await)
            }));
        }
        // The fast tool, measured while the others run.
        let loaded = fast_latency(&clients, 64).await;
        let mut counts = std::collections::BTreeMap::<(&str, bool), usize>::new();
        for task in tasks {
            let (tool, result) = task.await.unwrap();
            let refused = result.is_error == Some(true);
            let message = text(&result);
            match tool {
                "boom" => assert!(message.starts_with("internal error (ref "), "{message}"),
                "hang" => assert!(message.contains("time limit of 300ms"), "{message}"),
                _ => {}
            }
            *counts.entry((tool, refused)).or_default() += 1;
        }
        // 16 calls each: 2 of `narrow` at a time (all 16 arrive within its 800 ms), the
        // burst of 10 of `metered` in the first round and none after.
        assert_eq!(
            counts.get(&("narrow", false)),
            Some(&2),
            "round {round}: {counts:?}"
        );
        let metered = counts.get(&("metered", false)).copied().unwrap_or(0);
        assert_eq!(
            metered,
            if round == 0 { 10 } else { 0 },
            "round {round}: {counts:?}"
        );
        assert_eq!(counts.get(&("boom", true)), Some(&16));
        assert_eq!(counts.get(&("hang", true)), Some(&16));
        // Responsive: within twice the idle latency (plus a little for a 2-core VM).
        assert!(
            loaded <= idle * 2 + Duration::from_millis(5),
            "round {round}: fast tool {loaded:?} under load, {idle:?} idle"
        );
        if round == 0 {
            before = rss_kib();
        }
    }
    let after = rss_kib();
    assert!(
        after < before + 16 * 1024,
        "memory grew from {before} KiB to {after} KiB"
    );
    // Still serving.
    assert_eq!(text(&call(&clients[0], "fast", json!({})).await), "fast");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spray_of_fresh_identities_is_bounded_in_memory_and_budget() {
    let security = Security::builder().max_rate_keys(1_000).build();
    let server = Mixed {
        security: security.clone(),
        tool_router: Mixed::tool_router(),
    };
    // Every call from a new principal, as a caller rotating identities would be named
    // by an HTTP layer: one call each.
    let mut admitted = 0;
    for i in 0..3_000 {
        if call_as(&server, Principal::new(format!("spray-{i}"))).await {
            admitted += 1;
        }
    }
    // The first 1,000 identities get a budget each; the other 2,000 share one burst.
    assert_eq!(admitted, 1_000 + 10);
    assert!(secure_tool::__test_support::rate_keys(&security) <= 1_001);
}

/// One `metered` call by `principal`, straight into the secured method (the transport's
/// part is the other tests'; this one is about the limiter's table).
async fn call_as(server: &Mixed, principal: Principal) -> bool {
    let scope = secure_tool::__private::CallScope::new(Some(serde_json::Map::new()), principal);
    match Mixed::metered(server, scope).await {
        rmcp::model::CallToolResponse::Complete(result) => result.is_error != Some(true),
        _ => false,
    }
}
