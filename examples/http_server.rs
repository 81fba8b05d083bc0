//! The file tools of `fs_server` over streamable HTTP, behind an OAuth 2.1 resource server:
//! every request needs a bearer JWT from the issuer, for this server (its audience), with
//! the tool's scopes.
//!
//! ```text
//! # 1. a local issuer: a key pair, its JWKS file and a token (for trying it out)
//! cargo run --example http_server -- --dev-token --scope fs.read
//! # 2. the server, trusting that issuer
//! cargo run --example http_server -- --root ./workspace --bind 127.0.0.1:8080 \
//!     --issuer https://dev.secure-tool.local --audience http://127.0.0.1:8080/mcp \
//!     --jwks /tmp/secure-tool-dev/jwks.json
//! ```
//!
//! MCP is served at `/mcp`; RFC 9728 metadata at `/.well-known/oauth-protected-resource`
//! and `/.well-known/oauth-protected-resource/mcp`. `--tools-list granted` lists only the
//! tools a caller holds the scopes of; `--scope-denial tool-error` answers a call without
//! the scopes with an `isError` result instead of HTTP 403. Only loopback hosts, the
//! `--bind` host, the audience's host and each `--allow-host` may appear in `Host`
//! (DNS-rebinding protection). `--cors-origin ORIGIN` (repeatable) lets browser clients
//! from ORIGIN in (CORS). `--require-at-jwt` accepts only `typ: at+jwt` tokens. Logs go
//! to stderr; `RUST_LOG` changes what is logged.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use secure_tool::Security;
use secure_tool::auth::{DevIssuer, JwksSource, ResourceServer, ScopeDenial, ToolsList};
use secure_tool::types::Sandbox;

#[path = "shared/fs.rs"]
mod fs;
#[path = "shared/logging.rs"]
mod logging;
#[path = "shared/operator.rs"]
mod operator;
#[path = "shared/shutdown.rs"]
mod shutdown;
use fs::FsServer;
use operator::Operator;

