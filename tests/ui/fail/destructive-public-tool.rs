// A destructive tool must be behind a scope, and cannot also be read-only.
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
    #[secure_tool(public, destructive)]
    #[tool(description = "Delete everything")]
    async fn wipe(&self) -> String {
        String::new()
    }

    #[secure_tool(scope = "fs.write", read_only, destructive)]
    #[tool(description = "Delete everything, read-only")]
    async fn wipe_read_only(&self) -> String {
        String::new()
    }
}

fn main() {}
