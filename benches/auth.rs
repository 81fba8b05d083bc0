//! The OAuth resource server (`secure_tool::auth`): what verifying a bearer token costs,
//! fresh and from the cache, and what the layer adds to a whole `tools/call` over
//! streamable HTTP.
//!
//! ```text
//! cargo bench --bench auth
//! ```
//!
//! - `verify/fresh_*`: a token the server has not seen (cache off): header, key lookup,
//!   signature and claims, for each algorithm family.
//! - `verify/cached`: the same token again: a SHA-256 of the token and a map lookup.
//! - `http_tools_call/{bare,auth}`: rmcp's streamable HTTP client calling a secured tool
//!   on loopback, without and with the layer in front of the service.
//! - `layer/{tools_call,baseline}`: the layer alone in front of a service that answers at
//!   once, and that service alone: the layer's own cost per request.
//! - `layer/{session_sse,session_sse_baseline}`: the same for a call in a session answered
//!   with an event stream (read to its end), as rmcp answers in the legacy revision: the
//!   session's owner checked and the events' ids recorded.
//! - Then, outside criterion (`AUTH_ONLY=ratio` runs only this), the HTTP calls
//!   interleaved in alternating batches (as in the `overhead` bench): the median of the
//!   per-round ratios is the figure to trust, first for two bare rmcp servers (the noise
//!   floor), then piece by piece, each against the step before it: the secured tool
//!   against a plain `#[tool]` server, + an operator policy, + the audit trail, + a layer
//!   that only reads the body and passes the answer on (the floor of the cost of any layer
//!   that reads the request), the OAuth layer instead of it; and the whole against bare
//!   rmcp. The size of the layer's future per request is printed first.
//! - `AUTH_LOOP=bare|secured|policy|audit|passthrough|layer AUTH_CALLS=N`: one of those
//!   servers and N calls, nothing else, for callgrind or `perf` (`AUTH_LOOP=http://…/mcp`:
//!   the calls only, to a server running elsewhere).
//! - `AUTH_ONLY=apart`: each of those servers in a process of its own
//!   (`AUTH_SERVE=<piece>` serves one until its standard input closes), called from this
//!   one by a client that keeps its connection and by rmcp's client: each server's own CPU
//!   time a call, and the whole stack against bare rmcp in alternating rounds.

use std::sync::Arc;