const USAGE: &str =
    "usage: http_server --root DIR --bind HOST:PORT --issuer ISS --audience AUD --jwks FILE
                   [--tools-list all|granted] [--scope-denial challenge|tool-error]
                   [--allow-host HOST]... [--cors-origin ORIGIN]... [--require-at-jwt]
                   [--leeway SECS] [--policy FILE] [--audit-log FILE] [--redis URL | --redis-url-env NAME | --redis-cluster URL...] [--redis-ca FILE] [--redis-prefix NAME] [--redis-fail-open]
       http_server --dev-token [--scope SCOPE]... [--sub NAME] [--ttl SECS]
                   [--issuer ISS] [--audience AUD] [--jwks FILE]
         (a local issuer for trying the server: adds a fresh key to the JWKS file and
          prints a token; defaults: --issuer https://dev.secure-tool.local,
          --audience http://127.0.0.1:8080/mcp, --jwks <tmp>/secure-tool-dev/jwks.json)";

const DEV_ISSUER: &str = "https://dev.secure-tool.local";
const DEV_AUDIENCE: &str = "http://127.0.0.1:8080/mcp";

struct Serve {
    root: PathBuf,
    bind: SocketAddr,
    issuer: String,
    audience: String,
    jwks: PathBuf,
    tools_list: ToolsList,
    scope_denial: ScopeDenial,
    allow_hosts: Vec<String>,
    cors_origins: Vec<String>,
    require_at_jwt: bool,
    leeway: Duration,
    operator: Operator,
}

struct DevToken {
    scopes: Vec<String>,
    sub: String,
    ttl: u64,
    issuer: String,
    audience: String,
    jwks: PathBuf,
}

enum Command {
    Serve(Box<Serve>),
    DevToken(DevToken),
}

fn parse_args() -> Result<Command, String> {
    let mut args = std::env::args().skip(1);
    let mut dev = false;
    let (mut root, mut bind, mut issuer, mut audience, mut jwks) = (None, None, None, None, None);
    let mut tools_list = ToolsList::All;
    let mut scope_denial = ScopeDenial::Challenge;
    let mut allow_hosts = Vec::new();
    let mut cors_origins = Vec::new();
    let mut require_at_jwt = false;
    let mut leeway = Duration::from_secs(10);
    let mut operator = Operator::default();
    let mut scopes = Vec::new();
    let mut sub = "dev-user".to_owned();
    let mut ttl = 3600;
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("`{arg}` needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--root" => root = Some(PathBuf::from(value()?)),
            "--bind" => {
                bind = Some(
                    value()?
                        .parse::<SocketAddr>()
                        .map_err(|_| format!("--bind takes HOST:PORT (an IP address)\n{USAGE}"))?,
                );
            }
            "--issuer" => issuer = Some(value()?),
            "--audience" => audience = Some(value()?),
            "--jwks" => jwks = Some(PathBuf::from(value()?)),
            "--tools-list" => {
                tools_list = match value()?.as_str() {
                    "all" => ToolsList::All,
                    "granted" => ToolsList::Granted,
                    _ => return Err(format!("--tools-list is `all` or `granted`\n{USAGE}")),
                };
            }
            "--scope-denial" => {
                scope_denial = match value()?.as_str() {
                    "challenge" => ScopeDenial::Challenge,
                    "tool-error" => ScopeDenial::ToolError,
                    _ => {
                        return Err(format!(
                            "--scope-denial is `challenge` or `tool-error`\n{USAGE}"
                        ));
                    }
                };
            }
            "--allow-host" => allow_hosts.push(value()?),
            "--cors-origin" => {
                let origin = value()?;
                let parsed = url::Url::parse(&origin)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                    .ok_or_else(|| {
                        format!(
                            "--cors-origin takes an origin such as https://app.example.com\n{USAGE}"
                        )
                    })?;
                cors_origins.push(parsed.origin().ascii_serialization());
            }
            "--require-at-jwt" => require_at_jwt = true,
            flag if operator.take(flag, &mut value)? => {}
            "--leeway" => {
                leeway = Duration::from_secs(
                    value()?
                        .parse()
                        .map_err(|_| format!("--leeway takes seconds\n{USAGE}"))?,
                );
            }
            "--dev-token" => dev = true,
            "--scope" => scopes.push(value()?),
            "--sub" => sub = value()?,
            "--ttl" => {
                ttl = value()?
                    .parse()
                    .map_err(|_| format!("--ttl takes seconds\n{USAGE}"))?;
            }
            "--help" | "-h" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    if dev {
        return Ok(Command::DevToken(DevToken {
            scopes,
            sub,
            ttl,
            issuer: issuer.unwrap_or_else(|| DEV_ISSUER.into()),
            audience: audience.unwrap_or_else(|| DEV_AUDIENCE.into()),
            jwks: jwks.unwrap_or_else(|| std::env::temp_dir().join("secure-tool-dev/jwks.json")),
        }));
    }
    let missing = |name: &str| format!("{name} is required\n{USAGE}");
    Ok(Command::Serve(Box::new(Serve {
        root: root.ok_or_else(|| missing("--root"))?,
        bind: bind.ok_or_else(|| missing("--bind"))?,
        issuer: issuer.ok_or_else(|| missing("--issuer"))?,
        audience: audience.ok_or_else(|| missing("--audience"))?,
        jwks: jwks.ok_or_else(|| missing("--jwks"))?,
        tools_list,
        scope_denial,
        allow_hosts,
        cors_origins,
        require_at_jwt,
        leeway,
        operator,
    })))
}

/// Add a fresh key to the JWKS file (keeping the keys already there, so earlier tokens
/// stay valid and a running server picks the new key up) and print a token signed with it.
fn dev_token(dev: DevToken) -> anyhow::Result<()> {
    let issuer = DevIssuer::new(dev.issuer.clone());
    let mut keys: Vec<serde_json::Value> = std::fs::read(&dev.jwks)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|doc| doc.get("keys").and_then(|k| k.as_array()).cloned())
        .unwrap_or_default();
    let ours: serde_json::Value = serde_json::from_str(&issuer.jwks())?;
    keys.extend(ours["keys"].as_array().cloned().unwrap_or_default());
    if let Some(dir) = dev.jwks.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // Written beside the file and renamed over it: a server never reads half a file.
    let partial = dev.jwks.with_extension("json.partial");
    std::fs::write(&partial, serde_json::json!({ "keys": keys }).to_string())?;
    std::fs::rename(&partial, &dev.jwks)?;
    let scopes: Vec<&str> = dev.scopes.iter().map(String::as_str).collect();
    let token = issuer.token(&dev.audience, &dev.sub, &scopes, dev.ttl);
    println!("jwks: {}", dev.jwks.display());
    println!("issuer: {}", dev.issuer);
    println!("audience: {}", dev.audience);
    println!("token: {token}");
    eprintln!(
        "serve with: cargo run --example http_server -- --root DIR --bind 127.0.0.1:8080 --issuer {} --audience {} --jwks {}",
        dev.issuer,
        dev.audience,
        dev.jwks.display()
    );
    Ok(())
}

/// The origins allowed for CORS: the `--cors-origin`s and, when there are any, the
/// audience's own origin (the layer refuses every other origin once a list is given).
fn cors_origins(args: &Serve) -> Vec<String> {
    let mut origins = args.cors_origins.clone();
    if !origins.is_empty()
        && let Ok(url) = url::Url::parse(&args.audience)
        && matches!(url.scheme(), "http" | "https")
    {
        origins.push(url.origin().ascii_serialization());
    }
    origins
}

async fn serve(args: Serve) -> anyhow::Result<()> {
    let sandbox = Sandbox::open(&args.root)
        .map_err(|e| anyhow::anyhow!("cannot open --root {}: {e}", args.root.display()))?;
    // Tools register when their router is built: before the metadata is first asked for.
    FsServer::register();
    // One Security for every session: rate limits hold across sessions. Its policy
    // (`--policy`) maps token subjects and token scopes to roles, reloaded live.
    let security = args
        .operator
        .apply(Security::builder())
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .build();
    let _watch = args.operator.watch(&security)?;
    let auth = ResourceServer::builder(args.audience.clone())
        .security(&security)
        .issuer(args.issuer.clone(), JwksSource::file(&args.jwks))
        .leeway(args.leeway)
        .tools_list(args.tools_list)
        .scope_denial(args.scope_denial)
        .cors_origins(cors_origins(&args))
        .require_at_jwt(args.require_at_jwt)
        .resource_name("secure-tool file server")
        .build()
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    // DNS-rebinding protection: only these hosts may appear in `Host`, and a browser
    // `Origin` must be the audience's or one allowed for CORS.
    let mut hosts: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    hosts.push(args.bind.ip().to_string());
    let audience = url::Url::parse(&args.audience).ok();
    if let Some(host) = audience.as_ref().and_then(|u| u.host_str()) {
        hosts.push(host.trim_matches(['[', ']']).to_owned());
    }
    hosts.extend(args.allow_hosts.iter().cloned());
    // Cancelled once the grace period after SIGTERM is over: every session (and its SSE
    // streams) ends, so the server's connections close.
    let sessions = tokio_util::sync::CancellationToken::new();
    let mut config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts)
        .with_cancellation_token(sessions.clone());
    let mut origins = args.cors_origins.clone();
    if let Some(url) = audience.filter(|u| matches!(u.scheme(), "http" | "https")) {
        origins.push(url.origin().ascii_serialization());
    }
    if !origins.is_empty() {
        config = config.with_allowed_origins(origins);
    }

    let served = security.clone();
    let service = StreamableHttpService::new(
        move || Ok(FsServer::new(served.clone(), sandbox.clone())),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let app = axum::Router::new()
        .nest_service("/mcp", service)
        .layer(auth);
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|e| anyhow::anyhow!("cannot bind {}: {e}", args.bind))?;
    let addr = listener.local_addr()?;
    // TCP_NODELAY on every connection: an answer is streamed in several small writes, and
    // without it the kernel holds the last one back until the client acknowledges the one
    // before, which a client keeping its connection (the official SDKs do) delays by up to
    // 40 ms: a stall on every call.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    println!("listening on http://{addr}");
    eprintln!("MCP endpoint: http://{addr}/mcp");
    eprintln!("metadata: http://{addr}/.well-known/oauth-protected-resource/mcp");
    // SIGTERM or SIGINT: stop accepting connections at once; requests in flight go on
    // for the grace period, then every session is ended; the trail is written out last.
    let stopping = tokio_util::sync::CancellationToken::new();
    let server =
        axum::serve(listener, app).with_graceful_shutdown(stopping.clone().cancelled_owned());
    let mut server = std::pin::pin!(server.into_future());
    tokio::select! {
        result = &mut server => result?,
        () = shutdown::signalled() => {
            stopping.cancel();
            if tokio::time::timeout(shutdown::GRACE, &mut server).await.is_err() {
                sessions.cancel();
                let _ = tokio::time::timeout(Duration::from_secs(1), &mut server).await;
            }
        }
    }
    drop(_watch);
    shutdown::finish(&security)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    logging::init();
    let command = match parse_args() {
        Ok(command) => command,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    match command {
        Command::DevToken(dev) => dev_token(dev),
        Command::Serve(args) => serve(*args).await,
    }
}
