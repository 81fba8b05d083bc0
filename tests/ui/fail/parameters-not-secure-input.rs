use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use secure_tool::{secure_tool, SecureServer, Security};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Plain {
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
    async fn run(&self, Parameters(input): Parameters<Plain>) -> String {
        input.name
    }
}

fn main() {}
