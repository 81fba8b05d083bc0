//! Rate limits shared across replicas on Redis, through real clients: the same semantics
//! as in process, one budget across two `fs_server` processes whatever the interleaving,
//! retry-after values that agree, and Redis killed and restarted mid-run (fail closed,
//! never past the deadline, recovered without a restart; fail open when configured).
//!
//! Each test starts its own `redis-server` on a free loopback port (`.ci/run` installs
//! it; `scripts/test` requires it).
mod common;
use common::{call, connect, error_text, fs_server_binary, ok_text};

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rmcp::ServiceExt;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::TokioChildProcess;
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use secure_tool::{
    Principal, RETRY_AFTER_META_KEY, SecureInput, SecureServer, Security, secure_tool,
};
use serde_json::json;

/// A `redis-server` of this test's own, on a free loopback port, without persistence.
struct Redis {
    port: u16,
    child: Option<Child>,
}

impl Redis {
    fn start() -> Option<Self> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            assert!(
                std::env::var_os("SECURE_TOOL_REQUIRE_OFFICIAL_CLIENTS").is_none(),
                "redis-server is required: `.ci/run` installs it (apt-get install redis-server)"
            );
            eprintln!("SKIPPED: no redis-server");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = Self { port, child: None };
        redis.up();
        Some(redis)
    }

    fn up(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("redis-server did not listen on {}", self.port);
    }

    fn down(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.down();
    }
}

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Ping {
    #[validate(range(max = 10))]
    n: u8,
}

#[derive(Clone)]
struct Limited {
    security: Security,
    tool_router: ToolRouter<Self>,
}

impl SecureServer for Limited {
    fn security(&self) -> &Security {
        &self.security
    }
}

#[tool_router]
impl Limited {
    #[secure_tool(scope = "x", rate = "3/min", burst = 2)]
    #[tool(description = "Limited, async")]
    async fn limited(&self, Parameters(p): Parameters<Ping>) -> String {
        p.n.to_string()
    }

