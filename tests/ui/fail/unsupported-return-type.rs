use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use secure_tool::{secure_tool, SecureInput, SecureServer, Security, ToolError};

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Input {
    #[validate(length(max = 10))]
    name: String,
}

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
    #[secure_tool(public)]
    #[tool(description = "x")]
    fn run(&self) -> Vec<u8> {
        vec![0]
    }

    #[secure_tool(public)]
    #[tool(description = "y")]
    async fn run_async(&self) -> Result<Vec<u8>, ToolError> {
        Ok(vec![0])
    }
}

fn main() {}
