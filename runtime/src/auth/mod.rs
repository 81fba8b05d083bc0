//! An OAuth 2.1 resource server for MCP over streamable HTTP (feature `jwt`).
//!
//! [`ResourceServer`] is a tower [`Layer`](tower_layer::Layer): put it in front of rmcp's
//! `StreamableHttpService` (or an axum router holding it) and every request must carry a
//! bearer JWT that this server can verify, as the MCP authorization specification asks:
//!
//! - the signature, with keys from a JWKS file, inline JSON or an HTTPS URL
//!   ([`JwksSource`]); each key verifies only the algorithms of its own family, and only
//!   those on an explicit allowlist (never `none`, never HMAC);
//! - the issuer, the **audience** (this server's canonical resource URI, RFC 8707: a token
//!   minted for another resource is refused, so tokens cannot be passed through), `exp` and
//!   `nbf` with a small leeway;
//! - the caller: its id from `sub` (or the claim you name) and its scopes from `scope` or
//!   `scp`, as a [`Principal`] in the request's extensions, where every `#[secure_tool]`
//!   finds it for permission checks, rate-limit keys and audit events.
//!
//! It also serves the RFC 9728 protected resource metadata, with `scopes_supported`
//! computed from the secured tools' declarations ([`Security::manifest`](crate::Security::manifest):
//! every tool whose server's router has been built), and answers as the specification says:
//!
//! | request | answer |
//! |---|---|
//! | no bearer token | `401`, `WWW-Authenticate: Bearer resource_metadata="…"` |
//! | invalid, expired, not yet valid, wrong audience or issuer, unknown key | `401`, the same plus `error="invalid_token"` |
//! | `tools/call` of a tool whose scopes the token lacks | `403`, `WWW-Authenticate: Bearer error="insufficient_scope", scope="<every scope the tool needs>", resource_metadata="…"` ([`ScopeDenial::Challenge`], the default) |
//! | the metadata paths | the metadata document, without authentication |
//!
//! ```no_run
//! use std::sync::Arc;
//! use rmcp::transport::streamable_http_server::{
//!     StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
//! };
//! use secure_tool::auth::{JwksSource, ResourceServer};
//! use secure_tool::Security;
//! # #[derive(Clone)] struct Server;
//! # impl rmcp::ServerHandler for Server {}
//! # impl Server { fn new(_: Security) -> Self { Server } }
//!
//! # async fn run() -> anyhow::Result<()> {
//! let security = Security::default();
//! let auth = ResourceServer::builder("https://mcp.example.com/mcp")
//!     .issuer("https://login.example.com", JwksSource::file("/etc/mcp/jwks.json"))
//!     .build()?;
//! let mcp = StreamableHttpService::new(
//!     move || Ok(Server::new(security.clone())),
//!     Arc::new(LocalSessionManager::default()),
//!     StreamableHttpServerConfig::default(),
//! );
//! let app = axum::Router::new().nest_service("/mcp", mcp).layer(auth);
//! // TCP_NODELAY: an answer is streamed in small writes, and a client that keeps its
//! // connection would otherwise wait up to 40 ms for the last of them on every call.
//! let listener = axum::serve::ListenerExt::tap_io(
//!     tokio::net::TcpListener::bind("127.0.0.1:8080").await?,
//!     |tcp| { let _ = tcp.set_nodelay(true); },
//! );
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! Put the layer on the router (`.layer(auth)`), not inside `nest_service`: it serves the
//! metadata at `/.well-known/oauth-protected-resource` and at that path followed by the
//! resource's path (`…/mcp`), and it needs to see those paths.
//!
//! Not supported: opaque tokens (token introspection), DPoP or mTLS-bound tokens, and
//! encrypted (JWE) tokens; such tokens are refused as invalid.

mod body;
mod cors;
mod keys;
mod layer;
mod list;
mod session;
mod verify;

