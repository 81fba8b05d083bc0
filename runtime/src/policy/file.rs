//! Reading a `secure-tool.toml`: parsed with the `toml` crate's spans, so every error
//! names the file, line and column, then checked completely against the tools this
//! program serves before anything of it takes effect.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use sha2::Digest as _;
use toml::Spanned;

use super::{Access, Policy, ToolRule};
use crate::decl::Registered;
use crate::limits::{Bytes, Defaults, Limits, Millis, Rate};
use secure_tool_words::{is_scope_name, parse_duration_ms, parse_rate, parse_size, suggest};

/// A policy that cannot be used: where, and why. Its `Display` is
/// `FILE:LINE:COLUMN: message`, the form editors and terminals link to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// The file, when the policy came from one.
    pub path: Option<PathBuf>,
    /// Line of the offending text, from 1 (0 when the error is about the whole file).
    pub line: usize,
    /// Column of the offending text, from 1 (0 when the error is about the whole file).
    pub column: usize,
    /// What is wrong, and how to write it instead.
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self
            .path
            .as_deref()
            .map_or_else(|| "policy".into(), |p| p.display().to_string());
        if self.line == 0 {
            write!(f, "{path}: {}", self.message)
        } else {
            write!(f, "{path}:{}:{}: {}", self.line, self.column, self.message)
        }
    }
}

impl std::error::Error for PolicyError {}

/// The file as written. Every table refuses keys it does not know.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileText {
    #[serde(default)]
    roles: BTreeMap<Spanned<String>, Vec<Spanned<String>>>,
    #[serde(default)]
    principals: BTreeMap<Spanned<String>, AccessText>,
    #[serde(default)]
    token_scopes: BTreeMap<Spanned<String>, AccessText>,
    #[serde(default)]
    tools: BTreeMap<Spanned<String>, ToolText>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccessText {
    #[serde(default)]
    roles: Vec<Spanned<String>>,
    #[serde(default)]
    scopes: Vec<Spanned<String>>,
    #[serde(default)]
    deny: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolText {
    rate: Option<Spanned<String>>,
    burst: Option<Spanned<i64>>,
    timeout: Option<Spanned<String>>,
    concurrency: Option<Spanned<i64>>,
    max_output: Option<Spanned<String>>,
    max_input: Option<Spanned<String>>,
    rate_global: Option<Spanned<String>>,
    enabled: Option<bool>,
    #[serde(default)]
    allow_loosen: bool,
}

/// What the check needs of the program it checks the file against.
pub(crate) struct Context<'a> {
    /// The tools the program serves.
    pub(crate) tools: &'a [Registered],
    /// The server's defaults, against which a limit the code left to them is compared.
    pub(crate) defaults: &'a Defaults,
}

/// Read, parse and check the file at `path`.
pub(crate) fn load(path: &Path, context: &Context<'_>) -> Result<Policy, PolicyError> {
    let bytes = std::fs::read(path).map_err(|error| PolicyError {
        path: Some(path.to_owned()),
        line: 0,
        column: 0,
        message: format!("cannot read the policy file: {error}"),
    })?;
    let text = String::from_utf8(bytes).map_err(|_| PolicyError {
        path: Some(path.to_owned()),
        line: 0,
        column: 0,
        message: "the policy file is not UTF-8 text".into(),
    })?;
    parse(&text, Some(path), context)
}

