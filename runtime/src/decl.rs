//! A tool's declaration as generated code writes it ([`ToolDecl`]), what the runtime
//! makes of it once ([`ToolEntry`]), and the registry of the tools this program serves.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError, RwLock};
use std::time::Duration;

use foldhash::fast::FixedState;

use crate::limits::ToolPolicy;
use crate::support::CollectOptOuts;

/// What one `#[secure_tool]` declares, as generated code writes it: plain values, passed
/// at each call and at registration. No item per tool (a `const` or `static` per tool was
/// the largest part of what a secured tool cost its crate's incremental build); the
/// runtime turns each declaration into its [`ToolEntry`] once, see [`entry`].
///
/// A declaration is its own identity: the whole of it is the key, so two tools that
/// differ in anything (two servers' `search` tools stamped out by one `macro_rules!` share
/// a file, a line and a name, not their limits) never share an entry or a limiter.
#[doc(hidden)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ToolDecl {
    name: &'static str,
    /// Comma-separated (`"files.read,files.list"`): a literal, not a slice to promote.
    scopes: &'static str,
    public: bool,
    limits: [u64; 7],
    input: &'static str,
    asynchronous: bool,
    module: &'static str,
    file: &'static str,
    line: u32,
}

impl ToolDecl {
    /// A declaration, as `#[secure_tool]` writes it; see `ToolEntry::from_decl` for `limits`.
    #[allow(clippy::too_many_arguments, reason = "called by generated code only")]
    #[inline]
    pub const fn new(
        name: &'static str,
        scopes: &'static str,
        public: bool,
        limits: [u64; 7],
        input: &'static str,
        asynchronous: bool,
        module: &'static str,
        file: &'static str,
        line: u32,
    ) -> Self {
        Self {
            name,
            scopes,
            public,
            limits,
            input,
            asynchronous,
            module,
            file,
            line,
        }
    }
}

/// Every declaration seen so far, with its entry (leaked: one per declared tool, for the
/// life of the program).
static ENTRIES: LazyLock<RwLock<HashMap<ToolDecl, &'static ToolEntry, FixedState>>> =
    LazyLock::new(RwLock::default);

/// The entry of a declaration: built on first sight, the same `&'static` every time
/// after, so its address identifies the tool (its limiter state, its manifest line).
#[doc(hidden)]
pub fn entry(decl: &ToolDecl) -> &'static ToolEntry {
    if let Some(entry) = ENTRIES
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(decl)
    {
        return entry;
    }
    let mut entries = ENTRIES.write().unwrap_or_else(PoisonError::into_inner);
    entries
        .entry(*decl)
        .or_insert_with(|| Box::leak(Box::new(ToolEntry::from_decl(decl))))
}

/// What one `#[secure_tool]` declares, with its limits parsed into a [`ToolPolicy`].
#[doc(hidden)]
pub struct ToolEntry {
    pub policy: ToolPolicy,
    /// The input type as written (`Parameters<ReadFile>` gives `ReadFile`).
    pub input: &'static str,
    pub asynchronous: bool,
    pub module: &'static str,
    pub file: &'static str,
    pub line: u32,
}

