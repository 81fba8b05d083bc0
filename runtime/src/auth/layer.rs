//! The tower layer: authenticate each request, answer challenges, serve the metadata, and
//! read `tools/call` bodies to challenge per tool before dispatch.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::TryFutureExt as _;
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body::Body;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use serde_json::json;

use super::body::{AuthBody, BoxError, full};
use super::{Config, ResourceServer, ScopeDenial, TokenError, ToolsList};
use crate::identity::Principal;

const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// The name a withheld tool's call is dispatched under: no tool can have it (MCP tool
/// names are `[A-Za-z0-9_.-]`, and `#[tool]` names are Rust identifiers), so the server
/// answers exactly as for an unknown tool. One character, so it fits in the token of
/// any name it replaces.
pub(crate) const WITHHELD: &str = " ";

/// [`WITHHELD`] as a JSON string token.
const WITHHELD_TOKEN: &str = "\" \"";
const _: () = assert!(WITHHELD_TOKEN.len() == WITHHELD.len() + 2);

impl<S> tower_layer::Layer<S> for ResourceServer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            ready: None,
            template: Arc::new(Mutex::new(inner)),
            config: Arc::clone(&self.config),
        }
    }
}

/// A service behind a [`ResourceServer`]: it sees only authenticated requests, each with
/// the caller's [`Principal`] in its extensions and its body read into memory.
pub struct AuthService<S> {
    /// The inner service that takes the next request, once polled ready: `call` moves it
    /// into the request's future.
    ready: Option<S>,
    /// What `ready` is cloned from, shared by every clone of this service and never
    /// polled or called (the mutex, held only while cloning, lets an inner service that
    /// is not `Sync` be shared). So a request costs one clone of the inner service: a router that clones
    /// this service for each request (axum does) clones only an `Arc` here.
    template: Arc<Mutex<S>>,
    config: Arc<Config>,
}

impl<S> Clone for AuthService<S> {
    /// A clone that is not ready: it clones the inner service when it is polled.
    fn clone(&self) -> Self {
        Self {
            ready: None,
            template: Arc::clone(&self.template),
            config: Arc::clone(&self.config),
        }
    }
}

/// A fresh clone of the inner service, from the template.
fn fresh<S: Clone>(template: &Mutex<S>) -> S {
    template
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

impl<S> std::fmt::Debug for AuthService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field("resource", &self.config.audience)
            .finish_non_exhaustive()
    }
}

impl<S, B, R> tower_service::Service<Request<B>> for AuthService<S>
where
    S: tower_service::Service<Request<Full<Bytes>>, Response = Response<R>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    R: Body<Data = Bytes> + Send + 'static,
    R::Error: Into<BoxError>,
{
    type Response = Response<AuthBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let template = &self.template;
        self.ready
            .get_or_insert_with(|| fresh(template))
            .poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let config = &self.config;
        if is_metadata_path(config, request.uri().path()) {
            return answer(metadata_response(config, request.method()));
        }
        // CORS: a browser's preflight carries no credentials and is answered here; every
        // other answer to an allowed origin says so and exposes the challenge headers.
        let origin = super::cors::Origin::of(&config.cors_origins, request.headers());
        if let Some(preflight) = super::cors::preflight(&origin, &request) {
            return answer(preflight);
        }
        if matches!(origin, super::cors::Origin::Refused) {
            return answer(super::cors::refused());
        }
        // The service that was polled ready handles this request (one called without
        // being polled, against `Service`'s contract, gets a fresh clone).
        let inner = self.ready.take().unwrap_or_else(|| fresh(&self.template));
        // Taken apart here, not in the future: what the future holds, it holds once (an
        // `async fn` keeps its arguments besides what they are moved into).
        let (parts, body) = request.into_parts();
        Box::pin(
            authorized(Arc::clone(config), inner, parts, body).map_ok(move |mut response| {
                origin.expose(response.headers_mut());
                response
            }),
        )
    }
}

/// An answer made without the inner service.
fn answer<E: 'static>(
    response: Response<AuthBody>,
) -> Pin<Box<dyn Future<Output = Result<Response<AuthBody>, E>> + Send>> {
    // Not `future::ready`, which would hold (and need to send) the error type too.
    Box::pin(async move { Ok(response) })
}