use std::sync::Arc;
use std::time::Duration;

pub use body::AuthBody;
pub use jsonwebtoken::Algorithm;
pub use keys::JwksSource;
pub use layer::AuthService;

use crate::identity::Principal;

/// Why a bearer token was refused. The text says what is wrong and never echoes the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// No bearer token in the `Authorization` header.
    #[error("this server requires a bearer token")]
    Missing,
    /// Not a JWT this server can read (also: `crit` extensions, too long).
    #[error("the token is not a well-formed JWT")]
    Malformed,
    /// The token's `alg` is not on the allowlist (`none` and HMAC never are).
    #[error("the token's signing algorithm is not accepted")]
    AlgorithmNotAllowed,
    /// The key the token names does not verify the token's algorithm.
    #[error("the token's signing algorithm does not match its key")]
    AlgorithmMismatch,
    /// No key of the issuer has the token's `kid`, even after a refresh.
    #[error("the token is signed with a key this server does not know")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// `exp` has passed.
    #[error("the token has expired")]
    Expired,
    /// `nbf` has not come yet.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `aud` does not name this resource (a token minted for another server).
    #[error("the token was not issued for this resource (audience)")]
    WrongAudience,
    /// `iss` is not a configured issuer.
    #[error("the token was not issued by a trusted issuer")]
    WrongIssuer,
    /// A claim the server requires is absent.
    #[error("the token lacks the `{0}` claim")]
    MissingClaim(&'static str),
    /// The claim that names the caller (`sub` by default) is absent or not a string.
    #[error("the token does not name its subject")]
    MissingPrincipal,
    /// The issuer's keys could not be loaded (a JWKS URL that never answered).
    #[error("the issuer's signing keys are unavailable")]
    KeysUnavailable,
    /// The header's `typ` names another kind of JWT (an ID token, a DPoP proof, a logout
    /// token...), or, with [`ResourceServerBuilder::require_at_jwt`], is not `at+jwt`.
    #[error("the token is not an access token (its `typ`)")]
    NotAnAccessToken,
    /// The token is bound to a key (`cnf`: DPoP or mutual-TLS sender-constrained, RFC 9449
    /// and RFC 8705), which this server cannot check: such a token must not be usable by
    /// whoever merely holds it.
    #[error("the token is bound to a key (`cnf`) and cannot be used as a bearer token")]
    SenderConstrained,
}

/// A resource server configuration that cannot work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No issuer was configured.
    #[error("no issuer: add one with `.issuer(iss, jwks)`")]
    NoIssuer,
    /// The resource (audience) is empty.
    #[error("the resource URI (audience) is empty")]
    NoResource,
    /// An allowed algorithm is symmetric (HMAC).
    #[error(
        "HMAC algorithms are never accepted by a resource server: their key is a shared secret"
    )]
    SymmetricAlgorithm,
    /// The algorithm allowlist is empty.
    #[error("the algorithm allowlist is empty")]
    NoAlgorithm,
    /// A JWKS URL that is not `https` (or `http` on a loopback host).
    #[error("a JWKS URL must be https (http only on a loopback host)")]
    JwksUrl,
    /// A JWKS file or inline document could not be read.
    #[error("JWKS: {0}")]
    Jwks(String),
    /// The HTTP client for JWKS URLs could not be created.
    #[error("the HTTP client for JWKS URLs could not be created")]
    HttpClient,
}

/// How a `tools/call` of a tool whose scopes the token lacks is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScopeDenial {
    /// HTTP 403 with `WWW-Authenticate: Bearer error="insufficient_scope", scope="…"`,
    /// before the call is dispatched, so the client can step up its authorization.
    #[default]
    Challenge,
    /// The call is dispatched and the tool's pipeline answers with an `isError` denial
    /// that the model can read.
    ToolError,
}

