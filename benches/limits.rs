//! The rate limiter at scale.
//!
//! `cargo bench --bench limits` runs criterion's rows:
//! - `limiter/check_1_key`, `limiter/check_1m_keys`: one in-process check, with one caller
//!   and with a million callers in the table (target under 100 ns);
//! - `tools_call/in_process`, `tools_call/redis`: a secured `tools/call` through an rmcp
//!   client, its rate kept in process and in Redis (when `redis-server` is installed).
//!
//! and then prints what criterion cannot measure:
//! - memory of a million callers' entries, and after they go idle and are swept (target
//!   under 64 MiB);
//! - Redis round trips per check on loopback, p50 and p99.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use secure_tool::__test_support::Limiter;
use secure_tool::{Limits, Principal, Rate, SecureInput, SecureServer, Security, secure_tool};

const MILLION: usize = 1_000_000;

fn limits() -> Limits {
    Limits {
        rate: Some(Rate {
            count: 4_000_000_000,
            period_ms: 1000,
        }),
        ..Limits::NONE
    }
}

fn ids(n: usize) -> Vec<Arc<str>> {
    (0..n)
        .map(|i| Arc::from(format!("principal-{i}")))
        .collect()
}

fn limiter(c: &mut Criterion) {
    let mut group = c.benchmark_group("limiter");
    let one = Limiter::new(&limits(), 2 * MILLION);
    let key: Arc<str> = Arc::from("principal-0");
    group.bench_function("check_1_key", |b| b.iter(|| one.admit(&key)));
    let full = Limiter::new(&limits(), 2 * MILLION);
    let keys = ids(MILLION);
    for key in &keys {
        full.admit(key);
    }
    // Callers in turn: each caller's id is where its request put it (here, in order in
    // memory), and its entry is wherever its hash sends it in a table of a million.
    let mut i = 0;
    group.bench_function("check_1m_keys", |b| {
        b.iter(|| {
            i = (i + 1) % MILLION;
            full.admit(&keys[i])
        });
    });
    group.finish();
}

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Ping {
    #[validate(range(max = 10))]
    n: u8,
}

#[derive(Clone)]
struct Server {
    security: Security,
    tool_router: ToolRouter<Self>,
}

impl SecureServer for Server {
    fn security(&self) -> &Security {
        &self.security
    }
}

#[tool_router]
impl Server {
    #[secure_tool(scope = "b", rate = "4000000000/sec")]
    #[tool(description = "Limited")]
    async fn ping(&self, Parameters(p): Parameters<Ping>) -> String {
        p.n.to_string()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Server {}

async fn client(security: Security) -> RunningService<RoleClient, ()> {
    let (server_io, client_io) = tokio::io::duplex(64 * 1024);
    let server = Server {
        security,
        tool_router: Server::tool_router(),
    };
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    ().serve(client_io).await.unwrap()
}

fn params() -> CallToolRequestParams {
    let mut args = serde_json::Map::new();
    args.insert("n".into(), 1.into());
    CallToolRequestParams::new("ping").with_arguments(args)
}

/// A `redis-server` on a free loopback port, for as long as this lives.
struct Redis(std::process::Child, u16);

impl Redis {
    fn start() -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .ok()?;
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(Self(child, port));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        None
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.1)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn security(redis: Option<&Redis>) -> Security {
    let builder = Security::builder().local_principal(Principal::new("bench").with_scopes(["b"]));
    match redis {
        Some(redis) => builder.redis(&redis.url()).unwrap().build(),
        None => builder.build(),
    }
}

fn tools_call(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let redis = Redis::start();
    let mut group = c.benchmark_group("tools_call");
    let mut stores = vec![("in_process", security(None))];
    if let Some(redis) = &redis {
        stores.push(("redis", security(Some(redis))));
    }
    for (name, security) in stores {
        let client = runtime.block_on(client(security));
        group.bench_function(name, |b| {
            b.to_async(&runtime)
                .iter(|| async { client.call_tool(params()).await.unwrap() });
        });
    }
    group.finish();
}

criterion_group!(benches, limiter, tools_call);

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

/// A million callers, then the same after they go idle and are swept.
fn memory() {
    // One call refills in a second: a million calls take less, so every entry is still
    // there at the end, and idle a second later.
    let limits = Limits {
        rate: Some(Rate {
            count: 1,
            period_ms: 1000,
        }),
        ..Limits::NONE
    };
    let base = rss_kib();
    let limiter = Limiter::new(&limits, 2 * MILLION);
    {
        let keys = ids(MILLION);
        for key in &keys {
            limiter.admit(key);
        }
    }
    let full = rss_kib();
    let entries = limiter.keys();
    // Idle: a full interval past the last entry's next arrival time.
    std::thread::sleep(Duration::from_millis(2500));
    limiter.sweep();
    let idle = rss_kib();
    println!(
        "memory: {entries} callers' entries {:.1} MiB; after they go idle and are swept ({} left) {:.1} MiB",
        (full.saturating_sub(base)) as f64 / 1024.0,
        limiter.keys(),
        (idle.saturating_sub(base)) as f64 / 1024.0,
    );
    // The default cap: a spray of a million identities holds at most 100,000 entries.
    let capped = Limiter::new(&limits, 100_000);
    let before = rss_kib();
    {
        let keys = ids(MILLION);
        for key in &keys {
            capped.admit(key);
        }
    }
    println!(
        "memory: a million identities against the default cap of 100,000: {} entries, {:.1} MiB",
        capped.keys(),
        (rss_kib().saturating_sub(before)) as f64 / 1024.0
    );
}

/// Round trips of one rate check to Redis on loopback.
fn redis_round_trips() {
    let Some(redis) = Redis::start() else {
        println!("redis: no redis-server, round trips not measured");
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let security = security(Some(&redis));
    let on_redis = runtime.block_on(client(security));
    let in_process = runtime.block_on(client(security_in_process()));
    let times = |client: &RunningService<RoleClient, ()>| {
        let mut times: Vec<Duration> = (0..5_000)
            .map(|_| {
                let started = Instant::now();
                runtime.block_on(client.call_tool(params())).unwrap();
                started.elapsed()
            })
            .collect();
        times.sort();
        times
    };
    let with = times(&on_redis);
    let without = times(&in_process);
    let at = |t: &[Duration], q: f64| t[((t.len() as f64 - 1.0) * q) as usize];
    println!(
        "redis: tools/call p50 {:?} p99 {:?} with the rate in Redis, p50 {:?} p99 {:?} in process: a check costs p50 {:?}, p99 {:?}",
        at(&with, 0.5),
        at(&with, 0.99),
        at(&without, 0.5),
        at(&without, 0.99),
        at(&with, 0.5).saturating_sub(at(&without, 0.5)),
        at(&with, 0.99).saturating_sub(at(&without, 0.99)),
    );
}

fn security_in_process() -> Security {
    security(None)
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    memory();
    redis_round_trips();
}