/// Authenticate, check the session and the body, and dispatch.
///
/// Not an `async fn`: one keeps its arguments and the locals they are moved into apart,
/// and these (the request's parts above all) would be held twice in every request's
/// future. The block below uses what it captures in place.
#[allow(
    clippy::manual_async_fn,
    reason = "an `async fn` would hold the request's parts twice"
)]
fn authorized<S, B, R>(
    config: Arc<Config>,
    mut inner: S,
    mut parts: http::request::Parts,
    body: B,
) -> impl Future<Output = Result<Response<AuthBody>, S::Error>>
where
    S: tower_service::Service<Request<Full<Bytes>>, Response = Response<R>>,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    R: Body<Data = Bytes> + Send + 'static,
    R::Error: Into<BoxError>,
{
    async move {
        let config = &*config;
        // Where the metadata is: only a refusal needs it, so it is written only then.
        let metadata = |headers: &http::HeaderMap, uri: &http::Uri| {
            resource_metadata_url(config, headers, uri)
        };

        let mut principal = match bearer(&parts.headers) {
            Bearer::None => {
                audit_refusal(
                    config,
                    &Principal::anonymous(),
                    None,
                    "unauthenticated",
                    "no bearer token",
                );
                let url = metadata(&parts.headers, &parts.uri);
                return Ok(unauthorized(&url, None));
            }
            Bearer::Several => {
                audit_refusal(
                    config,
                    &Principal::anonymous(),
                    None,
                    "unauthenticated",
                    "several credentials",
                );
                let url = metadata(&parts.headers, &parts.uri);
                return Ok(invalid_request(&url));
            }
            Bearer::Token(token) => match super::verify::verify(config, token).await {
                Ok(principal) => principal,
                Err(TokenError::KeysUnavailable) => {
                    audit_refusal(
                        config,
                        &Principal::anonymous(),
                        None,
                        "unauthenticated",
                        "keys unavailable",
                    );
                    return Ok(keys_unavailable());
                }
                Err(error) => {
                    audit_refusal(
                        config,
                        &Principal::anonymous(),
                        None,
                        "unauthenticated",
                        &error.to_string(),
                    );
                    let url = metadata(&parts.headers, &parts.uri);
                    return Ok(unauthorized(&url, Some(&error)));
                }
            },
        };

        // A session belongs to the caller whose request opened it: any other caller naming
        // it gets what an unknown session gets, before rmcp sees the request.
        let session = match session_id(&parts.headers) {
            SessionHeader::None => None,
            SessionHeader::One(id) if config.sessions.owned_by(id, &principal) => {
                Some(Arc::<str>::from(id))
            }
            SessionHeader::One(_) | SessionHeader::Invalid => {
                audit_refusal(
                    config,
                    &principal,
                    None,
                    "denied",
                    "session of another caller",
                );
                return Ok(session_not_found());
            }
        };
        // A replay names an event; rmcp's event store finds events by id alone, across
        // sessions. Only an event this layer delivered to this caller is replayed; any other
        // gets what a resume that fails gets from rmcp (an empty stream).
        if parts.method == Method::GET {
            let mut ids = parts.headers.get_all(LAST_EVENT_ID).iter();
            match (ids.next(), ids.next()) {
                (None, _) => {}
                (Some(id), None)
                    if id.to_str().is_ok_and(|id| {
                        config
                            .events
                            .owned_by(session.as_deref().unwrap_or(""), id, &principal)
                    }) => {}
                _ => {
                    audit_refusal(
                        config,
                        &principal,
                        None,
                        "denied",
                        "replay of another caller's events",
                    );
                    return Ok(empty_event_stream());
                }
            }
        }

        let mut bytes = match Limited::new(body, config.max_body_bytes).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) if error.is::<LengthLimitError>() => {
                return Ok(plain(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "the request body is larger than this server reads",
                ));
            }
            Err(_) => {
                return Ok(plain(
                    StatusCode::BAD_REQUEST,
                    "the request body was cut off",
                ));
            }
        };

        // The one decision on the caller's scopes, from its token, its id and the operator's
        // policy: the pipeline finds it made (`Policy::resolve`) and does not make it again.
        if let Some(resolved) = config
            .security
            .as_ref()
            .and_then(|security| security.policy().resolve(&principal, false))
        {
            principal = resolved;
        }
        // Under `Granted`, every answer is filtered, whatever was asked: rmcp may route a
        // list to another stream that names the same request id, or replay it.
        let filter_list = config.tools_list == ToolsList::Granted;
        if parts.method == Method::POST {
            let inspection = match inspect(config, &principal, &parts.headers, &bytes) {
                Ok(inspection) => inspection,
                Err(Unreadable::Body) => return Ok(parse_error()),
                Err(Unreadable::Headers(id)) => {
                    audit_refusal(config, &principal, None, "invalid", "header mismatch");
                    return Ok(header_mismatch(id));
                }
            };
            match inspection {
                Inspection::Pass => {}
                Inspection::Challenge { id, tool, scopes } => {
                    audit_refusal(
                        config,
                        &principal,
                        Some(&tool),
                        "denied",
                        "insufficient_scope",
                    );
                    let url = metadata(&parts.headers, &parts.uri);
                    return Ok(insufficient_scope(&url, id, &tool, &scopes));
                }
                Inspection::Withhold { tool, span } => {
                    audit_refusal(config, &principal, Some(&tool), "denied", "withheld");
                    match withhold(&bytes, span) {
                        Some(renamed) => bytes = Bytes::from(renamed),
                        None => return Ok(parse_error()),
                    }
                    // The header names the call as the body now does, so rmcp compares equal
                    // values and answers as for any unknown tool.
                    if parts.headers.contains_key(MCP_NAME) {
                        parts
                            .headers
                            .insert(MCP_NAME, HeaderValue::from_static(WITHHELD_HEADER));
                    }
                }
            }
        }

        if filter_list {
            // The filter reads the answers: none may come encoded (a compression layer
            // inside would hand it bytes it cannot read, which it would refuse).
            parts.headers.remove(header::ACCEPT_ENCODING);
        }
        let deleting = parts.method == Method::DELETE;
        parts.extensions.insert(principal.clone());
        let request = Request::from_parts(parts, Full::new(bytes));
        let response = inner.call(request).await?;
        let (parts, body) = response.into_parts();
        let mut session = session;
        match &session {
            // rmcp opened a session for this caller's request: it is this caller's.
            None => {
                if parts.status.is_success()
                    && let Some(id) = parts.headers.get(SESSION_ID).and_then(|v| v.to_str().ok())
                {
                    config.sessions.bind(id, &principal);
                    session = Some(Arc::from(id));
                }
            }
            Some(id) => {
                // rmcp's "session not found", exactly (a JSON-RPC error that maps to 404 has a
                // body type, and a router's fallback 404 another body), or the owner's own
                // DELETE.
                let gone = parts.status == StatusCode::NOT_FOUND
                    && !parts.headers.contains_key(header::CONTENT_TYPE)
                    && body.size_hint().exact() == Some(SESSION_NOT_FOUND.len() as u64);
                if gone || (deleting && parts.status.is_success()) {
                    config.sessions.forget(id);
                }
            }
        }
        let sse = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let mut body = UnsyncBoxBody::new(body.map_err(Into::into));
        if sse {
            body = super::session::record_events(
                body,
                principal.clone(),
                session.clone(),
                Arc::clone(&config.events),
            );
        }
        if filter_list {
            body = super::list::filter(body, principal, sse);
        }
        let mut response = Response::from_parts(parts, body);
        if filter_list {
            // The filtered body has another length.
            response.headers_mut().remove(header::CONTENT_LENGTH);
        }
        Ok(response)
    }
}

