//! A git/shell helper, written after popular MCP git servers: a repository path, log and
//! diff as listed commands, a branch to check out.
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use secure_tool::types::{CommandLine, SafePath};
use secure_tool::{SecureInput, SecureServer, Security, ToolError, secure_tool};

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Log {
    /// The repository, relative to the workspace root.
    repo: SafePath,
    #[validate(range(min = 1, max = 200))]
    max_count: Option<u32>,
    /// Only commits that touch these files.
    #[validate(length(max = 20))]
    paths: Vec<SafePath>,
}

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Run {
    repo: SafePath,
    #[secure(command(programs = ["git"], options = ["status", "diff", "log", "--stat", "--oneline", "-n"]))]
    command: CommandLine,
}

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Checkout {
    repo: SafePath,
    /// A branch name, passed to `git checkout` after `--`.
    #[validate(length(min = 1, max = 100), custom(function = branch_name))]
    branch: String,
}

/// A branch name never starts with `-` (it would be read as an option).
fn branch_name(name: &str) -> Result<(), validator::ValidationError> {
    let ok = !name.starts_with('-')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "._/-".contains(c));
    ok.then_some(()).ok_or_else(|| validator::ValidationError::new("branch"))
}

#[derive(Clone)]
struct Git {
    security: Security,
    tool_router: ToolRouter<Self>,
}

impl SecureServer for Git {
    fn security(&self) -> &Security {
        &self.security
    }
}

#[tool_router]
impl Git {
    #[secure_tool(scope = "git.read", read_only, timeout = "10s")]
    #[tool(description = "Show the log")]
    async fn git_log(&self, Parameters(log): Parameters<Log>) -> Result<String, ToolError> {
        Ok(format!("{} paths", log.paths.len() + usize::from(log.max_count.is_some())))
    }

    #[secure_tool(scope = "git.read", timeout = "10s", concurrency = 2)]
    #[tool(description = "Run a listed git command")]
    async fn git(&self, Parameters(run): Parameters<Run>) -> Result<String, ToolError> {
        let _ = run.repo;
        Ok(run.command.program().to_owned())
    }

    #[secure_tool(scope = "git.write", destructive)]
    #[tool(description = "Check out a branch")]
    async fn checkout(&self, Parameters(c): Parameters<Checkout>) -> Result<String, ToolError> {
        Ok(format!("on {}", c.branch))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Git {}

fn main() {
    let git = Git { security: Security::default(), tool_router: Git::tool_router() };
    assert_eq!(git.tool_router.list_all().len(), 3);
}
