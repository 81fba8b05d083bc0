//! [`Manifest`]: every secured tool in the program, what it requires, the limits it runs
//! under, and every compile-time rule its inputs waived, with the reason written for it.
//!
//! Each `#[secure_tool]` registers its declaration when rmcp builds its tool list (the
//! server's `#[tool_router]` function), so the manifest lists exactly the tools the
//! program serves, without a list to keep in sync, and
//! [`Security::manifest`](crate::Security::manifest) fills in the limits that come from
//! the server's configuration.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::decl::ToolEntry;
use crate::support::CollectOptOuts;
use crate::{OptOut, Security};

/// Every secured tool this program serves, as declared and as configured.
///
/// A tool is listed once its server's tool router has been built (`Server::tool_router()`,
/// which every rmcp server calls when it is created); a server type the program never
/// creates serves nothing and lists nothing.
///
/// Print it at start-up for the operator, review it in CI, or serialize it
/// (`serde_json::to_string_pretty(&manifest)`) to diff what changed between releases:
/// a new scope, a loosened limit or a new waiver shows up here.
///
/// ```
/// use rmcp::{handler::server::wrapper::Parameters, tool, tool_router};
/// use secure_tool::{secure_tool, SecureInput, SecureServer, Security};
///
/// #[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
/// #[serde(deny_unknown_fields)]
/// struct Note {
///     #[secure(unbounded = "notes are capped by the raw 64 KiB string limit")]
///     text: String,
/// }
///
/// struct Notes {
///     security: Security,
/// }
///
/// impl SecureServer for Notes {
///     fn security(&self) -> &Security {
///         &self.security
///     }
/// }
///
/// #[tool_router]
/// impl Notes {
///     #[secure_tool(scope = "notes.write", rate = "30/min")]
///     #[tool(description = "Save a note")]
///     async fn save_note(&self, Parameters(note): Parameters<Note>) -> String {
///         format!("{} chars", note.text.len())
///     }
/// }
///
/// let _router = Notes::tool_router(); // what creating the server does
/// let manifest = Security::default().manifest();
/// let tool = manifest.tool("save_note").unwrap();
/// assert_eq!(tool.scopes, ["notes.write"]);
/// assert_eq!(tool.rate.as_deref(), Some("30/min"));
/// assert_eq!(tool.timeout_ms, Some(30_000)); // the server's default
/// assert_eq!(tool.opt_outs[0].field, "Note.text");
/// assert!(manifest.to_string().contains("unbounded"));
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    tools: Vec<ToolManifest>,
}

/// One secured tool in a [`Manifest`]. Limits are the effective ones: the tool's own, else
/// its server's default.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ToolManifest {
    /// The name clients call it by.
    pub name: &'static str,
    /// Scopes a caller must all hold (empty when `public`).
    pub scopes: &'static [&'static str],
    /// Anyone may call it.
    pub public: bool,
    /// Sustained rate per caller (`60/min`), if limited.
    pub rate: Option<String>,
    /// Calls a caller may make at once before the rate applies.
    pub burst: Option<u32>,
    /// Longest a call may run, in milliseconds (`None`: a sync tool, or no timeout).
    pub timeout_ms: Option<u64>,
    /// Calls that may run at once, across callers.
    pub concurrency: Option<u32>,
    /// Largest output, in bytes.
    pub max_output: usize,
    /// Largest raw arguments, in bytes.
    pub max_input: usize,
    /// The input type, as written at the tool (`-` for a tool without arguments).
    pub input: &'static str,
    /// Every compile-time rule waived by the input or an input nested in it.
    pub opt_outs: Vec<OptOut>,
    /// Where the tool is declared: `module::path`, `file:line`.
    pub module: &'static str,
    /// Source file and line of the tool.
    pub location: String,
}

impl Manifest {
    pub(crate) fn new(security: &Security) -> Self {
        let served = crate::decl::served();
        let mut tools: Vec<ToolManifest> = served
            .into_iter()
            .map(|(entry, opt_outs)| ToolManifest::new(entry, opt_outs, security))
            .collect();
        tools.sort_by(|a, b| (a.module, a.name).cmp(&(b.module, b.name)));
        Self { tools }
    }

    /// Every secured tool, by module then name.
    pub fn tools(&self) -> &[ToolManifest] {
        &self.tools
    }

