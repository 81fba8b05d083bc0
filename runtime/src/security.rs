//! [`Security`]: a server's identity source, limiter state and defaults, and
//! [`SecureServer`], which connects a server to it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use std::time::Duration;

use crate::audit::AuditLog;
use crate::decl::{ToolDecl, ToolKey};
use crate::identity::Principal;
use crate::limits::{Defaults, Limits, ToolState};
use crate::policy::Policy;
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
    max_keys: usize,
    audit: Option<AuditLog>,
    /// Which `Security` this is (its policies' `lineage`; read again when a reload puts a
    /// new policy in force).
    #[cfg_attr(not(feature = "policy"), allow(dead_code))]
    lineage: u64,
    /// Repeated refusals, coalesced before they reach the trail.
    refusals: crate::audit::coalesce::Coalescer,
    #[cfg(feature = "redis")]
    store: Option<Arc<crate::store::RedisStore>>,
    /// Read on every call with no lock; replaced whole (under `writing`) by a reload and
    /// by a tool's first call.
    live: ArcSwap<Live>,
    /// Serializes the writers of `live`.
    writing: Mutex<()>,
    /// Held by a policy reload from reading the file to putting it in force.
    #[cfg(feature = "policy")]
    reload: Mutex<()>,
    /// The policy in force, announced to each session's list-change notifier.
    updates: tokio::sync::watch::Sender<Arc<Policy>>,
}

/// The policy in force and each tool as it runs under it. Replaced whole when the policy
/// is reloaded (or a tool first runs); a call holds the `Arc<Tool>` it started with.
#[derive(Default, Clone)]
struct Live {
    policy: Arc<Policy>,
    tools: HashMap<ToolKey, Arc<Tool>, foldhash::fast::FixedState>,
}

/// One tool as this `Security` runs it: its declaration, the limits its calls run under
/// (the code's, with the policy's overrides), whether the policy serves it, and the live
/// limiter state.
pub(crate) struct Tool {
    pub(crate) decl: &'static ToolDecl,
    /// The limits in force (the server's defaults apply where one is `None`).
    pub(crate) limits: Limits,
    pub(crate) state: ToolState,
    /// `false`: the policy says `enabled = false`.
    pub(crate) enabled: bool,
    /// The policy this tool's calls run under.
    pub(crate) policy: Arc<Policy>,
}

impl Tool {
    /// `decl` under `policy`. The limiter state of `previous` (the same tool under the
    /// policy before) is kept for every limit that did not change.
    fn new(
        decl: &'static ToolDecl,
        policy: &Arc<Policy>,
        previous: Option<&Tool>,
        max_keys: usize,
    ) -> Self {
        let limits = policy.limits(decl.name, decl.limits);
        let state = match previous {
            Some(previous) => previous.state.carry(&previous.limits, &limits, max_keys),
            None => ToolState::new(&limits, max_keys),
        };
        Self {
            decl,
            limits,
            state,
            enabled: policy.is_enabled(decl.name),
            policy: Arc::clone(policy),
        }
    }
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
            .field("max_rate_keys", &self.inner.max_keys)
            .field("audit_log", &self.inner.audit)
            .field("policy", &self.policy().digest())
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

    /// Every secured tool in the program, with this server's effective limits (its
    /// policy's overrides marked), and every waiver its inputs carry. See
    /// [`Manifest`](crate::Manifest).
    pub fn manifest(&self) -> crate::manifest::Manifest {
        crate::manifest::Manifest::new(&self.defaults(), &self.policy())
    }

    /// The operator's policy in force (empty when none was loaded).
    pub fn policy(&self) -> Arc<Policy> {
        Arc::clone(&self.live().policy)
    }

    /// `tools` (a server's `tools/list`) without those the policy disables. A server
    /// whose policy may say `enabled = false` lists its tools through this in its own
    /// `ServerHandler::list_tools` and `get_tool` (`#[tool_handler]` then leaves those two
    /// to it): `examples/shared/fs.rs` does, with `self.tool_router.list_all()`.
    pub fn visible_tools(&self, tools: Vec<rmcp::model::Tool>) -> Vec<rmcp::model::Tool> {
        let policy = self.policy();
        tools
            .into_iter()
            .filter(|tool| policy.is_enabled(&tool.name))
            .collect()
    }

    /// The server's limits for tools that declare none.
    pub(crate) fn defaults(&self) -> Defaults {
        Defaults {
            timeout: self.default_timeout(),
            max_output: self.max_output(),
            max_input: self.raw_limits().max_bytes,
        }
    }

