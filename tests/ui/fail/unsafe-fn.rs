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
    unsafe fn run(&self) -> u8 {
        0
    }
}

fn main() {}
