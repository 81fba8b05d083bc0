//! A web fetcher, written after popular MCP fetch servers: a URL, a byte cap, headers,
//! a list of URLs to fetch together.
use std::collections::HashMap;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use secure_tool::types::SafeUrl;
use secure_tool::{SecureInput, SecureServer, Security, ToolError, secure_tool};

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Fetch {
    #[secure(url(schemes = ["https"], deny_hosts = ["*.internal.example.com"]))]
    url: SafeUrl,
    #[validate(range(min = 1, max = 1_000_000))]
    max_bytes: Option<u32>,
    /// Extra request headers: names and values at most 256 characters.
    #[validate(length(max = 16))]
    #[secure(each(length(max = 256)))]
    headers: HashMap<String, String>,
    /// Return raw HTML instead of text.
    raw: Option<bool>,
}

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct FetchMany {
    #[validate(length(min = 1, max = 10))]
    urls: Vec<SafeUrl>,
}

#[derive(Clone)]
struct Web {
    security: Security,
    tool_router: ToolRouter<Self>,
}

impl SecureServer for Web {
    fn security(&self) -> &Security {
        &self.security
    }
}

#[tool_router]
impl Web {
    #[secure_tool(public, rate = "20/min", timeout = "15s", max_output = "256KiB", open_world)]
    #[tool(description = "Fetch a web page")]
    async fn fetch(&self, Parameters(f): Parameters<Fetch>) -> Result<String, ToolError> {
        Ok(format!("{} ({} headers)", f.url.host(), f.headers.len() + usize::from(f.raw.is_some()) + usize::from(f.max_bytes.is_some())))
    }

    #[secure_tool(public, rate = "5/min", timeout = "30s", open_world)]
    #[tool(description = "Fetch several pages")]
    async fn fetch_many(&self, Parameters(f): Parameters<FetchMany>) -> Result<String, ToolError> {
        Ok(format!("{} urls", f.urls.len()))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Web {}

fn main() {
    let web = Web { security: Security::default(), tool_router: Web::tool_router() };
    assert_eq!(web.tool_router.list_all().len(), 2);
}