    /// The shared store of `tool`'s rate limits, when there is one and the tool has a rate
    /// to keep there; `None`: its limits are kept in process.
    #[cfg(feature = "redis")]
    pub(crate) fn remote_store(&self, tool: &Tool) -> Option<&crate::store::RedisStore> {
        self.inner
            .store
            .as_deref()
            .filter(|_| tool.limits.rate.is_some() || tool.limits.rate_global.is_some())
    }

    /// The JSON-lines audit trail, when one was configured.
    pub fn audit_log(&self) -> Option<&AuditLog> {
        self.inner.audit.as_ref()
    }

    /// Write the audit trail's pending lines (the counts of coalesced refusals included)
    /// and wait until they are in the file, at most `timeout`: `true` when they are (or
    /// there is no trail). See [`AuditLog::flush`].
    pub fn flush_audit(&self, timeout: Duration) -> bool {
        self.inner.refusals.flush();
        self.audit_log().is_none_or(|log| log.flush(timeout))
    }

    /// At shutdown, after the server stopped taking calls: write the audit trail's
    /// pending lines (the counts of coalesced refusals included), sync the file and stop
    /// its writer, at most `timeout`: `true` when every line made it (or there is no
    /// trail). Lines of calls that end later are counted as dropped. See
    /// [`AuditLog::close`].
    pub fn close_audit(&self, timeout: Duration) -> bool {
        self.inner.refusals.flush();
        self.audit_log().is_none_or(|log| log.close(timeout))
    }

    /// Where repeated refusals (the pipeline's and the HTTP layer's) are counted.
    pub(crate) fn refusals(&self) -> &crate::audit::coalesce::Coalescer {
        &self.inner.refusals
    }

    fn live(&self) -> arc_swap::Guard<Arc<Live>> {
        self.inner.live.load()
    }

    /// Replace the live state with `change` applied to a copy of it, one writer at a time.
    fn update_live<R>(&self, change: impl FnOnce(&mut Live) -> R) -> R {
        let _writing = self
            .inner
            .writing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut live = Live::clone(&self.inner.live.load());
        let out = change(&mut live);
        self.inner.live.store(Arc::new(live));
        out
    }

    /// Held while a policy reload reads, checks and installs a file.
    #[cfg(feature = "policy")]
    pub(crate) fn reload_lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.inner
            .reload
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    #[cfg(feature = "policy")]
    /// Put `policy` in force: every tool is rebuilt under it at once (keeping the limiter
    /// state of each limit that did not change); calls in flight finish under the old.
    pub(crate) fn install(&self, mut policy: Policy) {
        policy.lineage = self.inner.lineage;
        policy.bind_local(self.local_principal());
        let policy = Arc::new(policy);
        self.update_live(|live| {
            let tools = live
                .tools
                .iter()
                .map(|(key, tool)| {
                    let tool = Tool::new(tool.decl, &policy, Some(tool), self.inner.max_keys);
                    (*key, Arc::new(tool))
                })
                .collect();
            *live = Live {
                policy: Arc::clone(&policy),
                tools,
            };
        });
        self.inner.updates.send_replace(policy);
    }

    /// Tell the client of one session, with `notifications/tools/list_changed`, whenever a
    /// policy reload enables or disables a tool, until the session ends. Call it from the
    /// server's `ServerHandler::on_initialized` with `context.peer`, and declare
    /// `enable_tool_list_changed()` in the server's capabilities.
    pub fn notify_tool_list_changes(&self, peer: rmcp::service::Peer<rmcp::RoleServer>) {
        let mut updates = self.inner.updates.subscribe();
        let mut shown = updates.borrow_and_update().disabled();
        tokio::spawn(async move {
            while updates.changed().await.is_ok() {
                let now = updates.borrow_and_update().disabled();
                if now != shown {
                    shown = now;
                    if peer.notify_tool_list_changed().await.is_err() {
                        return;
                    }
                }
            }
        });
    }

    /// How many callers have a rate-limit entry of their own, over every tool (tests and
    /// benchmarks of the limiter's memory).
    pub(crate) fn rate_keys(&self) -> usize {
        self.live().tools.values().map(|t| t.state.keys()).sum()
    }

    /// Drop every idle caller's rate-limit entry now.
    pub(crate) fn sweep_rate_keys(&self) {
        self.live().tools.values().for_each(|t| t.state.sweep());
    }

    /// One tool's live state, created on its first call. Keyed by what identifies a tool
    /// (see `ToolKey`): compile-time values, never a caller's, so a fast fixed hash is
    /// enough, and a short one (a type id, a name and two numbers).
    pub(crate) fn tool(&self, server: std::any::TypeId, decl: &'static ToolDecl) -> Arc<Tool> {
        let key = ToolKey::new(server, decl);
        if let Some(tool) = self.live().tools.get(&key) {
            return Arc::clone(tool);
        }
        self.update_live(|live| {
            let Live { policy, tools } = live;
            Arc::clone(
                tools.entry(key).or_insert_with(|| {
                    Arc::new(Tool::new(decl, policy, None, self.inner.max_keys))
                }),
            )
        })
    }
}

