use rmcp::handler::server::wrapper::Parameters;
use rmcp::tool;
use secure_tool::{secure_tool, SecureInput, SecureServer, Security};

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Input {
    #[validate(range(max = 10))]
    n: u8,
}

struct Server {
    security: Security,
}

impl SecureServer for Server {
    fn security(&self) -> &Security {
        &self.security
    }
}

// `#[tool_router]` forgotten: rmcp would never serve `double`.
impl Server {
    #[secure_tool(public)]
    #[tool(description = "Double a number")]
    async fn double(&self, Parameters(input): Parameters<Input>) -> String {
        (u16::from(input.n) * 2).to_string()
    }
}

fn main() {}
