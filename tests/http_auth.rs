//! `examples/http_server` as an OAuth 2.1 resource server, driven over loopback by raw HTTP
//! (to read status codes and challenges exactly) and by rmcp's streamable HTTP client.
mod auth_support;
mod common;

use auth_support::*;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};

type Client = rmcp::service::RunningService<rmcp::RoleClient, ()>;

async fn connect(uri: &str, token: &str) -> Result<Client, String> {
    let config =
        StreamableHttpClientTransportConfig::with_uri(uri.to_owned()).auth_header(token.to_owned());
    ().serve(StreamableHttpClientTransport::from_config(config))
        .await
        .map_err(|e| e.to_string())
}

async fn call(
    client: &Client,
    name: &str,
    args: Value,
) -> Result<rmcp::model::CallToolResult, rmcp::ServiceError> {
    let mut params = CallToolRequestParams::new(name.to_owned());
    if let Value::Object(map) = args {
        params = params.with_arguments(map);
    }
    client.call_tool(params).await
}

fn text(result: &rmcp::model::CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect()
}

fn tools_call(name: &str, args: Value) -> Value {
    json!({
        "jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": { "name": name, "arguments": args }
    })
}

/// A JSON-RPC POST as an MCP client sends it, with a bearer token if given.
fn mcp_post(url: &str, token: Option<&str>, body: String) -> reqwest::RequestBuilder {
    let request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body);
    match token {
        Some(token) => request.header("authorization", format!("Bearer {token}")),
        None => request,
    }
}

async fn post(url: &str, token: Option<&str>, body: &Value) -> reqwest::Response {
    mcp_post(url, token, body.to_string()).send().await.unwrap()
}

