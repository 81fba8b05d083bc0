//! A secured server exercising every stage, and a real rmcp client connected to it over
//! `tokio::io::duplex`. Each integration test file covers one stage with it.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock};
use rmcp::service::{RequestContext, RunningService};
use rmcp::{RoleClient, RoleServer, ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use secure_tool::{Principal, SecureInput, SecureServer, Security, ToolError, secure_tool};
use serde_json::{Value, json};

#[derive(Debug, serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
pub struct Echo {
    /// Text to echo.
    #[validate(length(min = 1, max = 16))]
    pub text: String,
    /// How many times.
    #[validate(range(min = 1, max = 3))]
    pub times: u8,
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
pub struct Blob {
    #[validate(length(max = 1048576))]
    pub data: String,
}

#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct Stats {
    pub words: usize,
    pub chars: usize,
}

/// An alias hides the name `ErrorData` from the macro; the error is still redacted.
pub type RpcError = rmcp::ErrorData;

#[derive(Clone)]
pub struct TestServer {
    security: Security,
    tool_router: ToolRouter<Self>,
    /// How many times a tool body actually ran (to prove refusals never reach it).
    pub ran: Arc<AtomicUsize>,
}

impl SecureServer for TestServer {
    fn security(&self) -> &Security {
        &self.security
    }
}

impl TestServer {
    pub fn new(security: Security) -> Self {
        Self {
            security,
            tool_router: Self::tool_router(),
            ran: Arc::default(),
        }
    }

    pub fn with_scopes(scopes: &[&str]) -> Self {
        Self::new(
            Security::builder()
                .local_principal(Principal::new("tester").with_scopes(scopes.iter().copied()))
                .build(),
        )
    }

    fn ran(&self) {
        self.ran.fetch_add(1, Ordering::SeqCst);
    }

    pub fn runs(&self) -> usize {
        self.ran.load(Ordering::SeqCst)
    }
}

#[tool_router]
impl TestServer {
    /// Echo the text back, `times` times.
    #[secure_tool(scope = "echo")]
    #[tool]
    async fn echo(&self, Parameters(args): Parameters<Echo>) -> Result<String, ToolError> {
        self.ran();
        Ok(args.text.repeat(args.times.into()))
    }

    #[secure_tool(public)]
    #[tool(description = "Echo, synchronously")]
    fn sync_echo(&self, Parameters(args): Parameters<Echo>) -> String {
        self.ran();
        args.text.repeat(args.times.into())
    }

    #[secure_tool(scopes = ["a", "b"])]
    #[tool(description = "Needs two scopes")]
    async fn needs_two(&self) -> String {
        self.ran();
        "both".into()
    }

    #[secure_tool(public, rate = "3/min")]
    #[tool(description = "Three calls a minute")]
    async fn limited(&self) -> String {
        self.ran();
        "ok".into()
    }

    #[secure_tool(scope = "echo", rate = "2/hour")]
    #[tool(description = "Needs `echo`; two calls an hour")]
    async fn scoped_limited(&self) -> String {
        self.ran();
        "ok".into()
    }

    #[secure_tool(public, rate = "1/hour", burst = 2)]
    #[tool(name = "burst", description = "Two calls, then one an hour")]
    fn bursty(&self) -> String {
        self.ran();
        "ok".into()
    }

    #[secure_tool(public, concurrency = 1)]
    #[tool(description = "One at a time; takes 300ms")]
    async fn slow(&self) -> String {
        self.ran();
        tokio::time::sleep(Duration::from_millis(300)).await;
        "done".into()
    }

    #[secure_tool(public, concurrency = 1, timeout = "50ms")]
    #[tool(description = "Never finishes in time; what it holds takes a second to let go")]
    async fn holding(&self) -> String {
        self.ran();
        let _held = SlowRelease;
        tokio::time::sleep(Duration::from_secs(30)).await;
        "late".into()
    }

    #[secure_tool(public, timeout = "50ms")]
    #[tool(description = "Never finishes; always has work ready (a source that never runs dry)")]
    async fn busy(&self) -> String {
        self.ran();
        loop {
            // What reading a channel, socket or pipe that always has data does: it uses
            // up the task's budget at each poll and yields, never waiting on anything.
            tokio::task::consume_budget().await;
        }
    }

    #[secure_tool(public, timeout = "50ms")]
    #[tool(description = "Never finishes in time")]
    async fn hang(&self) -> String {
        self.ran();
        tokio::time::sleep(Duration::from_secs(30)).await;
        "late".into()
    }

    #[secure_tool(public)]
    #[tool(description = "Panics")]
    async fn boom(&self) -> String {
        self.ran();
        panic!("secret detail /etc/shadow sk-live-abcdefghijklmnopqrstuvwx")
    }

    #[secure_tool(public)]
    #[tool(description = "Panics, synchronously")]
    fn sync_boom(&self) -> String {
        self.ran();
        panic!("sync secret detail")
    }

    #[secure_tool(public)]
    #[tool(description = "Fails inside")]
    async fn internal_fail(&self) -> Result<String, ToolError> {
        self.ran();
        let err = std::io::Error::other("connect to postgres://admin:hunter2@10.0.0.5/db failed");
        Err(err)?
    }

    #[secure_tool(public)]
    #[tool(description = "Fails with a message for the model")]
    async fn public_fail(&self) -> Result<String, ToolError> {
        self.ran();
        Err(ToolError::public(
            "no such record (tried /srv/data/records.db with key sk-live-abcdefghijklmnopqrstuvwx)",
        ))
    }

    #[secure_tool(public)]
    #[tool(description = "Fails with an io error through a std Result alias")]
    fn io_fail(&self) -> std::io::Result<String> {
        self.ran();
        std::fs::read_to_string("/definitely/not/here/secret.txt")
    }

    #[secure_tool(public)]
    #[tool(description = "Fails with rmcp's ErrorData through an alias")]
    async fn rpc_fail(&self) -> Result<String, RpcError> {
        self.ran();
        Err(RpcError::invalid_params("db password is hunter2", None))
    }

    #[secure_tool(public)]
    #[tool(description = "Word statistics")]
    async fn stats(&self, Parameters(args): Parameters<Echo>) -> Json<Stats> {
        self.ran();
        Json(Stats {
            words: args.text.split_whitespace().count(),
            chars: args.text.chars().count(),
        })
    }

    #[secure_tool(public)]
    #[tool(description = "Word statistics, fallible")]
    async fn try_stats(
        &self,
        Parameters(args): Parameters<Echo>,
    ) -> Result<Json<Stats>, ToolError> {
        self.ran();
        Ok(Json(Stats {
            words: args.text.split_whitespace().count(),
            chars: args.text.chars().count(),
        }))
    }

    #[secure_tool(public)]
    #[tool(description = "Sees the request context")]
    async fn with_context(
        &self,
        context: RequestContext<RoleServer>,
        Parameters(args): Parameters<Echo>,
    ) -> String {
        self.ran();
        format!("{} #{}", args.text, context.id)
    }

    #[secure_tool(public, max_input = "1KiB")]
    #[tool(description = "Takes small input only")]
    async fn small(&self, Parameters(args): Parameters<Blob>) -> String {
        self.ran();
        args.data.len().to_string()
    }

    #[secure_tool(public, max_input = "1MiB")]
    #[tool(description = "Takes large input")]
    async fn large(&self, Parameters(args): Parameters<Blob>) -> String {
        self.ran();
        args.data.len().to_string()
    }

    #[secure_tool(public)]
    #[tool(description = "Names the connected client (rmcp's Peer extractor)")]
    async fn client_name(&self, peer: rmcp::Peer<RoleServer>) -> String {
        self.ran();
        peer.peer_info()
            .map(|info| info.client_info.name.clone())
            .unwrap_or_default()
    }

    #[secure_tool(public)]
    #[tool(description = "Reads the HTTP request (rmcp's Extension extractor)")]
    async fn http_host(
        &self,
        rmcp::handler::server::tool::Extension(parts): rmcp::handler::server::tool::Extension<
            http::request::Parts,
        >,
        cancel: tokio_util::sync::CancellationToken,
    ) -> String {
        self.ran();
        let agent = parts
            .headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none");
        format!("{agent} cancelled={}", cancel.is_cancelled())
    }

    #[secure_tool(public, max_output = "64B")]
    #[tool(description = "Returns a lot")]
    async fn chatty(&self) -> String {
        self.ran();
        "x".repeat(1000)
    }

    #[secure_tool(public)]
    #[tool(description = "Returns a secret in its output")]
    async fn leaky(&self) -> String {
        self.ran();
        "config: api_key=abcd1234efgh5678 and Bearer 9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c".into()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for TestServer {}

/// Build an example and return its path (a single `cargo test --test x` does not build
/// examples). Built once per test binary.
pub fn example_binary(name: &str) -> std::path::PathBuf {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !built.iter().any(|b| b == name) {
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--example", name])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building examples/{name} failed");
        built.push(name.to_owned());
    }
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    profile_dir.join("examples").join(name)
}

/// Send `child` the signal `name` (`TERM`, `INT`, `HUP`), as an orchestrator would.
pub fn signal(child: &std::process::Child, name: &str) {
    let status = std::process::Command::new("kill")
        .args([format!("-{name}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Wait for `child` to exit, at most `limit`: its exit code (a kill by a signal, or no
/// exit in time, fails the test; the child is killed then).
pub fn exit_code_within(child: &mut std::process::Child, limit: Duration) -> i32 {
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status
                .code()
                .unwrap_or_else(|| panic!("killed by a signal: {status:?}"));
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn fs_server_binary() -> std::path::PathBuf {
    example_binary("fs_server")
}

pub type Client = RunningService<RoleClient, ()>;

/// A resource whose release blocks for a second (a child process reaped, a connection
/// closed): a call's concurrency slot must stay taken until it is let go. Only on a
/// multi-thread runtime: the worker's other tasks move to another thread meanwhile.
pub struct SlowRelease;

impl Drop for SlowRelease {
    fn drop(&mut self) {
        tokio::task::block_in_place(|| std::thread::sleep(Duration::from_secs(1)));
    }
}

/// Serve `server` over an in-memory duplex pipe and connect a real rmcp client to it.
pub async fn connect<S: ServerHandler>(server: S) -> Client {
    let (server_io, client_io) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    ().serve(client_io).await.expect("client connects")
}

/// Call `name` with `arguments` (a JSON object, or `null` for none).
pub async fn call(client: &Client, name: &str, arguments: Value) -> CallToolResult {
    let mut params = CallToolRequestParams::new(name.to_owned());
    if let Value::Object(map) = arguments {
        params = params.with_arguments(map);
    }
    client
        .call_tool(params)
        .await
        .expect("tools/call is answered with a result, not a protocol error")
}

/// The text of a result's first text block.
pub fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .find_map(|c| match c {
            ContentBlock::Text(t) => Some(t.text.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

/// Assert `result` is an error result and return its text.
#[track_caller]
pub fn error_text(result: &CallToolResult) -> String {
    assert_eq!(result.is_error, Some(true), "expected isError: {result:?}");
    text(result)
}

/// Assert `result` is a success and return its text.
#[track_caller]
pub fn ok_text(result: &CallToolResult) -> String {
    assert_ne!(result.is_error, Some(true), "expected success: {result:?}");
    text(result)
}

pub fn echo_args() -> Value {
    json!({"text": "hi", "times": 2})
}

/// One captured `tracing` event: its target and its fields, as text.
#[derive(Debug, Clone)]
pub struct Captured {
    pub target: String,
    pub fields: std::collections::BTreeMap<String, String>,
}

impl Captured {
    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(String::as_str)
    }
}

#[derive(Clone, Default)]
pub struct Capture(Arc<std::sync::Mutex<Vec<Captured>>>);

impl Capture {
    /// Install as this thread's subscriber (tests run on a current-thread runtime, so the
    /// server's tasks log here too).
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        use tracing_subscriber::layer::SubscriberExt;
        // tracing caches each callsite's interest; when a parallel test drops its scoped
        // subscriber the cache can settle on "never" and silence ours. A global subscriber
        // that always answers "sometimes" keeps every event asking the current one.
        static ALWAYS_ASK: std::sync::Once = std::sync::Once::new();
        ALWAYS_ASK.call_once(|| {
            let _ = tracing::subscriber::set_global_default(AlwaysAsk);
        });
        let subscriber = tracing_subscriber::registry().with(self.clone());
        tracing::subscriber::set_default(subscriber)
    }

    pub fn events(&self, target: &str) -> Vec<Captured> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.target == target)
            .cloned()
            .collect()
    }

    /// Every event, whatever its target.
    pub fn events_all(&self) -> Vec<Captured> {
        self.0.lock().unwrap().clone()
    }
}

struct Visitor<'a>(&'a mut std::collections::BTreeMap<String, String>);

impl tracing::field::Visit for Visitor<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut fields = std::collections::BTreeMap::new();
        event.record(&mut Visitor(&mut fields));
        self.0.lock().unwrap().push(Captured {
            target: event.metadata().target().to_owned(),
            fields,
        });
    }
}

/// Enables nothing, but never lets a callsite be cached as uninteresting.
struct AlwaysAsk;

impl tracing::Subscriber for AlwaysAsk {
    fn register_callsite(
        &self,
        _: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        false
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// An official MCP client (`what`) is not installed: a failure under the test command
/// (`scripts/test` sets `SECURE_TOOL_REQUIRE_OFFICIAL_CLIENTS`), a visible skip elsewhere.
/// The line is written to the process's stderr, not through `eprintln!`, which the test
/// harness captures and hides for a passing test: a skip must be seen.
pub fn require_or_skip(what: &str) {
    assert!(
        std::env::var_os("SECURE_TOOL_REQUIRE_OFFICIAL_CLIENTS").is_none(),
        "the official MCP {what} is required: run `scripts/test`, which installs it"
    );
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr().lock(),
        "SKIPPED: no official MCP {what} (run `scripts/test`, which installs it)"
    );
}

/// Run `tests/python/SCRIPT` with the official MCP Python SDK and `args`, and assert that
/// it exited cleanly with every check passed (its last line: `N passed, 0 failed`).
/// Skips (or, under `scripts/test`, fails) when the SDK is not installed.
pub fn run_official_python_client(script: &str, args: &[&std::ffi::OsStr]) {
    let Some(python) = official_python() else {
        return require_or_skip("Python SDK in target/py");
    };
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
    let output = std::process::Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}\n{stderr}");
}

/// The Python with the official MCP SDK: `target/py` (where `scripts/test` installs it),
/// or `SECURE_TOOL_PYTHON`.
pub fn official_python() -> Option<std::path::PathBuf> {
    let venv = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/py/bin/python");
    let candidate = std::env::var_os("SECURE_TOOL_PYTHON").map_or(venv, std::path::PathBuf::from);
    let ok = std::process::Command::new(&candidate)
        .args(["-c", "import mcp"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(candidate)
}