// Header names as constants, not text: a name given as `&str` is parsed on every lookup.
const SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");
/// rmcp's body for an unknown session.
const SESSION_NOT_FOUND: &str = "Not Found: Session not found";
const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");
const MCP_METHOD: HeaderName = HeaderName::from_static("mcp-method");
const MCP_NAME: HeaderName = HeaderName::from_static("mcp-name");

/// [`WITHHELD`] as an `Mcp-Name` header value (SEP-2243's Base64 form: a header value
/// cannot be a lone space).
const WITHHELD_HEADER: &str = "=?base64?IA==?=";

enum SessionHeader<'a> {
    None,
    One(&'a str),
    /// Several, or not text: owned by nobody.
    Invalid,
}

fn session_id(headers: &http::HeaderMap) -> SessionHeader<'_> {
    let mut values = headers.get_all(SESSION_ID).iter();
    match (values.next(), values.next()) {
        (None, _) => SessionHeader::None,
        (Some(value), None) => value
            .to_str()
            .map_or(SessionHeader::Invalid, SessionHeader::One),
        (Some(_), Some(_)) => SessionHeader::Invalid,
    }
}

/// rmcp's own answer to a session it does not know, byte for byte, so that a session of
/// another caller cannot be told from one that never existed.
fn session_not_found() -> Response<AuthBody> {
    let mut response = Response::new(full(SESSION_NOT_FOUND));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

/// rmcp's answer to a resume it cannot serve: an event stream that ends at once (an
/// error status would make a browser's `EventSource` retry the same id forever).
fn empty_event_stream() -> Response<AuthBody> {
    let mut response = Response::new(full(""));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

enum Bearer<'a> {
    None,
    Several,
    Token(&'a str),
}

/// The bearer token of the `Authorization` header (RFC 6750 §2.1: the scheme is
/// case-insensitive). Tokens in the query string are never read (the MCP specification
/// forbids them).
fn bearer(headers: &http::HeaderMap) -> Bearer<'_> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return if headers.contains_key(header::AUTHORIZATION) {
            Bearer::Several
        } else {
            Bearer::None
        };
    };
    let Ok(value) = value.to_str() else {
        return Bearer::Token("");
    };
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            Bearer::Token(token.trim())
        }
        _ => Bearer::None,
    }
}