fn challenge(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_is_a_401_pointing_at_the_metadata() {
    let signer = Signer::new();
    let server = HttpServer::start(&signer, &[]);
    let response = post(&server.mcp(), None, &initialize()).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        challenge(&response),
        format!("Bearer resource_metadata=\"{}\"", server.metadata_url())
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["data"]["error"], "unauthorized");
    // Not Basic, not a query parameter: only a bearer header counts.
    let response = reqwest::Client::new()
        .post(format!(
            "{}?access_token={}",
            server.mcp(),
            signer.rs256(&claims(&server.mcp(), "alice", "fs.read"))
        ))
        .header("authorization", "Basic YWxpY2U6cGFzcw==")
        .header("content-type", "application/json")
        .body(initialize().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // Every method of the endpoint needs the token: the SSE stream and session deletion too.
    let get = reqwest::Client::new()
        .get(server.mcp())
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 401);
    let delete = reqwest::Client::new()
        .delete(server.mcp())
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 401);
    let events = server.log();
    assert!(events.contains("outcome=\"unauthenticated\""), "{events}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_invalid_token_is_a_401_invalid_token_that_never_echoes_it() {
    let signer = Signer::new();
    let server = HttpServer::start(&signer, &[]);
    for (name, token) in bad_tokens(&signer, &server.mcp()) {
        let response = post(&server.mcp(), Some(&token), &initialize()).await;
        assert_eq!(response.status(), 401, "{name}");
        let header = challenge(&response);
        assert!(
            header.starts_with("Bearer error=\"invalid_token\", error_description=\""),
            "{name}: {header}"
        );
        assert!(
            header.ends_with(&format!("resource_metadata=\"{}\"", server.metadata_url())),
            "{name}: {header}"
        );
        let body = response.text().await.unwrap();
        for part in token.split('.').filter(|p| p.len() > 8) {
            assert!(!body.contains(part), "{name}: the body echoes the token");
            assert!(
                !header.contains(part),
                "{name}: the header echoes the token"
            );
        }
        // And through rmcp's client: the connection is refused.
        assert!(connect(&server.mcp(), &token).await.is_err(), "{name}");
    }
    // The reason is specific enough to act on.
    let expired = &bad_tokens(&signer, &server.mcp())[0].1;
    let response = post(&server.mcp(), Some(expired), &initialize()).await;
    assert!(challenge(&response).contains("the token has expired"));
    let audience = &bad_tokens(&signer, &server.mcp())[2].1;
    let response = post(&server.mcp(), Some(audience), &initialize()).await;
    assert!(challenge(&response).contains("audience"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_tokens_of_each_algorithm_call_the_tools_they_hold_scopes_for() {
    let signer = Signer::new();
    let server = HttpServer::start(&signer, &[]);
    let claims = claims(&server.mcp(), "alice", "fs.read");
    for (alg, token) in [
        ("RS256", signer.rs256(&claims)),
        (
            "ES256",
            signer.sign(jsonwebtoken::Algorithm::ES256, Some("ec-1"), &claims),
        ),
        (
            "EdDSA",
            signer.sign(jsonwebtoken::Algorithm::EdDSA, None, &claims),
        ),
    ] {
        let client = connect(&server.mcp(), &token)
            .await
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        let result = call(&client, "read_file", json!({"path": "docs/hello.txt"}))
            .await
            .unwrap();
        assert_eq!(text(&result), "hello from inside", "{alg}");
        client.cancel().await.unwrap();
    }
    // `scp` as an array is read as well as `scope`; an audience array naming this server too.
    let mut scp = claims.clone();
    scp.as_object_mut().unwrap().remove("scope");
    scp["scp"] = json!(["fs.read", "fs.write"]);
    scp["aud"] = json!(["https://other.test", server.mcp()]);
    let client = connect(&server.mcp(), &signer.rs256(&scp)).await.unwrap();
    let wrote = call(
        &client,
        "write_file",
        json!({"path": "new.txt", "content": "hi"}),
    )
    .await
    .unwrap();
    assert_eq!(text(&wrote), "wrote 2 bytes");
    // The audit trail names the caller from the token.
    let log = server.log();
    assert!(
        log.lines().any(|l| l.contains("tool call")
            && l.contains("principal=\"alice\"")
            && l.contains("tool=\"write_file\"")
            && l.contains("outcome=\"ok\"")),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_without_the_tools_scope_is_a_403_naming_the_scope_before_dispatch() {
    let signer = Signer::new();
    let server = HttpServer::start(&signer, &[]);
    let token = signer.rs256(&claims(&server.mcp(), "reader", "fs.read"));

    let response = post(
        &server.mcp(),
        Some(&token),
        &tools_call("write_file", json!({"path": "x.txt", "content": "no"})),
    )
    .await;
    assert_eq!(response.status(), 403);
    let header = challenge(&response);
    assert!(
        header.starts_with(&format!(
            "Bearer error=\"insufficient_scope\", scope=\"fs.write\", resource_metadata=\"{}\"",
            server.metadata_url()
        )),
        "{header}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], 7);
    assert_eq!(body["error"]["data"]["scope"], "fs.write");

    // The same through rmcp's client, in a real session: an error, and nothing was written.
    let client = connect(&server.mcp(), &token).await.unwrap();
    assert!(
        call(
            &client,
            "write_file",
            json!({"path": "x.txt", "content": "no"})
        )
        .await
        .is_err()
    );
    assert!(!server.root.join("x.txt").exists());
    // The session still serves what the token allows.
    let listed = call(&client, "list_dir", json!({"path": "."}))
        .await
        .unwrap();
    assert!(text(&listed).contains("docs/"));
    // A name spelled with JSON escapes is the same tool.
    let escaped = r#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"write\u005ffile","arguments":{"path":"x.txt","content":"no"}}}"#;
    let response = mcp_post(&server.mcp(), Some(&token), escaped.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let log = server.log();
    assert!(
        log.contains("principal=\"reader\"") && log.contains("reason=\"insufficient_scope\""),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_tool_error_mode_the_denial_is_an_is_error_result() {
    let signer = Signer::new();
    let server = HttpServer::start(&signer, &["--scope-denial", "tool-error"]);
    let token = signer.rs256(&claims(&server.mcp(), "reader", "fs.read"));
    let client = connect(&server.mcp(), &token).await.unwrap();
    let result = call(
        &client,
        "write_file",
        json!({"path": "x.txt", "content": "no"}),
    )
    .await
    .unwrap();
    assert_eq!(result.is_error, Some(true));
    assert!(
        text(&result).contains("requires the `fs.write` scope"),
        "{}",
        text(&result)
    );
    assert!(!server.root.join("x.txt").exists());
    // Tokens are still required.
    assert_eq!(post(&server.mcp(), None, &initialize()).await.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_list_shows_every_tool_or_only_the_granted_ones() {
    let signer = Signer::new();
    let all = HttpServer::start(&signer, &[]);
    let token = signer.rs256(&claims(&all.mcp(), "reader", "fs.read"));
    let client = connect(&all.mcp(), &token).await.unwrap();
    let names = tool_names(&client).await;
    assert_eq!(names, ["list_dir", "read_file", "write_file"]);

    let granted = HttpServer::start(&signer, &["--tools-list", "granted"]);
    let token = signer.rs256(&claims(&granted.mcp(), "reader", "fs.read"));
    let client = connect(&granted.mcp(), &token).await.unwrap();
    let names = tool_names(&client).await;
    assert_eq!(names, ["list_dir", "read_file"]);
    // A withheld tool answers exactly as a tool that does not exist.
    let withheld = call(
        &client,
        "write_file",
        json!({"path": "x.txt", "content": "no"}),
    )
    .await
    .unwrap_err();
    let unknown = call(
        &client,
        "no_such_tool",
        json!({"path": "x.txt", "content": "no"}),
    )
    .await
    .unwrap_err();
    assert_eq!(format!("{withheld:?}"), format!("{unknown:?}"));
    assert!(!granted.root.join("x.txt").exists());
    // A caller with every scope sees every tool.
    let token = signer.rs256(&claims(&granted.mcp(), "writer", "fs.read fs.write"));
    let client = connect(&granted.mcp(), &token).await.unwrap();
    assert_eq!(client.list_all_tools().await.unwrap().len(), 3);
    // No token: no list at all.
    assert_eq!(
        post(
            &granted.mcp(),
            None,
            &json!({"jsonrpc":"2.0","id":2,"method":"tools/list"})
        )
        .await
        .status(),
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metadata_document_names_the_resource_issuer_and_declared_scopes() {
    let signer = Signer::new();
    let server = HttpServer::start(&signer, &[]);
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let response = reqwest::get(format!("{}{path}", server.base))
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], "application/json");
        let doc: Value = response.json().await.unwrap();
        assert_eq!(doc["resource"], server.mcp(), "{path}");
        assert_eq!(doc["authorization_servers"], json!([ISS]));
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
        assert_eq!(doc["scopes_supported"], json!(["fs.read", "fs.write"]));
    }
    // Other paths under .well-known are not the metadata, and need a token like any other.
    let other = reqwest::get(format!(
        "{}/.well-known/oauth-protected-resource/other",
        server.base
    ))
    .await
    .unwrap();
    assert_eq!(other.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_jwks_file_is_picked_up_without_a_restart() {
    let signer = Signer::new();
    let server = HttpServer::start(&signer, &[]);
    let next = secure_tool::auth::DevIssuer::new(ISS);
    let token = next.sign(&claims(&server.mcp(), "alice", "fs.read"));
    assert_eq!(
        post(&server.mcp(), Some(&token), &initialize())
            .await
            .status(),
        401
    );

    // The issuer publishes its next key next to the current ones.
    let mut jwks = signer.jwks();
    let new_key: Value = serde_json::from_str(&next.jwks()).unwrap();
    jwks["keys"]
        .as_array_mut()
        .unwrap()
        .push(new_key["keys"][0].clone());
    write_jwks(&server.jwks, &jwks);
    let client = connect(&server.mcp(), &token).await.unwrap();
    let result = call(&client, "read_file", json!({"path": "docs/hello.txt"}))
        .await
        .unwrap();
    assert_eq!(text(&result), "hello from inside");

    // Then retires the old ones: their tokens stop working, cached or not.
    let old = signer.rs256(&claims(&server.mcp(), "alice", "fs.read"));
    assert_eq!(
        post(&server.mcp(), Some(&old), &initialize())
            .await
            .status(),
        200
    );
    write_jwks(&server.jwks, &new_key);
    // A token with an unknown kid makes the server look at the file again.
    let stranger = secure_tool::auth::DevIssuer::new(ISS).sign(&claims(&server.mcp(), "x", ""));
    assert_eq!(
        post(&server.mcp(), Some(&stranger), &initialize())
            .await
            .status(),
        401
    );
    assert_eq!(
        post(&server.mcp(), Some(&old), &initialize())
            .await
            .status(),
        401
    );
    assert_eq!(
        post(&server.mcp(), Some(&token), &initialize())
            .await
            .status(),
        200
    );

    // A broken file keeps the last good keys.
    std::fs::write(&server.jwks, "{ not json").unwrap();
    assert_eq!(
        post(&server.mcp(), Some(&stranger), &initialize())
            .await
            .status(),
        401
    );
    let fresh = next.sign(&claims(&server.mcp(), "bob", "fs.read"));
    assert_eq!(
        post(&server.mcp(), Some(&fresh), &initialize())
            .await
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_header_is_checked_against_dns_rebinding() {
    let signer = Signer::new();
    let server = HttpServer::start(&signer, &[]);
    let token = signer.rs256(&claims(&server.mcp(), "alice", "fs.read"));
    let response = mcp_post(&server.mcp(), Some(&token), initialize().to_string())
        .header("host", "attacker.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let response = mcp_post(&server.mcp(), Some(&token), initialize().to_string())
        .header("origin", "http://attacker.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
}

/// Three servers (challenge, tool-error, granted) and the tokens for them, as the
/// official-client scripts read it.
fn client_config(signer: &Signer, dir: &std::path::Path) -> (Vec<HttpServer>, std::path::PathBuf) {
    let all = HttpServer::start(signer, &[]);
    let tool_error = HttpServer::start(signer, &["--scope-denial", "tool-error"]);
    let granted = HttpServer::start(signer, &["--tools-list", "granted"]);
    // One audience per server: give each server's tokens its own `aud`.
    let token =
        |server: &HttpServer, scope: &str| signer.rs256(&claims(&server.mcp(), "official", scope));
    let bad: serde_json::Map<String, Value> = bad_tokens(signer, &all.mcp())
        .into_iter()
        .map(|(name, token)| (name.to_owned(), json!(token)))
        .collect();
    let config = json!({
        "urls": { "all": all.mcp(), "tool_error": tool_error.mcp(), "granted": granted.mcp() },
        "tokens": {
            "read": token(&all, "fs.read"),
            "write": token(&all, "fs.read fs.write"),
            "read_tool_error": token(&tool_error, "fs.read"),
            "read_granted": token(&granted, "fs.read"),
            "bad": bad,
        }
    });
    let path = dir.join("clients.json");
    std::fs::write(&path, config.to_string()).unwrap();
    (vec![all, tool_error, granted], path)
}

/// Run an official client's script (`command`, given the config file as its last
/// argument) against three fresh servers, and check what it reports and what it wrote.
fn drive(mut command: std::process::Command, tag: &str, written: &str, content: &str) {
    let signer = Signer::new();
    let dir = TempDir::new(tag);
    let (servers, config) = client_config(&signer, &dir.0);
    let output = command.arg(&config).output().expect("the client runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}\n{stderr}");
    // Refused writes wrote nothing; the allowed one did.
    assert!(!servers[0].root.join("x.txt").exists());
    assert_eq!(
        std::fs::read_to_string(servers[0].root.join(written)).unwrap(),
        content
    );
}

/// The official Python SDK in `mode`: `legacy` (initialize, a session) or `2026-07-28`
/// (stateless, `Mcp-Method`/`Mcp-Name` headers).
fn python_sdk_over_streamable_http(mode: &str) {
    let Some(python) = common::official_python() else {
        return common::require_or_skip("Python SDK");
    };
    let script =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/http_client.py");
    let mut command = std::process::Command::new(python);
    // The config file comes last: the mode goes through the environment.
    command.arg(script).env("SECURE_TOOL_MCP_MODE", mode);
    drive(command, &format!("py-http-{mode}"), "py.txt", "from python");
}

#[test]
fn official_python_sdk_over_streamable_http() {
    python_sdk_over_streamable_http("legacy");
}

#[test]
fn official_python_sdk_over_streamable_http_2026_07_28() {
    python_sdk_over_streamable_http("2026-07-28");
}

/// `target/ts`, where `scripts/test` installs the pinned TypeScript SDK.
fn ts_dir() -> Option<std::path::PathBuf> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ts");
    let installed = dir
        .join("node_modules/@modelcontextprotocol/sdk/package.json")
        .exists();
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    (installed && node).then_some(dir)
}

#[test]
fn official_typescript_sdk_over_streamable_http() {
    let Some(dir) = ts_dir() else {
        return common::require_or_skip("TypeScript SDK");
    };
    // The script runs beside the installed SDK, so that Node resolves it.
    let script = dir.join("http_client.mjs");
    std::fs::copy(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ts/http_client.mjs"),
        &script,
    )
    .unwrap();
    let mut command = std::process::Command::new("node");
    command.arg(&script);
    drive(command, "ts-http", "ts.txt", "from typescript");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_policy_maps_token_subjects_and_scopes_to_roles() {
    let signer = Signer::new();
    let dir = TempDir::new("http-policy");
    let policy = dir.0.join("secure-tool.toml");
    let audit = dir.0.join("audit.jsonl");
    std::fs::write(
        &policy,
        r#"
[roles]
writer = ["fs.read", "fs.write"]

[principals]
alice = { roles = ["writer"] }
mallory = { deny = ["fs.read"] }

[token_scopes]
"files:rw" = { roles = ["writer"] }
"#,
    )
    .unwrap();
    let server = HttpServer::start(
        &signer,
        &[
            "--policy",
            policy.to_str().unwrap(),
            "--audit-log",
            audit.to_str().unwrap(),
        ],
    );
    // Alice's token holds only `fs.read`; the policy makes her a writer, and the layer's
    // check before dispatch agrees with the tool's.
    let alice = signer.rs256(&claims(&server.mcp(), "alice", "fs.read"));
    let client = connect(&server.mcp(), &alice).await.unwrap();
    let wrote = call(
        &client,
        "write_file",
        json!({"path": "a.txt", "content": "a"}),
    )
    .await
    .unwrap();
    assert_eq!(text(&wrote), "wrote 1 bytes");
    // Anyone whose token holds `files:rw` is a writer too.
    let carol = signer.rs256(&claims(&server.mcp(), "carol", "files:rw"));
    let client = connect(&server.mcp(), &carol).await.unwrap();
    let wrote = call(
        &client,
        "write_file",
        json!({"path": "c.txt", "content": "c"}),
    )
    .await
    .unwrap();
    assert_eq!(text(&wrote), "wrote 1 bytes");
    // A denial wins over the token's own scope. No 403 step-up (no token could be
    // granted a scope the policy denies, and a client would loop): the tool's denial.
    let mallory = signer.rs256(&claims(&server.mcp(), "mallory", "fs.read"));
    let client = connect(&server.mcp(), &mallory).await.unwrap();
    let denied = call(&client, "read_file", json!({"path": "docs/hello.txt"}))
        .await
        .unwrap();
    assert_eq!(denied.is_error, Some(true));
    assert!(
        text(&denied).contains("permission denied"),
        "{}",
        text(&denied)
    );
    // A subject the policy does not name keeps its token's scopes, no more.
    let bob = signer.rs256(&claims(&server.mcp(), "bob", "fs.read"));
    let response = post(
        &server.mcp(),
        Some(&bob),
        &tools_call("write_file", json!({"path": "b.txt", "content": "b"})),
    )
    .await;
    assert_eq!(response.status(), 403);
    assert!(!server.root.join("b.txt").exists());

    // The audit log names each caller with its token's issuer.
    let mut lines = Vec::new();
    for _ in 0..100 {
        lines = std::fs::read_to_string(&audit)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .collect();
        if lines.len() >= 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let alice_line = lines.iter().find(|l| l["principal"] == "alice").unwrap();
    assert_eq!(alice_line["issuer"], ISS);
    assert_eq!(alice_line["outcome"], "ok");
    assert!(
        alice_line["policy"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
}

/// A client that keeps its connection (the official SDKs do) is answered at once: the
/// server sets TCP_NODELAY, so the last small write of an answer is not held back until
/// the client acknowledges the one before (a delayed ACK: 40 ms on every call).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_on_a_kept_connection_are_not_held_back() {
    let signer = Signer::new();
    let server = HttpServer::start(&signer, &[]);
    let token = signer.rs256(&claims(&server.mcp(), "alice", "fs.read"));
    let http = reqwest::Client::new();
    let send = |session: Option<&str>, body: Value| {
        let mut request = http
            .post(server.mcp())
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .body(body.to_string());
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        request.send()
    };
    let initialize = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "kept", "version": "1"}}});
    let answer = send(None, initialize).await.unwrap();
    let session = answer.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    answer.bytes().await.unwrap();
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    send(Some(&session), initialized)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut took = Vec::new();
    for _ in 0..11 {
        let started = std::time::Instant::now();
        let call = tools_call("read_file", json!({"path": "docs/hello.txt"}));
        let answer = send(Some(&session), call)
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        took.push(started.elapsed());
        assert!(answer.contains("hello from inside"), "{answer}");
    }
    took.sort();
    // Each held-back call takes 40 ms or more; one answered at once, a few ms (a debug
    // build on a busy machine included).
    assert!(
        took[5] < std::time::Duration::from_millis(30),
        "the median call took {:?}",
        took[5]
    );
}