use criterion::{Criterion, criterion_group};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use rmcp::{RoleClient, ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use secure_tool::auth::{DevIssuer, JwksSource, ResourceServer};
use secure_tool::{SecureInput, SecureServer, Security, secure_tool};
use serde_json::json;

const ISS: &str = "https://issuer.bench";
const AUD: &str = "https://mcp.bench/mcp";

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Say {
    #[validate(length(max = 64))]
    text: String,
}

#[derive(Clone)]
struct Bench {
    security: Security,
    tool_router: ToolRouter<Self>,
}

impl SecureServer for Bench {
    fn security(&self) -> &Security {
        &self.security
    }
}

#[tool_router]
impl Bench {
    #[secure_tool(public)]
    #[tool(description = "Echo")]
    async fn echo(&self, Parameters(say): Parameters<Say>) -> String {
        say.text
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Bench {}

/// The same tool in bare rmcp: no `#[secure_tool]`, no layer.
#[derive(serde::Deserialize, schemars::JsonSchema)]
struct PlainSay {
    text: String,
}

#[derive(Clone)]
struct BareRmcp {
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl BareRmcp {
    #[tool(description = "Echo")]
    async fn echo(&self, Parameters(say): Parameters<PlainSay>) -> String {
        say.text
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for BareRmcp {}

fn claims() -> serde_json::Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    json!({"iss": ISS, "aud": AUD, "sub": "bench", "scope": "fs.read fs.write", "nbf": now, "exp": now + 3600})
}

struct Keys {
    dev: DevIssuer,
    rsa: EncodingKey,
    ec: EncodingKey,
    jwks: String,
}

fn keys() -> Keys {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/jwt");
    let rsa =
        EncodingKey::from_rsa_pem(&std::fs::read(dir.join("rsa-test-only.pem")).unwrap()).unwrap();
    let ec = EncodingKey::from_ec_pem(&std::fs::read(dir.join("ec-p256-test-only.pem")).unwrap())
        .unwrap();
    let dev = DevIssuer::new(ISS);
    let jwk = |key: &EncodingKey, alg, kid: &str| {
        let mut jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(key, alg).unwrap();
        jwk.common.key_id = Some(kid.into());
        serde_json::to_value(jwk).unwrap()
    };
    let mut all: serde_json::Value = serde_json::from_str(&dev.jwks()).unwrap();
    let list = all["keys"].as_array_mut().unwrap();
    list.push(jwk(&rsa, Algorithm::RS256, "rsa"));
    list.push(jwk(&ec, Algorithm::ES256, "ec"));
    Keys {
        jwks: all.to_string(),
        dev,
        rsa,
        ec,
    }
}

fn sign(key: &EncodingKey, alg: Algorithm, kid: &str) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, &claims(), key).unwrap()
}

fn verify(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let keys = keys();
    let server = |capacity| {
        ResourceServer::builder(AUD)
            .issuer(ISS, JwksSource::inline(keys.jwks.clone()))
            .cache_capacity(capacity)
            .build()
            .unwrap()
    };
    let uncached = server(0);
    let cached = server(10_000);
    let mut group = c.benchmark_group("verify");
    for (name, token) in [
        ("fresh_eddsa", keys.dev.sign(&claims())),
        ("fresh_rs256", sign(&keys.rsa, Algorithm::RS256, "rsa")),
        ("fresh_es256", sign(&keys.ec, Algorithm::ES256, "ec")),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| runtime.block_on(uncached.verify(&token)).unwrap());
        });
    }
    let token = sign(&keys.rsa, Algorithm::RS256, "rsa");
    runtime.block_on(cached.verify(&token)).unwrap();
    // A cached token needs no I/O: the future is ready on its first poll, so it is polled
    // once here rather than through a runtime (whose own cost would be measured too).
    group.bench_function("cached", |b| {
        b.iter(|| {
            futures::FutureExt::now_or_never(cached.verify(&token))
                .expect("a cached verification completes at once")
                .unwrap()
        });
    });
    group.finish();

    // The layer alone, in front of a service that answers at once: its whole cost per
    // request (token from the cache, body read, `tools/call` inspected), without the network.
    let auth = server(10_000);
    let inner = tower_service_fn();
    let mut service = tower_layer::Layer::layer(&auth, inner);
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "hello"}}}).to_string();
    let request = || {
        http::Request::post("/mcp")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(bytes::Bytes::from(body.clone())))
            .unwrap()
    };
    let mut group = c.benchmark_group("layer");
    group.bench_function("tools_call", |b| {
        b.iter_batched(
            request,
            |request| {
                let response = runtime
                    .block_on(tower_service::Service::call(&mut service, request))
                    .unwrap();
                assert_eq!(response.status(), 200);
            },
            criterion::BatchSize::SmallInput,
        );
    });
    group.bench_function("baseline", |b| {
        let mut inner = tower_service_fn();
        b.iter_batched(
            request,
            |request| {
                let response = runtime
                    .block_on(tower_service::Service::call(&mut inner, request))
                    .unwrap();
                assert_eq!(response.status(), 200);
            },
            criterion::BatchSize::SmallInput,
        );
    });

    // A call in a session, as rmcp answers it (an event stream), read to its end: the
    // layer also checks the session's owner and records the events' ids.
    fn read<B: http_body_util::BodyExt>(
        runtime: &tokio::runtime::Runtime,
        response: http::Response<B>,
    ) {
        let bytes = runtime
            .block_on(response.into_body().collect())
            .map(http_body_util::Collected::to_bytes)
            .unwrap_or_default();
        assert!(!bytes.is_empty());
    }
    let mut session_service = tower_layer::Layer::layer(&auth, SSE_SESSION);
    let opened = runtime
        .block_on(tower_service::Service::call(
            &mut session_service,
            request(),
        ))
        .unwrap();
    assert_eq!(opened.status(), 200);
    let in_session = || {
        let mut request = request();
        request
            .headers_mut()
            .insert("mcp-session-id", http::HeaderValue::from_static(SESSION));
        request
    };
    group.bench_function("session_sse", |b| {
        b.iter_batched(
            in_session,
            |request| {
                let response = runtime
                    .block_on(tower_service::Service::call(&mut session_service, request))
                    .unwrap();
                assert_eq!(response.status(), 200);
                read(&runtime, response);
            },
            criterion::BatchSize::SmallInput,
        );
    });
    group.bench_function("session_sse_baseline", |b| {
        let mut inner = SSE_SESSION;
        b.iter_batched(
            in_session,
            |request| {
                let response = runtime
                    .block_on(tower_service::Service::call(&mut inner, request))
                    .unwrap();
                read(&runtime, response);
            },
            criterion::BatchSize::SmallInput,
        );
    });
    group.finish();
}

