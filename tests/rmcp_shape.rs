//! What secure-tool's macros rely on in rmcp's own expansion (ARCHITECTURE.md, "What we
//! rely on in rmcp"), checked on bare rmcp. If one of these fails after an rmcp upgrade,
//! the macros must change before that rmcp version is supported: this file is the alarm,
//! and the README's version statement points here.
mod common;

use common::connect;
use rmcp::ServerHandler;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolRequestParams;
use rmcp::{tool, tool_handler, tool_router};

const CHANGED: &str = "rmcp's #[tool] expansion changed shape: update secure-tool's macros (macros/src/expand.rs, valid::expanded_by_rmcp) before supporting this rmcp version";

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Echo {
    text: String,
}

#[derive(Clone)]
struct Bare {
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Bare {
    #[tool(description = "Ping")]
    async fn ping(&self) -> String {
        "pong".into()
    }

    #[tool(description = "Echo")]
    async fn echo(&self, Parameters(echo): Parameters<Echo>) -> String {
        echo.text
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Bare {}

fn bare() -> Bare {
    Bare {
        tool_router: Bare::tool_router(),
    }
}

/// `#[tool]` generates `<name>_tool_attr() -> rmcp::model::Tool`, which `#[tool_router]`
/// calls as it builds the router (where secure-tool registers its tool), and turns an
/// `async fn` into a fn returning a pinned, boxed future (how `#[secure_tool]` written
/// below `#[tool]` is recognised). Both are checked by the compiler here.
#[test]
fn tool_generates_its_attr_function_and_a_boxed_future() {
    let attr: rmcp::model::Tool = Bare::ping_tool_attr();
    assert_eq!(attr.name, "ping", "{CHANGED}");
    assert_eq!(attr.description.as_deref(), Some("Ping"), "{CHANGED}");
    let server = bare();
    let future: std::pin::Pin<Box<dyn Future<Output = String> + Send + '_>> = server.ping();
    drop(future);
    assert_eq!(bare().tool_router.list_all().len(), 2, "{CHANGED}");
}

/// The schema functions secure-tool calls to list exactly what rmcp lists.
#[test]
fn schema_functions_are_where_secure_tool_calls_them() {
    let input =
        rmcp::handler::server::common::schema_for_input::<Parameters<Echo>>().expect(CHANGED);
    assert_eq!(
        input.get("type").and_then(|t| t.as_str()),
        Some("object"),
        "{CHANGED}"
    );
    let output = rmcp::handler::server::tool::schema_for_output::<Echo>();
    assert!(output.contains_key("properties"), "{CHANGED}");
}

/// An unknown tool is a JSON-RPC `invalid_params` error (the auth layer relies on it to
/// make a withheld tool look unknown). Arguments that do not deserialize into
/// `Parameters<T>` are rmcp's own `isError` result, whose text is serde's message (which
/// can echo the value: secure-tool deserializes the arguments itself, value-free).
#[tokio::test]
async fn unknown_tools_and_bad_arguments_in_bare_rmcp() {
    let client = connect(bare()).await;
    let unknown = client
        .call_tool(CallToolRequestParams::new("nope"))
        .await
        .expect_err(CHANGED);
    let text = unknown.to_string();
    assert!(text.contains("not found"), "{CHANGED}: {text}");
    let args = serde_json::json!({"text": 5});
    let bad = client
        .call_tool(
            CallToolRequestParams::new("echo").with_arguments(args.as_object().unwrap().clone()),
        )
        .await
        .expect(CHANGED);
    assert_eq!(bad.is_error, Some(true), "{CHANGED}: {bad:?}");
    assert!(
        format!("{bad:?}").contains("failed to deserialize parameters"),
        "{CHANGED}: {bad:?}"
    );
}
