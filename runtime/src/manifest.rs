//! [`Manifest`]: every secured tool in the program, what it requires, the limits it runs
//! under, and every compile-time rule its inputs waived, with the reason written for it.
//!
//! Each `#[secure_tool]` registers its declaration when rmcp builds its tool list (the
//! server's `#[tool_router]` function), so the manifest lists exactly the tools the
//! program serves, without a list to keep in sync, and
//! [`Security::manifest`](crate::Security::manifest) fills in the limits that come from
//! the server's configuration.

use std::fmt;

use serde::Serialize;

use crate::decl::Registered;
use crate::input::OptOut;
use crate::limits::{Defaults, Limits};
use crate::policy::Policy;

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
/// assert_eq!(tool.limits.rate.unwrap().to_string(), "30/min");
/// assert_eq!(tool.limits.timeout.unwrap().0, 30_000); // the server's default
/// assert_eq!(tool.opt_outs[0].field, "Note.text");
/// assert!(manifest.to_string().contains("unbounded"));
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    /// The digest of the operator's policy file in force, if one was loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<String>,
    tools: Vec<ToolManifest>,
}

/// One secured tool in a [`Manifest`].
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ToolManifest {
    /// The name clients call it by.
    pub name: &'static str,
    /// Scopes a caller must all hold (empty when `public`).
    pub scopes: &'static [&'static str],
    /// Anyone may call it.
    pub public: bool,
    /// The limits its calls run under: its own, else its server's default (`timeout` is
    /// `None` for a sync tool, which nothing can interrupt, or when there is none).
    /// Serialized beside the other fields: `"rate": "30/min"`, `"timeout_ms": 2000`...
    #[serde(flatten)]
    pub limits: Limits,
    /// Served: `false` when the operator's policy says `enabled = false`.
    pub enabled: bool,
    /// What the operator's policy changed of the code's declaration: the limit keys it
    /// overrides (`rate`, `timeout`...) and `enabled`. Empty without a policy.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policy: Vec<&'static str>,
    /// The input type, as written at the tool (`-` for a tool without arguments).
    pub input: &'static str,
    /// Every compile-time rule waived by the input or an input nested in it.
    pub opt_outs: Vec<OptOut>,
    /// The server type the tool is a method of.
    pub server: &'static str,
    /// The module the tool is declared in.
    pub module: &'static str,
    /// Source file and line of the tool.
    pub location: String,
}

impl Manifest {
    pub(crate) fn new(defaults: &Defaults, policy: &Policy) -> Self {
        let mut tools: Vec<ToolManifest> = crate::decl::served()
            .iter()
            .map(|registered| ToolManifest::new(registered, defaults, policy))
            .collect();
        tools.sort_by(|a, b| (a.module, a.name).cmp(&(b.module, b.name)));
        Self {
            policy: policy.digest().map(str::to_owned),
            tools,
        }
    }

    /// The digest (`sha256:..`) of the operator's policy file in force, if any.
    pub fn policy_digest(&self) -> Option<&str> {
        self.policy.as_deref()
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
    fn new(registered: &Registered, defaults: &Defaults, policy: &Policy) -> Self {
        let decl = registered.decl;
        let mut opt_outs = Vec::new();
        (registered.opt_outs)(&mut opt_outs, &mut Vec::new());
        let enabled = policy.is_enabled(decl.name);
        let mut changed = policy.changed(decl.name);
        if !enabled {
            changed.push("enabled");
        }
        Self {
            name: decl.name,
            scopes: decl.scopes,
            public: decl.public,
            limits: policy
                .limits(decl.name, decl.limits)
                .effective(defaults, decl.asynchronous),
            enabled,
            policy: changed,
            input: decl.input,
            opt_outs,
            server: registered.server,
            module: decl.site.module,
            location: format!("{}:{}", decl.site.file, decl.site.line),
        }
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
        write!(
            f,
            "{} secured tool(s), {waivers} waiver(s)",
            self.tools.len()
        )?;
        match &self.policy {
            Some(digest) => writeln!(f, ", policy {digest}")?,
            None => writeln!(f)?,
        }
        let width = self.tools.iter().map(|t| t.name.len()).max().unwrap_or(0);
        for tool in &self.tools {
            write!(f, "{:width$}  ", tool.name)?;
            if tool.public {
                f.write_str("public")?;
            } else {
                write!(f, "scope {}", tool.scopes.join(" + "))?;
            }
            write!(f, "  {}", tool.limits)?;
            if !tool.enabled {
                f.write_str("  DISABLED")?;
            }
            if !tool.policy.is_empty() {
                write!(f, "  (policy sets {})", tool.policy.join(", "))?;
            }
            writeln!(f, "  [{}, {}]", tool.module, tool.location)?;
            for o in &tool.opt_outs {
                writeln!(f, "    waiver {}: {} ({:?})", o.field, o.rule, o.reason)?;
            }
        }
        Ok(())
    }
}
