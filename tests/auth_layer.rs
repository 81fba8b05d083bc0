//! `secure_tool::auth::ResourceServer` as a library: in front of rmcp's streamable HTTP
//! service in this process, with keys inline or fetched from a JWKS URL.
mod auth_support;
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use auth_support::{ISS, Signer, claims};
use common::TestServer;
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use secure_tool::auth::{
    Algorithm, ConfigError, DevIssuer, JwksSource, ResourceServer, TokenError,
};
use secure_tool::{Principal, Security};
use serde_json::{Value, json};

/// The resource every test here protects.
const AUD: &str = "https://mcp.test/mcp";

/// A resource server for `AUD` that trusts `issuer` (its keys inline).
fn trusting(issuer: &DevIssuer) -> secure_tool::auth::ResourceServerBuilder {
    ResourceServer::builder(AUD).issuer(ISS, JwksSource::inline(issuer.jwks()))
}

/// Serve `TestServer` behind `auth` on a free port; returns the MCP URL.
async fn serve(auth: ResourceServer) -> String {
    let security = Security::default();
    let _register = TestServer::new(security.clone());
    let service = StreamableHttpService::new(
        move || Ok(TestServer::new(security.clone())),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let app = axum::Router::new()
        .nest_service("/mcp", service)
        .layer(auth);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/mcp")
}

async fn post(url: &str, token: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

fn call(name: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": name, "arguments": {}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_challenge_names_every_scope_the_tool_needs() {
    let issuer = DevIssuer::new(ISS);
    let aud = AUD;
    let auth = trusting(&issuer).build().unwrap();
    let url = serve(auth).await;
    let token = issuer.token(aud, "alice", &["a"], 600);
    let response = post(&url, &token, &call("needs_two")).await;
    assert_eq!(response.status(), 403);
    let header = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        header.starts_with("Bearer error=\"insufficient_scope\", scope=\"a b\", resource_metadata=\"https://mcp.test/.well-known/oauth-protected-resource/mcp\""),
        "{header}"
    );
    // Calls with every scope, and public tools, go through to the server.
    let token = issuer.token(aud, "alice", &["a", "b"], 600);
    assert_ne!(post(&url, &token, &call("needs_two")).await.status(), 403);
    let token = issuer.token(aud, "alice", &[], 600);
    assert_ne!(post(&url, &token, &call("sync_echo")).await.status(), 403);
    // A batch that hides the call among others never reaches the server: rmcp reads no
    // batch, and the layer refuses what it would not judge.
    let batch = json!([call("sync_echo"), call("needs_two")]);
    assert_eq!(post(&url, &token, &batch).await.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_refused_before_they_are_read_whole() {
    let issuer = DevIssuer::new(ISS);
    let aud = AUD;
    let auth = trusting(&issuer).max_body_bytes(1024).build().unwrap();
    let url = serve(auth).await;
    let token = issuer.token(aud, "alice", &["echo"], 600);
    let big = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "x".repeat(4096)}}});
    assert_eq!(post(&url, &token, &big).await.status(), 413);
}

#[tokio::test]
async fn tokens_are_cached_only_until_they_expire() {
    let issuer = DevIssuer::new(ISS);
    let aud = AUD;
    let server = trusting(&issuer).leeway(Duration::ZERO).build().unwrap();
    let now = auth_support::now();
    let token = issuer.sign(&json!({"iss": ISS, "aud": aud, "sub": "alice", "exp": now + 2}));
    assert_eq!(server.verify(&token).await.unwrap().id(), "alice");
    assert_eq!(server.verify(&token).await.unwrap().id(), "alice");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(server.verify(&token).await, Err(TokenError::Expired));
}

