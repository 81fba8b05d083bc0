//! One authorization system on streamable HTTP: the OAuth layer, the operator's policy and
//! rmcp give one answer on every path (POST, GET and its replays, DELETE, both protocol
//! revisions). Each test is a finding tried from outside, by raw HTTP or rmcp's client.
mod auth_support;
mod common;

use std::sync::Arc;
use std::time::Duration;

use auth_support::{TempDir, claims, ed25519, initialize, sign_ed, tool_names};
use common::TestServer;
use rmcp::model::{CallToolRequestParams, ProtocolVersion};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::streamable_http_server::session::{
    EventStore, EventStoreError, EventStream, ServerSseMessage,
};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use secure_tool::Security;
use secure_tool::auth::{
    DevIssuer, JwksSource, ResourceServer, ResourceServerBuilder, ScopeDenial, TokenError,
    ToolsList,
};
use serde_json::{Value, json};

const AUD: &str = "https://mcp.test/mcp";
const ISS: &str = "https://issuer.test";

fn trusting(issuer: &DevIssuer) -> ResourceServerBuilder {
    ResourceServer::builder(AUD).issuer(ISS, JwksSource::inline(issuer.jwks()))
}

/// Serve `TestServer` with `security` behind `auth`; returns the MCP URL.
async fn serve_with(security: Security, auth: ResourceServer, origins: &[&str]) -> String {
    serve_sessions(security, auth, origins, LocalSessionManager::default()).await
}

async fn serve_sessions(
    security: Security,
    auth: ResourceServer,
    origins: &[&str],
    sessions: LocalSessionManager,
) -> String {
    let _register = TestServer::new(security.clone());
    let mut config = StreamableHttpServerConfig::default();
    if !origins.is_empty() {
        config = config.with_allowed_origins(origins.iter().map(|o| (*o).to_owned()));
    }
    let service = StreamableHttpService::new(
        move || Ok(TestServer::new(security.clone())),
        Arc::new(sessions),
        config,
    );
    let app = axum::Router::new()
        .nest_service("/mcp", service)
        .layer(auth);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/mcp")
}

async fn serve(auth: ResourceServer) -> String {
    serve_with(Security::default(), auth, &[]).await
}

fn issuer() -> DevIssuer {
    DevIssuer::new(ISS)
}

fn token(issuer: &DevIssuer, sub: &str, scopes: &[&str]) -> String {
    issuer.token(AUD, sub, scopes, 600)
}

/// A JSON-RPC POST as an MCP client sends it, with extra headers.
async fn post(url: &str, token: Option<&str>, headers: &[(&str, &str)], body: &Value) -> Reply {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string());
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    Reply::of(request.send().await.unwrap()).await
}