const SESSION: &str = "0b5e55f0-0000-4000-8000-000000000001";

type Answer = http::Response<http_body_util::Full<bytes::Bytes>>;

/// A service that answers every request at once with `answer()`.
#[derive(Clone, Copy)]
struct Answering(fn() -> Answer);

impl<B: Send + 'static> tower_service::Service<http::Request<B>> for Answering {
    type Response = Answer;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        drop(request);
        std::future::ready(Ok((self.0)()))
    }
}

/// `{}`, at once.
const OK_200: Answering =
    Answering(|| http::Response::new(http_body_util::Full::new(bytes::Bytes::from_static(b"{}"))));

/// What rmcp answers in a session: an event stream with an event id, and the session's id.
const SSE_SESSION: Answering = Answering(|| {
    let body = bytes::Bytes::from_static(
        b"data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"hello\"}],\"isError\":false}}\nid: 1/0\n\n",
    );
    let mut response = http::Response::new(http_body_util::Full::new(body));
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/event-stream"),
    );
    headers.insert("mcp-session-id", http::HeaderValue::from_static(SESSION));
    response
});

fn tower_service_fn() -> Answering {
    OK_200
}

type Client = RunningService<RoleClient, ()>;

/// Two servers on loopback, the same but for the layer, and a client of each.
async fn clients(keys: &Keys) -> (Client, Client) {
    let token = sign(&keys.rsa, Algorithm::RS256, "rsa");
    let layer = ResourceServer::builder(AUD)
        .issuer(ISS, JwksSource::inline(keys.jwks.clone()))
        .build()
        .unwrap();
    let mut clients = Vec::new();
    for layer in [None, Some(layer)] {
        let security = Security::default();
        let make = move || Bench {
            security: security.clone(),
            tool_router: Bench::tool_router(),
        };
        clients.push(serve(make, layer, &token).await);
    }
    let auth = clients.pop().unwrap();
    (clients.pop().unwrap(), auth)
}

/// Serve `make`'s server over streamable HTTP on loopback, behind `layer` if given, and
/// connect a client with `token`.
async fn serve<S, M>(make: M, layer: Option<ResourceServer>, token: &str) -> Client
where
    S: ServerHandler + Send + Sync + 'static,
    M: Fn() -> S + Send + Sync + 'static,
{
    serve_behind(make, layer.map_or(Front::None, Front::Layer), token).await
}

/// What stands in front of rmcp's service.
enum Front {
    None,
    /// A layer that does nothing but what any layer that reads the request must do: read
    /// the body, and pass the answer on re-wrapped. The floor of the cost of any such
    /// layer, on this transport.
    Passthrough,
    Layer(ResourceServer),
}

async fn passthrough(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let request = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
    let (parts, body) = next.run(request).await.into_parts();
    axum::response::Response::from_parts(
        parts,
        axum::body::Body::new(http_body_util::BodyExt::boxed_unsync(body)),
    )
}

async fn serve_behind<S, M>(make: M, front: Front, token: &str) -> Client
where
    S: ServerHandler + Send + Sync + 'static,
    M: Fn() -> S + Send + Sync + 'static,
{
    connect(listen(make, front).await, token).await
}