#[tokio::test]
async fn several_issuers_keep_their_subjects_apart() {
    let first = DevIssuer::new("https://one.test");
    let second = DevIssuer::new("https://two.test");
    let aud = AUD;
    let server = ResourceServer::builder(aud)
        .issuer("https://one.test", JwksSource::inline(first.jwks()))
        .issuer("https://two.test", JwksSource::inline(second.jwks()))
        .build()
        .unwrap();
    let a = server
        .verify(&first.token(aud, "alice", &["x"], 600))
        .await
        .unwrap();
    let b = server
        .verify(&second.token(aud, "alice", &[], 600))
        .await
        .unwrap();
    assert_eq!(a.id(), "https://one.test#alice");
    assert_eq!(b.id(), "https://two.test#alice");
    assert_ne!(a, b);
    // One issuer's key never verifies a token claiming to be from the other.
    let mut claims = claims(aud, "alice", "x");
    claims["iss"] = json!("https://two.test");
    assert_eq!(
        server.verify(&first.sign(&claims)).await,
        Err(TokenError::UnknownKey)
    );
    claims["iss"] = json!("https://three.test");
    assert_eq!(
        server.verify(&first.sign(&claims)).await,
        Err(TokenError::WrongIssuer)
    );
}

#[tokio::test]
async fn the_principal_can_come_from_another_claim() {
    let issuer = DevIssuer::new(ISS);
    let aud = AUD;
    let server = trusting(&issuer)
        .principal_claim("client_id")
        .build()
        .unwrap();
    let mut claims = claims(aud, "user-1", "fs.read");
    claims["client_id"] = json!("agent-7");
    let caller: Principal = server.verify(&issuer.sign(&claims)).await.unwrap();
    assert_eq!(caller.id(), "agent-7");
    claims.as_object_mut().unwrap().remove("client_id");
    assert_eq!(
        server.verify(&issuer.sign(&claims)).await,
        Err(TokenError::MissingPrincipal)
    );
}

#[test]
fn configurations_that_cannot_be_safe_are_refused() {
    let issuer = DevIssuer::new(ISS);
    let build = |algs: &[Algorithm]| {
        ResourceServer::builder("https://mcp.test/mcp")
            .issuer(ISS, JwksSource::inline(issuer.jwks()))
            .algorithms(algs.iter().copied())
            .build()
    };
    assert!(matches!(
        build(&[Algorithm::RS256, Algorithm::HS256]),
        Err(ConfigError::SymmetricAlgorithm)
    ));
    assert!(matches!(build(&[]), Err(ConfigError::NoAlgorithm)));
    assert!(matches!(
        ResourceServer::builder("https://mcp.test/mcp").build(),
        Err(ConfigError::NoIssuer)
    ));
    assert!(matches!(
        ResourceServer::builder("https://mcp.test/mcp")
            .issuer(ISS, JwksSource::inline("{ not json"))
            .build(),
        Err(ConfigError::Jwks(_))
    ));
    assert!(matches!(
        ResourceServer::builder("https://mcp.test/mcp")
            .issuer(ISS, JwksSource::file("/nonexistent/jwks.json"))
            .build(),
        Err(ConfigError::Jwks(_))
    ));
    assert!(JwksSource::url("http://issuer.example/jwks").is_err());
    assert!(JwksSource::url("ftp://issuer.example/jwks").is_err());
    assert!(JwksSource::url("http://127.0.0.1:9/jwks").is_ok());
}

