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
    /// More `redis-server` arguments (TLS, cluster mode, persistence).
    args: Vec<String>,
    child: Option<Child>,
}

impl Redis {
    fn start() -> Option<Self> {
        Self::start_with(Vec::new())
    }

    /// A Redis with `args` after the defaults; `{port}` in them is this Redis's port.
    fn start_with(args: Vec<String>) -> Option<Self> {
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
        let args = args
            .into_iter()
            .map(|a| a.replace("{port}", &port.to_string()))
            .collect();
        let mut redis = Self {
            port,
            args,
            child: None,
        };
        redis.up();
        Some(redis)
    }

    fn up(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(&self.args)
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

    /// Stop as an orchestrator does (SIGTERM: Redis writes its append-only file out).
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
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

    #[secure_tool(scope = "x", rate = "2/hour")]
    #[tool(description = "Limited per hour, async")]
    async fn hourly(&self, Parameters(p): Parameters<Ping>) -> String {
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

/// A server whose local caller is `id`, on the Redis `security` was given.
async fn client_of(security: Security) -> common::Client {
    connect(server(security)).await
}

fn caller(id: &str) -> secure_tool::SecurityBuilder {
    Security::builder().local_principal(Principal::new(id).with_scopes(["x"]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_bounded_prefixed_and_a_tightened_limit_keeps_its_state() {
    let Some(redis) = Redis::start() else { return };
    // A 5,000-character caller id makes a key of fixed size.
    let long = "s".repeat(5_000);
    let first = client_of(caller(&long).redis(&redis.url()).unwrap().build()).await;
    let (admitted, _) = outcomes(&first, "limited", 3).await;
    assert_eq!(admitted, [true, true, false]);
    let keys = redis_cli(&redis, &["--scan", "--pattern", "*"]);
    assert_eq!(keys.lines().count(), 1, "{keys}");
    assert!(keys.len() < 80, "a key of {} bytes", keys.len());
    assert_eq!(keys, caller_key("secure-tool", "limited", &long));
    // Every key has a time to live.
    let ttl: i64 = redis_cli(&redis, &["pttl", &keys]).parse().unwrap();
    assert!(ttl > 0, "pttl {ttl}");

    // Another server with its own prefix on the same Redis has its own budget; one with
    // the same prefix shares this one.
    let other = client_of(
        caller(&long)
            .redis(&redis.url())
            .unwrap()
            .redis_prefix("billing")
            .unwrap()
            .build(),
    )
    .await;
    assert_eq!(outcomes(&other, "limited", 1).await.0, [true]);
    let replica = client_of(caller(&long).redis(&redis.url()).unwrap().build()).await;
    assert_eq!(outcomes(&replica, "limited", 1).await.0, [false]);
    for bad in ["", "a b", "x{y}", &"p".repeat(65)] {
        assert!(Security::builder().redis_prefix(bad).is_err(), "{bad:?}");
    }

    // A reload that tightens the limit: the same key, its state kept (no fresh budget).
    let dir = std::env::temp_dir().join(format!("secure-tool-redis-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("secure-tool.toml");
    std::fs::write(&policy, "[roles]\n").unwrap();
    let _ = Limited::tool_router();
    let security = caller("carol")
        .policy_file(&policy)
        .unwrap()
        .redis(&redis.url())
        .unwrap()
        .build();
    let carol = client_of(security.clone()).await;
    assert_eq!(outcomes(&carol, "limited", 2).await.0, [true, true]);
    let key = caller_key("secure-tool", "limited", "carol");
    let before: u64 = redis_cli(&redis, &["get", &key]).parse().unwrap();
    std::fs::write(&policy, "[tools.limited]\nrate = \"1/min\"\nburst = 1\n").unwrap();
    security.reload_policy().unwrap();
    let (admitted, waits) = outcomes(&carol, "limited", 1).await;
    assert_eq!(admitted, [false], "a tightened limit gave a fresh budget");
    assert!(waits[0] > 0);
    let after: u64 = redis_cli(&redis, &["get", &key]).parse().unwrap();
    assert_eq!(before, after, "the refused call changed nothing");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_settings_apply_in_any_order() {
    // Nothing listens here: every check fails, and fail-open (set before `.redis()`)
    // admits the call within the deadline (also set before).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let security = caller("p")
        .redis_fail_open(true)
        .redis_deadline(Duration::from_millis(100))
        .redis(&format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .build();
    let client = client_of(security).await;
    let started = Instant::now();
    assert_eq!(
        ok_text(&call(&client, "limited", json!({"n": 1})).await),
        "1"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    // And an invalid URL is refused without repeating it (it may hold a password).
    let error = Security::builder()
        .redis("http://user:hunter2@example.com")
        .unwrap_err()
        .to_string();
    assert!(!error.contains("hunter2"), "{error}");
}

/// `openssl` with `args`, in `dir`.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let output = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs (`.ci/run` installs it)");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A CA and a server certificate it signed for 127.0.0.1, in `dir`: `ca.pem`,
/// `server.pem`, `server.key`; and a CA that signed nothing, `other-ca.pem`.
fn certificates(dir: &std::path::Path) {
    std::fs::create_dir_all(dir).unwrap();
    for ca in ["ca", "other-ca"] {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-days",
                "2",
                "-subj",
                &format!("/CN=secure-tool test {ca}"),
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.pem"),
            ],
        );
    }
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.pem",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_trusts_the_operators_ca_and_fails_closed_on_any_other() {
    let dir = std::env::temp_dir().join(format!("secure-tool-redis-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    certificates(&dir);
    let path = |name: &str| dir.join(name).display().to_string();
    let Some(redis) = Redis::start_with(vec![
        "--port".into(),
        "0".into(),
        "--tls-port".into(),
        "{port}".into(),
        "--tls-cert-file".into(),
        path("server.pem"),
        "--tls-key-file".into(),
        path("server.key"),
        "--tls-ca-cert-file".into(),
        path("ca.pem"),
        "--tls-auth-clients".into(),
        "no".into(),
    ]) else {
        return;
    };
    let url = format!("rediss://127.0.0.1:{}/", redis.port);
    // Trusted through the operator's CA: the limit holds (two of 3/min with a burst of 2).
    let trusted = client_of(
        caller("p")
            .redis(&url)
            .unwrap()
            .redis_ca(dir.join("ca.pem"))
            .unwrap()
            .build(),
    )
    .await;
    let (admitted, waits) = outcomes(&trusted, "limited", 3).await;
    assert_eq!(admitted, [true, true, false]);
    assert!(
        waits[0] > 1_000,
        "refused by the rate, not by the store: {waits:?}"
    );
    // The system's roots alone, or another CA: the certificate is not trusted, and every
    // limited call is refused (fail closed), within the deadline.
    for security in [
        caller("q").redis(&url).unwrap().build(),
        caller("q")
            .redis(&url)
            .unwrap()
            .redis_ca(dir.join("other-ca.pem"))
            .unwrap()
            .build(),
    ] {
        let client = client_of(security).await;
        let started = Instant::now();
        let refused = call(&client, "limited", json!({"n": 1})).await;
        assert!(
            error_text(&refused).contains("cannot be checked right now"),
            "{refused:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    // A CA file that is not PEM is refused when given.
    std::fs::write(dir.join("junk.pem"), "not a certificate").unwrap();
    assert!(Security::builder().redis_ca(dir.join("junk.pem")).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_cluster_shares_one_budget_and_a_node_restart_keeps_the_limit() {
    let dir =
        std::env::temp_dir().join(format!("secure-tool-redis-cluster-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut nodes = Vec::new();
    for i in 0..3 {
        let node_dir = dir.join(format!("node{i}"));
        std::fs::create_dir_all(&node_dir).unwrap();
        let Some(node) = Redis::start_with(vec![
            "--cluster-enabled".into(),
            "yes".into(),
            "--cluster-config-file".into(),
            "nodes.conf".into(),
            "--cluster-node-timeout".into(),
            "1000".into(),
            "--dir".into(),
            node_dir.display().to_string(),
            // Persistence, as an operator keeps budgets across a restart.
            "--appendonly".into(),
            "yes".into(),
            "--appendfsync".into(),
            "always".into(),
        ]) else {
            return;
        };
        nodes.push(node);
    }
    let addresses: Vec<String> = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect();
    let output = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&addresses)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .output()
        .expect("redis-cli runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let cluster_ok = |nodes: &[Redis]| {
        nodes
            .iter()
            .all(|n| redis_cli(n, &["cluster", "info"]).contains("cluster_state:ok"))
    };
    let wait_ok = |nodes: &[Redis]| {
        for _ in 0..200 {
            if cluster_ok(nodes) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the cluster never came up");
    };
    wait_ok(&nodes);

    // Two replicas, each given a different seed node, share one budget.
    let replica = |seed: usize| {
        caller("p")
            .redis_cluster([format!("redis://{}/", addresses[seed])])
            .unwrap()
            .redis_deadline(Duration::from_millis(300))
            .build()
    };
    let a = client_of(replica(0)).await;
    let b = client_of(replica(1)).await;
    // (2/hour: no refill during the test, however slow the machine.)
    assert_eq!(outcomes(&a, "hourly", 1).await.0, [true]);
    assert_eq!(outcomes(&b, "hourly", 1).await.0, [true]);
    assert_eq!(outcomes(&a, "hourly", 1).await.0, [false]);
    assert_eq!(outcomes(&b, "hourly", 1).await.0, [false]);
    // `hourly` and `shared` live on one slot each; both keys of a call share it.
    assert_eq!(outcomes(&a, "shared", 1).await.0, [true]);

    // The node holding the caller's key restarts: meanwhile calls fail closed within the
    // deadline; after, the limit is still spent (no fresh budget).
    let key = caller_key("secure-tool", "hourly", "p");
    let owner = nodes
        .iter()
        .position(|n| redis_cli(n, &["exists", &key]) == "1")
        .expect("one node holds the key");
    nodes[owner].stop();
    for _ in 0..3 {
        let started = Instant::now();
        let refused = call(&a, "hourly", json!({"n": 1})).await;
        assert_eq!(refused.is_error, Some(true));
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }
    nodes[owner].up();
    wait_ok(&nodes);
    let mut answered = false;
    for _ in 0..50 {
        let result = call(&a, "hourly", json!({"n": 1})).await;
        assert_eq!(
            result.is_error,
            Some(true),
            "the restart refilled the budget"
        );
        if error_text(&result).contains("rate limit exceeded") {
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(answered, "the cluster never answered again");
    drop(nodes);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_url_with_its_password_comes_from_the_environment_and_is_never_shown() {
    let Some(redis) = Redis::start_with(vec!["--requirepass".into(), "s3cret-pass".into()]) else {
        return;
    };
    let fx = Fixture::new("url-env", "[tools.read_file]\nrate = \"2/min\"\n");
    let log = fx.dir.join("stderr.log");
    let url = format!("redis://:s3cret-pass@127.0.0.1:{}/", redis.port);
    let mut command = tokio::process::Command::new(fs_server_binary());
    command
        .env("RUST_LOG", "debug")
        .env("SECURE_TOOL_TEST_REDIS", &url)
        .arg("--root")
        .arg(fx.dir.join("root"))
        .arg("--policy")
        .arg(fx.dir.join("secure-tool.toml"))
        .args([
            "--grant",
            "fs.read",
            "--redis-url-env",
            "SECURE_TOOL_TEST_REDIS",
        ])
        .args(["--redis-prefix", "fs-test"]);
    let (transport, _) = TokioChildProcess::builder(command)
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let client = ().serve(transport).await.unwrap();
    // The command line holds no password (what `ps` shows).
    let cmdlines: String = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).into_owned())
        .filter(|c| c.contains("fs_server"))
        .collect();
    assert!(cmdlines.contains("--redis-url-env"), "{cmdlines}");
    assert!(!cmdlines.contains("s3cret-pass"));
    // The limit lives in that Redis, under the prefix given.
    assert_eq!(ok_text(&read(&client).await), "hello");
    assert_eq!(ok_text(&read(&client).await), "hello");
    assert!(error_text(&read(&client).await).contains("rate limit exceeded"));
    let keys = Command::new("redis-cli")
        .args([
            "-p",
            &redis.port.to_string(),
            "-a",
            "s3cret-pass",
            "--no-auth-warning",
        ])
        .args(["--scan", "--pattern", "{fs-test:read_file}:rate:*"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&keys.stdout).lines().count(), 1);
    client.cancel().await.unwrap();
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("DEBUG"), "the log was captured: {logged}");
    assert!(!logged.contains("s3cret-pass"), "the password was logged");
    // A name that is not set is a clear error, naming the variable, not a value.
    let output = Command::new(fs_server_binary())
        .args(["--root", "/", "--redis-url-env", "SECURE_TOOL_NOT_SET"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("SECURE_TOOL_NOT_SET"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_out_of_memory_refuses_or_admits_as_configured_and_never_crashes() {
    let Some(redis) = Redis::start_with(vec!["--maxmemory-policy".into(), "noeviction".into()])
    else {
        return;
    };
    // Fill Redis with 4 MiB, then lower its limit under that: every write is refused.
    let filler = std::env::temp_dir().join(format!("secure-tool-oom-{}", std::process::id()));
    std::fs::write(&filler, "x".repeat(256 << 10)).unwrap();
    for i in 0..16 {
        let output = Command::new("redis-cli")
            .args([
                "-p",
                &redis.port.to_string(),
                "-x",
                "set",
                &format!("filler{i}"),
            ])
            .stdin(std::fs::File::open(&filler).unwrap())
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "OK");
    }
    let _ = std::fs::remove_file(&filler);
    assert_eq!(
        redis_cli(&redis, &["config", "set", "maxmemory", "2mb"]),
        "OK"
    );
    assert!(redis_cli(&redis, &["set", "probe", "1"]).contains("OOM"));
    let closed = client_of(caller("p").redis(&redis.url()).unwrap().build()).await;
    let open = client_of(
        caller("q")
            .redis(&redis.url())
            .unwrap()
            .redis_fail_open(true)
            .build(),
    )
    .await;
    for _ in 0..3 {
        let refused = call(&closed, "limited", json!({"n": 1})).await;
        assert!(
            error_text(&refused).contains("cannot be checked right now"),
            "{refused:?}"
        );
        assert_eq!(ok_text(&call(&open, "limited", json!({"n": 1})).await), "1");
    }
    // Redis and the servers are fine: memory back, limits hold again.
    assert_eq!(redis_cli(&redis, &["flushall"]), "OK");
    assert_eq!(
        ok_text(&call(&closed, "limited", json!({"n": 1})).await),
        "1"
    );
}