enum Inspection {
    Pass,
    Challenge {
        id: Option<serde_json::Value>,
        tool: String,
        scopes: Vec<&'static str>,
    },
    /// A call of a tool the caller may not see: its name's token spans these bytes.
    Withhold {
        tool: String,
        span: std::ops::Range<usize>,
    },
}

/// Why the layer cannot decide on a POST body.
enum Unreadable {
    /// Not a JSON-RPC message this layer reads (rmcp reads no batch either): refused,
    /// never passed on unjudged.
    Body,
    /// An `Mcp-Method` or `Mcp-Name` header that disagrees with the body (the id of the
    /// request, if any, for the answer).
    Headers(Option<serde_json::Value>),
}

#[derive(serde::Deserialize)]
struct Message<'a> {
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    params: Option<Params<'a>>,
}

#[derive(serde::Deserialize)]
struct Params<'a> {
    /// The raw token of `name`, borrowed from the body: where a withheld call's name is,
    /// and, when it is a string, the tool. A value that is not a string is no tool name
    /// (rmcp refuses such a call) and must not make the message unreadable (a
    /// `tools/list` with a stray `name` is still a `tools/list`).
    #[serde(borrow, default)]
    name: Option<&'a serde_json::value::RawValue>,
}

impl Message<'_> {
    /// The tool a `tools/call` names, if its name is a string.
    fn tool(&self) -> Option<Cow<'_, str>> {
        let raw = self.params.as_ref()?.name?.get();
        let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
        if !inner.contains('\\') {
            // No escape: the name is the token's text (no allocation per call).
            return Some(Cow::Borrowed(inner));
        }
        serde_json::from_str::<String>(raw).ok().map(Cow::Owned)
    }
}

/// The one JSON-RPC message of a POST body: `Err` when it is not one this layer can read,
/// and so cannot judge.
fn message(body: &[u8]) -> Result<Message<'_>, Unreadable> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => serde_json::from_slice(body).map_err(|_| Unreadable::Body),
        _ => Err(Unreadable::Body),
    }
}