/// Which tools `tools/list` shows a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ToolsList {
    /// Every tool, so that a client can step up to call one it lacks scopes for.
    #[default]
    All,
    /// Only the tools the caller holds every scope of. A call to another one gets exactly
    /// the answer an unknown tool gets; nothing reveals that it exists.
    Granted,
}

/// The settings every request reads.
pub(crate) struct Config {
    pub(crate) audience: String,
    pub(crate) issuers: Vec<verify::Issuer>,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) leeway: Duration,
    pub(crate) principal_claim: String,
    pub(crate) cache: verify::TokenCache,
    pub(crate) max_token_bytes: usize,
    pub(crate) max_body_bytes: usize,
    pub(crate) scope_denial: ScopeDenial,
    pub(crate) tools_list: ToolsList,
    pub(crate) authorization_servers: Vec<String>,
    pub(crate) resource_name: Option<String>,
    /// The absolute metadata URL, when the resource is an `http(s)` URL.
    pub(crate) metadata_url: Option<String>,
    /// The resource's path (`/mcp`), when it is an `http(s)` URL with a path.
    pub(crate) resource_path: Option<String>,
    /// The `Security` whose operator policy grants and denies scopes beyond the token's.
    pub(crate) security: Option<crate::security::Security>,
    /// Only `typ: at+jwt` is accepted (RFC 9068 strictly).
    pub(crate) require_at_jwt: bool,
    /// Each session's owner.
    pub(crate) sessions: session::Sessions,
    /// Each delivered event's owner.
    pub(crate) events: Arc<session::Events>,
    /// Origins allowed for CORS (serialized origins).
    pub(crate) cors_origins: Vec<String>,
    /// Repeated refusals, coalesced (the `Security`'s when there is one).
    pub(crate) refusals: crate::audit::coalesce::Coalescer,
}

/// An OAuth 2.1 resource server: verifies bearer JWTs, serves RFC 9728 metadata and
/// challenges per tool. Cheap to clone; use it as a tower layer (see the
/// [module docs](self)).
#[derive(Clone)]
pub struct ResourceServer {
    config: Arc<Config>,
}

impl std::fmt::Debug for ResourceServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceServer")
            .field("resource", &self.config.audience)
            .field(
                "issuers",
                &self
                    .config
                    .issuers
                    .iter()
                    .map(|i| &i.name)
                    .collect::<Vec<_>>(),
            )
            .field("algorithms", &self.config.algorithms)
            .field("scope_denial", &self.config.scope_denial)
            .field("tools_list", &self.config.tools_list)
            .finish_non_exhaustive()
    }
}

impl ResourceServer {
    /// Configure a resource server for `resource`: this server's canonical URI (for an MCP
    /// endpoint, its full URL, such as `https://mcp.example.com/mcp`). Tokens must name it
    /// in `aud`, and the metadata document names it as `resource`.
    pub fn builder(resource: impl Into<String>) -> ResourceServerBuilder {
        ResourceServerBuilder {
            resource: resource.into(),
            issuers: Vec::new(),
            algorithms: vec![
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS256,
                Algorithm::PS384,
                Algorithm::PS512,
                Algorithm::ES256,
                Algorithm::ES384,
                Algorithm::EdDSA,
            ],
            leeway: Duration::from_secs(10),
            principal_claim: "sub".into(),
            cache_capacity: 10_000,
            refresh_interval: Duration::from_secs(30),
            max_key_age: Duration::from_secs(3600),
            max_body_bytes: 4 * 1024 * 1024,
            scope_denial: ScopeDenial::default(),
            tools_list: ToolsList::default(),
            authorization_servers: None,
            resource_name: None,
            security: None,
            require_at_jwt: false,
            max_sessions: 100_000,
            cors_origins: Vec::new(),
        }
    }

