use secure_tool::{secure_tool, SecureServer};

trait Tools: SecureServer {
    #[secure_tool(public)]
    #[rmcp::tool(description = "Ping")]
    async fn ping(&self) -> String {
        String::new()
    }
}

fn main() {}
