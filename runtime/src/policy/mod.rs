//! [`Policy`]: what an operator decides without recompiling: who holds which scopes, and
//! per tool, tighter limits or `enabled = false`.
//!
//! This module is the policy as the pipeline uses it, checked and resolved (roles
//! expanded to scopes). Reading it from a `secure-tool.toml` (`file`) and reloading it
//! live (`watch`) are the cargo feature `policy`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use crate::identity::Principal;
use crate::limits::Limits;

#[cfg(feature = "policy")]
pub(crate) mod diff;
#[cfg(feature = "policy")]
pub(crate) mod file;
#[cfg(feature = "policy")]
pub(crate) mod watch;

#[cfg(feature = "policy")]
#[cfg_attr(docsrs, doc(cfg(feature = "policy")))]
pub use file::PolicyError;
#[cfg(feature = "policy")]
#[cfg_attr(docsrs, doc(cfg(feature = "policy")))]
pub use watch::PolicyWatch;

/// Read and check the policy file at `path` against every tool this program serves.
#[cfg(feature = "policy")]
pub(crate) fn load(
    path: &std::path::Path,
    defaults: &crate::limits::Defaults,
) -> Result<Policy, PolicyError> {
    let tools = crate::decl::served();
    if tools.is_empty() {
        return Err(PolicyError {
            path: Some(path.to_owned()),
            line: 0,
            column: 0,
            message: "no secured tool is registered yet, so the policy's tool names cannot be checked: build the server's tool router (`Server::tool_router()`) before loading the policy".into(),
        });
    }
    file::load(
        path,
        &file::Context {
            tools: &tools,
            defaults,
        },
    )
}

/// An operator's policy, checked: grants and denials of scopes per principal and per
/// token scope, and per-tool overrides of the code's limits.
///
/// Read one from a file with
/// [`SecurityBuilder::policy_file`](crate::SecurityBuilder::policy_file) (feature
/// `policy`); a `Security` without one runs the code's declarations as they are.
#[derive(Debug, Default, Clone)]
pub struct Policy {
    /// `sha256:<hex>` of the file's bytes, for the audit trail and the manifest.
    pub(crate) digest: Option<Arc<str>>,
    /// Where it was read from.
    pub(crate) origin: Option<std::path::PathBuf>,
    /// Grants and denials by principal id.
    pub(crate) principals: HashMap<Box<str>, Access>,
    /// Grants and denials for a caller whose token holds the scope (HTTP).
    pub(crate) token_scopes: HashMap<Box<str>, Access>,
    /// Overrides by tool name.
    pub(crate) tools: HashMap<Box<str>, ToolRule>,
    /// The principal id that only the local (stdio) caller may match.
    pub(crate) local_id: Option<Box<str>>,
    /// The local caller as this policy sees it, resolved once when the policy is put in
    /// force (`bind_local`), not on every call.
    local: Option<Principal>,
    /// Which policy this is, from the moment it is put in force (`bind_local`): a caller
    /// whose scopes this policy already decided carries the same id, and is not decided
    /// again. 0 until then.
    id: u64,
    /// The `Security` this policy is in force in, the same across its reloads (0: none):
    /// a decision another `Security`'s policy made is never taken for this one's.
    pub(crate) lineage: u64,
}

/// The ids of policies put in force, never reused in a process.
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// What the policy grants or denies one principal (or the holders of one token scope).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Access {
    pub(crate) grant: BTreeSet<Box<str>>,
    pub(crate) deny: BTreeSet<Box<str>>,
}

/// The policy's word on one tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ToolRule {
    /// Limits that replace the code's (`None`: the code's stands).
    pub(crate) limits: Limits,
    /// `false`: the tool is hidden from `tools/list` and every call is refused.
    pub(crate) enabled: bool,
}

impl Default for ToolRule {
    fn default() -> Self {
        Self {
            limits: Limits::NONE,
            enabled: true,
        }
    }
}

impl Policy {
    /// `sha256:<hex>` of the policy file, `None` for a policy not read from a file.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The file it was read from.
    pub fn origin(&self) -> Option<&std::path::Path> {
        self.origin.as_deref()
    }

    /// The rule for tool `name`, if the policy names it.
    pub(crate) fn tool(&self, name: &str) -> Option<&ToolRule> {
        self.tools.get(name)
    }

    /// Whether tool `name` is served (not `enabled = false`).
    pub fn is_enabled(&self, name: &str) -> bool {
        self.tool(name).is_none_or(|rule| rule.enabled)
    }