async fn send(request: reqwest::RequestBuilder) -> Reply {
    Reply::of(request.send().await.unwrap()).await
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Reply {
    async fn of(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        // SSE streams of a session may stay open: read what comes within a moment.
        let mut response = response;
        let mut bytes = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(deadline, response.chunk()).await {
            bytes.extend_from_slice(&chunk);
        }
        let body = String::from_utf8_lossy(&bytes).into_owned();
        Self {
            status,
            headers,
            body,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// The JSON-RPC messages of the body (plain JSON, or the `data` of SSE events).
    fn messages(&self) -> Vec<Value> {
        if let Ok(value) = serde_json::from_str::<Value>(&self.body) {
            return vec![value];
        }
        self.body
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str(d.trim()).ok())
            .collect()
    }

    /// The SSE event ids of the body.
    fn event_ids(&self) -> Vec<String> {
        self.body
            .lines()
            .filter_map(|l| l.strip_prefix("id:"))
            .map(|id| id.trim().to_owned())
            .collect()
    }

    fn tool_names(&self) -> Vec<String> {
        self.messages()
            .iter()
            .filter_map(|m| m.pointer("/result/tools").and_then(Value::as_array))
            .flatten()
            .filter_map(|t| t["name"].as_str().map(str::to_owned))
            .collect()
    }
}

fn list(id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/list"})
}

/// Open a legacy session for `token`; returns its id.
async fn open_session(url: &str, token: &str) -> String {
    let reply = post(url, Some(token), &[], &initialize()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let id = reply.header("mcp-session-id").unwrap().to_owned();
    let session = [("mcp-session-id", id.as_str())];
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(
        post(url, Some(token), &session, &initialized).await.status,
        202
    );
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_answers_only_the_caller_that_opened_it() {
    let issuer = issuer();
    let url = serve(trusting(&issuer).build().unwrap()).await;
    let alice = token(&issuer, "alice", &["echo"]);
    let bob = token(&issuer, "bob", &[]);
    let sid = open_session(&url, &alice).await;
    let session = [("mcp-session-id", sid.as_str())];
    let unknown = [("mcp-session-id", "0f0f0f0f-0000-4000-8000-000000000000")];

    // What any caller gets for a session that does not exist.
    let never = post(&url, Some(&bob), &unknown, &list(2)).await;
    assert_eq!(never.status, 404);

    // Bob, with a valid token of his own, cannot use, replay or end Alice's session, and
    // cannot tell it from one that never existed.
    let call = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "sync_echo", "arguments": {"text": "hi", "times": 1}}});
    for body in [list(2), call.clone()] {
        let reply = post(&url, Some(&bob), &session, &body).await;
        assert_eq!((reply.status, &reply.body), (never.status, &never.body));
    }
    let get = |token: &str, extra: Option<(&str, &str)>| {
        let mut request = reqwest::Client::new()
            .get(&url)
            .header("accept", "text/event-stream")
            .header("authorization", format!("Bearer {token}"))
            .header("mcp-session-id", &sid);
        if let Some((name, value)) = extra {
            request = request.header(name, value);
        }
        request
    };
    let replay = send(get(&bob, Some(("last-event-id", "0")))).await;
    assert_eq!((replay.status, &replay.body), (never.status, &never.body));
    let stream = send(get(&bob, None)).await;
    assert_eq!(stream.status, 404);
    let delete = || {
        reqwest::Client::new()
            .delete(&url)
            .header("mcp-session-id", &sid)
    };
    let ended = send(delete().header("authorization", format!("Bearer {bob}"))).await;
    assert_eq!((ended.status, &ended.body), (never.status, &never.body));
    // Without a token: the 401 comes first, as for any request.
    assert_eq!(send(delete()).await.status, 401);
    // Two session headers: nobody's.
    let both = [
        ("mcp-session-id", sid.as_str()),
        ("mcp-session-id", sid.as_str()),
    ];
    assert_eq!(post(&url, Some(&alice), &both, &list(4)).await.status, 404);

    // Alice's session is untouched: she is served, then ends it herself.
    let mine = post(&url, Some(&alice), &session, &call).await;
    assert_eq!(mine.status, 200, "{}", mine.body);
    assert!(mine.body.contains("hi"), "{}", mine.body);
    // The same subject from another token still owns it (the binding is the caller,
    // not the token).
    let alice_again = token(&issuer, "alice", &[]);
    assert_eq!(
        post(&url, Some(&alice_again), &session, &list(5))
            .await
            .status,
        200
    );
    let ended = send(delete().header("authorization", format!("Bearer {alice}"))).await;
    assert!(ended.status < 300, "{}", ended.status);
    assert_eq!(
        post(&url, Some(&alice), &session, &list(6)).await.status,
        404
    );
}

/// One decision on the caller's scopes, whichever layer asks: a table of policy shapes,
/// each answered alike under both denial modes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_decides_once_and_both_denial_modes_agree() {
    struct Shape {
        name: &'static str,
        policy: &'static str,
        sub: &'static str,
        scopes: &'static [&'static str],
        /// Whether `echo` (scope `echo`) and `needs_two` (scopes `a`, `b`) are allowed.
        echo: bool,
        needs_two: bool,
    }
    let shapes = [
        Shape {
            name: "a grant of the policy is no token scope (issue repro)",
            policy: "[roles]\nwriter = [\"a\", \"b\"]\n[principals.alice]\nscopes = [\"files.rw\"]\n[token_scopes.\"files.rw\"]\nroles = [\"writer\"]\n",
            sub: "alice",
            scopes: &["echo"],
            echo: true,
            needs_two: false,
        },
        Shape {
            name: "a token scope mapped to a role",
            policy: "[roles]\nwriter = [\"a\", \"b\"]\n[token_scopes.\"files.rw\"]\nroles = [\"writer\"]\n",
            sub: "carol",
            scopes: &["files.rw"],
            echo: false,
            needs_two: true,
        },
        Shape {
            name: "a chain through the principal's role",
            policy: "[roles]\nwriter = [\"a\", \"b\", \"echo\"]\n[principals.frank]\nroles = [\"writer\"]\n",
            sub: "frank",
            scopes: &[],
            echo: true,
            needs_two: true,
        },
        Shape {
            name: "a denial by principal wins over the token",
            policy: "[principals.eve]\ndeny = [\"b\"]\n",
            sub: "eve",
            scopes: &["a", "b", "echo"],
            echo: true,
            needs_two: false,
        },
        Shape {
            name: "a denial by token scope wins over a role",
            policy: "[roles]\nwriter = [\"a\", \"b\"]\n[principals.dave]\nroles = [\"writer\"]\n[token_scopes.contractor]\ndeny = [\"a\", \"echo\"]\n",
            sub: "dave",
            scopes: &["contractor", "echo"],
            echo: false,
            needs_two: false,
        },
        Shape {
            name: "a denial listed by a role's holder",
            policy: "[roles]\nreader = [\"echo\"]\n[principals.gina]\nroles = [\"reader\"]\ndeny = [\"echo\"]\n",
            sub: "gina",
            scopes: &[],
            echo: false,
            needs_two: false,
        },
    ];
    let dir = TempDir::new("authz-table");
    let issuer = issuer();
    // The tools must be registered before a policy naming them is read.
    let _register = TestServer::new(Security::default());
    for (i, shape) in shapes.iter().enumerate() {
        let path = dir.0.join(format!("policy-{i}.toml"));
        std::fs::write(&path, shape.policy).unwrap();
        let security = Security::builder().policy_file(&path).unwrap().build();
        let mut decisions = Vec::new();
        for denial in [ScopeDenial::Challenge, ScopeDenial::ToolError] {
            let auth = trusting(&issuer)
                .security(&security)
                .scope_denial(denial)
                .build()
                .unwrap();
            let url = serve_with(security.clone(), auth, &[]).await;
            let token = token(&issuer, shape.sub, shape.scopes);
            let client = connect(&url, &token, false).await.unwrap();
            let mut allowed = Vec::new();
            for (tool, args) in [
                ("echo", json!({"text": "x", "times": 1})),
                ("needs_two", json!({})),
            ] {
                allowed.push(allowed_call(&client, tool, args).await);
            }
            decisions.push(allowed);
        }
        let expected = vec![shape.echo, shape.needs_two];
        assert_eq!(
            decisions,
            [expected.clone(), expected],
            "{}: [challenge, tool-error] x [echo, needs_two]",
            shape.name
        );
    }
}