#[tokio::test]
async fn keys_that_must_not_verify_are_skipped_not_trusted() {
    let signer = Signer::new();
    let aud = AUD;
    let good = claims(aud, "alice", "x");
    let rsa = signer.rsa_jwk();
    let mut declared_es = rsa.clone();
    declared_es["kid"] = json!("rsa-as-es");
    declared_es["alg"] = json!("ES256");
    let mut encryption = rsa.clone();
    encryption["kid"] = json!("rsa-enc");
    encryption["use"] = json!("enc");
    let oct = json!({"kty": "oct", "kid": "shared", "k": auth_support::b64(b"a shared secret of 32 bytes!!!!!")});
    let jwks = json!({"keys": [declared_es, encryption, oct, {"kty": "weird"}]});
    let server = ResourceServer::builder(aud)
        .issuer(ISS, JwksSource::inline(jwks.to_string()))
        .build()
        .unwrap();
    let refused = |t: String| {
        let server = server.clone();
        async move { server.verify(&t).await.unwrap_err() }
    };
    assert_eq!(
        refused(signer.sign(Algorithm::RS256, Some("rsa-as-es"), &good)).await,
        TokenError::UnknownKey
    );
    assert_eq!(
        refused(signer.sign(Algorithm::RS256, Some("rsa-enc"), &good)).await,
        TokenError::UnknownKey
    );
    assert_eq!(
        refused(auth_support::hs256(
            Some("shared"),
            &good,
            b"a shared secret of 32 bytes!!!!!"
        ))
        .await,
        TokenError::AlgorithmNotAllowed
    );
    // An RSA key whose JWK says RS256 does not verify PS256 tokens.
    let mut pinned = signer.rsa_jwk();
    pinned["alg"] = json!("RS256");
    let server = ResourceServer::builder(aud)
        .issuer(
            ISS,
            JwksSource::inline(json!({"keys": [pinned]}).to_string()),
        )
        .build()
        .unwrap();
    assert_eq!(
        server
            .verify(&signer.sign(Algorithm::PS256, Some("rsa-1"), &good))
            .await,
        Err(TokenError::AlgorithmMismatch)
    );
    assert!(
        server
            .verify(&signer.sign(Algorithm::RS256, Some("rsa-1"), &good))
            .await
            .is_ok()
    );
}

/// A JWKS endpoint that counts its fetches and can be taken down.
struct Issuer {
    url: String,
    fetches: Arc<AtomicUsize>,
    down: Arc<AtomicBool>,
    jwks: Arc<std::sync::Mutex<String>>,
}