/// Parse and check `text`, a policy file's contents.
pub(crate) fn parse(
    text: &str,
    path: Option<&Path>,
    context: &Context<'_>,
) -> Result<Policy, PolicyError> {
    let at = |span: std::ops::Range<usize>, message: String| {
        let (line, column) = line_column(text, span.start);
        PolicyError {
            path: path.map(Path::to_owned),
            line,
            column,
            message,
        }
    };
    // What an editor or a copy leaves mid-write (zero bytes, blanks, only comments) is
    // refused, never read as "no policy": that would drop every grant and denial at once.
    if text
        .trim_start_matches('\u{feff}')
        .lines()
        .map(str::trim)
        .all(|line| line.is_empty() || line.starts_with('#'))
    {
        return Err(at(
            0..0,
            "the policy file is empty (nothing but blanks and comments): a file being written is read as no policy at all, so it is refused; to run without grants, denials or overrides, remove `--policy` (or write one table, such as `[roles]`)".into(),
        ));
    }
    let file: FileText = toml::from_str(text).map_err(|error| {
        let message = error.message().trim_end().to_owned();
        match error.span() {
            Some(span) => at(span, message),
            None => at(0..0, message),
        }
    })?;

    let mut roles: HashMap<&str, Vec<&str>> = HashMap::new();
    for (name, scopes) in &file.roles {
        check_name(name, "role").map_err(|m| at(name.span(), m))?;
        let mut list = Vec::new();
        for scope in scopes {
            check_name(scope, "scope").map_err(|m| at(scope.span(), m))?;
            list.push(scope.get_ref().as_str());
        }
        roles.insert(name.get_ref(), list);
    }
    let access = |entry: &AccessText| -> Result<Access, PolicyError> {
        let mut grant = BTreeSet::new();
        for role in &entry.roles {
            let scopes = roles.get(role.get_ref().as_str()).ok_or_else(|| {
                let known: Vec<&str> = roles.keys().copied().collect();
                at(role.span(), unknown("role", role.get_ref(), &known))
            })?;
            grant.extend(scopes.iter().map(|s| Box::from(*s)));
        }
        let mut deny = BTreeSet::new();
        for (list, into) in [(&entry.scopes, &mut grant), (&entry.deny, &mut deny)] {
            for scope in list {
                check_name(scope, "scope").map_err(|m| at(scope.span(), m))?;
                into.insert(Box::from(scope.get_ref().as_str()));
            }
        }
        Ok(Access { grant, deny })
    };
    let mut principals = HashMap::new();
    for (id, entry) in &file.principals {
        check_principal(id).map_err(|m| at(id.span(), m))?;
        principals.insert(Box::from(id.get_ref().as_str()), access(entry)?);
    }
    let mut token_scopes = HashMap::new();
    for (scope, entry) in &file.token_scopes {
        check_name(scope, "scope").map_err(|m| at(scope.span(), m))?;
        token_scopes.insert(Box::from(scope.get_ref().as_str()), access(entry)?);
    }

    let mut tools = HashMap::new();
    for (name, text) in &file.tools {
        let declared: Vec<&Registered> = context
            .tools
            .iter()
            .filter(|r| r.decl.name == name.get_ref())
            .collect();
        if declared.is_empty() {
            let mut known: Vec<&str> = context.tools.iter().map(|r| r.decl.name).collect();
            known.sort_unstable();
            known.dedup();
            return Err(at(name.span(), unknown("tool", name.get_ref(), &known)));
        }
        let rule = tool_rule(text, &at)?;
        for registered in &declared {
            // GCRA keeps a bucket (interval x burst) in nanoseconds: one past that is a
            // mistake to name here, not a panic at the first call or under a reload.
            let limits = rule.limits.or(registered.decl.limits);
            let too_large = |span: Option<std::ops::Range<usize>>, what: &str| {
                at(
                    span.unwrap_or_else(|| name.span()),
                    format!(
                        "{what} of `{}` is too large for the rate limiter (the bucket, one call's interval times the burst, must stay under 292 years)",
                        name.get_ref()
                    ),
                )
            };
            if let Some(rate) = limits.rate
                && !rate.fits(limits.burst)
            {
                let span = text.burst.as_ref().map(Spanned::span);
                let span = span.or_else(|| text.rate.as_ref().map(Spanned::span));
                return Err(too_large(span, "the burst"));
            }
            if let Some(rate) = limits.rate_global
                && !rate.fits(None)
            {
                return Err(too_large(
                    text.rate_global.as_ref().map(Spanned::span),
                    "`rate_global`",
                ));
            }
        }
        for registered in declared {
            check_loosening(registered, &rule.limits, text, context.defaults, &at)?;
        }
        tools.insert(Box::from(name.get_ref().as_str()), rule);
    }

    let digest = sha2::Sha256::digest(text.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok(Policy {
        digest: Some(Arc::from(format!("sha256:{hex}"))),
        origin: path.map(Path::to_owned),
        principals,
        token_scopes,
        tools,
        local_id: None,
        local: None,
        id: 0,
        lineage: 0,
    })
}

/// One `[tools.NAME]` table, its values parsed as `#[secure_tool]` reads them.
fn tool_rule(
    text: &ToolText,
    at: &impl Fn(std::ops::Range<usize>, String) -> PolicyError,
) -> Result<ToolRule, PolicyError> {
    let string = |value: &Option<Spanned<String>>,
                  parse: fn(&str) -> Result<u64, String>,
                  key: &str| {
        value
            .as_ref()
            .map(|v| {
                parse(v.get_ref()).map_err(|why| at(v.span(), format!("invalid `{key}`: {why}")))
            })
            .transpose()
    };
    let count = |value: &Option<Spanned<i64>>, key: &str| {
        value
            .as_ref()
            .map(|v| match u32::try_from(*v.get_ref()) {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(at(
                    v.span(),
                    format!("`{key}` must be a whole number from 1 to {}", u32::MAX),
                )),
            })
            .transpose()
    };
    let rate = |value: &Option<Spanned<String>>, key: &str| {
        value
            .as_ref()
            .map(|v| {
                parse_rate(v.get_ref())
                    .map(|(count, period_ms)| Rate { count, period_ms })
                    .map_err(|why| at(v.span(), format!("invalid `{key}`: {why}")))
            })
            .transpose()
    };
    Ok(ToolRule {
        limits: Limits {
            rate: rate(&text.rate, "rate")?,
            rate_global: rate(&text.rate_global, "rate_global")?,
            burst: count(&text.burst, "burst")?,
            timeout: string(&text.timeout, parse_duration_ms, "timeout")?.map(Millis),
            concurrency: count(&text.concurrency, "concurrency")?,
            max_output: string(&text.max_output, parse_size, "max_output")?.map(Bytes),
            max_input: string(&text.max_input, parse_size, "max_input")?.map(Bytes),
        },
        enabled: text.enabled.unwrap_or(true),
    })
}

/// One limit compared: its key, the policy's value, the code's, and where the file sets it.
type Check<'a> = (
    &'a str,
    Option<u64>,
    Option<u64>,
    Option<std::ops::Range<usize>>,
);

