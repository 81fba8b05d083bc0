//! The file tools that `fs_server` (stdio) and `http_server` (streamable HTTP) serve: the
//! same names, scopes and inputs on both transports.

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    Implementation, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::{NotificationContext, RequestContext};
use rmcp::{ErrorData, RoleServer, ServerHandler, tool, tool_handler, tool_router};
use secure_tool::types::{SafePath, Sandbox};
use secure_tool::{SecureInput, SecureServer, Security, ToolError, secure_tool};

const MAX_READ: u64 = 1024 * 1024;

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct PathArg {
    /// A path relative to the served directory (`.` for the top).
    path: SafePath,
}

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct WriteArg {
    /// A path relative to the served directory.
    path: SafePath,
    /// The file's new content (UTF-8).
    #[validate(length(max = 65536))]
    content: String,
}

/// Run file I/O on tokio's blocking threads, never on an async worker: a slow disk (or
/// a network file system that hangs) then stalls only its own call, and the call's
/// timeout answers on time while the blocked thread finishes behind it.
async fn blocking<T: Send + 'static>(
    io: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ToolError> {
    tokio::task::spawn_blocking(io)
        .await
        .map_err(ToolError::internal)
}

/// Files in one directory, each tool behind its scope.
#[derive(Clone)]
pub struct FsServer {
    security: Security,
    sandbox: Sandbox,
    tool_router: ToolRouter<Self>,
}

impl FsServer {
    /// A server over `sandbox` whose tools run under `security`.
    pub fn new(security: Security, sandbox: Sandbox) -> Self {
        Self {
            security,
            sandbox,
            tool_router: Self::tool_router(),
        }
    }

    /// Register the tools for `Security::manifest()` without serving them.
    pub fn register() {
        let _router = Self::tool_router();
    }
}

impl SecureServer for FsServer {
    fn security(&self) -> &Security {
        &self.security
    }
}

#[tool_router]
impl FsServer {
    #[secure_tool(scope = "fs.read", rate = "120/min", timeout = "5s", read_only)]
    #[tool(description = "Read a UTF-8 text file (at most 1 MiB) from the served directory")]
    async fn read_file(&self, Parameters(args): Parameters<PathArg>) -> Result<String, ToolError> {
        let sandbox = self.sandbox.clone();
        Ok(blocking(move || sandbox.read_to_string(&args.path, MAX_READ)).await??)
    }

    #[secure_tool(scope = "fs.read", rate = "120/min", timeout = "5s", read_only)]
    #[tool(description = "List a directory of the served directory ('.' for the top)")]
    async fn list_dir(&self, Parameters(args): Parameters<PathArg>) -> Result<String, ToolError> {
        let sandbox = self.sandbox.clone();
        let entries = blocking(move || sandbox.list(&args.path, 1000)).await??;
        let names: Vec<String> = entries
            .into_iter()
            .map(|e| {
                if e.is_dir {
                    format!("{}/", e.name)
                } else {
                    e.name
                }
            })
            .collect();
        Ok(names.join("\n"))
    }

    #[secure_tool(
        scope = "fs.write",
        rate = "30/min",
        timeout = "5s",
        destructive,
        idempotent
    )]
    #[tool(description = "Create or replace a UTF-8 text file in the served directory")]
    async fn write_file(
        &self,
        Parameters(args): Parameters<WriteArg>,
    ) -> Result<String, ToolError> {
        let (sandbox, length) = (self.sandbox.clone(), args.content.len());
        blocking(move || sandbox.write(&args.path, &args.content)).await??;
        Ok(format!("wrote {length} bytes"))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for FsServer {
    // The tools the operator's policy disables are not listed (and refused if called).
    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools = self.security.visible_tools(self.tool_router.list_all());
        Ok(ListToolsResult::with_all_items(tools))
    }

    // A policy reload that enables or disables a tool is announced to the client.
    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        self.security.notify_tool_list_changes(context.peer);
    }

    fn get_tool(&self, name: &str) -> Option<rmcp::model::Tool> {
        self.security
            .visible_tools(self.tool_router.get(name).cloned().into_iter().collect())
            .pop()
    }

    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .build(),
        )
        .with_server_info(Implementation::new(
            "secure-tool-fs",
            env!("CARGO_PKG_VERSION"),
        ))
        .with_instructions("Files in one directory. Paths are relative to it.")
    }
}