    /// The tool called `name` (the first, if several servers in the program declare one).
    pub fn tool(&self, name: &str) -> Option<&ToolManifest> {
        self.tools.iter().find(|t| t.name == name)
    }

    /// Every waiver of every tool, with the tool's name.
    pub fn opt_outs(&self) -> impl Iterator<Item = (&'static str, &OptOut)> {
        self.tools
            .iter()
            .flat_map(|t| t.opt_outs.iter().map(move |o| (t.name, o)))
    }
}

impl ToolManifest {
    fn new(entry: &'static ToolEntry, collect: CollectOptOuts, security: &Security) -> Self {
        let policy = &entry.policy;
        let mut opt_outs = Vec::new();
        collect(&mut opt_outs, &mut Vec::new());
        let timeout = if entry.asynchronous {
            policy.timeout.or(security.default_timeout())
        } else {
            None
        };
        Self {
            name: policy.name,
            scopes: policy.scopes,
            public: policy.public,
            rate: policy.rate.map(|r| rate_text(r.count().get(), r.period())),
            burst: policy
                .burst
                .or(policy.rate.map(|r| r.count()))
                .map(|b| b.get()),
            timeout_ms: timeout.map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
            concurrency: policy.concurrency.map(|c| c.get()),
            max_output: policy.max_output.unwrap_or(security.max_output()),
            max_input: policy.max_input.unwrap_or(security.raw_limits().max_bytes),
            input: entry.input,
            opt_outs,
            module: entry.module,
            location: format!("{}:{}", entry.file, entry.line),
        }
    }
}

fn rate_text(count: u32, period: Duration) -> String {
    match period.as_millis() {
        1_000 => format!("{count}/sec"),
        60_000 => format!("{count}/min"),
        3_600_000 => format!("{count}/hour"),
        ms => format!("{count}/{ms}ms"),
    }
}

fn size_text(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} B"),
    }
}

/// One line per tool, then its waivers, indented:
///
/// ```text
/// read_file  scope fs.read  rate 60/min (burst 60)  timeout 2s  output <= 1 MiB  input <= 256 KiB  [fs_server, examples/fs_server.rs:88]
///     waiver Input.diff: unbounded ("a diff can be long; the raw limit caps it")
/// ```
impl fmt::Display for Manifest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let waivers = self.opt_outs().count();
        writeln!(
            f,
            "{} secured tool(s), {waivers} waiver(s)",
            self.tools.len()
        )?;
        let width = self.tools.iter().map(|t| t.name.len()).max().unwrap_or(0);
        for tool in &self.tools {
            write!(f, "{:width$}  ", tool.name)?;
            if tool.public {
                f.write_str("public")?;
            } else {
                write!(f, "scope {}", tool.scopes.join(" + "))?;
            }
            match (&tool.rate, tool.burst) {
                (Some(rate), Some(burst)) => write!(f, "  rate {rate} (burst {burst})")?,
                (Some(rate), None) => write!(f, "  rate {rate}")?,
                (None, _) => f.write_str("  rate unlimited")?,
            }
            match tool.timeout_ms {
                Some(ms) if ms % 1000 == 0 => write!(f, "  timeout {}s", ms / 1000)?,
                Some(ms) => write!(f, "  timeout {ms}ms")?,
                None => f.write_str("  no timeout")?,
            }
            if let Some(concurrency) = tool.concurrency {
                write!(f, "  concurrency {concurrency}")?;
            }
            writeln!(
                f,
                "  output <= {}  input <= {}  [{}, {}]",
                size_text(tool.max_output),
                size_text(tool.max_input),
                tool.module,
                tool.location
            )?;
            for o in &tool.opt_outs {
                writeln!(f, "    waiver {}: {} ({:?})", o.field, o.rule, o.reason)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_as_they_were_written() {
        assert_eq!(rate_text(60, Duration::from_secs(60)), "60/min");
        assert_eq!(rate_text(5, Duration::from_secs(1)), "5/sec");
        assert_eq!(rate_text(2, Duration::from_secs(3600)), "2/hour");
        assert_eq!(rate_text(2, Duration::from_millis(1500)), "2/1500ms");
        assert_eq!(size_text(1 << 20), "1 MiB");
        assert_eq!(size_text(64 * 1024), "64 KiB");
        assert_eq!(size_text(1000), "1000 B");
    }
}
