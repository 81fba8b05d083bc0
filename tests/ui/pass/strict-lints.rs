//! A secured server compiles clean under strict rustc lints: generated code adds no
//! warnings of its own. (Clippy with `-D warnings` covers generated code through every
//! integration test, which all declare secured tools.)
#![deny(
    missing_docs,
    unused_qualifications,
    unused_imports,
    unreachable_pub,
    dead_code
)]
//! Lints test.

/// A documented, public, secured server.
pub mod server {
    use rmcp::handler::server::router::tool::ToolRouter;
    use rmcp::handler::server::wrapper::Parameters;
    use rmcp::{ServerHandler, tool, tool_handler, tool_router};
    use secure_tool::types::SafePath;
    use secure_tool::{SecureInput, SecureServer, Security, ToolError, secure_tool};

    /// Input of `read`.
    #[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
    #[serde(deny_unknown_fields)]
    pub struct ReadArgs {
        /// File to read.
        pub path: SafePath,
        /// Bytes at most.
        #[validate(range(min = 1, max = 4096))]
        pub max_bytes: u32,
    }

    /// The server.
    #[derive(Clone)]
    pub struct Server {
        security: Security,
        tool_router: ToolRouter<Self>,
    }

    impl SecureServer for Server {
        fn security(&self) -> &Security {
            &self.security
        }
    }

    impl Default for Server {
        fn default() -> Self {
            Self {
                security: Security::default(),
                tool_router: Self::tool_router(),
            }
        }
    }

    #[tool_router]
    impl Server {
        /// Read a file.
        #[secure_tool(scope = "fs.read", rate = "10/sec", timeout = "1s")]
        #[tool]
        pub async fn read(
            &self,
            Parameters(args): Parameters<ReadArgs>,
        ) -> Result<String, ToolError> {
            Ok(format!("{} {}", args.path, args.max_bytes))
        }

        /// Ping.
        #[secure_tool(public)]
        #[tool]
        pub fn ping(&self) -> String {
            "pong".to_owned()
        }
    }

    #[tool_handler(router = self.tool_router)]
    impl ServerHandler for Server {}
}

fn main() {
    let _ = server::Server::default();
}