async fn jwks_endpoint(jwks: String) -> Issuer {
    let fetches = Arc::new(AtomicUsize::new(0));
    let down = Arc::new(AtomicBool::new(false));
    let jwks = Arc::new(std::sync::Mutex::new(jwks));
    let (f, d, j) = (fetches.clone(), down.clone(), jwks.clone());
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let (f, d, j) = (f.clone(), d.clone(), j.clone());
            async move {
                f.fetch_add(1, Ordering::SeqCst);
                if d.load(Ordering::SeqCst) {
                    (http::StatusCode::INTERNAL_SERVER_ERROR, String::new())
                } else {
                    (http::StatusCode::OK, j.lock().unwrap().clone())
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Issuer {
        url: format!("http://{addr}/jwks.json"),
        fetches,
        down,
        jwks,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_url_is_fetched_once_and_a_kid_flood_cannot_hammer_it() {
    let dev = DevIssuer::new(ISS);
    let issuer = jwks_endpoint(dev.jwks()).await;
    let aud = AUD;
    let server = ResourceServer::builder(aud)
        .issuer(ISS, JwksSource::url(&issuer.url).unwrap())
        .refresh_interval(Duration::from_secs(60))
        .build()
        .unwrap();
    assert_eq!(
        issuer.fetches.load(Ordering::SeqCst),
        0,
        "fetched on first use"
    );
    for i in 0..20 {
        let token = dev.token(aud, &format!("user-{i}"), &[], 600);
        server.verify(&token).await.unwrap();
    }
    assert_eq!(issuer.fetches.load(Ordering::SeqCst), 1);
    // A flood of made-up key ids: one refresh at most in the interval.
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let server = server.clone();
            let token = DevIssuer::new(ISS).token(aud, "mallory", &[], 600);
            tokio::spawn(async move { server.verify(&token).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), Err(TokenError::UnknownKey));
    }
    assert!(
        issuer.fetches.load(Ordering::SeqCst) <= 2,
        "{}",
        issuer.fetches.load(Ordering::SeqCst)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_kid_at_the_url_is_fetched_and_a_failing_url_keeps_the_last_good_keys() {
    let dev = DevIssuer::new(ISS);
    let issuer = jwks_endpoint(dev.jwks()).await;
    let aud = AUD;
    let server = ResourceServer::builder(aud)
        .issuer(ISS, JwksSource::url(&issuer.url).unwrap())
        .refresh_interval(Duration::ZERO)
        .max_key_age(Duration::from_millis(200))
        .build()
        .unwrap();
    assert_eq!(server.prefetch().await, 1);
    // Rotation: the issuer publishes a new key; its first token triggers a fetch.
    let next = DevIssuer::new(ISS);
    let both = json!({"keys": [
        serde_json::from_str::<Value>(&dev.jwks()).unwrap()["keys"][0],
        serde_json::from_str::<Value>(&next.jwks()).unwrap()["keys"][0],
    ]});
    *issuer.jwks.lock().unwrap() = both.to_string();
    assert_eq!(
        server
            .verify(&next.token(aud, "alice", &[], 600))
            .await
            .unwrap()
            .id(),
        "alice"
    );
    // The issuer goes down; the keys grow old; the last good ones still verify.
    issuer.down.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = issuer.fetches.load(Ordering::SeqCst);
    assert_eq!(
        server
            .verify(&dev.token(aud, "bob", &[], 600))
            .await
            .unwrap()
            .id(),
        "bob"
    );
    assert!(
        issuer.fetches.load(Ordering::SeqCst) > before,
        "a refresh was tried"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_that_never_loaded_fail_closed_with_503() {
    let dev = DevIssuer::new(ISS);
    let issuer = jwks_endpoint(dev.jwks()).await;
    issuer.down.store(true, Ordering::SeqCst);
    let aud = AUD;
    let auth = ResourceServer::builder(aud)
        .issuer(ISS, JwksSource::url(&issuer.url).unwrap())
        .build()
        .unwrap();
    assert_eq!(auth.prefetch().await, 0);
    let url = serve(auth).await;
    let response = post(
        &url,
        &dev.token(aud, "alice", &["echo"], 600),
        &call("echo"),
    )
    .await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn a_key_replaced_under_the_same_kid_is_picked_up_from_the_file() {
    let dir = auth_support::TempDir::new("same-kid");
    let path = dir.0.join("jwks.json");
    let (first, first_jwk) = auth_support::ed25519("k");
    auth_support::write_jwks(&path, &json!({"keys": [first_jwk]}));
    let aud = AUD;
    let server = ResourceServer::builder(aud)
        .issuer(ISS, JwksSource::file(&path))
        .build()
        .unwrap();
    let sign = |key, sub: &str| auth_support::sign_ed(key, "k", &claims(aud, sub, "x"));
    assert!(server.verify(&sign(&first, "alice")).await.is_ok());

    let (second, second_jwk) = auth_support::ed25519("k");
    auth_support::write_jwks(&path, &json!({"keys": [second_jwk]}));
    assert_eq!(
        server.verify(&sign(&second, "bob")).await.unwrap().id(),
        "bob"
    );
    // The replaced key verifies nothing any more, cached or not.
    assert_eq!(
        server.verify(&sign(&first, "carol")).await,
        Err(TokenError::BadSignature)
    );
    assert_eq!(
        server.verify(&sign(&first, "alice")).await,
        Err(TokenError::BadSignature)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_keyed_by_the_verified_subject() {
    use rmcp::ServiceExt;
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

    let issuer = DevIssuer::new(ISS);
    let aud = AUD;
    let auth = trusting(&issuer).build().unwrap();
    let url = serve(auth).await;
    let connect = |sub: &str| {
        let config = StreamableHttpClientTransportConfig::with_uri(url.clone())
            .auth_header(issuer.token(aud, sub, &[], 600));
        ().serve(StreamableHttpClientTransport::from_config(config))
    };
    let limited = || rmcp::model::CallToolRequestParams::new("limited");
    // Alice spends her budget across two sessions (two tokens, the same subject).
    let alice = connect("alice").await.unwrap();
    for _ in 0..2 {
        common::ok_text(&alice.call_tool(limited()).await.unwrap());
    }
    let alice_again = connect("alice").await.unwrap();
    common::ok_text(&alice_again.call_tool(limited()).await.unwrap());
    let refused = common::error_text(&alice_again.call_tool(limited()).await.unwrap());
    assert!(refused.starts_with("rate limit"), "{refused}");
    // Bob's budget is his own.
    let bob = connect("bob").await.unwrap();
    common::ok_text(&bob.call_tool(limited()).await.unwrap());
}

/// The benign corpus of the token check: every shape a real issuer writes must pass.
#[tokio::test]
async fn tokens_as_real_issuers_write_them_are_accepted() {
    let signer = Signer::new();
    // Ed25519 alone: a token without `kid` finds the issuer's one key of its algorithm.
    let (ed, ed_jwk) = auth_support::ed25519("ed");
    // The RSA key as many issuers publish it: no `alg`, so any RSA algorithm may use it.
    let mut jwks = signer.jwks();
    jwks["keys"][0].as_object_mut().unwrap().remove("alg");
    let server = ResourceServer::builder(AUD)
        .issuer(ISS, JwksSource::inline(jwks.to_string()))
        .build()
        .unwrap();
    let lone = ResourceServer::builder(AUD)
        .issuer(
            ISS,
            JwksSource::inline(json!({"keys": [ed_jwk]}).to_string()),
        )
        .build()
        .unwrap();
    let now = auth_support::now();
    let with = |patch: Value| {
        let mut c = claims(AUD, "alice", "fs.read");
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    };
    let typed = |typ: Option<&str>, c: &Value| {
        let mut header = jsonwebtoken::Header::new(Algorithm::RS256);
        header.kid = Some("rsa-1".into());
        header.typ = typ.map(str::to_owned);
        jsonwebtoken::encode(&header, c, &signer.rsa).unwrap()
    };
    let corpus = [
        ("plain", signer.rs256(&with(json!({})))),
        ("typ JWT", typed(Some("JWT"), &with(json!({})))),
        (
            "typ at+jwt (RFC 9068)",
            typed(Some("at+jwt"), &with(json!({}))),
        ),
        (
            "typ application/at+jwt",
            typed(Some("application/at+jwt"), &with(json!({}))),
        ),
        ("no typ", typed(None, &with(json!({})))),
        (
            "no nbf, no iat",
            signer.rs256(&with(json!({"nbf": null, "iat": null}))),
        ),
        (
            "fractional exp",
            signer.rs256(&with(json!({"exp": now as f64 + 600.5}))),
        ),
        (
            "nbf just inside the leeway",
            signer.rs256(&with(json!({"nbf": now + 5}))),
        ),
        (
            "audience array",
            signer.rs256(&with(json!({"aud": ["https://other.test", AUD]}))),
        ),
        (
            "scope as an array",
            signer.rs256(&with(json!({"scope": ["fs.read", "fs.write"]}))),
        ),
        (
            "scp as a string",
            signer.rs256(&with(json!({"scope": null, "scp": "fs.read fs.write"}))),
        ),
        (
            "no scope at all",
            signer.rs256(&with(json!({"scope": null}))),
        ),
        (
            "an email subject",
            signer.rs256(&with(json!({"sub": "alice@example.com"}))),
        ),
        (
            "a Persian subject",
            signer.rs256(&with(json!({"sub": "کاربر-۱"}))),
        ),
        (
            "an emoji subject",
            signer.rs256(&with(json!({"sub": "🦀 crab"}))),
        ),
        (
            "unknown claims",
            signer.rs256(&with(
                json!({"tenant": {"id": 7}, "roles": ["a"], "azp": "cli"}),
            )),
        ),
        (
            "ES256",
            signer.sign(Algorithm::ES256, Some("ec-1"), &with(json!({}))),
        ),
        (
            "EdDSA",
            signer.sign(Algorithm::EdDSA, None, &with(json!({}))),
        ),
        (
            "PS256 under an RSA key without alg",
            signer.sign(Algorithm::PS256, Some("rsa-1"), &with(json!({}))),
        ),
    ];
    for (name, token) in &corpus {
        let caller = server.verify(token).await;
        assert!(caller.is_ok(), "{name}: {caller:?}");
    }
    let caller = server.verify(&corpus[9].1).await.unwrap();
    assert!(caller.has_scope("fs.write"), "scope arrays are read");
    assert_eq!(server.verify(&corpus[13].1).await.unwrap().id(), "کاربر-۱");
    // No `kid`: the set's one Ed25519 key.
    let mut header = jsonwebtoken::Header::new(Algorithm::EdDSA);
    header.kid = None;
    let token = jsonwebtoken::encode(&header, &with(json!({})), &ed).unwrap();
    assert!(lone.verify(&token).await.is_ok());
}

/// The benign corpus of the layer: requests it must pass to the server untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_layer_passes_what_the_token_allows() {
    let issuer = DevIssuer::new(ISS);
    let url = serve(trusting(&issuer).build().unwrap()).await;
    let token = issuer.token(AUD, "alice", &["echo", "a", "b"], 600);
    let messages = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        call("needs_two"),
        call("echo"),
        call("sync_echo"),
        // Unknown or malformed calls are the server's to answer, not the layer's.
        call("no_such_tool"),
        json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call"}),
        json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": 7}}),
        json!([call("needs_two"), call("echo")]),
    ];
    for message in &messages {
        let status = post(&url, &token, message).await.status();
        assert!(
            status != 401 && status != 403 && status != 413,
            "{message}: {status}"
        );
    }
    // And a body that is not JSON at all reaches the server, which refuses it itself.
    let response = reqwest::Client::new()
        .post(&url)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body("{ not json")
        .send()
        .await
        .unwrap();
    assert!(![401, 403, 413].contains(&response.status().as_u16()));
}

/// An inner service that counts its clones and answers 200 only on the instance that was
/// polled ready (a clone is not ready).
struct Probe {
    clones: Arc<AtomicUsize>,
    ready: bool,
}

impl Clone for Probe {
    fn clone(&self) -> Self {
        self.clones.fetch_add(1, Ordering::SeqCst);
        Self {
            clones: Arc::clone(&self.clones),
            ready: false,
        }
    }
}

impl tower_service::Service<http::Request<http_body_util::Full<bytes::Bytes>>> for Probe {
    type Response = http::Response<http_body_util::Full<bytes::Bytes>>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.ready = true;
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<http_body_util::Full<bytes::Bytes>>) -> Self::Future {
        let status = if self.ready { 200 } else { 500 };
        std::future::ready(Ok(http::Response::builder()
            .status(status)
            .body(http_body_util::Full::default())
            .unwrap()))
    }
}

/// The layer keeps `Service`'s contract (the instance polled ready takes the request)
/// and clones the inner service once a request, also when a router clones the layered
/// service for each request as axum does.
#[tokio::test]
async fn the_polled_inner_service_takes_the_request_cloned_once() {
    use tower_service::Service as _;
    let issuer = DevIssuer::new(ISS);
    let token = issuer.token(AUD, "alice", &[], 600);
    let clones = Arc::new(AtomicUsize::new(0));
    let probe = Probe {
        clones: Arc::clone(&clones),
        ready: false,
    };
    let layered = tower_layer::Layer::layer(&trusting(&issuer).build().unwrap(), probe);
    for round in 1..=3 {
        let mut service = layered.clone();
        std::future::poll_fn(|cx| {
            tower_service::Service::<http::Request<http_body_util::Full<bytes::Bytes>>>::poll_ready(
                &mut service,
                cx,
            )
        })
        .await
        .unwrap();
        let request = http::Request::post("/mcp")
            .header("authorization", format!("Bearer {token}"))
            .body(http_body_util::Full::new(bytes::Bytes::from_static(b"{}")))
            .unwrap();
        let response = service.call(request).await.unwrap();
        assert_eq!(response.status(), 200, "round {round}");
        assert_eq!(clones.load(Ordering::SeqCst), round, "clones after {round}");
    }
}