/// A layer decides for its own `Security`: a server behind it whose `Security` has
/// another policy decides again (its denials hold), and a scope the policy denies is not
/// challenged (no token could step up to it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_holds_only_for_its_own_security_and_denials_are_not_challenged() {
    let dir = TempDir::new("authz-lineage");
    let _register = TestServer::new(Security::default());
    let issuer = issuer();
    let write = |name: &str, text: &str| {
        let path = dir.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let lenient = Security::builder()
        .policy_file(write(
            "lenient.toml",
            "[principals.alice]\nscopes = [\"a\"]\n",
        ))
        .unwrap()
        .build();
    let strict = Security::builder()
        .policy_file(write(
            "strict.toml",
            "[principals.alice]\ndeny = [\"echo\"]\n",
        ))
        .unwrap()
        .build();
    let caller = token(&issuer, "alice", &["echo"]);
    // The layer judges with the lenient policy; the tools run under the strict one.
    let auth = trusting(&issuer)
        .security(&lenient)
        .scope_denial(ScopeDenial::ToolError)
        .build()
        .unwrap();
    let url = serve_with(strict.clone(), auth, &[]).await;
    let client = connect(&url, &caller, false).await.unwrap();
    assert!(!allowed_call(&client, "echo", json!({"text": "x", "times": 1})).await);

    // Challenge mode with the strict policy: a denied scope is answered by the tool's
    // own denial, not a 403 asking for a scope no token would be granted.
    let auth = trusting(&issuer).security(&strict).build().unwrap();
    let url = serve_with(strict, auth, &[]).await;
    let client = connect(&url, &caller, false).await.unwrap();
    let mut params = CallToolRequestParams::new("echo");
    params = params.with_arguments(
        json!({"text": "x", "times": 1})
            .as_object()
            .unwrap()
            .clone(),
    );
    let result = client
        .call_tool(params)
        .await
        .expect("an isError result, not a 403");
    assert_eq!(result.is_error, Some(true));
}

