//! Inputs and whole servers stamped out by `macro_rules!`, their names passed in as
//! `$name:ident`: generated code must not take its locals' or `self`'s hygiene from the
//! input's spans.

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use secure_tool::{SecureInput, SecureServer, Security, secure_tool};

macro_rules! input {
    ($name:ident, $field:ident, $max:literal) => {
        #[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            #[validate(length(max = $max))]
            pub $field: String,
            pub count: Option<u32>,
        }
    };
}

input!(Query, text, 64);
input!(Title, title, 128);

macro_rules! server {
    ($server:ident, $tool:ident, $input:ident, $field:ident, $scope:literal) => {
        #[derive(Clone)]
        pub struct $server {
            security: Security,
            tool_router: ToolRouter<Self>,
        }

        impl SecureServer for $server {
            fn security(&self) -> &Security {
                &self.security
            }
        }

        #[tool_router]
        impl $server {
            #[secure_tool(scope = $scope, rate = "10/min")]
            #[tool(description = "Echo the field")]
            async fn $tool(&self, Parameters(args): Parameters<$input>) -> String {
                args.$field
            }
        }

        #[tool_handler(router = self.tool_router)]
        impl ServerHandler for $server {}

        impl $server {
            pub fn new() -> Self {
                Self {
                    security: Security::default(),
                    tool_router: Self::tool_router(),
                }
            }
        }
    };
}

server!(Search, search, Query, text, "search.read");
server!(Notes, title_of, Title, title, "notes.read");

fn main() {
    let _ = (Search::new(), Notes::new());
}