/// Serve `make`'s server over streamable HTTP on a loopback port, behind `front`.
async fn listen<S, M>(make: M, front: Front) -> std::net::SocketAddr
where
    S: ServerHandler + Send + Sync + 'static,
    M: Fn() -> S + Send + Sync + 'static,
{
    let service = StreamableHttpService::new(
        move || Ok(make()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let router = axum::Router::new().nest_service("/mcp", service);
    let app = match front {
        Front::Layer(layer) => router.layer(layer),
        Front::Passthrough => router.layer(axum::middleware::from_fn(passthrough)),
        Front::None => router,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // As a server should: an answer's last small write is not held back for the
    // client's acknowledgement of the one before (Nagle's algorithm against delayed
    // ACKs: 40 ms a call on a kept connection).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// rmcp's streamable HTTP client, initialized against the server at `addr`.
async fn connect(addr: std::net::SocketAddr, token: &str) -> Client {
    let config = StreamableHttpClientTransportConfig::with_uri(format!("http://{addr}/mcp"))
        .auth_header(token.to_owned());
    ().serve(StreamableHttpClientTransport::from_config(config))
        .await
        .unwrap()
}

/// Bare rmcp.
async fn bare_rmcp(keys: &Keys) -> Client {
    connect(bare_at().await, &token(keys)).await
}

/// Bare rmcp, served: its address.
async fn bare_at() -> std::net::SocketAddr {
    listen(
        || BareRmcp {
            tool_router: BareRmcp::tool_router(),
        },
        Front::None,
    )
    .await
}

/// The token every bench client sends.
fn token(keys: &Keys) -> String {
    sign(&keys.rsa, Algorithm::RS256, "rsa")
}

/// What `operated` puts in front of rmcp's service.
#[derive(Clone, Copy, Debug)]
enum Piece {
    None,
    Passthrough,
    Layer,
}

/// The secured tool as an operator runs it, piece by piece: behind the layer or not,
/// under a policy file or not, with the JSON-lines audit trail on or not.
async fn operated(keys: &Keys, front: Piece, policy_on: bool, audit: bool) -> Client {
    connect(
        operated_at(keys, front, policy_on, audit).await,
        &token(keys),
    )
    .await
}

/// [`operated`]'s server: its address.
async fn operated_at(
    keys: &Keys,
    front: Piece,
    policy_on: bool,
    audit: bool,
) -> std::net::SocketAddr {
    let dir = std::env::temp_dir().join(format!("secure-tool-auth-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("secure-tool.toml");
    std::fs::write(
        &policy,
        "[roles]\nreader = [\"fs.read\"]\n\n[principals]\nbench = { roles = [\"reader\"] }\n\n[tools.echo]\nrate = \"4000000000/sec\"\n",
    )
    .unwrap();
    let _ = Bench::tool_router();
    let mut security = Security::builder();
    if policy_on {
        security = security.policy_file(&policy).unwrap();
    }
    if audit {
        let trail = dir.join(format!("audit-{front:?}-{policy_on}.jsonl"));
        security = security
            .audit_log(
                secure_tool::AuditLog::new(trail)
                    .max_bytes(64 << 20)
                    .keep(0),
            )
            .unwrap();
    }
    let security = security.build();
    let front = match front {
        Piece::None => Front::None,
        Piece::Passthrough => Front::Passthrough,
        Piece::Layer => Front::Layer(
            ResourceServer::builder(AUD)
                .issuer(ISS, JwksSource::inline(keys.jwks.clone()))
                .build()
                .unwrap(),
        ),
    };
    listen(
        move || Bench {
            security: security.clone(),
            tool_router: Bench::tool_router(),
        },
        front,
    )
    .await
}

async fn echo(client: &Client) {
    let params = CallToolRequestParams::new("echo")
        .with_arguments(json!({"text": "hello"}).as_object().cloned().unwrap());
    let result = client.call_tool(params).await.unwrap();
    assert_ne!(result.is_error, Some(true));
}

/// The runtime every HTTP measurement here runs on: two workers, as many as this
/// machine's cores.
fn two_workers() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn http(c: &mut Criterion) {
    let runtime = two_workers();
    let keys = keys();
    let (bare, auth) = runtime.block_on(clients(&keys));
    let mut group = c.benchmark_group("http_tools_call");
    group.bench_function("bare", |b| b.to_async(&runtime).iter(|| echo(&bare)));
    group.bench_function("auth", |b| b.to_async(&runtime).iter(|| echo(&auth)));
    group.finish();
}

/// Median and quartiles of `after / before` over `rounds` alternating batches.
fn ratio(
    rounds: usize,
    mut before: impl FnMut() -> f64,
    mut after: impl FnMut() -> f64,
) -> [f64; 3] {
    before();
    after();
    let mut ratios: Vec<f64> = (0..rounds)
        .map(|round| {
            if round % 2 == 0 {
                let b = before();
                after() / b
            } else {
                let a = after();
                a / before()
            }
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let at = |q: f64| ratios[((ratios.len() - 1) as f64 * q).round() as usize];
    [at(0.5), at(0.25), at(0.75)]
}

/// The size of the future the layer makes for each request (around rmcp's service):
/// past 1 KiB it is a large-bin allocation, which costs a sweep of the allocator's fast
/// bins on every request.
fn request_future_size(keys: &Keys) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _entered = runtime.enter();
    let service = StreamableHttpService::new(
        || {
            Ok(BareRmcp {
                tool_router: BareRmcp::tool_router(),
            })
        },
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let layer = ResourceServer::builder(AUD)
        .issuer(ISS, JwksSource::inline(keys.jwks.clone()))
        .build()
        .unwrap();
    let mut layered = tower_layer::Layer::layer(&layer, service);
    let request = http::Request::post("/mcp")
        .body(http_body_util::Full::new(bytes::Bytes::from_static(b"{}")))
        .unwrap();
    let future = tower_service::Service::call(&mut layered, request);
    println!(
        "http_tools_call: the layer's future per request: {} bytes",
        size_of_val(&*future)
    );
}

fn interleaved(rounds: usize, batch: usize) {
    let runtime = two_workers();
    let keys = keys();
    request_future_size(&keys);
    let (bare, _) = runtime.block_on(clients(&keys));
    // A second server like it: bare against bare is the noise floor.
    let (bare_too, _) = runtime.block_on(clients(&keys));
    let time = |client: &Client| {
        runtime.block_on(async {
            let started = std::time::Instant::now();
            for _ in 0..batch {
                echo(client).await;
            }
            started.elapsed().as_secs_f64()
        })
    };
    let print = |label: &str, [median, low, high]: [f64; 3]| {
        println!(
            "http_tools_call interleaved ({rounds} rounds of {batch} calls a side): {label}: median {median:.3}x (quartiles {low:.3}x to {high:.3}x)"
        );
    };
    print(
        "bare rmcp / bare rmcp (the noise floor)",
        ratio(rounds, || time(&bare), || time(&bare_too)),
    );
    // Piece by piece, each against the step before it, alternating (what each part an
    // operator turns on costs), then the whole against bare rmcp.
    let plain = runtime.block_on(bare_rmcp(&keys));
    let mut before = (String::from("bare rmcp"), plain);
    for (label, front, policy, audit) in [
        ("secured", Piece::None, false, false),
        ("+ policy", Piece::None, true, false),
        ("+ audit trail", Piece::None, true, true),
        (
            "+ a layer that only reads the body (the floor of any such layer)",
            Piece::Passthrough,
            true,
            true,
        ),
        ("the OAuth layer instead", Piece::Layer, true, true),
    ] {
        let client = runtime.block_on(operated(&keys, front, policy, audit));
        print(
            &format!("{label} / {}", before.0),
            ratio(rounds, || time(&before.1), || time(&client)),
        );
        before = (label.to_owned(), client);
    }
    let plain = runtime.block_on(bare_rmcp(&keys));
    print(
        "secured + policy + audit trail + layer / bare rmcp",
        ratio(rounds, || time(&plain), || time(&before.1)),
    );
}

criterion_group!(benches, verify, http);

/// `AUTH_LOOP=bare|secured|policy|audit|passthrough|layer AUTH_CALLS=N`: only serve one of the
/// configurations of [`interleaved`] and make N calls on it, for callgrind or `perf` to
/// sample what a call over HTTP costs.
fn call_loop(mode: &str) {
    let calls: usize = std::env::var("AUTH_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let runtime = two_workers();
    let keys = keys();
    runtime.block_on(async {
        let addr = match mode.strip_prefix("http://") {
            // A server of `AUTH_SERVE` in another process.
            Some(rest) => rest.trim_end_matches("/mcp").parse().unwrap(),
            None => configuration(&keys, mode).await,
        };
        let client = connect(addr, &token(&keys)).await;
        for _ in 0..calls {
            echo(&client).await;
        }
    });
}

/// The server of one configuration of [`interleaved`], by name: its address.
async fn configuration(keys: &Keys, mode: &str) -> std::net::SocketAddr {
    match mode {
        "bare" => bare_at().await,
        "secured" => operated_at(keys, Piece::None, false, false).await,
        "policy" => operated_at(keys, Piece::None, true, false).await,
        "audit" => operated_at(keys, Piece::None, true, true).await,
        "passthrough" => operated_at(keys, Piece::Passthrough, true, true).await,
        "layer" => operated_at(keys, Piece::Layer, true, true).await,
        other => panic!("{other}: bare, secured, policy, audit, passthrough or layer"),
    }
}

/// `AUTH_SERVE=<configuration>`: serve it (on two workers, as a server process runs)
/// until standard input closes; its URL is the first line written.
fn serve_apart(mode: &str) {
    let runtime = two_workers();
    let keys = keys();
    runtime.block_on(async {
        let addr = configuration(&keys, mode).await;
        println!("http://{addr}/mcp");
        let _ = tokio::task::spawn_blocking(|| {
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new())
        })
        .await;
    });
    // The policy file and the audit trail `operated_at` wrote.
    let dir = std::env::temp_dir().join(format!("secure-tool-auth-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(dir);
}

/// Each configuration of [`interleaved`] served by a process of its own, as an MCP server
/// runs, and the clients in this process (one thread), so that what a piece costs the
/// server is measured apart from how the client's work and the server's share one
/// runtime. For a client that keeps its connection (as the official SDKs do) and for
/// rmcp's client (a connection a call): each server's own CPU time a call (all its
/// threads, the audit writer's too, user and system), then the wall-clock ratio of the
/// whole stack to bare rmcp in alternating rounds, with two bare servers as the noise
/// floor.
fn apart(rounds: usize, batch: usize) {
    let keys = keys();
    let token = token(&keys);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let servers: Vec<Served> = [
        "bare",
        "bare (2)",
        "secured",
        "policy",
        "audit",
        "passthrough",
        "layer",
    ]
    .into_iter()
    .map(|mode| Served::start(mode, &token, &runtime))
    .collect();
    // rmcp's client opens a connection for every call (it drops the answer's stream
    // before its end); the official SDKs' clients keep theirs: both are measured.
    let by_rmcp = |served: &Served| {
        runtime.block_on(async {
            let started = std::time::Instant::now();
            for _ in 0..batch {
                echo(&served.client).await;
            }
            started.elapsed().as_secs_f64()
        })
    };
    let kept = |served: &Served| {
        runtime.block_on(async {
            let started = std::time::Instant::now();
            for _ in 0..batch {
                served.kept.call().await;
            }
            started.elapsed().as_secs_f64()
        })
    };
    let clients: [(&str, &Batch); 2] = [
        ("one connection kept", &kept),
        ("rmcp's client, a connection a call", &by_rmcp),
    ];
    for (client, time) in clients {
        // CPU a call: every server in turn, round after round.
        let before: Vec<f64> = servers.iter().map(|s| cpu_seconds(&s.child)).collect();
        let mut wall = vec![0.0; servers.len()];
        for _ in 0..rounds / 2 {
            for (i, served) in servers.iter().enumerate() {
                wall[i] += time(served);
            }
        }
        let calls = (rounds / 2 * batch) as f64;
        for (i, served) in servers.iter().enumerate() {
            println!(
                "http_tools_call, servers apart, {client}: {:<12} {:6.1} µs of the server's CPU a call, {:6.1} µs a call (wall)",
                served.mode,
                (cpu_seconds(&served.child) - before[i]) / calls * 1e6,
                wall[i] / calls * 1e6,
            );
        }
        let (bare, bare_too, whole) = (&servers[0], &servers[1], &servers[6]);
        for (label, other) in [
            ("bare rmcp / bare rmcp (the noise floor)", bare_too),
            ("secured + policy + audit trail + layer / bare rmcp", whole),
        ] {
            let [median, low, high] = ratio(rounds, || time(bare), || time(other));
            println!(
                "http_tools_call, servers apart, {client} ({rounds} rounds of {batch} calls a side): {label}: median {median:.3}x (quartiles {low:.3}x to {high:.3}x)"
            );
        }
    }
    for served in servers {
        served.stop(&runtime);
    }
}

/// Time a batch of calls to one server.
type Batch<'a> = dyn Fn(&Served) -> f64 + 'a;

/// A client that keeps its connection, as the official SDKs' do: JSON-RPC posted by
/// `reqwest`, in a session, each answer read to its end.
struct KeepAlive {
    http: reqwest::Client,
    url: String,
    token: String,
    session: String,
    id: std::cell::Cell<u64>,
}

impl KeepAlive {
    async fn open(addr: std::net::SocketAddr, token: &str) -> Self {
        let http = reqwest::Client::new();
        let url = format!("http://{addr}/mcp");
        let initialize = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "bench", "version": "1"}}});
        let answer = Self::post(&http, &url, token, None, &initialize).await;
        let session = answer
            .headers()
            .get("mcp-session-id")
            .expect("a session")
            .to_str()
            .unwrap()
            .to_owned();
        answer.bytes().await.unwrap();
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        Self::post(&http, &url, token, Some(&session), &initialized)
            .await
            .bytes()
            .await
            .unwrap();
        Self {
            http,
            url,
            token: token.to_owned(),
            session,
            id: std::cell::Cell::new(1),
        }
    }

    async fn post(
        http: &reqwest::Client,
        url: &str,
        token: &str,
        session: Option<&str>,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        let mut request = http
            .post(url)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .body(body.to_string());
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        let answer = request.send().await.unwrap();
        assert!(answer.status().is_success(), "{}", answer.status());
        answer
    }

    async fn call(&self) {
        const SUCCESS: &[u8] = br#""isError":false"#;
        let id = self.id.get();
        self.id.set(id + 1);
        let call = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": "echo", "arguments": {"text": "hello"}}});
        let answer = Self::post(
            &self.http,
            &self.url,
            &self.token,
            Some(&self.session),
            &call,
        )
        .await
        .bytes()
        .await
        .unwrap();
        assert!(
            answer.windows(SUCCESS.len()).any(|w| w == SUCCESS),
            "{}",
            String::from_utf8_lossy(&answer)
        );
    }
}

/// A server of one configuration in a child process (`AUTH_SERVE`), and two clients of it.
struct Served {
    mode: &'static str,
    child: std::process::Child,
    /// rmcp's client.
    client: Client,
    /// A client that keeps its connection.
    kept: KeepAlive,
}

impl Served {
    fn start(mode: &'static str, token: &str, runtime: &tokio::runtime::Runtime) -> Self {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .env("AUTH_SERVE", mode.trim_end_matches(" (2)"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let addr: std::net::SocketAddr = line
            .trim()
            .trim_start_matches("http://")
            .trim_end_matches("/mcp")
            .parse()
            .unwrap_or_else(|_| panic!("the {mode} server did not start (it said {line:?})"));
        let client = runtime.block_on(connect(addr, token));
        let kept = runtime.block_on(KeepAlive::open(addr, token));
        Self {
            mode,
            child,
            client,
            kept,
        }
    }

    /// Close the client, then the server (it stops when its standard input closes).
    fn stop(mut self, runtime: &tokio::runtime::Runtime) {
        let _ = runtime.block_on(self.client.cancel());
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// The CPU time `child` has used so far (all its threads, user and system), in seconds:
/// the sum of its threads' `/proc/<pid>/task/<tid>/schedstat`, kept in nanoseconds (the
/// clock ticks of `/proc/<pid>/stat` are 10 ms, too coarse for a few µs a call). The
/// servers' threads (workers, the audit writer) live as long as the process.
fn cpu_seconds(child: &std::process::Child) -> f64 {
    let tasks = format!("/proc/{}/task", child.id());
    let nanos: u64 = std::fs::read_dir(&tasks)
        .unwrap_or_else(|e| panic!("{tasks}: {e}"))
        .map(|task| {
            let path = task.unwrap().path().join("schedstat");
            let stat = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            stat.split_whitespace()
                .next()
                .and_then(|ns| ns.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("{}: no time on the CPU", path.display()))
        })
        .sum();
    nanos as f64 / 1e9
}

fn main() {
    if let Ok(mode) = std::env::var("AUTH_SERVE") {
        return serve_apart(&mode);
    }
    if std::env::var("AUTH_ONLY").is_ok_and(|v| v == "apart") {
        return apart(41, 300);
    }
    if let Ok(mode) = std::env::var("AUTH_LOOP") {
        return call_loop(&mode);
    }
    // `AUTH_ONLY=ratio`: the interleaved ratios, without criterion.
    if !std::env::var("AUTH_ONLY").is_ok_and(|v| v == "ratio") {
        benches();
        Criterion::default().configure_from_args().final_summary();
    }
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this once, briefly.
    if std::env::args().any(|a| a == "--bench") {
        interleaved(41, 300);
    } else {
        interleaved(1, 10);
    }
}