type Client = rmcp::service::RunningService<rmcp::RoleClient, ()>;

/// rmcp's client, in the legacy (`initialize`) or the 2026-07-28 (`server/discover`) mode.
async fn connect(url: &str, token: &str, modern: bool) -> Result<Client, String> {
    let config =
        StreamableHttpClientTransportConfig::with_uri(url.to_owned()).auth_header(token.to_owned());
    let transport = StreamableHttpClientTransport::from_config(config);
    let lifecycle = if modern {
        ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        }
    } else {
        ClientLifecycleMode::Initialize
    };
    ().serve_with_lifecycle(transport, lifecycle)
        .await
        .map_err(|e| e.to_string())
}

/// Whether the call ran: a 403 and an `isError` denial both say no.
async fn allowed_call(client: &Client, tool: &str, args: Value) -> bool {
    let mut params = CallToolRequestParams::new(tool.to_owned());
    if let Value::Object(map) = args {
        params = params.with_arguments(map);
    }
    match client.call_tool(params).await {
        Ok(result) => result.is_error != Some(true),
        Err(_) => false,
    }
}

/// The headers and `_meta` of a 2026-07-28 request (no session, no `initialize`).
fn modern(
    method: &str,
    name: Option<&str>,
    id: u64,
    params: Value,
) -> (Vec<(String, String)>, Value) {
    let mut headers = vec![
        ("mcp-protocol-version".to_owned(), "2026-07-28".to_owned()),
        ("mcp-method".to_owned(), method.to_owned()),
    ];
    if let Some(name) = name {
        headers.push(("mcp-name".to_owned(), name.to_owned()));
    }
    let mut params = params;
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    (
        headers,
        json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
    )
}

