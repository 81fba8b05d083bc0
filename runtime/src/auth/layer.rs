//! The tower layer: authenticate each request, answer challenges, serve the metadata, and
//! read `tools/call` bodies to challenge per tool before dispatch.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body::Body;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use serde_json::json;

use super::{Config, ResourceServer, ScopeDenial, TokenError, ToolsList};
use crate::{AUDIT_TARGET, Principal};

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The response body of an [`AuthService`]: the inner service's, or the layer's own answer.
pub type AuthBody = UnsyncBoxBody<Bytes, BoxError>;

const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// The name a withheld tool's call is dispatched under: no tool can have it (MCP tool
/// names are at most `[A-Za-z0-9_.-]`), so the server answers exactly as for an unknown
/// tool.
pub(crate) const WITHHELD: &str = "\u{0}withheld";

impl<S> tower_layer::Layer<S> for ResourceServer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// A service behind a [`ResourceServer`]: it sees only authenticated requests, each with
/// the caller's [`Principal`] in its extensions and its body read into memory.
#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    config: Arc<Config>,
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
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The service that was polled ready handles this request; a clone takes its place.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let config = Arc::clone(&self.config);
        Box::pin(handle(config, inner, request))
    }
}

async fn handle<S, B, R>(
    config: Arc<Config>,
    mut inner: S,
    request: Request<B>,
) -> Result<Response<AuthBody>, S::Error>
where
    S: tower_service::Service<Request<Full<Bytes>>, Response = Response<R>>,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    R: Body<Data = Bytes> + Send + 'static,
    R::Error: Into<BoxError>,
{
    if is_metadata_path(&config, request.uri().path()) {
        return Ok(metadata_response(&config, request.method()));
    }
    // Where the metadata is: only a refusal needs it, so it is written only then.
    let metadata =
        |headers: &http::HeaderMap, uri: &http::Uri| resource_metadata_url(&config, headers, uri);

    let principal = match bearer(request.headers()) {
        Bearer::None => {
            audit_refusal(
                &config,
                &Principal::anonymous(),
                None,
                "unauthenticated",
                "no bearer token",
            );
            let url = metadata(request.headers(), request.uri());
            return Ok(unauthorized(&url, None));
        }
        Bearer::Several => {
            audit_refusal(
                &config,
                &Principal::anonymous(),
                None,
                "unauthenticated",
                "several credentials",
            );
            let url = metadata(request.headers(), request.uri());
            return Ok(invalid_request(&url));
        }
        Bearer::Token(token) => match super::verify::verify(&config, token).await {
            Ok(principal) => principal,
            Err(TokenError::KeysUnavailable) => {
                audit_refusal(
                    &config,
                    &Principal::anonymous(),
                    None,
                    "unauthenticated",
                    "keys unavailable",
                );
                return Ok(keys_unavailable());
            }
            Err(error) => {
                audit_refusal(
                    &config,
                    &Principal::anonymous(),
                    None,
                    "unauthenticated",
                    &error.to_string(),
                );
                let url = metadata(request.headers(), request.uri());
                return Ok(unauthorized(&url, Some(&error)));
            }
        },
    };

    let (mut parts, body) = request.into_parts();
    let bytes = match Limited::new(body, config.max_body_bytes).collect().await {
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

    // The caller as the operator's policy sees it, so a challenge here agrees with what
    // the tool call would decide.
    let principal = config
        .security
        .as_ref()
        .and_then(|security| security.policy().resolve(&principal, false))
        .unwrap_or(principal);
    let mut filter_list = false;
    let mut bytes = bytes;
    if parts.method == Method::POST {
        match inspect(&config, &principal, &bytes) {
            Inspection::Pass => {}
            Inspection::ListTools => filter_list = true,
            Inspection::Challenge { id, tool, scopes } => {
                audit_refusal(
                    &config,
                    &principal,
                    Some(&tool),
                    "denied",
                    "insufficient_scope",
                );
                let url = metadata(&parts.headers, &parts.uri);
                return Ok(insufficient_scope(&url, id, &tool, &scopes));
            }
            Inspection::Withhold { tools } => {
                for tool in &tools {
                    audit_refusal(&config, &principal, Some(tool), "denied", "withheld");
                }
                bytes = withhold(&bytes, &tools).map_or(bytes, Bytes::from);
            }
        }
    }

    parts.extensions.insert(principal.clone());
    let request = Request::from_parts(parts, Full::new(bytes));
    let response = inner.call(request).await?;
    let (parts, body) = response.into_parts();
    let body = UnsyncBoxBody::new(body.map_err(Into::into));
    let body = if filter_list {
        let sse = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        super::list::filter(body, principal, sse)
    } else {
        body
    };
    let mut response = Response::from_parts(parts, body);
    if filter_list {
        // The filtered body has another length.
        response.headers_mut().remove(header::CONTENT_LENGTH);
    }
    Ok(response)
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
    ListTools,
    Challenge {
        id: Option<serde_json::Value>,
        tool: String,
        scopes: Vec<&'static str>,
    },
    Withhold {
        tools: Vec<String>,
    },
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
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
}

/// What the JSON-RPC messages of one POST need from the layer. A body this cannot read
/// passes: the MCP server refuses it, and the tool's pipeline checks scopes again anyway.
fn inspect(config: &Config, principal: &Principal, body: &[u8]) -> Inspection {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let messages: Vec<Message<'_>> = match first {
        Some(b'[') => serde_json::from_slice(body).unwrap_or_default(),
        Some(b'{') => serde_json::from_slice(body)
            .map(|m| vec![m])
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let mut inspection = Inspection::Pass;
    for message in &messages {
        match message.method.as_deref() {
            Some("tools/list") if config.tools_list == ToolsList::Granted => {
                if matches!(inspection, Inspection::Pass) {
                    inspection = Inspection::ListTools;
                }
            }
            Some("tools/call") => {
                let Some(name) = message.params.as_ref().and_then(|p| p.name.as_deref()) else {
                    continue;
                };
                let Some(scopes) = crate::decl::required_scopes(name) else {
                    continue;
                };
                if scopes.iter().all(|s| principal.has_scope(s)) {
                    continue;
                }
                match (config.tools_list, config.scope_denial) {
                    (ToolsList::Granted, _) => match &mut inspection {
                        Inspection::Withhold { tools } => tools.push(name.to_owned()),
                        _ => {
                            inspection = Inspection::Withhold {
                                tools: vec![name.to_owned()],
                            }
                        }
                    },
                    (ToolsList::All, ScopeDenial::Challenge) => {
                        return Inspection::Challenge {
                            id: message.id.clone(),
                            tool: name.to_owned(),
                            scopes,
                        };
                    }
                    (ToolsList::All, ScopeDenial::ToolError) => {}
                }
            }
            _ => {}
        }
    }
    inspection
}

/// The body with every call of a withheld tool renamed to [`WITHHELD`].
fn withhold(body: &[u8], tools: &[String]) -> Option<Vec<u8>> {
    let mut value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let rename = |message: &mut serde_json::Value| {
        if message.get("method").and_then(|m| m.as_str()) != Some("tools/call") {
            return;
        }
        if let Some(name) = message.pointer_mut("/params/name")
            && name.as_str().is_some_and(|n| tools.iter().any(|t| t == n))
        {
            *name = serde_json::Value::String(WITHHELD.into());
        }
    };
    match &mut value {
        serde_json::Value::Array(messages) => messages.iter_mut().for_each(rename),
        message => rename(message),
    }
    serde_json::to_vec(&value).ok()
}

fn audit_refusal(
    config: &Config,
    principal: &Principal,
    tool: Option<&str>,
    outcome: &'static str,
    reason: &str,
) {
    tracing::info!(
        target: AUDIT_TARGET,
        tool = tool.unwrap_or("-"),
        principal = principal.id(),
        outcome,
        reason,
        "http request refused"
    );
    let log = config
        .security
        .as_ref()
        .and_then(crate::Security::audit_log);
    crate::audit::http_refusal(log, principal, tool, outcome, reason);
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
        Some(host) => format!("http://{host}{WELL_KNOWN}{}", uri.path()),
        None => WELL_KNOWN.to_owned(),
    }
}

/// The RFC 9728 document.
pub(crate) fn metadata(config: &Config) -> serde_json::Value {
    let manifest = crate::Security::default().manifest();
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

fn full(body: impl Into<Bytes>) -> AuthBody {
    UnsyncBoxBody::new(Full::new(body.into()).map_err(|never| match never {}))
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
    fn withheld_calls_are_renamed_wherever_they_sit() {
        let body = br#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write_file","arguments":{}}},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"read_file"}}]"#;
        let out = withhold(body, &["write_file".into()]).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value[0]["params"]["name"], WITHHELD);
        assert_eq!(value[1]["params"]["name"], "read_file");
    }

    #[test]
    fn challenge_text_is_a_quoted_string() {
        assert_eq!(quotable("a \"b\" \\ é"), "a ?b? ? ?");
    }
}