    /// Verify a bearer token (without the `Bearer ` prefix): the caller it names, or why
    /// it is refused. A token verified before is answered from the cache until its `exp`.
    pub async fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        verify::verify(&self.config, token).await
    }

    /// The RFC 9728 protected resource metadata document this server serves.
    pub fn metadata(&self) -> serde_json::Value {
        layer::metadata(&self.config)
    }

    /// Load every issuer's keys now (a JWKS URL is otherwise fetched on the first request).
    /// Returns how many issuers have keys.
    pub async fn prefetch(&self) -> usize {
        let mut ready = 0;
        for issuer in &self.config.issuers {
            if issuer.keys.is_url() && issuer.keys.current().is_none() {
                issuer.keys.refresh().await;
            }
            ready += usize::from(issuer.keys.current().is_some());
        }
        ready
    }
}

/// Configures a [`ResourceServer`]. Every setting but the issuer has a safe default.
#[derive(Debug)]
pub struct ResourceServerBuilder {
    resource: String,
    issuers: Vec<(String, JwksSource)>,
    algorithms: Vec<Algorithm>,
    leeway: Duration,
    principal_claim: String,
    cache_capacity: usize,
    refresh_interval: Duration,
    max_key_age: Duration,
    max_body_bytes: usize,
    scope_denial: ScopeDenial,
    tools_list: ToolsList,
    authorization_servers: Option<Vec<String>>,
    resource_name: Option<String>,
    security: Option<crate::security::Security>,
    require_at_jwt: bool,
    max_sessions: usize,
    cors_origins: Vec<String>,
}

impl ResourceServerBuilder {
    /// Accept only tokens whose header says `typ: at+jwt` (or `application/at+jwt`), as
    /// RFC 9068 asks of access tokens. By default a token without `typ`, or with `JWT`,
    /// is accepted too (many issuers write no `typ`); a `typ` naming any other kind of
    /// JWT (an ID token's, a DPoP proof's `dpop+jwt`, a logout token's...) is always
    /// refused, so a JWT the issuer signed for another purpose is never an access token.
    pub fn require_at_jwt(mut self, strict: bool) -> Self {
        self.require_at_jwt = strict;
        self
    }