impl ToolEntry {
    /// A declaration, its limits parsed. `limits` holds `[rate count, rate period ms,
    /// burst, timeout ms, concurrency, max_output, max_input]` with 0 for "not declared"
    /// (the macro refuses a declared 0).
    fn from_decl(decl: &ToolDecl) -> Self {
        const fn count(n: u64) -> Option<std::num::NonZeroU32> {
            if n > u32::MAX as u64 {
                return None;
            }
            std::num::NonZeroU32::new(n as u32)
        }
        const fn millis(ms: u64) -> Option<Duration> {
            if ms == 0 {
                None
            } else {
                Some(Duration::from_millis(ms))
            }
        }
        // Saturate on 32-bit targets: a cap above the address space is no cap.
        const fn bytes(n: u64) -> Option<usize> {
            match n {
                0 => None,
                n if n > usize::MAX as u64 => Some(usize::MAX),
                n => Some(n as usize),
            }
        }
        let [
            rate_count,
            rate_ms,
            burst,
            timeout,
            concurrency,
            max_output,
            max_input,
        ] = decl.limits;
        let scopes: Vec<&'static str> = decl.scopes.split(',').filter(|s| !s.is_empty()).collect();
        let rate = match (count(rate_count), millis(rate_ms)) {
            (Some(count), Some(period)) => Some(crate::Rate::new(count, period)),
            _ => None,
        };
        Self {
            policy: ToolPolicy {
                name: decl.name,
                scopes: Box::leak(scopes.into_boxed_slice()),
                public: decl.public,
                rate,
                burst: count(burst),
                timeout: millis(timeout),
                concurrency: count(concurrency),
                max_output: bytes(max_output),
                max_input: bytes(max_input),
            },
            input: decl.input,
            asynchronous: decl.asynchronous,
            module: decl.module,
            file: decl.file,
            line: decl.line,
        }
    }
}

/// Every tool registered so far, in registration order.
static SERVED: Mutex<Vec<(&'static ToolEntry, CollectOptOuts)>> = Mutex::new(Vec::new());

/// Register a tool for the manifest and hand back its input schema. Generated code calls
/// it inside rmcp's `<tool>_tool_attr()`, which runs whenever the server's tool router is
/// built (per server, or per session on HTTP), so it is idempotent.
#[doc(hidden)]
pub fn registered<S>(decl: &ToolDecl, opt_outs: CollectOptOuts, schema: S) -> S {
    let interned = entry(decl);
    let mut served = SERVED.lock().unwrap_or_else(PoisonError::into_inner);
    if !served.iter().any(|(e, _)| std::ptr::eq(*e, interned)) {
        served.push((interned, opt_outs));
    }
    schema
}

/// The scopes a call of the secured tool `name` needs: `None` for a tool no secured
/// server of this program has registered, empty for a public tool. When several servers
/// declare a tool of that name, a caller needs the scopes of all of them.
#[cfg(feature = "jwt")]
pub(crate) fn required_scopes(name: &str) -> Option<Vec<&'static str>> {
    let served = SERVED.lock().unwrap_or_else(PoisonError::into_inner);
    let mut found = false;
    let mut scopes: Vec<&'static str> = Vec::new();
    for (entry, _) in served.iter().filter(|(e, _)| e.policy.name == name) {
        found = true;
        for scope in entry.policy.scopes {
            if !scopes.contains(scope) {
                scopes.push(scope);
            }
        }
    }
    found.then_some(scopes)
}

/// Every tool registered so far, with the collector of its inputs' waivers.
pub(crate) fn served() -> Vec<(&'static ToolEntry, CollectOptOuts)> {
    SERVED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declaration_is_one_entry_wherever_it_is_written() {
        let decl = |name, line, limits| {
            ToolDecl::new(
                name, "a,b", false, limits, "In", true, "m", "src/x.rs", line,
            )
        };
        let first = entry(&decl("search", 10, [5, 1000, 0, 0, 0, 0, 0]));
        // The call and the registration write the declaration out twice: one entry.
        assert!(std::ptr::eq(
            first,
            entry(&decl("search", 10, [5, 1000, 0, 0, 0, 0, 0]))
        ));
        assert_eq!(first.policy.scopes, ["a", "b"]);
        assert_eq!(first.policy.rate.map(|r| r.count().get()), Some(5));
        // Another server's tool of the same name, declared elsewhere, has its own.
        let other = entry(&decl("search", 40, [0; 7]));
        assert!(!std::ptr::eq(first, other));
        assert_eq!(other.policy.rate, None);
        // So does one stamped out by the same `macro_rules!` (same file, line and name)
        // with other limits.
        let stamped = entry(&decl("search", 10, [500, 1000, 0, 0, 0, 0, 0]));
        assert!(!std::ptr::eq(first, stamped));
        assert_eq!(stamped.policy.rate.map(|r| r.count().get()), Some(500));
    }
}