    #[secure_tool(scope = "x", rate = "100/min", rate_global = "4/min")]
    #[tool(description = "Limited across callers, sync")]
    fn shared(&self, Parameters(p): Parameters<Ping>) -> String {
        p.n.to_string()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Limited {}

fn server(security: Security) -> Limited {
    Limited {
        security,
        tool_router: Limited::tool_router(),
    }
}

fn retry_ms(result: &rmcp::model::CallToolResult) -> Option<u64> {
    let meta = serde_json::to_value(&result.meta).ok()?;
    meta.get(RETRY_AFTER_META_KEY)?.as_u64()
}

/// Call `tool` `n` times: which were admitted, and the retry-after of each refusal.
async fn outcomes(client: &common::Client, tool: &str, n: usize) -> (Vec<bool>, Vec<u64>) {
    let mut admitted = Vec::new();
    let mut waits = Vec::new();
    for _ in 0..n {
        let result = call(client, tool, json!({"n": 1})).await;
        let ok = result.is_error != Some(true);
        if !ok {
            assert!(error_text(&result).contains("retry after"), "{result:?}");
            waits.push(retry_ms(&result).expect("a refusal carries its retry-after"));
        }
        admitted.push(ok);
    }
    (admitted, waits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_gives_the_in_process_semantics() {
    let Some(redis) = Redis::start() else { return };
    let local = Security::builder()
        .local_principal(Principal::new("p").with_scopes(["x"]))
        .build();
    let shared = Security::builder()
        .local_principal(Principal::new("p").with_scopes(["x"]))
        .redis(&redis.url())
        .unwrap()
        .build();
    let in_process = connect(server(local)).await;
    let on_redis = connect(server(shared)).await;
    for tool in ["limited", "shared"] {
        let (a, wa) = outcomes(&in_process, tool, 6).await;
        let (b, wb) = outcomes(&on_redis, tool, 6).await;
        assert_eq!(a, b, "{tool}: the same calls are admitted");
        // The same waits, to within the time the calls took.
        for (x, y) in wa.iter().zip(&wb) {
            assert!(
                x.abs_diff(*y) < 1_000,
                "{tool}: retry-after {x} ms vs {y} ms"
            );
        }
    }
    // `limited` admits its burst of 2; `shared` 4 across callers.
    let (a, _) = outcomes(&in_process, "limited", 1).await;
    assert_eq!(a, [false]);
    // A retry-after in the message agrees with the one in `_meta`.
    let refused = call(&on_redis, "limited", json!({"n": 1})).await;
    let secs = retry_ms(&refused).unwrap().div_ceil(1000);
    assert!(
        error_text(&refused).contains(&format!("retry after {secs}s")),
        "{refused:?}"
    );
}

struct Fixture {
    dir: PathBuf,
}

impl Fixture {
    fn new(name: &str, policy: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("secure-tool-shared-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("root")).unwrap();
        std::fs::write(dir.join("root/hello.txt"), "hello").unwrap();
        std::fs::write(dir.join("secure-tool.toml"), policy).unwrap();
        Self { dir }
    }

    async fn fs_server(
        &self,
        redis: &Redis,
        extra: &[&str],
    ) -> rmcp::service::RunningService<rmcp::RoleClient, ()> {
        let mut command = tokio::process::Command::new(fs_server_binary());
        command
            .env("RUST_LOG", "warn")
            .arg("--root")
            .arg(self.dir.join("root"))
            .arg("--policy")
            .arg(self.dir.join("secure-tool.toml"))
            .args(["--grant", "fs.read", "--redis", &redis.url()])
            .args(extra);
        ().serve(TokioChildProcess::new(command).unwrap())
            .await
            .unwrap()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn read(
    client: &rmcp::service::RunningService<rmcp::RoleClient, ()>,
) -> rmcp::model::CallToolResult {
    let params = CallToolRequestParams::new("read_file")
        .with_arguments(json!({"path": "hello.txt"}).as_object().cloned().unwrap());
    client.call_tool(params).await.expect("a tool result")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_fs_servers_on_one_redis_share_one_budget() {
    let Some(redis) = Redis::start() else { return };
    let fx = Fixture::new("two", "[tools.read_file]\nrate = \"20/min\"\n");
    let first = std::sync::Arc::new(fx.fs_server(&redis, &[]).await);
    let second = std::sync::Arc::new(fx.fs_server(&redis, &[]).await);
    // 32 concurrent callers on each process, 64 calls in all.
    let mut tasks = Vec::new();
    for i in 0..64 {
        let client = std::sync::Arc::clone(if i % 2 == 0 { &first } else { &second });
        tasks.push(tokio::spawn(async move {
            let result = read(&client).await;
            (result, Instant::now())
        }));
    }
    let mut admitted = 0;
    let mut next = Vec::new();
    for task in tasks {
        let (result, answered) = task.await.unwrap();
        if result.is_error == Some(true) {
            assert!(
                common::text(&result).contains("rate limit exceeded"),
                "{result:?}"
            );
            let wait = retry_ms(&result).unwrap();
            assert!(wait <= 3_000, "one interval of 20/min at most: {wait} ms");
            next.push(answered + Duration::from_millis(wait));
        } else {
            assert_eq!(ok_text(&result), "hello");
            admitted += 1;
        }
    }
    assert_eq!(admitted, 20, "20/min across both processes");
    // Every refusal, from either process, names the same moment for the next admission.
    let (first, last) = (next.iter().min().unwrap(), next.iter().max().unwrap());
    assert!(
        *last - *first < Duration::from_millis(500),
        "the moments named for the next admission spread over {:?}",
        *last - *first
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_fails_closed_within_the_deadline_and_recovers() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let fx = Fixture::new("outage", "[tools.read_file]\nrate = \"100/min\"\n");
    let closed = fx.fs_server(&redis, &[]).await;
    let open = fx.fs_server(&redis, &["--redis-fail-open"]).await;
    assert_eq!(ok_text(&read(&closed).await), "hello");

    redis.down();
    for _ in 0..5 {
        let started = Instant::now();
        let refused = read(&closed).await;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a call waited past the deadline"
        );
        assert!(
            error_text(&refused).contains("cannot be checked right now"),
            "{refused:?}"
        );
        let started = Instant::now();
        assert_eq!(ok_text(&read(&open).await), "hello", "fail open admits");
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    redis.up();
    let mut recovered = false;
    for _ in 0..50 {
        if read(&closed).await.is_error != Some(true) {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(recovered, "the server never used Redis again");
    // Both processes count against one budget again: 100/min, some already spent.
    let mut admitted = 1;
    for i in 0..120 {
        let client = if i % 2 == 0 { &closed } else { &open };
        if read(client).await.is_error != Some(true) {
            admitted += 1;
        }
    }
    assert!(admitted <= 100, "{admitted} admitted past 100/min");
    assert!(admitted >= 95, "only {admitted} admitted");
    // Neither process crashed: both still answer.
    assert!(closed.list_all_tools().await.is_ok() && open.list_all_tools().await.is_ok());
}

mod auth_support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_http_replicas_admit_one_budget_to_64_concurrent_clients() {
    use auth_support::{HttpServer, Signer, TempDir, claims};
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

    let Some(redis) = Redis::start() else { return };
    let dir = TempDir::new("replicas");
    let policy = dir.0.join("secure-tool.toml");
    std::fs::write(&policy, "[tools.list_dir]\nrate = \"20/min\"\n").unwrap();
    let signer = Signer::new();
    let args = [
        "--policy",
        policy.to_str().unwrap(),
        "--redis",
        &redis.url(),
    ];
    let replicas = [
        HttpServer::start(&signer, &args),
        HttpServer::start(&signer, &args),
    ];
    // One caller (one subject), 64 clients, each with its own session on either replica.
    let mut tasks = Vec::new();
    for i in 0..64 {
        let uri = replicas[i % 2].mcp();
        let token = signer.rs256(&claims(&uri, "carol", "fs.read"));
        tasks.push(tokio::spawn(async move {
            let config = StreamableHttpClientTransportConfig::with_uri(uri).auth_header(token);
            let client =
                ().serve(StreamableHttpClientTransport::from_config(config))
                    .await
                    .unwrap();
            let params = CallToolRequestParams::new("list_dir")
                .with_arguments(json!({"path": "."}).as_object().cloned().unwrap());
            let result = client.call_tool(params).await.unwrap();
            let answered = Instant::now();
            let _ = client.cancel().await;
            (result, answered)
        }));
    }
    let mut admitted = 0;
    let mut next = Vec::new();
    for task in tasks {
        let (result, answered) = task.await.unwrap();
        if result.is_error == Some(true) {
            let wait = retry_ms(&result).expect("retry-after in _meta");
            assert!(wait <= 3_000, "one interval of 20/min at most: {wait} ms");
            // When the refusal says the next call can come, by this test's clock.
            next.push(answered + Duration::from_millis(wait));
        } else {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 20, "20/min across both replicas");
    // The refusals arrive over a second or two (64 sessions start), but each names the
    // same moment for the next admission: the replicas agree.
    let (first, last) = (next.iter().min().unwrap(), next.iter().max().unwrap());
    assert!(
        *last - *first < Duration::from_millis(500),
        "the moments named for the next admission spread over {:?}",
        *last - *first
    );
}

/// The Redis key of `principal`'s rate of `tool` under `prefix`.
fn caller_key(prefix: &str, tool: &str, principal: &str) -> String {
    use sha2::Digest as _;
    let hash = sha2::Sha256::digest(principal.as_bytes());
    let hex: String = hash[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("{{{prefix}:{tool}}}:rate:{hex}")
}

/// `redis-cli` against this test's Redis.
fn redis_cli(redis: &Redis, args: &[&str]) -> String {
    let output = Command::new("redis-cli")
        .args(["-p", &redis.port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_keys_expire_once_their_state_is_fresh() {
    let Some(redis) = Redis::start() else { return };
    let security = Security::builder()
        .local_principal(Principal::new("p").with_scopes(["x"]))
        .redis(&redis.url())
        .unwrap()
        .build();
    let client = connect(server(security)).await;
    let (admitted, _) = outcomes(&client, "limited", 2).await;
    assert_eq!(admitted, [true, true]);
    // Keys are fixed-size, whatever the caller's id: a hash of it under the prefix and
    // the tool's hash tag.
    let key = caller_key("secure-tool", "limited", "p");
    assert_eq!(redis_cli(&redis, &["exists", &key]), "1", "{key}");
    let keys = redis_cli(&redis, &["--scan", "--pattern", "*"]);
    assert_eq!(keys.lines().collect::<Vec<_>>(), [key.as_str()]);
    // Its time to live is when the bucket is full again: two calls of 3/min, 40 s.
    let ttl: i64 = redis_cli(&redis, &["pttl", &key]).parse().unwrap();
    assert!((30_000..=41_000).contains(&ttl), "pttl {ttl}");
    // The tool's key across callers expires the same way (one call of 4/min: 15 s), and
    // the caller's key of `shared` (one call of 100/min: 0.6 s) is gone once fresh:
    // Redis holds only callers that are still limited.
    let (admitted, _) = outcomes(&client, "shared", 1).await;
    assert_eq!(admitted, [true]);
    let global = "{secure-tool:shared}:global";
    let ttl: i64 = redis_cli(&redis, &["pttl", global]).parse().unwrap();
    assert!((10_000..=15_100).contains(&ttl), "pttl {ttl}");
    let caller = caller_key("secure-tool", "shared", "p");
    let caller = caller.as_str();
    assert_eq!(redis_cli(&redis, &["exists", caller]), "1");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        redis_cli(&redis, &["exists", caller]),
        "0",
        "the fresh key expired"
    );
}