/// What the JSON-RPC message of one POST needs from the layer. The method and tool that
/// SEP-2243 headers name must be the body's (a proxy may route on them); the body then
/// decides.
fn inspect(
    config: &Config,
    principal: &Principal,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<Inspection, Unreadable> {
    let message = message(body)?;
    if (headers.contains_key(MCP_METHOD) || headers.contains_key(MCP_NAME))
        && !headers_agree(headers, &message)
    {
        return Err(Unreadable::Headers(message.id.clone()));
    }
    match message.method.as_deref() {
        Some("tools/call") => {
            let Some(name) = message.tool() else {
                return Ok(Inspection::Pass);
            };
            let Some(scopes) = crate::decl::required_scopes(&name) else {
                return Ok(Inspection::Pass);
            };
            if scopes.iter().all(|s| principal.has_scope(s)) {
                return Ok(Inspection::Pass);
            }
            Ok(match (config.tools_list, config.scope_denial) {
                (ToolsList::Granted, _) => Inspection::Withhold {
                    tool: name.into_owned(),
                    span: message
                        .params
                        .as_ref()
                        .and_then(|p| p.name)
                        .map_or(0..0, |raw| span_in(body, raw.get())),
                },
                // A scope the operator's policy denies this caller: no token it could step
                // up to would help, so no challenge (a client would loop); the tool's own
                // denial answers.
                (ToolsList::All, ScopeDenial::Challenge)
                    if config.security.as_ref().is_some_and(|security| {
                        let policy = security.policy();
                        scopes
                            .iter()
                            .any(|s| !principal.has_scope(s) && policy.denies(principal, s))
                    }) =>
                {
                    Inspection::Pass
                }
                (ToolsList::All, ScopeDenial::Challenge) => Inspection::Challenge {
                    id: message.id.clone(),
                    tool: name.into_owned(),
                    scopes,
                },
                (ToolsList::All, ScopeDenial::ToolError) => Inspection::Pass,
            })
        }
        _ => Ok(Inspection::Pass),
    }
}

/// Where `part`, a slice of `body`, lies in it.
fn span_in(body: &[u8], part: &str) -> std::ops::Range<usize> {
    let start = (part.as_ptr() as usize).wrapping_sub(body.as_ptr() as usize);
    if start <= body.len() && start + part.len() <= body.len() {
        start..start + part.len()
    } else {
        0..0
    }
}

/// Whether the `Mcp-Method` and `Mcp-Name` headers, where present, say what `message`
/// says (one value each; `Mcp-Name` in SEP-2243's plain or Base64 form).
fn headers_agree(headers: &http::HeaderMap, message: &Message<'_>) -> bool {
    let single = |name: HeaderName| {
        let mut values = headers.get_all(name).iter();
        match (values.next(), values.next()) {
            (None, _) => Ok(None),
            (Some(value), None) => value.to_str().map(Some).map_err(|_| ()),
            (Some(_), Some(_)) => Err(()),
        }
    };
    let method = message.method.as_deref();
    match single(MCP_METHOD) {
        Ok(None) => {}
        Ok(Some(value)) if Some(value) == method => {}
        _ => return false,
    }
    match single(MCP_NAME) {
        Ok(None) => true,
        Ok(Some(raw)) => {
            if method != Some("tools/call") {
                // The name of a prompt or resource: rmcp compares those itself, and they
                // decide nothing here.
                return true;
            }
            let name = message.tool();
            decode_header_value(raw).is_some_and(|decoded| Some(&*decoded) == name.as_deref())
        }
        Err(()) => false,
    }
}

/// An SEP-2243 header value: `=?base64?…?=` holds Base64 of UTF-8, anything else is itself.
fn decode_header_value(value: &str) -> Option<Cow<'_, str>> {
    use base64::Engine as _;
    match value
        .strip_prefix("=?base64?")
        .and_then(|inner| inner.strip_suffix("?="))
    {
        Some(inner) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(inner)
                .ok()?;
            String::from_utf8(bytes).ok().map(Cow::Owned)
        }
        None => Some(Cow::Borrowed(value)),
    }
}

/// The body with the withheld call's name (the token at `span`) replaced by [`WITHHELD`]
/// and spaces, in place: the body keeps its length and every other byte, so rmcp reads
/// it exactly as it would read a call of any unknown tool (the same size limit, the same
/// parse errors).
fn withhold(body: &[u8], span: std::ops::Range<usize>) -> Option<Vec<u8>> {
    if span.len() < WITHHELD_TOKEN.len() || span.end > body.len() {
        return None;
    }
    let mut out = body.to_vec();
    out[span.start..span.start + WITHHELD_TOKEN.len()].copy_from_slice(WITHHELD_TOKEN.as_bytes());
    out[span.start + WITHHELD_TOKEN.len()..span.end].fill(b' ');
    Some(out)
}