    /// The limits a tool declaring `declared` runs under: each limit the policy sets
    /// replaces the code's.
    pub(crate) fn limits(&self, name: &str, declared: Limits) -> Limits {
        match self.tool(name) {
            Some(rule) => rule.limits.or(declared),
            None => declared,
        }
    }

    /// The names of the tools this policy disables, sorted.
    pub(crate) fn disabled(&self) -> Vec<Box<str>> {
        let mut names: Vec<Box<str>> = self
            .tools
            .iter()
            .filter(|(_, rule)| !rule.enabled)
            .map(|(name, _)| name.clone())
            .collect();
        names.sort_unstable();
        names
    }

    /// The limit keys the policy sets for tool `name`, as the manifest marks them.
    pub(crate) fn changed(&self, name: &str) -> Vec<&'static str> {
        let Some(rule) = self.tool(name) else {
            return Vec::new();
        };
        rule.limits.keys_set()
    }

    /// Every entry that applies to `caller`: its own (by id), then one per scope its
    /// token holds. `local` says the caller is the `Security`'s local principal: the
    /// local principal's entry applies to nobody else, so a token whose subject happens
    /// to be `local` gets nothing from it.
    fn entries<'a>(
        &'a self,
        caller: &'a Principal,
        local: bool,
    ) -> impl Iterator<Item = &'a Access> {
        let own = self
            .principals
            .get(caller.id())
            .filter(|_| local || self.local_id.as_deref() != Some(caller.id()));
        // Only what the credential carried: a scope this (or an earlier) policy granted
        // never selects a `[token_scopes]` entry (no transitive grants).
        let by_scope = (!self.token_scopes.is_empty() && !local)
            .then(|| {
                caller
                    .token_scopes()
                    .filter_map(|s| self.token_scopes.get(s))
            })
            .into_iter()
            .flatten();
        own.into_iter().chain(by_scope)
    }

    /// Bind this policy to the `Security`'s local principal: only it may match the entry
    /// of its id, and its grants are worked out here, once.
    pub(crate) fn bind_local(&mut self, local: &Principal) {
        self.id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.local_id = Some(Box::from(local.id()));
        self.local = self.compute(local, true);
    }

    /// The one decision on a caller's scopes: its token's scopes (never scopes a policy
    /// granted), with what this policy grants its id and its token's scopes added and what
    /// it denies removed (denials win). `None` when `caller` already holds this decision
    /// (an HTTP layer made it for this request) or when there is nothing to change.
    /// `local`: the caller is the local principal the policy was bound to, decided already.
    ///
    /// A pure function of (token scopes, principal id, policy): deciding again gives the
    /// same answer, and a caller decided under an older policy is decided afresh from its
    /// token under this one. (The pipeline does not ask again for a caller the HTTP layer
    /// decided: see [`Policy::decided`].)
    pub(crate) fn resolve(&self, caller: &Principal, local: bool) -> Option<Principal> {
        if local {
            self.local.clone()
        } else {
            self.compute(caller, false)
        }
    }

    /// Whether this policy denies `scope` to `caller` (by its id or its token's scopes):
    /// no token the caller could step up to would be granted it.
    #[cfg(feature = "jwt")]
    pub(crate) fn denies(&self, caller: &Principal, scope: &str) -> bool {
        self.entries(caller, false)
            .any(|access| access.deny.iter().any(|d| &**d == scope))
    }

    /// The caller as the pipeline takes it: a decision the HTTP layer made for this
    /// request stands, even when a reload put another policy in force in between (the
    /// request is judged once, as a call in flight finishes under the policy it started
    /// with); any other caller is decided here.
    pub(crate) fn decided(&self, caller: &Principal, local: bool) -> Option<Principal> {
        if !local
            && caller.decided_by().is_some()
            && self.lineage != 0
            && caller.decided_in() == self.lineage
        {
            return None;
        }
        self.resolve(caller, local)
    }

    fn compute(&self, caller: &Principal, local: bool) -> Option<Principal> {
        if self.id != 0 && caller.decided_by() == Some(self.id) {
            return None;
        }
        let undecided = caller.decided_by().is_none();
        if undecided && self.principals.is_empty() && self.token_scopes.is_empty() {
            return None;
        }
        let mut grant: Vec<&str> = Vec::new();
        let mut deny: Vec<&str> = Vec::new();
        let mut any = false;
        for access in self.entries(caller, local) {
            any = true;
            grant.extend(access.grant.iter().map(|s| &**s));
            deny.extend(access.deny.iter().map(|s| &**s));
        }
        // A caller decided under another policy goes back to its token's scopes even when
        // this one names it nowhere.
        (any || !undecided).then(|| caller.with_policy((self.lineage, self.id), &grant, &deny))
    }
}
