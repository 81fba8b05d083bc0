//! A real stdio MCP server over one directory, for any MCP host to launch:
//!
//! ```text
//! cargo run --example fs_server -- --root ./workspace --grant fs.read --grant fs.write
//! ```
//!
//! Tools: `read_file` and `list_dir` need `fs.read`; `write_file` needs `fs.write`. With no
//! `--grant`, the caller holds no scopes and every tool is denied. Every path is resolved
//! inside `--root`: `SafePath` refuses traversal in any spelling, and `Sandbox`
//! (`cap-std`) refuses symlinks out and rename races. Logs go to
//! stderr (stdout is the protocol); set `RUST_LOG` to change what is logged.

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use secure_tool::types::{SafePath, Sandbox};
use secure_tool::{Principal, SecureInput, SecureServer, Security, ToolError, secure_tool};

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

#[derive(Clone)]
struct FsServer {
    security: Security,
    sandbox: Sandbox,
    tool_router: ToolRouter<Self>,
}

impl SecureServer for FsServer {
    fn security(&self) -> &Security {
        &self.security
    }
}

#[tool_router]
impl FsServer {
    #[secure_tool(scope = "fs.read", rate = "120/min", timeout = "5s")]
    #[tool(description = "Read a UTF-8 text file (at most 1 MiB) from the served directory")]
    async fn read_file(&self, Parameters(args): Parameters<PathArg>) -> Result<String, ToolError> {
        Ok(self.sandbox.read_to_string(&args.path, MAX_READ)?)
    }

    #[secure_tool(scope = "fs.read", rate = "120/min", timeout = "5s")]
    #[tool(description = "List a directory of the served directory ('.' for the top)")]
    async fn list_dir(&self, Parameters(args): Parameters<PathArg>) -> Result<String, ToolError> {
        let entries = self.sandbox.list(&args.path, 1000)?;
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

    #[secure_tool(scope = "fs.write", rate = "30/min", timeout = "5s")]
    #[tool(description = "Create or replace a UTF-8 text file in the served directory")]
    async fn write_file(
        &self,
        Parameters(args): Parameters<WriteArg>,
    ) -> Result<String, ToolError> {
        self.sandbox.write(&args.path, &args.content)?;
        Ok(format!("wrote {} bytes", args.content.len()))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for FsServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "secure-tool-fs",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions("Files in one directory. Paths are relative to it.")
    }
}

struct Args {
    root: std::path::PathBuf,
    grants: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    const USAGE: &str = "usage: fs_server --root DIR [--grant SCOPE]... (scopes: fs.read, fs.write)\n       fs_server --manifest   (print every tool's scopes, limits and waivers, and exit)";
    let mut root = None;
    let mut grants = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--root" => root = Some(args.next().ok_or(USAGE)?.into()),
            "--grant" => grants.push(args.next().ok_or(USAGE)?),
            "--manifest" => {
                // Tools register when their router is built, as serving does.
                let _router = FsServer::tool_router();
                print!("{}", Security::default().manifest());
                std::process::exit(0);
            }
            "--help" | "-h" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(Args {
        root: root.ok_or(USAGE)?,
        grants,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "secure_tool=info,rmcp=warn".into()),
        )
        .init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let has_write = args.grants.iter().any(|g| g == "fs.write");
    // Least privilege: without `fs.write`, the directory is opened read-only as well.
    let sandbox = if has_write {
        Sandbox::open(&args.root)
    } else {
        Sandbox::open_read_only(&args.root)
    }
    .map_err(|e| anyhow::anyhow!("cannot open --root {}: {e}", args.root.display()))?;
    let security = Security::builder()
        .local_principal(Principal::new("local").with_scopes(args.grants))
        .build();
    let server = FsServer {
        security,
        sandbox,
        tool_router: FsServer::tool_router(),
    };
    let running = server.serve(rmcp::transport::stdio()).await?;
    running.waiting().await?;
    Ok(())
}
