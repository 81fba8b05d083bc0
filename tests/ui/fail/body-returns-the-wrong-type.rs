// A type error in a secured body is reported where it is written, as in a plain method,
// not on the attribute: async and sync, at a `return` and at the tail.
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use secure_tool::{secure_tool, SecureInput, SecureServer, Security, ToolError};

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Input {
    #[validate(range(max = 10))]
    count: u32,
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
    async fn counted(&self, Parameters(input): Parameters<Input>) -> Result<String, ToolError> {
        if input.count > 3 {
            return Ok(input.count);
        }
        Ok(input.count)
    }

    #[secure_tool(public)]
    #[tool(description = "x")]
    fn counted_sync(&self, Parameters(input): Parameters<Input>) -> Result<String, ToolError> {
        if input.count > 3 {
            return Ok(input.count);
        }
        Ok(input.count)
    }
}

fn main() {}
