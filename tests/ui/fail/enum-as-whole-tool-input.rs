use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use secure_tool::{secure_tool, SecureInput, SecureServer, Security};

/// An enum is a fine field, but a tool's arguments are a JSON object.
#[derive(serde::Deserialize, schemars::JsonSchema, SecureInput)]
enum Action {
    Start,
    Stop,
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
    #[tool(description = "Switch")]
    async fn switch(&self, Parameters(action): Parameters<Action>) -> String {
        let _ = action;
        String::new()
    }
}

fn main() {}
