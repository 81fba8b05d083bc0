// An `authorize` function with the wrong signature is reported on its path, with the
// signature expected; a sync tool cannot await an async one.
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use secure_tool::{secure_tool, Denied, Principal, SecureInput, SecureServer, Security};

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Input {
    #[validate(range(max = 10))]
    id: u32,
}

fn returns_bool(_: &Principal, _: &Input) -> bool {
    true
}

fn wrong_arguments(_: &Input) -> Result<(), Denied> {
    Ok(())
}

async fn later(_: &Principal, _: &Input) -> Result<(), Denied> {
    Ok(())
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
    #[secure_tool(public, authorize = returns_bool)]
    #[tool(description = "x")]
    async fn a(&self, Parameters(input): Parameters<Input>) -> String {
        input.id.to_string()
    }

    #[secure_tool(public, authorize = wrong_arguments)]
    #[tool(description = "x")]
    async fn b(&self, Parameters(input): Parameters<Input>) -> String {
        input.id.to_string()
    }

    #[secure_tool(public, authorize = later)]
    #[tool(description = "x")]
    fn c(&self, Parameters(input): Parameters<Input>) -> String {
        input.id.to_string()
    }
}

fn main() {}
