//! [`Security`]: a server's identity source, limiter state and defaults, and
//! [`SecureServer`], which connects a server to it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::Principal;
use crate::decl::{ToolDecl, ToolKey};
use crate::limits::{Limits, ToolState};
use crate::raw::RawLimits;

/// Connects an rmcp server to its [`Security`]; every `#[secure_tool]` method needs it.
///
/// ```
/// use secure_tool::{SecureServer, Security};
///
/// struct Files {
///     security: Security,
/// }
///
/// impl SecureServer for Files {
///     fn security(&self) -> &Security {
///         &self.security
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has `#[secure_tool]` methods but does not implement `SecureServer`",
    label = "`SecureServer` is not implemented for `{Self}`",
    note = "add a `security: secure_tool::Security` field and `impl secure_tool::SecureServer for {Self} {{ fn security(&self) -> &secure_tool::Security {{ &self.security }} }}`"
)]
pub trait SecureServer {
    /// The security state shared by this server's tools.
    fn security(&self) -> &Security;
}

/// A server's security state: who the local caller is, the default limits, and the live
/// rate-limit and concurrency state of each tool. Cheap to clone (shared state).
///
/// [`Security::default()`] serves an anonymous caller with no scopes: every scoped tool
/// is denied until the operator grants something, which is the safe default.
///
/// ```
/// use secure_tool::{Principal, Security};
///
/// let security = Security::builder()
///     .local_principal(Principal::new("local").with_scopes(["fs.read"]))
///     .build();
/// assert!(security.local_principal().has_scope("fs.read"));
/// assert!(!Security::default().local_principal().has_scope("fs.read"));
/// ```
///
/// # Identity on each transport
///
/// - stdio and in-process transports: the caller is the
///   [`local_principal`](SecurityBuilder::local_principal) the operator configured.
/// - streamable HTTP: the caller is the [`Principal`] that authentication middleware
///   stored in the HTTP request's extensions (`request.extensions_mut().insert(principal)`);
///   without one, anonymous. The local principal never applies to HTTP requests.
#[derive(Clone, Default)]
pub struct Security {
    inner: Arc<Inner>,
}

struct Inner {
    local: Principal,
    raw_limits: RawLimits,
    default_timeout: Option<Duration>,
    max_output: usize,
    scrub_output: bool,
    scrub_logs: bool,
    tools: RwLock<HashMap<ToolKey, Arc<Tool>, foldhash::fast::FixedState>>,
}

/// One tool as this `Security` runs it: its declaration, the limits its calls run under,
/// and their live state.
pub(crate) struct Tool {
    pub(crate) decl: &'static ToolDecl,
    /// The declared limits (the server's defaults apply where one is `None`).
    pub(crate) limits: Limits,
    pub(crate) state: ToolState,
}

impl Default for Inner {
    fn default() -> Self {
        SecurityBuilder::default().into_inner()
    }
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Security")
            .field("local_principal", &self.inner.local)
            .field("raw_limits", &self.inner.raw_limits)
            .field("default_timeout", &self.inner.default_timeout)
            .field("max_output", &self.inner.max_output)
            .field("scrub_output", &self.inner.scrub_output)
            .field("scrub_logs", &self.inner.scrub_logs)
            .finish_non_exhaustive()
    }
}

impl Security {
    /// Start configuring a `Security`.
    pub fn builder() -> SecurityBuilder {
        SecurityBuilder::default()
    }

    /// The caller on transports without their own identity (stdio, in-process).
    pub fn local_principal(&self) -> &Principal {
        &self.inner.local
    }

    /// The limits on raw arguments, checked before deserialization.
    pub fn raw_limits(&self) -> &RawLimits {
        &self.inner.raw_limits
    }

    /// The timeout of async tools that declare none (`None`: unbounded).
    pub fn default_timeout(&self) -> Option<Duration> {
        self.inner.default_timeout
    }

    /// The output cap, in bytes, of tools that declare no `max_output`.
    pub fn max_output(&self) -> usize {
        self.inner.max_output
    }