fn audit_refusal(
    config: &Config,
    principal: &Principal,
    tool: Option<&str>,
    outcome: &'static str,
    reason: &str,
) {
    crate::audit::http_refusal(&config.refusals, principal, tool, outcome, reason);
}

/// Where the metadata lives, from the resource URI: `(absolute URL, resource path)`.
/// `None` for a resource that is not an `http(s)` URL: the URL then comes from the
/// request's `Host`.
pub(crate) fn metadata_location(resource: &str) -> (Option<String>, Option<String>) {
    let Ok(url) = url::Url::parse(resource) else {
        return (None, None);
    };
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return (None, None);
    }
    let origin = url.origin().ascii_serialization();
    let path = url.path().trim_end_matches('/');
    if path.is_empty() {
        (Some(format!("{origin}{WELL_KNOWN}")), None)
    } else {
        (
            Some(format!("{origin}{WELL_KNOWN}{path}")),
            Some(path.to_owned()),
        )
    }
}

fn is_metadata_path(config: &Config, path: &str) -> bool {
    let Some(rest) = path.strip_prefix(WELL_KNOWN) else {
        return false;
    };
    if rest.is_empty() {
        return true;
    }
    match (&config.metadata_url, &config.resource_path) {
        (Some(_), Some(resource_path)) => rest == resource_path,
        (Some(_), None) => false,
        // A resource that is not a URL: any suffix is the endpoint the client knows.
        (None, _) => rest.starts_with('/'),
    }
}

fn resource_metadata_url(config: &Config, headers: &http::HeaderMap, uri: &http::Uri) -> String {
    if let Some(url) = &config.metadata_url {
        return url.clone();
    }
    // Only an authority that parses is echoed; it cannot hold a quote or a space.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.parse::<http::uri::Authority>().ok());
    match host {
        Some(host) => format!("http://{host}{WELL_KNOWN}{}", escaped_path(uri.path())),
        None => WELL_KNOWN.to_owned(),
    }
}

/// A request path as it may appear inside a challenge's quoted string: every byte but
/// the unreserved characters, `/` and the sub-delimiters that cannot end or escape a
/// quoted string is percent-encoded, so no request can add a parameter to a challenge.
fn escaped_path(path: &str) -> Cow<'_, str> {
    let keep = |b: u8| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'/'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b';'
                    | b'='
                    | b':'
                    | b'@'
                    | b'%'
            )
    };
    if path.bytes().all(keep) {
        return Cow::Borrowed(path);
    }
    let mut out = String::with_capacity(path.len() + 8);
    for b in path.bytes() {
        if keep(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Cow::Owned(out)
}

/// The RFC 9728 document.
pub(crate) fn metadata(config: &Config) -> serde_json::Value {
    let manifest = crate::security::Security::default().manifest();
    let mut scopes: Vec<&str> = manifest
        .tools()
        .iter()
        .flat_map(|t| t.scopes.iter().copied())
        .collect();
    scopes.sort_unstable();
    scopes.dedup();
    let mut doc = json!({
        "resource": config.audience,
        "authorization_servers": config.authorization_servers,
        "bearer_methods_supported": ["header"],
        "scopes_supported": scopes,
    });
    if let Some(name) = &config.resource_name {
        doc["resource_name"] = json!(name);
    }
    doc
}

fn metadata_response(config: &Config, method: &Method) -> Response<AuthBody> {
    let mut response = match *method {
        Method::GET | Method::HEAD => {
            let body = serde_json::to_vec(&metadata(config)).unwrap_or_default();
            let mut response = Response::new(full(body));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("max-age=300"),
            );
            response
        }
        Method::OPTIONS => {
            let mut response = Response::new(full(Vec::new()));
            *response.status_mut() = StatusCode::NO_CONTENT;
            response.headers_mut().insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, OPTIONS"),
            );
            response
        }
        _ => {
            let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "use GET");
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, OPTIONS"));
            response
        }
    };
    // Browser-based MCP clients read the metadata across origins.
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<AuthBody> {
    let mut response = Response::new(full(serde_json::to_vec(body).unwrap_or_default()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// JSON-RPC code of the layer's refusals (implementation-defined server error range).
const REFUSED: i32 = -32001;

/// A refusal whose body is a JSON-RPC error, so that an MCP client can show the model
/// and the user why (`message`), with the OAuth error code and its details in `data`.
fn refusal(
    status: StatusCode,
    id: Option<serde_json::Value>,
    error: &str,
    description: &str,
    scope: Option<&str>,
) -> Response<AuthBody> {
    let mut data = json!({ "error": error, "error_description": description });
    if let Some(scope) = scope {
        data["scope"] = json!(scope);
    }
    json_response(
        status,
        &json!({
            "jsonrpc": "2.0",
            "id": id,
            "error": { "code": REFUSED, "message": description, "data": data },
        }),
    )
}

/// JSON-RPC's parse error: the body is not a message this server reads.
fn parse_error() -> Response<AuthBody> {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": { "code": -32700, "message": "the request body is not a JSON-RPC message this server reads" },
        }),
    )
}

