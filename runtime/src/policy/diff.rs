//! What a reload changes, in two lists: what it tightens and what it loosens (grants
//! added, denials removed, tools enabled, limits raised). Every accepted reload writes
//! both into its audit line, and a loosening is logged at `warn`, so a truncated file
//! that still parses (a grant list cut short is a tightening; a denial cut off is a
//! loosening) is always visible.

use std::collections::{BTreeMap, BTreeSet};

use super::{Access, Policy};
use crate::decl::ToolDecl;
use crate::limits::{Defaults, Limits, Rate};

/// The changes from one policy to the next, each a short sentence for an operator.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Changes {
    pub(crate) tightened: Vec<String>,
    pub(crate) loosened: Vec<String>,
}

/// The changes from `old` to `new` for a program serving `tools` (whose declared limits
/// stand where a policy sets none), each limit compared as calls run under it (the
/// server's `defaults` filled in).
pub(crate) fn changes(
    old: &Policy,
    new: &Policy,
    tools: &[&'static ToolDecl],
    defaults: &Defaults,
) -> Changes {
    let mut changes = Changes::default();
    for (what, old, new) in [
        ("principal", &old.principals, &new.principals),
        ("token scope", &old.token_scopes, &new.token_scopes),
    ] {
        let names: BTreeSet<&str> = old.keys().chain(new.keys()).map(|k| &**k).collect();
        let none = Access::default();
        for name in names {
            let before = old.get(name).unwrap_or(&none);
            let after = new.get(name).unwrap_or(&none);
            // (scopes gained, scopes lost, the words for each, and which way each goes)
            let grants = (&after.grant, &before.grant, "grants", "no longer grants");
            let denials = (&after.deny, &before.deny, "denies", "no longer denies");
            for ((now, was, gained, lost), loosens) in [(grants, true), (denials, false)] {
                for (scope, word, looser) in now
                    .difference(was)
                    .map(|s| (s, gained, loosens))
                    .chain(was.difference(now).map(|s| (s, lost, !loosens)))
                {
                    let list = if looser {
                        &mut changes.loosened
                    } else {
                        &mut changes.tightened
                    };
                    list.push(format!("{what} `{name}`: {word} `{scope}`"));
                }
            }
        }
    }
    // Each tool once, by name (one name may be served by several server types).
    let tools: BTreeMap<&str, &ToolDecl> = tools.iter().map(|d| (d.name, *d)).collect();
    for (name, decl) in tools {
        match (old.is_enabled(name), new.is_enabled(name)) {
            (false, true) => changes.loosened.push(format!("tool `{name}`: enabled")),
            (true, false) => changes.tightened.push(format!("tool `{name}`: disabled")),
            _ => {}
        }
        let before = old
            .limits(name, decl.limits)
            .effective(defaults, decl.asynchronous);
        let after = new
            .limits(name, decl.limits)
            .effective(defaults, decl.asynchronous);
        limits(name, &before, &after, &mut changes);
    }
    changes
}

/// How loose a limit is, comparable within one key: `None` (no limit) is the loosest.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
enum Looseness {
    Bounded(f64),
    Unbounded,
}

fn bound<T>(value: Option<T>, measure: impl Fn(T) -> f64) -> Looseness {
    value.map_or(Looseness::Unbounded, |v| Looseness::Bounded(measure(v)))
}

/// Calls per millisecond: more is looser.
#[allow(clippy::cast_precision_loss, reason = "a comparison, not a count")]
fn per_ms(rate: Rate) -> f64 {
    f64::from(rate.count) / rate.period_ms.max(1) as f64
}

#[allow(clippy::cast_precision_loss, reason = "a comparison, not a count")]
fn limits(name: &str, before: &Limits, after: &Limits, changes: &mut Changes) {
    let shown = |limits: &Limits, key: &str| -> String {
        let text = match key {
            "rate" => limits.rate.map(|r| r.to_string()),
            "burst" => limits
                .burst
                .or(limits.rate.map(|r| r.count))
                .map(|b| b.to_string()),
            "timeout" => limits.timeout.map(|t| format!("{}ms", t.0)),
            "concurrency" => limits.concurrency.map(|c| c.to_string()),
            "max_output" => limits.max_output.map(|b| format!("{} B", b.0)),
            "max_input" => limits.max_input.map(|b| format!("{} B", b.0)),
            _ => limits.rate_global.map(|r| r.to_string()),
        };
        text.unwrap_or_else(|| "unset".into())
    };
    let keys: [(&str, Looseness, Looseness); 7] = [
        (
            "rate",
            bound(before.rate, per_ms),
            bound(after.rate, per_ms),
        ),
        (
            "burst",
            bound(before.burst.or(before.rate.map(|r| r.count)), f64::from),
            bound(after.burst.or(after.rate.map(|r| r.count)), f64::from),
        ),
        (
            "timeout",
            bound(before.timeout, |t| t.0 as f64),
            bound(after.timeout, |t| t.0 as f64),
        ),
        (
            "concurrency",
            bound(before.concurrency, f64::from),
            bound(after.concurrency, f64::from),
        ),
        (
            "max_output",
            bound(before.max_output, |b| b.0 as f64),
            bound(after.max_output, |b| b.0 as f64),
        ),
        (
            "max_input",
            bound(before.max_input, |b| b.0 as f64),
            bound(after.max_input, |b| b.0 as f64),
        ),
        (
            "rate_global",
            bound(before.rate_global, per_ms),
            bound(after.rate_global, per_ms),
        ),
    ];
    for (key, was, now) in keys {
        let sentence = || {
            format!(
                "tool `{name}`: {key} {} -> {}",
                shown(before, key),
                shown(after, key)
            )
        };
        if now > was {
            changes.loosened.push(sentence());
        } else if now < was {
            changes.tightened.push(sentence());
        }
    }
}