/// The interval over which repeated refusals of one kind become one audit line.
pub(crate) const REFUSAL_INTERVAL: Duration = Duration::from_secs(1);

/// Configures a [`Security`]. Every setting has a safe default.
#[derive(Debug, Clone)]
pub struct SecurityBuilder {
    local: Principal,
    raw_limits: RawLimits,
    default_timeout: Option<Duration>,
    max_output: usize,
    scrub_output: bool,
    scrub_logs: bool,
    max_keys: usize,
    audit: Option<AuditLog>,
    #[cfg(feature = "redis")]
    redis: crate::store::Settings,
    policy: Policy,
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
            max_keys: crate::limits::DEFAULT_MAX_KEYS,
            audit: None,
            #[cfg(feature = "redis")]
            redis: crate::store::Settings::default(),
            policy: Policy::default(),
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

    /// How many callers of one tool may each have a rate-limit entry of their own
    /// (default 100,000). Past that, callers new to the tool share one entry, so a caller
    /// spraying fresh identities can neither grow memory nor gain budget; an idle caller's
    /// entry is dropped within a second of a call finding it idle.
    pub fn max_rate_keys(mut self, keys: usize) -> Self {
        self.max_keys = keys.max(1);
        self
    }

    /// Keep rate limits (`rate`, `burst`, `rate_global`) in the Redis at `url`
    /// (`redis://host:port/db`, or `rediss://` for TLS) instead of in process, so every
    /// replica of the server that uses it shares each limit. Nothing connects until the
    /// first limited call; the connection is re-made in the background after Redis goes
    /// away and comes back. While Redis cannot answer within the deadline, calls are
    /// refused (fail closed) unless [`redis_fail_open`](Self::redis_fail_open) says
    /// otherwise. Concurrency caps stay per process. The URL (and its password) is never
    /// logged; take it from the environment rather than the command line, so `ps` does
    /// not show it. The other `redis_*` settings apply in any order.
    ///
    /// Keys are `{PREFIX:TOOL}:rate:HASH` (HASH: 128 bits of SHA-256 of the caller's id)
    /// and `{PREFIX:TOOL}:global`, each with a time to live: see
    /// [`redis_prefix`](Self::redis_prefix).
    ///
    /// # Errors
    ///
    /// When `url` is not a Redis URL (the error does not repeat it).
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn redis(mut self, url: &str) -> Result<Self, redis::RedisError> {
        crate::store::Settings::check_url(url)?;
        self.redis.url = Some(url.to_owned());
        self.redis.cluster.clear();
        Ok(self)
    }

