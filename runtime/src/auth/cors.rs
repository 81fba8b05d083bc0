//! CORS for browser-based MCP clients: only the origins the operator allowed
//! ([`ResourceServerBuilder::cors_origins`](super::ResourceServerBuilder::cors_origins)).
//! A preflight is answered without a token (browsers send none); every other answer to
//! an allowed origin names that origin (never `*` on the MCP endpoint) and exposes the
//! headers a client must read: the challenge and the session id.

use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};

use super::body::{AuthBody, full};

/// The request headers a browser client of MCP may send.
const ALLOWED_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "accept",
    "mcp-session-id",
    "mcp-protocol-version",
    "mcp-method",
    "mcp-name",
    "last-event-id",
];

/// `Mcp-Param-*` (SEP-2243) carries tool arguments a proxy may route on.
const PARAM_PREFIX: &str = "mcp-param-";

/// The `Origin` of one request, as the allowlist judges it.
pub(crate) enum Origin {
    /// No allowlist: CORS is off.
    Off,
    /// An allowlist, and no `Origin` header (not a browser's cross-origin request).
    None,
    Allowed(HeaderValue),
    Refused,
}

impl Origin {
    /// Judge the request's `Origin` against `allowed` (exact, ASCII case-insensitive,
    /// serialized origins such as `https://app.example.com`).
    pub(crate) fn of(allowed: &[String], headers: &HeaderMap) -> Self {
        if allowed.is_empty() {
            return Self::Off;
        }
        let mut values = headers.get_all(header::ORIGIN).iter();
        match (values.next(), values.next()) {
            (None, _) => Self::None,
            (Some(value), None) => match value.to_str() {
                Ok(origin)
                    if origin != "null"
                        && allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) =>
                {
                    Self::Allowed(value.clone())
                }
                _ => Self::Refused,
            },
            (Some(_), Some(_)) => Self::Refused,
        }
    }

    /// Mark `headers` (an answer to the request) for the browser.
    pub(crate) fn expose(&self, headers: &mut HeaderMap) {
        if let Self::Allowed(origin) = self {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("WWW-Authenticate, Mcp-Session-Id"),
            );
        }
        if !matches!(self, Self::Off) {
            // The answer depends on `Origin`: no cache may serve it to another origin.
            headers.append(header::VARY, HeaderValue::from_static("Origin"));
        }
    }
}

/// The answer to a request from an origin that is not allowed, before anything else.
pub(crate) fn refused() -> Response<AuthBody> {
    let mut response = Response::new(full("Forbidden: this origin is not allowed"));
    *response.status_mut() = StatusCode::FORBIDDEN;
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("Origin"));
    response
}

/// The answer to a CORS preflight (`OPTIONS` with `Access-Control-Request-Method`), or
/// `None` for any other request.
pub(crate) fn preflight<B>(origin: &Origin, request: &Request<B>) -> Option<Response<AuthBody>> {
    if request.method() != Method::OPTIONS
        || !request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        return None;
    }
    let allowed = match origin {
        Origin::Allowed(allowed) => allowed,
        // A preflight from an origin that is not allowed: no CORS headers, so the
        // browser refuses the request it was asking about.
        Origin::Refused => {
            let mut response = Response::new(full(""));
            *response.status_mut() = StatusCode::FORBIDDEN;
            return Some(response);
        }
        // No allowlist, or no `Origin`: the request is judged like any other.
        Origin::Off | Origin::None => return None,
    };
    let method_ok = request
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|m| m.to_str().ok())
        .is_some_and(|m| matches!(m, "GET" | "POST" | "DELETE"));
    let requested = request
        .headers()
        .get_all(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect::<Vec<_>>();
    let headers_ok = requested
        .iter()
        .all(|h| ALLOWED_HEADERS.contains(&h.as_str()) || is_param_header(h));
    let mut response = Response::new(full(""));
    *response.status_mut() = StatusCode::NO_CONTENT;
    let out = response.headers_mut();
    out.append(header::VARY, HeaderValue::from_static("Origin"));
    if !(method_ok && headers_ok) {
        return Some(response);
    }
    out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed.clone());
    out.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, DELETE"),
    );
    let mut allow = ALLOWED_HEADERS.join(", ");
    for param in requested.iter().filter(|h| is_param_header(h)) {
        allow.push_str(", ");
        allow.push_str(param);
    }
    if let Ok(value) = HeaderValue::from_str(&allow) {
        out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, value);
    }
    out.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("WWW-Authenticate, Mcp-Session-Id"),
    );
    out.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    Some(response)
}

/// `Mcp-Param-<name>` with a header-token name.
fn is_param_header(name: &str) -> bool {
    name.strip_prefix(PARAM_PREFIX).is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(origin: Option<&'static str>, headers: &'static str) -> Request<()> {
        let mut builder = Request::builder()
            .method(Method::OPTIONS)
            .uri("/mcp")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, headers);
        if let Some(origin) = origin {
            builder = builder.header(header::ORIGIN, origin);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn only_allowed_origins_get_a_preflight_and_never_a_wildcard() {
        let allowed = vec!["https://app.example.com".to_owned()];
        let req = request(
            Some("https://app.example.com"),
            "authorization, content-type, mcp-param-region",
        );
        let origin = Origin::of(&allowed, req.headers());
        let response = preflight(&origin, &req).unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let h = response.headers();
        assert_eq!(
            h[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://app.example.com"
        );
        assert!(
            h[header::ACCESS_CONTROL_ALLOW_HEADERS]
                .to_str()
                .unwrap()
                .contains("mcp-param-region")
        );

        let req = request(Some("https://evil.example"), "authorization");
        let origin = Origin::of(&allowed, req.headers());
        let response = preflight(&origin, &req).unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(
            !response
                .headers()
                .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        );

        // A header outside the list: no grant.
        let req = request(Some("https://app.example.com"), "x-forwarded-for");
        let origin = Origin::of(&allowed, req.headers());
        let response = preflight(&origin, &req).unwrap();
        assert!(
            !response
                .headers()
                .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        );

        // Without an allowlist, nothing is CORS.
        let req = request(Some("https://app.example.com"), "authorization");
        let origin = Origin::of(&[], req.headers());
        let mut headers = HeaderMap::new();
        origin.expose(&mut headers);
        assert!(headers.is_empty());
    }
}