    /// Allow browser clients from these origins (`https://app.example.com`, scheme, host
    /// and port exactly as the browser sends `Origin`; `null`, the origin of sandboxed
    /// frames and local files, is never allowed): CORS preflights to the MCP
    /// endpoint are answered without a token, and every answer to them carries
    /// `Access-Control-Allow-Origin` with that origin (never `*`) and exposes
    /// `WWW-Authenticate` and `Mcp-Session-Id`; a request from any other origin is
    /// refused with 403 before anything else. Give the same list to rmcp's
    /// `StreamableHttpServerConfig::with_allowed_origins` (its DNS-rebinding check).
    pub fn cors_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.cors_origins.extend(
            origins
                .into_iter()
                .map(|o| o.into().trim_end_matches('/').to_owned()),
        );
        self
    }

    /// How many sessions' owners are remembered (default 100 000). Past that, the
    /// oldest session loses its owner and answers 404 to everyone, its owner included
    /// (which then opens a new one). A caller holds at most 256 sessions at once.
    pub fn max_sessions(mut self, sessions: usize) -> Self {
        self.max_sessions = sessions;
        self
    }

    /// Judge each caller's scopes as the server's `security` does: the token's, with its
    /// operator policy's grants added and denials taken away (`[principals]` by subject,
    /// `[token_scopes]`), so the per-tool challenge and the filtered `tools/list` agree
    /// with what the tool call itself will decide, across policy reloads.
    pub fn security(mut self, security: &crate::security::Security) -> Self {
        self.security = Some(security.clone());
        self
    }

    /// Trust tokens from `issuer` (its `iss`, exactly), verified with keys from `jwks`.
    /// Call it once per issuer; with several, the caller's id is `iss#sub` (with `%` and
    /// `#` in the issuer percent-encoded, so the first `#` always ends the issuer), so
    /// that two issuers' subjects never share limits or audit identity.
    pub fn issuer(mut self, issuer: impl Into<String>, jwks: JwksSource) -> Self {
        self.issuers.push((issuer.into(), jwks));
        self
    }

    /// The accepted signing algorithms (default: RS256/384/512, PS256/384/512, ES256,
    /// ES384, EdDSA). HMAC algorithms are refused by [`build`](Self::build).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Clock skew tolerated on `exp` and `nbf` (default 10 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The claim that names the caller (default `sub`). It must be a non-empty string.
    pub fn principal_claim(mut self, claim: impl Into<String>) -> Self {
        self.principal_claim = claim.into();
        self
    }

    /// How many verified tokens are remembered (default 10 000; 0 turns the cache off).
    pub fn cache_capacity(mut self, tokens: usize) -> Self {
        self.cache_capacity = tokens;
        self
    }

    /// The least time between two fetches of a JWKS URL prompted by unknown `kid`s
    /// (default 30 s). A JWKS file is re-read whenever it has changed.
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// How long keys fetched from a JWKS URL are used before they are fetched again
    /// (default 1 h). A failed fetch keeps the last good keys.
    pub fn max_key_age(mut self, age: Duration) -> Self {
        self.max_key_age = age;
        self
    }

    /// The largest request body read to find the tool of a `tools/call` (default 4 MiB);
    /// larger requests are refused with 413.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// How a call of a tool the token lacks scopes for is answered (default:
    /// [`ScopeDenial::Challenge`]).
    pub fn scope_denial(mut self, denial: ScopeDenial) -> Self {
        self.scope_denial = denial;
        self
    }

    /// Which tools `tools/list` shows (default: [`ToolsList::All`]).
    pub fn tools_list(mut self, list: ToolsList) -> Self {
        self.tools_list = list;
        self
    }

    /// The `authorization_servers` of the metadata (default: the configured issuers).
    pub fn authorization_servers<I, S>(mut self, servers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.authorization_servers = Some(servers.into_iter().map(Into::into).collect());
        self
    }

    /// A human-readable `resource_name` for the metadata.
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// Check the configuration and read file and inline key sets.
    pub fn build(self) -> Result<ResourceServer, ConfigError> {
        if self.resource.is_empty() {
            return Err(ConfigError::NoResource);
        }
        if self.issuers.is_empty() {
            return Err(ConfigError::NoIssuer);
        }
        if self.algorithms.is_empty() {
            return Err(ConfigError::NoAlgorithm);
        }
        if !self.algorithms.iter().all(|a| verify::is_asymmetric(*a)) {
            return Err(ConfigError::SymmetricAlgorithm);
        }
        let authorization_servers = self
            .authorization_servers
            .unwrap_or_else(|| self.issuers.iter().map(|(iss, _)| iss.clone()).collect());
        let issuers = self
            .issuers
            .into_iter()
            .map(|(name, source)| {
                Ok(verify::Issuer {
                    name,
                    keys: keys::IssuerKeys::new(source.0, self.refresh_interval, self.max_key_age)?,
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        let (metadata_url, resource_path) = layer::metadata_location(&self.resource);
        if crate::decl::served().is_empty() {
            // Until a tool is registered the layer knows no tool's scopes, and lets every
            // call through to the pipeline's own denial (which names the scope).
            tracing::warn!(
                "no secured tool is registered yet: build the server's tool router (`Server::tool_router()`) before serving, so the layer knows each tool's scopes"
            );
        }
        let refusals = match &self.security {
            Some(security) => security.refusals().clone(),
            None => crate::audit::coalesce::Coalescer::new(crate::security::REFUSAL_INTERVAL, None),
        };
        Ok(ResourceServer {
            config: Arc::new(Config {
                audience: self.resource,
                issuers,
                algorithms: self.algorithms,
                leeway: self.leeway,
                principal_claim: self.principal_claim,
                cache: verify::TokenCache::new(self.cache_capacity),
                max_token_bytes: 16 * 1024,
                max_body_bytes: self.max_body_bytes,
                scope_denial: self.scope_denial,
                tools_list: self.tools_list,
                authorization_servers,
                resource_name: self.resource_name,
                metadata_url,
                resource_path,
                security: self.security,
                require_at_jwt: self.require_at_jwt,
                sessions: session::Sessions::new(self.max_sessions),
                events: Arc::new(session::Events::new(self.max_sessions.saturating_mul(4))),
                cors_origins: self.cors_origins,
                refusals,
            }),
        })
    }
}

/// A local issuer for development and tests: an Ed25519 key pair made at random, its JWKS,
/// and tokens signed with it. Its keys live in memory only.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use secure_tool::auth::{DevIssuer, JwksSource, ResourceServer};
///
/// let issuer = DevIssuer::new("https://dev.local");
/// let server = ResourceServer::builder("http://127.0.0.1:8080/mcp")
///     .issuer("https://dev.local", JwksSource::inline(issuer.jwks()))
///     .build()
///     .unwrap();
/// let token = issuer.token("http://127.0.0.1:8080/mcp", "alice", &["fs.read"], 3600);
/// let caller = server.verify(&token).await.unwrap();
/// assert_eq!(caller.id(), "alice");
/// assert!(caller.has_scope("fs.read"));
///
/// let elsewhere = issuer.token("https://other.example/mcp", "alice", &["fs.read"], 3600);
/// assert!(server.verify(&elsewhere).await.is_err());
/// # }
/// ```
pub struct DevIssuer {
    issuer: String,
    kid: String,
    key: jsonwebtoken::EncodingKey,
    jwk: serde_json::Value,
}

impl std::fmt::Debug for DevIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIssuer")
            .field("issuer", &self.issuer)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl DevIssuer {
    /// A new key pair for `issuer`.
    ///
    /// # Panics
    ///
    /// If the operating system has no random numbers to give.
    pub fn new(issuer: impl Into<String>) -> Self {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("the OS random number generator");
        // PKCS#8 v1 wrapping of an Ed25519 seed (RFC 8410): a fixed 16-byte prefix.
        let mut der = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        der.extend_from_slice(&seed);
        let key = jsonwebtoken::EncodingKey::from_ed_der(&der);
        let mut kid_bytes = [0u8; 8];
        getrandom::fill(&mut kid_bytes).expect("the OS random number generator");
        let kid: String = std::iter::once("dev-".to_owned())
            .chain(kid_bytes.iter().map(|b| format!("{b:02x}")))
            .collect();
        let mut jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&key, Algorithm::EdDSA)
            .expect("an Ed25519 key has a public JWK");
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
        Self {
            issuer: issuer.into(),
            kid,
            key,
            jwk: serde_json::to_value(jwk).expect("a JWK serializes"),
        }
    }

    /// The issuer (`iss`) of its tokens.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The key id (`kid`) of its key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The JWKS document with its public key.
    pub fn jwks(&self) -> String {
        serde_json::json!({ "keys": [self.jwk] }).to_string()
    }

    /// A token for `audience`, naming `subject`, granting `scopes`, valid for `ttl_secs`.
    pub fn token(&self, audience: &str, subject: &str, scopes: &[&str], ttl_secs: u64) -> String {
        let now = verify::now();
        self.sign(&serde_json::json!({
            "iss": self.issuer,
            "aud": audience,
            "sub": subject,
            "scope": scopes.join(" "),
            "iat": now,
            "nbf": now,
            "exp": now + ttl_secs,
        }))
    }

    /// A token with exactly these claims (for tests of refusals).
    pub fn sign(&self, claims: &serde_json::Value) -> String {
        let mut header = jsonwebtoken::Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        header.typ = Some("at+jwt".into());
        jsonwebtoken::encode(&header, claims, &self.key).expect("Ed25519 signing")
    }
}