    /// Keep rate limits in a Redis Cluster (or Valkey cluster) reached through these seed
    /// nodes (`redis://host:port` each, or `rediss://` for TLS), instead of one Redis. The
    /// keys of one call share a hash tag, so each check is one atomic step on one slot.
    ///
    /// # Errors
    ///
    /// When no node is given or one is not a Redis URL.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn redis_cluster<S: AsRef<str>>(
        mut self,
        nodes: impl IntoIterator<Item = S>,
    ) -> Result<Self, redis::RedisError> {
        let nodes: Vec<String> = nodes.into_iter().map(|n| n.as_ref().to_owned()).collect();
        if nodes.is_empty() {
            return Err(redis::RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "a Redis Cluster needs at least one seed node",
            )));
        }
        for node in &nodes {
            crate::store::Settings::check_url(node)?;
        }
        self.redis.cluster = nodes;
        self.redis.url = None;
        Ok(self)
    }

    /// Trust the PEM certificates in `path` for `rediss://`, on top of the system's root
    /// certificates (a managed Redis signed by a private CA). A certificate neither
    /// trusts fails the connection: calls are refused, as when Redis is down.
    ///
    /// # Errors
    ///
    /// When the file cannot be read or holds no PEM certificate.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn redis_ca(
        mut self,
        path: impl AsRef<std::path::Path>,
    ) -> Result<Self, redis::RedisError> {
        self.redis.ca = Some(crate::store::Settings::read_ca(path.as_ref())?);
        Ok(self)
    }

    /// The prefix of every key (default `secure-tool`): give each server its own when
    /// several share one Redis, so their tools' budgets are never shared by accident.
    ///
    /// # Errors
    ///
    /// Unless it is 1 to 64 printable ASCII characters without braces.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn redis_prefix(mut self, prefix: &str) -> Result<Self, redis::RedisError> {
        crate::store::Settings::check_prefix(prefix)?;
        self.redis.prefix = Some(prefix.to_owned());
        Ok(self)
    }

    /// The longest a call waits for Redis to answer its rate check (default 250 ms); past
    /// it, the limit counts as unavailable.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn redis_deadline(mut self, deadline: Duration) -> Self {
        self.redis.deadline = Some(deadline);
        self
    }

    /// Admit calls whose rate limit cannot be checked because Redis is unavailable
    /// (default `false`: refuse them, audited as `limited`).
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn redis_fail_open(mut self, open: bool) -> Self {
        self.redis.fail_open = open;
        self
    }

    /// Also write the audit trail as JSON lines to `log` (a path, or an
    /// [`AuditLog`] with its rotation size): one line per call, off the call path. Fails
    /// when the file cannot be opened for appending.
    pub fn audit_log(mut self, log: impl Into<AuditLog>) -> std::io::Result<Self> {
        let mut log = log.into();
        log.open()?;
        self.audit = Some(log);
        Ok(self)
    }

    /// Load the operator's policy from `path` (a `secure-tool.toml`; see
    /// [`Policy`]), checked completely against the tools this program serves: build
    /// the server's tool router first (`Server::tool_router()`), so its tools are known.
    /// An unknown tool, role or key, a bad value, or a limit looser than the code's
    /// without `allow_loosen` is an error naming the file and line. Set the server's
    /// defaults and local principal before this: a loosened limit is judged against them.
    ///
    /// ```
    /// use rmcp::{tool, tool_router};
    /// use secure_tool::{secure_tool, Principal, SecureServer, Security};
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
    ///     #[secure_tool(scope = "notes.read", rate = "60/min")]
    ///     #[tool(description = "Count the notes")]
    ///     async fn count_notes(&self) -> String {
    ///         "0".into()
    ///     }
    /// }
    ///
    /// let dir = std::env::temp_dir().join(format!("policy-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("secure-tool.toml");
    /// std::fs::write(&path, "[roles]\nreader = [\"notes.read\"]\n\n[principals]\nlocal = { roles = [\"reader\"] }\n\n[tools.count_notes]\nrate = \"10/min\"\n")?;
    ///
    /// let _router = Notes::tool_router(); // the tools register, so the file can name them
    /// let security = Security::builder()
    ///     .local_principal(Principal::new("local"))
    ///     .policy_file(&path)?
    ///     .build();
    /// let tool = security.manifest().tool("count_notes").unwrap().clone();
    /// assert_eq!(tool.limits.rate.unwrap().to_string(), "10/min");
    /// assert_eq!(tool.policy, ["rate"]);
    ///
    /// // A mistake names the file and the line.
    /// std::fs::write(&path, "[tools.count_note]\nrate = \"1/min\"\n")?;
    /// let error = Security::builder().policy_file(&path).unwrap_err();
    /// assert_eq!(error.line, 1);
    /// assert!(error.message.contains("did you mean `count_notes`"));
    /// # std::fs::remove_dir_all(dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "policy")]
    #[cfg_attr(docsrs, doc(cfg(feature = "policy")))]
    pub fn policy_file(
        mut self,
        path: impl AsRef<std::path::Path>,
    ) -> Result<Self, crate::policy::file::PolicyError> {
        let defaults = Defaults {
            timeout: self.default_timeout,
            max_output: self.max_output,
            max_input: self.raw_limits.max_bytes,
        };
        self.policy = crate::policy::load(path.as_ref(), &defaults)?;
        Ok(self)
    }

    /// Finish. Also compiles the secret-scrubbing patterns, so no call pays for that.
    pub fn build(self) -> Security {
        crate::scrub::warm_up();
        Security {
            inner: Arc::new(self.into_inner()),
        }
    }

    fn into_inner(mut self) -> Inner {
        static NEXT_LINEAGE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let lineage = NEXT_LINEAGE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.policy.lineage = lineage;
        self.policy.bind_local(&self.local);
        let policy = Arc::new(self.policy);
        Inner {
            local: self.local,
            raw_limits: self.raw_limits,
            default_timeout: self.default_timeout,
            max_output: self.max_output,
            scrub_output: self.scrub_output,
            scrub_logs: self.scrub_logs,
            max_keys: self.max_keys,
            lineage,
            refusals: crate::audit::coalesce::Coalescer::new(REFUSAL_INTERVAL, self.audit.clone()),
            audit: self.audit,
            #[cfg(feature = "redis")]
            store: self
                .redis
                .is_set()
                .then(|| Arc::new(crate::store::RedisStore::new(&self.redis))),
            updates: tokio::sync::watch::Sender::new(Arc::clone(&policy)),
            #[cfg(feature = "policy")]
            reload: Mutex::new(()),
            writing: Mutex::new(()),
            live: ArcSwap::from_pointee(Live {
                policy,
                tools: HashMap::default(),
            }),
        }
    }
}