    /// Whether successful outputs are scrubbed of secrets (API keys, tokens, private keys).
    pub fn scrub_output(&self) -> bool {
        self.inner.scrub_output
    }

    /// Whether the server's log of a redacted error (`secure_tool::error`) is scrubbed of
    /// credentials (CWE-532). Paths and everything else an operator needs stay.
    pub fn scrub_logs(&self) -> bool {
        self.inner.scrub_logs
    }

    /// Every secured tool in the program, with this server's effective limits and every
    /// waiver its inputs carry. See [`Manifest`](crate::Manifest).
    pub fn manifest(&self) -> crate::Manifest {
        crate::Manifest::new(&crate::limits::Defaults {
            timeout: self.default_timeout(),
            max_output: self.max_output(),
            max_input: self.raw_limits().max_bytes,
        })
    }

    /// One tool's live state, created on its first call. Keyed by what identifies a tool
    /// (see `ToolKey`): compile-time values, never a caller's, so a fast fixed hash is
    /// enough, and a short one (a type id, a name and two numbers).
    pub(crate) fn tool(&self, server: std::any::TypeId, decl: &'static ToolDecl) -> Arc<Tool> {
        let key = ToolKey::new(server, decl);
        if let Some(tool) = self
            .inner
            .tools
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
        {
            return Arc::clone(tool);
        }
        let mut tools = self
            .inner
            .tools
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(tools.entry(key).or_insert_with(|| {
            Arc::new(Tool {
                decl,
                limits: decl.limits,
                state: ToolState::new(&decl.limits),
            })
        }))
    }
}

/// Configures a [`Security`]. Every setting has a safe default.
#[derive(Debug, Clone)]
pub struct SecurityBuilder {
    local: Principal,
    raw_limits: RawLimits,
    default_timeout: Option<Duration>,
    max_output: usize,
    scrub_output: bool,
    scrub_logs: bool,
}

impl Default for SecurityBuilder {
    fn default() -> Self {
        Self {
            local: Principal::anonymous(),
            raw_limits: RawLimits::default(),
            default_timeout: Some(Duration::from_secs(30)),
            max_output: 1024 * 1024,
            scrub_output: true,
            scrub_logs: true,
        }
    }
}

impl SecurityBuilder {
    /// The caller on stdio and in-process transports (default: anonymous, no scopes).
    pub fn local_principal(mut self, principal: Principal) -> Self {
        self.local = principal;
        self
    }

    /// Limits on raw arguments (default: 256 KiB, depth 32, 64 KiB strings, 10,000 items).
    pub fn raw_limits(mut self, limits: RawLimits) -> Self {
        self.raw_limits = limits;
        self
    }

    /// Timeout of async tools that declare none (default 30 s; `None` for unbounded).
    pub fn default_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.default_timeout = timeout;
        self
    }

    /// Output cap in bytes of tools that declare no `max_output` (default 1 MiB).
    pub fn max_output(mut self, bytes: usize) -> Self {
        self.max_output = bytes;
        self
    }

    /// Scrub secrets from successful outputs (default `true`). Public error messages are
    /// always scrubbed.
    pub fn scrub_output(mut self, on: bool) -> Self {
        self.scrub_output = on;
        self
    }

    /// Scrub credentials from the server's log of redacted errors (default `true`): a
    /// connection string or token in an error's text is logged as `[redacted]`, the rest
    /// of the text as it was. Turn it off only where logs are as protected as the secrets.
    pub fn scrub_logs(mut self, on: bool) -> Self {
        self.scrub_logs = on;
        self
    }

    /// Finish. Also compiles the secret-scrubbing patterns, so no call pays for that.
    pub fn build(self) -> Security {
        crate::scrub::warm_up();
        Security {
            inner: Arc::new(self.into_inner()),
        }
    }

    fn into_inner(self) -> Inner {
        Inner {
            local: self.local,
            raw_limits: self.raw_limits,
            default_timeout: self.default_timeout,
            max_output: self.max_output,
            scrub_output: self.scrub_output,
            scrub_logs: self.scrub_logs,
            tools: RwLock::default(),
        }
    }
}
