//! A tool's declaration as generated code writes it ([`ToolDecl`]), what identifies a
//! tool ([`ToolKey`]), and the registry of the tools this program serves.

use std::any::TypeId;
use std::sync::{Mutex, PoisonError};

use crate::limits::Limits;
use crate::support::CollectOptOuts;

/// What one `#[secure_tool]` declares: the one value the macro writes for a tool, with
/// named fields, and the only form the runtime keeps of it.
///
/// Generated code writes it as a constant expression and passes `&` of it, so the
/// compiler promotes it to a `'static` and a call passes a pointer: no item per tool (a
/// `const` or `static` per tool was the largest part of what a secured tool cost its
/// crate's incremental build), nothing built at run time.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolDecl {
    /// The name clients call it by (`#[tool(name = "..")]`, else the method's).
    pub name: &'static str,
    /// Scopes a caller must all hold; empty when `public`.
    pub scopes: &'static [&'static str],
    /// Anyone may call it.
    pub public: bool,
    /// The limits it declares.
    pub limits: Limits,
    /// The input type as written (`Parameters<ReadFile>` gives `ReadFile`; `-` for none).
    pub input: &'static str,
    /// An `async fn` (only those can be timed out).
    pub asynchronous: bool,
    /// Where the attribute is.
    pub site: Site,
}

/// Where a `#[secure_tool]` is written.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Site {
    /// `module_path!()` of the tool.
    pub module: &'static str,
    /// The source file, as the compiler names it.
    pub file: &'static str,
    /// Line of the attribute, from 1.
    pub line: u32,
    /// Column of the attribute, from 1.
    pub column: u32,
}

/// What identifies a tool: the server type it is a method of and the name rmcp routes it
/// by, which one server type serves once. The attribute's line and column tell apart the
/// (unserved) second declaration of a name, so two declarations never share limiter state.
///
/// So two servers stamped out by one `macro_rules!` (one file, one line, one name, one
/// declaration) have separate limits even when they share a `Security`, and a tool keeps
/// its limits whichever of its declarations (the call's, the registration's) is at hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ToolKey {
    server: TypeId,
    name: &'static str,
    line: u32,
    column: u32,
}

impl ToolKey {
    pub(crate) fn new(server: TypeId, decl: &ToolDecl) -> Self {
        Self {
            server,
            name: decl.name,
            line: decl.site.line,
            column: decl.site.column,
        }
    }
}

/// One tool as its server's tool router registered it.
#[derive(Clone, Copy)]
pub(crate) struct Registered {
    pub(crate) key: ToolKey,
    /// The server type's name, for the manifest.
    pub(crate) server: &'static str,
    pub(crate) decl: &'static ToolDecl,
    pub(crate) opt_outs: CollectOptOuts,
}

/// Every tool registered so far, in registration order.
static SERVED: Mutex<Vec<Registered>> = Mutex::new(Vec::new());

/// Register a tool of server type `S` for the manifest and hand back its input schema.
/// Generated code calls it inside rmcp's `<tool>_tool_attr()`, which runs whenever the
/// server's tool router is built (per server, or per session on HTTP), so it is
/// idempotent.
#[doc(hidden)]
pub fn registered<S: 'static, Schema>(
    decl: &'static ToolDecl,
    opt_outs: CollectOptOuts,
    schema: Schema,
) -> Schema {
    let key = ToolKey::new(TypeId::of::<S>(), decl);
    let mut served = SERVED.lock().unwrap_or_else(PoisonError::into_inner);
    if !served.iter().any(|r| r.key == key) {
        served.push(Registered {
            key,
            server: std::any::type_name::<S>(),
            decl,
            opt_outs,
        });
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
    for registered in served.iter().filter(|r| r.decl.name == name) {
        found = true;
        for scope in registered.decl.scopes {
            if !scopes.contains(scope) {
                scopes.push(scope);
            }
        }
    }
    found.then_some(scopes)
}

/// Every tool registered so far.
pub(crate) fn served() -> Vec<Registered> {
    SERVED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn decl(name: &'static str, line: u32, rate: u32) -> ToolDecl {
        ToolDecl {
            name,
            scopes: &["a", "b"],
            public: false,
            limits: Limits {
                rate: Some(crate::limits::Rate {
                    count: rate,
                    period_ms: 1000,
                }),
                ..Limits::NONE
            },
            input: "In",
            asynchronous: true,
            site: Site {
                module: "m",
                file: "src/x.rs",
                line,
                column: 5,
            },
        }
    }

    struct ServerA;
    struct ServerB;

    #[test]
    fn a_tool_is_its_server_and_its_name() {
        static FIRST: ToolDecl = decl("search", 10, 5);
        // The same declaration written out again (the call's and the registration's).
        static AGAIN: ToolDecl = decl("search", 10, 5);
        let a = TypeId::of::<ServerA>();
        assert_eq!(ToolKey::new(a, &FIRST), ToolKey::new(a, &AGAIN));
        // Another server type stamped out by the same `macro_rules!`: its own tool.
        let b = TypeId::of::<ServerB>();
        assert_ne!(ToolKey::new(a, &FIRST), ToolKey::new(b, &FIRST));
        // Another name, or a second declaration of the name elsewhere: another tool.
        assert_ne!(
            ToolKey::new(a, &FIRST),
            ToolKey::new(a, &decl("find", 10, 5))
        );
        assert_ne!(
            ToolKey::new(a, &FIRST),
            ToolKey::new(a, &decl("search", 40, 5))
        );
    }

    #[test]
    fn registration_is_idempotent_per_tool() {
        static TOOL: ToolDecl = decl("registered_once", 7, 1);
        let count = || {
            served()
                .iter()
                .filter(|r| r.decl.name == "registered_once")
                .count()
        };
        registered::<ServerA, ()>(&TOOL, |_, _| {}, ());
        registered::<ServerA, ()>(&TOOL, |_, _| {}, ());
        assert_eq!(count(), 1);
        registered::<ServerB, ()>(&TOOL, |_, _| {}, ());
        assert_eq!(count(), 2);
    }
}
