use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use secure_tool::{secure_tool, SecureInput, SecureServer, Security, ToolError};

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Input {
    #[validate(length(max = 10))]
    name: String,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
struct Out {
    n: u32,
}

#[derive(Debug)]
struct MyError;
impl std::fmt::Display for MyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("mine")
    }
}
impl std::error::Error for MyError {}

struct Server {
    security: Security,
}

impl SecureServer for Server {
    fn security(&self) -> &Security {
        &self.security
    }
}

#[tool_router]
impl Server {
    /// Doc comment description.
    #[secure_tool(scope = "a", rate = "10/sec", burst = 20, timeout = "2s", concurrency = 4, max_output = "64KiB")]
    #[tool]
    async fn full(&self, Parameters(input): Parameters<Input>) -> Result<String, ToolError> {
        Ok(input.name)
    }

    #[secure_tool(scopes = ["a", "b"])]
    #[rmcp::tool(name = "sync-tool", description = "sync")]
    fn sync_tool(&self, Parameters(input): Parameters<Input>) -> String {
        input.name
    }

    #[secure_tool(public)]
    #[tool(description = "json")]
    async fn json(&self) -> Json<Out> {
        Json(Out { n: 1 })
    }

    #[secure_tool(public)]
    #[tool(description = "json result with a custom std error")]
    async fn json_result(&self, Parameters(_input): Parameters<Input>) -> Result<Json<Out>, MyError> {
        Err(MyError)
    }

    #[secure_tool(public)]
    #[tool(description = "raw result")]
    async fn raw(&self, _ctx: RequestContext<RoleServer>) -> CallToolResult {
        CallToolResult::success(vec![ContentBlock::text("x")])
    }

    #[secure_tool(public)]
    #[tool(description = "unit")]
    async fn unit(&self) {}

    #[secure_tool(public)]
    #[tool(description = "io alias")]
    fn io(&self) -> std::io::Result<String> {
        Ok(String::new())
    }

    #[secure_tool(public)]
    #[tool(description = "question mark on any error")]
    async fn question(&self, Parameters(input): Parameters<Input>) -> Result<String, ToolError> {
        let n: u32 = input.name.parse()?;
        if n == 0 {
            return Err(ToolError::public("zero"));
        }
        Ok(n.to_string())
    }
}

fn main() {
    let _ = Server::tool_router();
}
