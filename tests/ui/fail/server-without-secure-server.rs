use rmcp::{tool, tool_router};
use secure_tool::secure_tool;

struct Server;

#[tool_router]
impl Server {
    #[secure_tool(public)]
    #[tool(description = "x")]
    async fn run(&self) -> String {
        String::new()
    }
}

fn main() {}