async fn post_modern(url: &str, token: &str, headers: &[(String, String)], body: &Value) -> Reply {
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    post(url, Some(token), &headers, body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withheld_tool_has_no_side_door() {
    let issuer = issuer();
    let url = serve(
        trusting(&issuer)
            .tools_list(ToolsList::Granted)
            .build()
            .unwrap(),
    )
    .await;
    // Holds `a` only: `echo` and `needs_two` are withheld.
    let caller = token(&issuer, "mallory", &["a"]);
    let withheld = |names: &[String]| names.iter().any(|n| n == "echo" || n == "needs_two");

    // A `tools/list` whose params the layer cannot read as a name is still filtered.
    let sid = open_session(&url, &caller).await;
    let session = [("mcp-session-id", sid.as_str())];
    let odd = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {"name": 0}});
    let reply = post(&url, Some(&caller), &session, &odd).await;
    let names = reply.tool_names();
    assert!(
        names.contains(&"sync_echo".to_owned()) && !withheld(&names),
        "{names:?} {}",
        reply.body
    );
    // A body the layer cannot read at all is refused, never passed on unjudged.
    let garbage = reqwest::Client::new()
        .post(&url)
        .header("authorization", format!("Bearer {caller}"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", &sid)
        .body(r#"{"jsonrpc":"2.0","id":9,"method":"tools/list","method":"tools/list"}"#);
    assert_eq!(send(garbage).await.status, 400);

    // 2026-07-28: the list is filtered and private; a call of a withheld tool, named in
    // the body and in `Mcp-Name`, is answered exactly like a call of an unknown tool.
    let (headers, body) = modern("tools/list", None, 10, json!({}));
    let reply = post_modern(&url, &caller, &headers, &body).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let names = reply.tool_names();
    assert!(
        names.contains(&"sync_echo".to_owned()) && !withheld(&names),
        "{names:?}"
    );
    assert_eq!(reply.messages()[0]["result"]["cacheScope"], "private");

    let call = |name: &str| {
        modern(
            "tools/call",
            Some(name),
            11,
            json!({"name": name, "arguments": {"text": "x", "times": 1}}),
        )
    };
    let (headers, body) = call("echo");
    let hidden = post_modern(&url, &caller, &headers, &body).await;
    let (headers, body) = call("no_such_tool");
    let unknown = post_modern(&url, &caller, &headers, &body).await;
    assert_eq!(hidden.status, unknown.status);
    assert_eq!(hidden.messages(), unknown.messages(), "{}", hidden.body);
    assert!(!hidden.body.contains("echo"), "{}", hidden.body);
    // In SEP-2243's Base64 form too.
    let (mut headers, body) = call("echo");
    headers[2].1 = "=?base64?ZWNobw==?=".to_owned();
    let encoded = post_modern(&url, &caller, &headers, &body).await;
    assert_eq!(encoded.messages(), unknown.messages(), "{}", encoded.body);

    // Bodies rmcp refuses, or that a rewrite would change, get the same answer whether
    // they name a withheld tool or an unknown one: the name is replaced in place.
    for arguments in [
        json!({"s": "\u{fffd}", "n": vec![1e9; 20_000]}),
        json!({"big": "x".repeat(4 * 1024 * 1024 - 200)}),
    ] {
        let body = |name: &str| {
            json!({"jsonrpc": "2.0", "id": 12, "method": "tools/call",
                "params": {"name": name, "arguments": arguments}})
        };
        let session = [("mcp-session-id", sid.as_str())];
        let hidden = post(&url, Some(&caller), &session, &body("echo")).await;
        let unknown = post(&url, Some(&caller), &session, &body("ohce")).await;
        assert_eq!(hidden.status, unknown.status);
        assert_eq!(hidden.messages(), unknown.messages());
    }
    let surrogate = |name: &str| {
        format!(
            r#"{{"jsonrpc":"2.0","id":13,"method":"tools/call","params":{{"name":"{name}","arguments":{{"s":"\ud800","n":1e400}}}}}}"#
        )
    };
    let raw = |name: &str| {
        reqwest::Client::new()
            .post(&url)
            .header("authorization", format!("Bearer {caller}"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &sid)
            .body(surrogate(name))
    };
    let (hidden, unknown) = (send(raw("echo")).await, send(raw("ohce")).await);
    assert_eq!((hidden.status, hidden.body), (unknown.status, unknown.body));

    // A header that disagrees with the body is refused before dispatch (HeaderMismatch),
    // naming neither value.
    let (mut headers, body) = call("echo");
    headers[2].1 = "sync_echo".to_owned();
    let mismatch = post_modern(&url, &caller, &headers, &body).await;
    assert_eq!(mismatch.status, 400);
    assert_eq!(mismatch.messages()[0]["error"]["code"], -32020);
    assert!(!mismatch.body.contains("echo"), "{}", mismatch.body);
    let (mut headers, body) = call("sync_echo");
    headers[1].1 = "tools/list".to_owned();
    let mismatch = post_modern(&url, &caller, &headers, &body).await;
    assert_eq!(mismatch.status, 400);
}

/// An rmcp event store in memory: events by global id, replayed within their stream. It
/// finds events by id alone, across sessions, as rmcp's `EventStore` does.
#[derive(Default)]
struct MemoryEvents {
    events: std::sync::Mutex<Vec<(String, String, ServerSseMessage)>>,
}

#[async_trait::async_trait]
impl EventStore for MemoryEvents {
    async fn store_event(
        &self,
        stream_id: &str,
        _event: &ServerSseMessage,
    ) -> Result<String, EventStoreError> {
        let mut events = self.events.lock().unwrap();
        let id = format!("e{}", events.len());
        events.push((stream_id.to_owned(), id.clone(), _event.clone()));
        Ok(id)
    }

    async fn replay_events_after(
        &self,
        last_event_id: &str,
    ) -> Result<EventStream, EventStoreError> {
        let events = self.events.lock().unwrap();
        let Some(at) = events.iter().position(|(_, id, _)| id == last_event_id) else {
            return Err("unknown event".into());
        };
        let stream = events[at].0.clone();
        let after: Vec<ServerSseMessage> = events[at + 1..]
            .iter()
            .filter(|(s, _, _)| *s == stream)
            .map(|(_, id, event)| {
                let mut event = event.clone();
                event.event_id = Some(id.clone());
                event
            })
            .collect();
        Ok(Box::pin(futures::stream::iter(after)))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_is_the_callers_own_and_filtered() {
    let issuer = issuer();
    let auth = trusting(&issuer)
        .tools_list(ToolsList::Granted)
        .build()
        .unwrap();
    let sessions =
        LocalSessionManager::default().with_event_store(Arc::new(MemoryEvents::default()));
    let url = serve_sessions(Security::default(), auth, &[], sessions).await;
    let alice = token(&issuer, "alice", &["a"]);
    let bob = token(&issuer, "bob", &["a", "b", "echo"]);
    let get = |token: &str, sid: &str, last: &str| {
        reqwest::Client::new()
            .get(&url)
            .header("authorization", format!("Bearer {token}"))
            .header("accept", "text/event-stream")
            .header("mcp-session-id", sid)
            .header("last-event-id", last)
    };

    // Bob lists in his session: the store holds the list rmcp answered (every tool).
    let bobs = open_session(&url, &bob).await;
    let reply = post(
        &url,
        Some(&bob),
        &[("mcp-session-id", bobs.as_str())],
        &list(2),
    )
    .await;
    let ids = reply.event_ids();
    assert!(
        !ids.is_empty(),
        "an SSE stream with event ids: {}",
        reply.body
    );
    assert!(reply.tool_names().contains(&"needs_two".to_owned()));

    // Alice, in her own session, names Bob's event: she gets an empty stream, not his.
    let alices = open_session(&url, &alice).await;
    let stolen = send(get(&alice, &alices, &ids[0])).await;
    assert_eq!(stolen.status, 200);
    assert!(stolen.messages().is_empty(), "{}", stolen.body);
    // Without a session (the stateless revision's replay) too.
    let stateless = send(
        reqwest::Client::new()
            .get(&url)
            .header("authorization", format!("Bearer {alice}"))
            .header("accept", "text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("last-event-id", &ids[0]),
    )
    .await;
    assert!(stateless.messages().is_empty(), "{}", stateless.body);

    // Alice replays her own list: filtered like the answer was, and marked private.
    let reply = post(
        &url,
        Some(&alice),
        &[("mcp-session-id", alices.as_str())],
        &list(3),
    )
    .await;
    let ids = reply.event_ids();
    let replay = send(get(&alice, &alices, &ids[0])).await;
    let names = replay.tool_names();
    assert!(
        !names.is_empty(),
        "the replay holds the list: {}",
        replay.body
    );
    assert!(names.contains(&"sync_echo".to_owned()), "{names:?}");
    assert!(
        !names.iter().any(|n| n == "echo" || n == "needs_two"),
        "{names:?}"
    );
    let private = replay
        .messages()
        .iter()
        .all(|m| m.pointer("/result/tools").is_none() || m["result"]["cacheScope"] == "private");
    assert!(private, "{}", replay.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_challenge_and_filtering_work_alike_in_both_revisions() {
    let issuer = issuer();
    let challenge = serve(trusting(&issuer).build().unwrap()).await;
    let granted = serve(
        trusting(&issuer)
            .tools_list(ToolsList::Granted)
            .build()
            .unwrap(),
    )
    .await;
    let caller = token(&issuer, "rita", &["echo"]);
    for modern in [false, true] {
        let client = connect(&challenge, &caller, modern).await.unwrap();
        assert!(allowed_call(&client, "echo", json!({"text": "x", "times": 1})).await);
        let mut params = CallToolRequestParams::new("needs_two");
        params = params.with_arguments(serde_json::Map::new());
        let error = client.call_tool(params).await.unwrap_err().to_string();
        assert!(
            error.to_ascii_lowercase().contains("insufficient scope"),
            "{modern}: {error}"
        );

        let client = connect(&granted, &caller, modern).await.unwrap();
        let names = tool_names(&client).await;
        assert!(names.contains(&"echo".to_owned()), "{modern}: {names:?}");
        assert!(
            !names.contains(&"needs_two".to_owned()),
            "{modern}: {names:?}"
        );
    }
}

#[tokio::test]
async fn only_access_tokens_are_accepted() {
    let (key, jwk) = ed25519("k1");
    let jwks = json!({ "keys": [jwk] }).to_string();
    let server = |strict: bool| {
        ResourceServer::builder(AUD)
            .issuer(ISS, JwksSource::inline(jwks.clone()))
            .require_at_jwt(strict)
            .build()
            .unwrap()
    };
    let (lenient, strict) = (server(false), server(true));
    let with_typ = |typ: Option<&str>| {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.kid = Some("k1".into());
        header.typ = typ.map(str::to_owned);
        jsonwebtoken::encode(&header, &claims(AUD, "alice", "echo"), &key).unwrap()
    };
    for (typ, default_ok, strict_ok) in [
        (Some("at+jwt"), true, true),
        (Some("application/at+jwt"), true, true),
        (Some("JWT"), true, false),
        (None, true, false),
        (Some("dpop+jwt"), false, false),
        (Some("logout+jwt"), false, false),
        (Some("id_token+jwt"), false, false),
    ] {
        let token = with_typ(typ);
        let refused = Err(TokenError::NotAnAccessToken);
        assert_eq!(lenient.verify(&token).await.is_ok(), default_ok, "{typ:?}");
        assert_eq!(
            strict.verify(&token).await.is_ok(),
            strict_ok,
            "{typ:?} strict"
        );
        if !default_ok {
            assert_eq!(lenient.verify(&token).await.map(|_| ()), refused);
        }
    }
    // A sender-constrained (DPoP, mTLS) token cannot be presented as a bearer token.
    let mut bound = claims(AUD, "alice", "echo");
    bound["cnf"] = json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"});
    let token = sign_ed(&key, "k1", &bound);
    assert_eq!(
        lenient.verify(&token).await.map(|_| ()),
        Err(TokenError::SenderConstrained)
    );
    // `iss` must be the issuer as one string, not an array holding it.
    let mut claims = claims(AUD, "alice", "echo");
    claims["iss"] = json!([ISS]);
    let token = sign_ed(&key, "k1", &claims);
    assert!(lenient.verify(&token).await.is_err());
}

#[tokio::test]
async fn ids_of_several_issuers_are_unambiguous() {
    let a = DevIssuer::new("https://a.test#b");
    let b = DevIssuer::new("https://a.test");
    let server = ResourceServer::builder(AUD)
        .issuer(a.issuer(), JwksSource::inline(a.jwks()))
        .issuer(b.issuer(), JwksSource::inline(b.jwks()))
        .build()
        .unwrap();
    let one = server.verify(&a.token(AUD, "c", &[], 600)).await.unwrap();
    let two = server.verify(&b.token(AUD, "b#c", &[], 600)).await.unwrap();
    assert_ne!(one.id(), two.id());
    assert_eq!(one.id(), "https://a.test%23b#c");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_path_cannot_add_to_a_challenge() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let issuer = issuer();
    // A resource that is no URL: the metadata URL is made from the request.
    let auth = ResourceServer::builder("urn:example:mcp")
        .issuer(ISS, JwksSource::inline(issuer.jwks()))
        .build()
        .unwrap();
    let url = serve(auth).await;
    let addr = url.trim_start_matches("http://").trim_end_matches("/mcp");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /mcp/x\",error=\"injected HTTP/1.1\r\nhost: {addr}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let challenge = answer
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("www-authenticate:"))
        .unwrap_or_default();
    if answer.starts_with("HTTP/1.1 401") {
        assert!(!challenge.contains("error=\""), "{challenge}");
        assert_eq!(challenge.matches('"').count(), 2, "{challenge}");
    } else {
        // The request line itself was refused by the HTTP parser: nothing to add to.
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_flood_is_a_handful_of_lines_and_no_call_is_lost() {
    let dir = TempDir::new("authz-flood");
    let trail = dir.0.join("audit.jsonl");
    let security = Security::builder().audit_log(&trail).unwrap().build();
    let issuer = issuer();
    let auth = trusting(&issuer)
        .security(&security)
        .scope_denial(ScopeDenial::ToolError)
        .build()
        .unwrap();
    let url = serve_with(security, auth, &[]).await;
    let http = reqwest::Client::new();
    let flood = (0..1_500).map(|_| {
        http.post(&url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(list(1).to_string())
            .send()
    });
    let statuses = futures::future::join_all(flood).await;
    assert!(statuses.iter().all(|r| r.as_ref().unwrap().status() == 401));
    // A caller without the scopes, in a loop: refusals that cost it nothing.
    let caller = token(&issuer, "looper", &["echo"]);
    let client = connect(&url, &caller, false).await.unwrap();
    for _ in 0..200 {
        assert!(!allowed_call(&client, "needs_two", json!({})).await);
    }
    assert!(allowed_call(&client, "echo", json!({"text": "kept", "times": 1})).await);
    // The interval's counts are written once it is over.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let lines: Vec<Value> = std::fs::read_to_string(&trail)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let count = |l: &Value| l.get("count").map_or(1, |c| c.as_u64().unwrap());
    let refused: Vec<&Value> = lines
        .iter()
        .filter(|l| l["event"] == "http_refused")
        .collect();
    assert!(refused.len() <= 8, "{} lines", refused.len());
    assert_eq!(refused.iter().map(|l| count(l)).sum::<u64>(), 1_500);
    let denied: Vec<&Value> = lines
        .iter()
        .filter(|l| l["event"] == "tool_call" && l["outcome"] == "denied")
        .collect();
    assert!(denied.len() <= 8, "{} lines", denied.len());
    assert_eq!(denied.iter().map(|l| count(l)).sum::<u64>(), 200);
    let ok = lines
        .iter()
        .filter(|l| l["event"] == "tool_call" && l["outcome"] == "ok")
        .count();
    assert_eq!(ok, 1);
    assert!(lines.iter().all(|l| l["event"] != "audit_dropped"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_from_allowed_origins_can_connect_and_no_others() {
    let issuer = issuer();
    let app = "https://app.test";
    let auth = trusting(&issuer).cors_origins([app]).build().unwrap();
    let url = serve_with(Security::default(), auth, &[app]).await;
    let preflight = |origin: &str| {
        reqwest::Client::new()
            .request(reqwest::Method::OPTIONS, &url)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type, mcp-session-id, mcp-protocol-version",
            )
    };
    let ok = send(preflight(app)).await;
    assert!(ok.status == 204 || ok.status == 200, "{}", ok.status);
    assert_eq!(ok.header("access-control-allow-origin"), Some(app));
    let allowed = ok
        .header("access-control-allow-headers")
        .unwrap()
        .to_owned();
    assert!(allowed.contains("authorization") && allowed.contains("mcp-session-id"));
    let evil = send(preflight("https://evil.test")).await;
    assert!(evil.header("access-control-allow-origin").is_none());

    // A 401 to the browser: the challenge is readable there.
    let unauthorized = post(&url, None, &[("origin", app)], &initialize()).await;
    assert_eq!(unauthorized.status, 401);
    assert_eq!(
        unauthorized.header("access-control-allow-origin"),
        Some(app)
    );
    let exposed = unauthorized
        .header("access-control-expose-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("www-authenticate") && exposed.contains("mcp-session-id"));
    // With a token, rmcp's own origin check lets the allowed origin in.
    let caller = token(&issuer, "web", &["echo"]);
    let served = post(&url, Some(&caller), &[("origin", app)], &initialize()).await;
    assert_eq!(served.status, 200, "{}", served.body);
    assert_eq!(served.header("access-control-allow-origin"), Some(app));
    // Another origin gets no CORS grant, and rmcp refuses it.
    let other = post(
        &url,
        Some(&caller),
        &[("origin", "https://evil.test")],
        &initialize(),
    )
    .await;
    assert!(other.header("access-control-allow-origin").is_none());
    assert_eq!(other.status, 403);
    // Never a wildcard on the MCP endpoint.
    for reply in [&ok, &unauthorized, &served, &other] {
        assert_ne!(reply.header("access-control-allow-origin"), Some("*"));
    }
}