/// Refuse a limit that gives more than the code declared (or, where the code declared
/// none, than the server's default), unless the table says `allow_loosen = true`.
fn check_loosening(
    registered: &Registered,
    set: &Limits,
    text: &ToolText,
    defaults: &Defaults,
    at: &impl Fn(std::ops::Range<usize>, String) -> PolicyError,
) -> Result<(), PolicyError> {
    let decl = registered.decl;
    if let Some(timeout) = text.timeout.as_ref().filter(|_| !decl.asynchronous) {
        return Err(at(
            timeout.span(),
            format!(
                "`timeout` on `{}`, a sync tool: nothing can interrupt sync code, so a timeout would never be enforced",
                decl.name
            ),
        ));
    }
    if text.allow_loosen {
        return Ok(());
    }
    // What a call would run under, compared limit by limit with what the code gives it:
    // a burst implied by a new rate counts too (`3600/hour` for `60/min` keeps the rate
    // and raises the burst to 3600).
    let code = decl.limits.effective(defaults, decl.asynchronous);
    let new = set.or(decl.limits).effective(defaults, decl.asynchronous);
    let looser = |key: &str, span: std::ops::Range<usize>, was: String| {
        at(
            span,
            format!(
                "`{key}` loosens what the code of `{}` gives it ({was}); the code's author set it for a reason: tighten it, or add `allow_loosen = true` to this table",
                decl.name
            ),
        )
    };
    let span_of = |value: Option<std::ops::Range<usize>>| value.unwrap_or(0..0);
    let rate_span = span_of(text.rate.as_ref().map(Spanned::span));
    let rates = [
        ("rate", new.rate, code.rate, rate_span.clone()),
        (
            "rate_global",
            new.rate_global,
            code.rate_global,
            span_of(text.rate_global.as_ref().map(Spanned::span)),
        ),
    ];
    for (key, new_rate, old, span) in rates {
        if let (Some(new_rate), Some(old)) = (new_rate, old) {
            // More calls per unit of time: count / period compared without division.
            if u128::from(new_rate.count) * u128::from(old.period_ms)
                > u128::from(old.count) * u128::from(new_rate.period_ms)
            {
                return Err(looser(key, span, format!("{key} {old}")));
            }
        }
    }
    let more = |new: Option<u64>, old: Option<u64>| match (new, old) {
        (Some(n), Some(o)) => n > o,
        // A limit the code has and the policy would take away.
        (None, Some(_)) => true,
        _ => false,
    };
    let checks: [Check<'_>; 5] = [
        (
            "burst",
            new.burst.map(u64::from),
            code.burst.map(u64::from),
            // A burst the file does not set changes only with the rate.
            text.burst
                .as_ref()
                .map(Spanned::span)
                .or(Some(rate_span.clone())),
        ),
        (
            "timeout",
            new.timeout.map(|m| m.0),
            code.timeout.map(|m| m.0),
            text.timeout.as_ref().map(Spanned::span),
        ),
        (
            "concurrency",
            new.concurrency.map(u64::from),
            code.concurrency.map(u64::from),
            text.concurrency.as_ref().map(Spanned::span),
        ),
        (
            "max_output",
            new.max_output.map(|b| b.0),
            code.max_output.map(|b| b.0),
            text.max_output.as_ref().map(Spanned::span),
        ),
        (
            "max_input",
            new.max_input.map(|b| b.0),
            code.max_input.map(|b| b.0),
            text.max_input.as_ref().map(Spanned::span),
        ),
    ];
    for (key, new, old, span) in checks {
        if let (true, Some(old)) = (more(new, old), old) {
            return Err(looser(key, span_of(span), format!("{key} {old}")));
        }
    }
    Ok(())
}

