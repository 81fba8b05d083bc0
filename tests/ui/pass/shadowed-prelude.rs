//! Generated code uses absolute paths only: a secured tool still compiles next to types
//! that shadow the prelude, and under strict lints.
#![deny(unused_qualifications, unused_imports, dead_code)]
#![allow(non_camel_case_types)]

use rmcp::{ServerHandler, tool_handler};

mod shadowed {
    #![allow(dead_code)]
    use rmcp::handler::server::router::tool::ToolRouter;
    use rmcp::handler::server::wrapper::Parameters;
    use rmcp::{tool, tool_router};
    use secure_tool::{SecureInput, SecureServer, Security, ToolError, secure_tool};

    // Shadows of what generated code must never name unqualified. rmcp's own `#[tool]`
    // writes bare `Some`, `None` and `Box` (and `#[tool_handler]` bare `Result`/`Option`,
    // so it lives outside this module): those three cannot be shadowed here.
    struct Result;
    struct Ok;
    struct Err;
    struct Option;
    struct Vec;
    struct String;
    struct Duration;
    struct Arc;
    struct FnOnce;
    struct Future;
    struct core;
    struct secure_tool_private;

    #[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
    #[serde(deny_unknown_fields)]
    pub struct Input {
        #[validate(range(max = 10))]
        pub n: u8,
    }

    #[derive(Clone)]
    pub struct Server {
        security: Security,
        pub(crate) tool_router: ToolRouter<Self>,
    }

    impl SecureServer for Server {
        fn security(&self) -> &Security {
            &self.security
        }
    }

    impl Server {
        pub fn new() -> Self {
            Self {
                security: Security::default(),
                tool_router: Self::tool_router(),
            }
        }
    }

    #[tool_router]
    impl Server {
        #[secure_tool(
            public,
            rate = "10/sec",
            burst = 2,
            timeout = "1s",
            concurrency = 2,
            max_output = "1KiB"
        )]
        #[tool(description = "Double")]
        async fn double(
            &self,
            Parameters(input): Parameters<Input>,
        ) -> ::core::result::Result<::std::string::String, ToolError> {
            ::core::result::Result::Ok((input.n * 2).to_string())
        }

        #[secure_tool(scopes = ["a", "b"])]
        #[tool(description = "Sync")]
        fn sync(&self) -> ::std::string::String {
            ::std::string::String::new()
        }
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for shadowed::Server {}

fn main() {
    let _server = shadowed::Server::new();
}
