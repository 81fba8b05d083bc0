use rmcp::{tool, tool_router};
use secure_tool::{secure_tool, SecureServer, Security};

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
    async fn run(&self) -> String {
        // Held across an await: the body's future is not `Send`, as rmcp requires.
        let counter = std::rc::Rc::new(1);
        tokio::task::yield_now().await;
        counter.to_string()
    }
}

fn main() {}