fn unknown(what: &str, name: &str, known: &[&str]) -> String {
    match suggest(name, known) {
        Some(k) => format!("unknown {what} `{name}`: did you mean `{k}`?"),
        None if known.is_empty() => format!("unknown {what} `{name}`: none is defined"),
        None => format!(
            "unknown {what} `{name}`; known: {}",
            known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A role or scope name: as `#[secure_tool(scope = ..)]` accepts one.
fn check_name(name: &Spanned<String>, what: &str) -> Result<(), String> {
    let value = name.get_ref();
    if is_scope_name(value) {
        Ok(())
    } else {
        Err(format!(
            "invalid {what} `{}`: use a non-empty name of letters, digits and `.` `:` `_` `/` `-`",
            value.escape_debug()
        ))
    }
}

/// A principal id: any non-empty text without control characters (token subjects are
/// URLs, emails, UUIDs...).
fn check_principal(id: &Spanned<String>) -> Result<(), String> {
    let value = id.get_ref();
    if value.is_empty() || value.len() > 256 || value.chars().any(char::is_control) {
        return Err("invalid principal id: use non-empty text of at most 256 bytes, without control characters".into());
    }
    Ok(())
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decl::{Site, ToolDecl, ToolKey};

    const fn decl(name: &'static str, limits: Limits, asynchronous: bool) -> ToolDecl {
        ToolDecl {
            name,
            scopes: &["fs.read"],
            public: false,
            limits,
            input: "In",
            asynchronous,
            site: Site {
                module: "m",
                file: "f.rs",
                line: 1,
                column: 1,
            },
        }
    }

    static READ: ToolDecl = decl(
        "read_file",
        Limits {
            rate: Some(Rate {
                count: 60,
                period_ms: 60_000,
            }),
            ..Limits::NONE
        },
        true,
    );
    static SYNC: ToolDecl = decl("sync_tool", Limits::NONE, false);

    fn check(text: &str) -> Result<Policy, PolicyError> {
        let tools: Vec<Registered> = [&READ, &SYNC]
            .into_iter()
            .map(|decl| Registered {
                key: ToolKey::new(std::any::TypeId::of::<()>(), decl),
                server: "S",
                decl,
                opt_outs: |_, _| {},
            })
            .collect();
        let defaults = Defaults {
            timeout: Some(std::time::Duration::from_secs(30)),
            max_output: 1 << 20,
            max_input: 256 << 10,
        };
        parse(
            text,
            Some(Path::new("p.toml")),
            &Context {
                tools: &tools,
                defaults: &defaults,
            },
        )
    }

    fn error(text: &str) -> String {
        check(text).unwrap_err().to_string()
    }

    #[test]
    fn tightening_is_free_and_loosening_must_be_allowed() {
        let policy =
            check("[tools.read_file]\nrate = \"10/min\"\nconcurrency = 2\ntimeout = \"1s\"\n")
                .unwrap();
        let limits = policy.limits("read_file", READ.limits);
        assert_eq!(limits.rate.unwrap().to_string(), "10/min");
        assert_eq!(limits.concurrency, Some(2));
        // A faster rate, a longer timeout, a larger output: each refused on its line.
        assert!(
            error("[tools.read_file]\nrate = \"2/sec\"\n")
                .starts_with("p.toml:2:8: `rate` loosens")
        );
        assert!(
            error("[tools.read_file]\n\ntimeout = \"1m\"\n")
                .starts_with("p.toml:3:11: `timeout` loosens")
        );
        assert!(
            error("[tools.read_file]\nmax_output = \"2MiB\"\n").contains("`max_output` loosens")
        );
        // The same rate over a longer period raises the burst: loosening too.
        assert!(error("[tools.read_file]\nrate = \"3600/hour\"\n").contains("`burst` loosens"));
        assert!(error("[tools.read_file]\nburst = 61\n").contains("`burst` loosens"));
        check("[tools.read_file]\nrate = \"2/sec\"\nallow_loosen = true\n").unwrap();
        // A sync tool cannot be timed out, whatever the table says.
        assert!(
            error("[tools.sync_tool]\ntimeout = \"1s\"\nallow_loosen = true\n")
                .contains("sync tool")
        );
    }

    #[test]
    fn a_reload_diff_compares_the_limits_calls_run_under() {
        let defaults = Defaults {
            timeout: Some(std::time::Duration::from_secs(30)),
            max_output: 1 << 20,
            max_input: 256 << 10,
        };
        let diff = |old: &str, new: &str| {
            crate::policy::diff::changes(
                &check(old).unwrap(),
                &check(new).unwrap(),
                &[&READ, &SYNC],
                &defaults,
            )
        };
        // Raising an output cap over the server's default (1 MiB) loosens, and dropping a
        // tighter timeout (back to the default 30 s) loosens too.
        let changes = diff(
            "[roles]\n",
            "[tools.read_file]\nmax_output = \"64MiB\"\nallow_loosen = true\n",
        );
        assert_eq!(
            changes.loosened,
            ["tool `read_file`: max_output 1048576 B -> 67108864 B"]
        );
        assert!(changes.tightened.is_empty());
        let changes = diff("[tools.read_file]\ntimeout = \"5s\"\n", "[roles]\n");
        assert_eq!(
            changes.loosened,
            ["tool `read_file`: timeout 5000ms -> 30000ms"]
        );
        // A sync tool has no timeout either way: nothing changes.
        assert_eq!(
            diff("[roles]\n", "[tools.sync_tool]\nenabled = true\n"),
            Default::default()
        );
        // Grants and denials, both ways.
        let changes = diff(
            "[principals.bob]\nscopes = [\"a\"]\ndeny = [\"b\"]\n",
            "[principals.bob]\nscopes = [\"c\"]\n",
        );
        assert_eq!(
            changes.loosened,
            [
                "principal `bob`: grants `c`",
                "principal `bob`: no longer denies `b`"
            ]
        );
        assert_eq!(changes.tightened, ["principal `bob`: no longer grants `a`"]);
    }

    #[test]
    fn a_burst_past_the_limiters_arithmetic_is_a_policy_error() {
        // 1/hour is an interval of 3.6e12 ns: four billion of them overflow 64 bits.
        let e = error(
            "[tools.read_file]\nrate = \"1/hour\"\nburst = 4000000000\nallow_loosen = true\n",
        );
        assert!(e.starts_with("p.toml:3:9:"), "{e}");
        assert!(e.contains("too large for the rate limiter"), "{e}");
        assert!(
            check("[tools.read_file]\nrate = \"1/hour\"\nburst = 1000\nallow_loosen = true\n")
                .is_ok()
        );
    }

    #[test]
    fn an_empty_file_is_refused_and_one_table_is_not() {
        for empty in [
            "",
            " \n\t\r\n",
            "# policy\n\n  # being written\n",
            "\u{feff}",
        ] {
            let error = error(empty);
            assert!(
                error.contains("the policy file is empty"),
                "{empty:?}: {error}"
            );
        }
        assert!(check("[roles]\n").is_ok());
        assert!(check("# comment\n[tools.read_file]\nrate = \"1/min\"\n").is_ok());
    }

    #[test]
    fn every_mistake_names_its_line() {
        assert_eq!(
            error("[tools.read_fiel]\nrate = \"1/min\"\n"),
            "p.toml:1:8: unknown tool `read_fiel`: did you mean `read_file`?"
        );
        assert!(error("[roles]\nr = [\"fs read\"]\n").starts_with("p.toml:2:6: invalid scope"));
        let e = error("[principals.x]\nroles = [\"nope\"]\n");
        assert!(
            e.starts_with("p.toml:2:10: unknown role `nope`: none is defined"),
            "{e}"
        );
        assert!(
            error("[principals.x]\nrole = []\n").starts_with("p.toml:2:1: unknown field `role`")
        );
        assert!(error("[tools.read_file]\nenabled = \"no\"\n").starts_with("p.toml:2:11:"));
        assert!(
            error("[tools.read_file]\nburst = -1\n").contains("`burst` must be a whole number")
        );
        assert!(error("[principals]\n\"\" = {}\n").contains("invalid principal id"));
        // Unicode before the mistake: the column counts characters.
        assert!(error("# ünïcödé\n[tools.é]\n").starts_with("p.toml:2:8:"));
    }

    /// The issue-19 repro: `[token_scopes]` matches what the token carried, never what the
    /// policy granted, and deciding twice changes nothing.
    #[test]
    fn a_policy_decision_is_made_from_the_token_and_is_idempotent() {
        let mut policy = check(
            "[roles]\nwriter = [\"fs.read\", \"fs.write\"]\n\n[principals.alice]\nscopes = [\"files.rw\"]\n\n[token_scopes.\"files.rw\"]\nroles = [\"writer\"]\n",
        )
        .unwrap();
        policy.bind_local(&crate::identity::Principal::new("local"));
        let alice = crate::identity::Principal::new("alice").with_scopes(["fs.read"]);
        let once = policy.resolve(&alice, false).unwrap();
        assert!(once.has_scope("files.rw") && !once.has_scope("fs.write"));
        assert_eq!(once.token_scopes().collect::<Vec<_>>(), ["fs.read"]);
        // The same policy again: already decided.
        assert!(policy.resolve(&once, false).is_none());
        // A newer policy decides afresh from the token, not from the grants above.
        let mut newer = check("[principals.bob]\nscopes = [\"fs.read\"]\n").unwrap();
        newer.bind_local(&crate::identity::Principal::new("local"));
        let again = newer.resolve(&once, false).unwrap();
        assert_eq!(again.scopes().collect::<Vec<_>>(), ["fs.read"]);
        // A token holding `files.rw` itself does get the role.
        let carol = crate::identity::Principal::new("carol").with_scopes(["files.rw"]);
        assert!(policy.resolve(&carol, false).unwrap().has_scope("fs.write"));
    }

    #[test]
    fn grants_denials_and_the_local_principal() {
        let mut policy = check(
            "[roles]\nw = [\"fs.read\", \"fs.write\"]\n\n[principals]\nlocal = { roles = [\"w\"] }\nbob = { roles = [\"w\"], deny = [\"fs.write\"] }\n\n[token_scopes]\n\"files:rw\" = { scopes = [\"fs.write\"] }\n",
        )
        .unwrap();
        policy.bind_local(&crate::identity::Principal::new("local"));
        let local = policy
            .resolve(&crate::identity::Principal::new("local"), true)
            .unwrap();
        assert!(local.has_scope("fs.write"));
        // A token whose subject is `local` is not the local principal.
        assert!(
            policy
                .resolve(&crate::identity::Principal::new("local"), false)
                .is_none()
        );
        // A denial wins over the role and over the token's own scope.
        let bob = crate::identity::Principal::new("bob").with_scopes(["fs.write"]);
        let bob = policy.resolve(&bob, false).unwrap();
        assert!(bob.has_scope("fs.read") && !bob.has_scope("fs.write"));
        // A token scope maps to grants for whoever holds it.
        let carol = crate::identity::Principal::new("carol").with_scopes(["files:rw"]);
        assert!(policy.resolve(&carol, false).unwrap().has_scope("fs.write"));
        assert!(
            policy
                .resolve(&crate::identity::Principal::new("dave"), false)
                .is_none()
        );
        assert!(policy.digest().unwrap().starts_with("sha256:"));
        // Benign: subjects as identity providers write them, and scope names with every
        // separator a token uses.
        let policy = check(
            "[principals]\n\"ada@example.com\" = { scopes = [\"fs.read\"] }\n\"https://idp.example/#3f2a\" = { scopes = [\"api:files/read-write\"] }\n\"Zoë Ünal\" = { scopes = [\"a_b\"] }\n",
        )
        .unwrap();
        let ada = policy.resolve(&crate::identity::Principal::new("ada@example.com"), false);
        assert!(ada.unwrap().has_scope("fs.read"));
        // Refused: ids with control characters, scopes with spaces or quotes.
        assert!(error("[principals]\n\"a\\nb\" = {}\n").contains("invalid principal id"));
        assert!(error("[principals.a]\nscopes = [\"x y\"]\n").contains("invalid scope"));
        assert!(error("[principals.a]\nscopes = [\"x\\\"y\"]\n").contains("invalid scope"));
    }
}