/// SEP-2243's `HeaderMismatch` (HTTP 400, JSON-RPC -32020), naming no value: neither the
/// header's nor the body's.
fn header_mismatch(id: Option<serde_json::Value>) -> Response<AuthBody> {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({
            "jsonrpc": "2.0",
            "id": id,
            "error": {
                "code": -32020,
                "message": "the Mcp-Method or Mcp-Name header does not match the request body",
            },
        }),
    )
}

fn plain(status: StatusCode, text: &'static str) -> Response<AuthBody> {
    refusal(status, None, "invalid_request", text, None)
}

fn with_challenge(mut response: Response<AuthBody>, challenge: String) -> Response<AuthBody> {
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// The 401 answer. Without a token: only where to find the metadata (RFC 6750 section
/// 3.1: no error code when the request had no credentials). With one: `invalid_token` and
/// why.
fn unauthorized(resource_metadata: &str, error: Option<&TokenError>) -> Response<AuthBody> {
    match error {
        None => with_challenge(
            refusal(
                StatusCode::UNAUTHORIZED,
                None,
                "unauthorized",
                &TokenError::Missing.to_string(),
                None,
            ),
            format!("Bearer resource_metadata=\"{resource_metadata}\""),
        ),
        Some(error) => {
            let description = error.to_string();
            with_challenge(
                refusal(
                    StatusCode::UNAUTHORIZED,
                    None,
                    "invalid_token",
                    &description,
                    None,
                ),
                format!(
                    "Bearer error=\"invalid_token\", error_description=\"{}\", resource_metadata=\"{resource_metadata}\"",
                    quotable(&description)
                ),
            )
        }
    }
}

fn invalid_request(resource_metadata: &str) -> Response<AuthBody> {
    with_challenge(
        plain(
            StatusCode::BAD_REQUEST,
            "send exactly one Authorization header",
        ),
        format!("Bearer error=\"invalid_request\", resource_metadata=\"{resource_metadata}\""),
    )
}

fn keys_unavailable() -> Response<AuthBody> {
    let mut response = refusal(
        StatusCode::SERVICE_UNAVAILABLE,
        None,
        "temporarily_unavailable",
        &TokenError::KeysUnavailable.to_string(),
        None,
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
    response
}

/// 403 naming every scope the tool needs, so the client can ask for them all at once.
fn insufficient_scope(
    resource_metadata: &str,
    id: Option<serde_json::Value>,
    tool: &str,
    scopes: &[&'static str],
) -> Response<AuthBody> {
    let scope = scopes.join(" ");
    let description = format!("insufficient scope: the tool `{tool}` requires the scopes: {scope}");
    with_challenge(
        refusal(
            StatusCode::FORBIDDEN,
            id,
            "insufficient_scope",
            &description,
            Some(&scope),
        ),
        format!(
            "Bearer error=\"insufficient_scope\", scope=\"{}\", resource_metadata=\"{resource_metadata}\", error_description=\"{}\"",
            quotable(&scope),
            quotable(&description),
        ),
    )
}

/// Text safe inside an RFC 7230 quoted-string: printable ASCII without `"` and `\`.
fn quotable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c == '"' || c == '\\' || !(' '..='~').contains(&c) {
                '?'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_lives_under_the_resource_path() {
        assert_eq!(
            metadata_location("http://127.0.0.1:8080/mcp"),
            (
                Some("http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp".into()),
                Some("/mcp".into())
            )
        );
        assert_eq!(
            metadata_location("https://mcp.example.com/"),
            (
                Some("https://mcp.example.com/.well-known/oauth-protected-resource".into()),
                None
            )
        );
        assert_eq!(metadata_location("urn:example:mcp"), (None, None));
    }

    #[test]
    fn only_one_bearer_header_is_read() {
        let mut headers = http::HeaderMap::new();
        assert!(matches!(bearer(&headers), Bearer::None));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bEaReR  abc "),
        );
        assert!(matches!(bearer(&headers), Bearer::Token("abc")));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert!(matches!(bearer(&headers), Bearer::None));
        headers.append(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert!(matches!(bearer(&headers), Bearer::Several));
    }

    #[test]
    fn a_withheld_call_is_renamed_in_place() {
        let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write\u005ffile","arguments":{"n":1e9,"s":"\ud800"}}}"#;
        let message = message(body).ok().unwrap();
        assert_eq!(message.tool().as_deref(), Some("write_file"));
        let span = span_in(body, message.params.as_ref().unwrap().name.unwrap().get());
        let out = withhold(body, span).unwrap();
        // Same length, same bytes but the name's token.
        assert_eq!(out.len(), body.len());
        let text = String::from_utf8(out).unwrap();
        let token = r#""write\u005ffile""#;
        let renamed = format!(
            r#""name":" "{},"arguments":{{"n":1e9,"s":"\ud800"}}"#,
            " ".repeat(token.len() - 3)
        );
        assert!(text.contains(&renamed), "{text}");
        let value: serde_json::Value = serde_json::from_str(&text.replace(r"\ud800", "x")).unwrap();
        assert_eq!(value["params"]["name"], WITHHELD);
    }

    #[test]
    fn request_paths_cannot_leave_the_quoted_string() {
        assert_eq!(escaped_path("/mcp"), "/mcp");
        assert_eq!(escaped_path("/mcp\", error=\"x"), "/mcp%22%2C%20error=%22x");
        assert_eq!(escaped_path("/a\\b"), "/a%5Cb");
    }

    #[test]
    fn headers_must_name_what_the_body_calls() {
        let body =
            br#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"write_file"}}"#;
        let message = &message(body).ok().unwrap();
        let agree = |pairs: &[(HeaderName, &'static str)]| {
            let mut headers = http::HeaderMap::new();
            for (name, value) in pairs {
                headers.append(name, HeaderValue::from_static(value));
            }
            headers_agree(&headers, message)
        };
        assert!(agree(&[]));
        assert!(agree(&[
            (MCP_METHOD, "tools/call"),
            (MCP_NAME, "write_file")
        ]));
        // "write_file" in SEP-2243's Base64 form.
        assert!(agree(&[(MCP_NAME, "=?base64?d3JpdGVfZmlsZQ==?=")]));
        assert!(!agree(&[(MCP_NAME, "read_file")]));
        assert!(!agree(&[(MCP_METHOD, "tools/list")]));
        assert!(!agree(&[
            (MCP_NAME, "write_file"),
            (MCP_NAME, "write_file")
        ]));
        assert!(!agree(&[(MCP_NAME, "=?base64?not base64?=")]));
    }

    #[test]
    fn a_list_with_a_stray_name_is_still_a_list_and_garbage_is_unreadable() {
        let list =
            message(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"name":0}}"#)
                .ok()
                .unwrap();
        assert_eq!(list.method.as_deref(), Some("tools/list"));
        assert!(list.tool().is_none());
        assert!(message(b"{\"method\": 5}").is_err());
        assert!(message(b"not json").is_err());
        assert!(message(br#"{"method":"tools/call","method":"tools/list"}"#).is_err());
        // rmcp reads no batch: neither does the layer.
        assert!(message(br#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]"#).is_err());
    }

    #[test]
    fn the_withheld_name_has_a_header_form() {
        assert_eq!(
            decode_header_value(WITHHELD_HEADER).as_deref(),
            Some(WITHHELD)
        );
    }

    #[test]
    fn challenge_text_is_a_quoted_string() {
        assert_eq!(quotable("a \"b\" \\ é"), "a ?b? ? ?");
    }
}
