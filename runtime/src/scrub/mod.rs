//! Secret scrubbing: credentials replaced wherever they appear in what a tool returns,
//! what the model is told and what the server logs.
//!
//! A gate (`gate.rs`: a few SIMD-searched anchors and a scan for token-shaped runs) lets
//! clean text through at once, borrowed and untouched. Other text gets one pass of an
//! Aho-Corasick automaton over every rule's keywords (any case), which decides which
//! rules can match at all; only those rules' regexes run.
//!
//! Results are scrubbed where each value lives ([`scrub_result`]): every text block,
//! every string of `structuredContent` (whose text copy is rebuilt from the scrubbed
//! value, so the two agree), embedded text resources and resource-link URIs.

mod gate;
mod names;
mod rules;

use std::borrow::Cow;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex::{Captures, Regex};
use rmcp::model::{CallToolResult, ContentBlock, ResourceContents};
use serde_json::Value;

use rules::{RULES, Rule};

/// Rules fit in this many bits.
const RULE_WORDS: usize = 2;

struct Scrubber {
    gate: gate::Gate,
    keywords: AhoCorasick,
    /// For each keyword, the rules it triggers, as a bit set.
    triggers: Vec<[u64; RULE_WORDS]>,
    /// Each rule's regex, which finds its matches.
    regexes: Vec<Regex>,
    /// Each rule's regex for reading a match's groups, run on the match alone: the
    /// finder without its keyword alternation, which makes resolving groups costly.
    parsers: Vec<Regex>,
    path: Regex,
}

static SCRUBBER: LazyLock<Scrubber> = LazyLock::new(|| {
    assert!(RULES.len() <= RULE_WORDS * 64, "too many scrubbing rules");
    let mut keywords: Vec<String> = Vec::new();
    let mut triggers: Vec<[u64; RULE_WORDS]> = Vec::new();
    for (index, rule) in RULES.iter().enumerate() {
        for keyword in rule.keywords {
            let keyword = keyword.to_ascii_lowercase();
            let slot = match keywords.iter().position(|k| *k == keyword) {
                Some(slot) => slot,
                None => {
                    keywords.push(keyword);
                    triggers.push([0; RULE_WORDS]);
                    keywords.len() - 1
                }
            };
            triggers[slot][index / 64] |= 1 << (index % 64);
        }
    }
    Scrubber {
        gate: gate::Gate::new(),
        keywords: AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&keywords)
            .expect("scrubbing keywords build"),
        triggers,
        regexes: RULES
            .iter()
            .map(|rule| {
                let pattern = rule
                    .pattern
                    .replace("{KEYWORDS}", &keyword_alternation(rule));
                Regex::new(&ascii_classes(&pattern)).expect("scrubbing rule compiles")
            })
            .collect(),
        parsers: RULES
            .iter()
            .map(|rule| {
                let pattern = rule.pattern.replace("(?i:{KEYWORDS})", r"[A-Za-z0-9_.\-]");
                Regex::new(&ascii_classes(&pattern)).expect("scrubbing rule compiles")
            })
            .collect(),
        path: Regex::new(PATH_PATTERN).expect("path pattern compiles"),
    }
});

/// Absolute filesystem paths: Unix paths of two or more components, Windows drive and UNC
/// paths. A path inside a URL is not preceded by a boundary this accepts, so it survives.
const PATH_PATTERN: &str =
    r#"(?:^|[\s"'`(\[=,:])((?:/[A-Za-z0-9._@+\-~]+){2,}/?|[A-Za-z]:\\[^\s"'`]+|\\\\[^\s"'`]+)"#;

/// `a|b|c` of a rule's keywords, for a pattern that names them as `{KEYWORDS}`.
fn keyword_alternation(rule: &Rule) -> String {
    rule.keywords
        .iter()
        .map(|k| regex::escape(k))
        .collect::<Vec<_>>()
        .join("|")
}

/// Credentials are ASCII: `\w`, `\d`, `\s` and `\b` in a rule mean their ASCII forms,
/// which keeps every rule on the regex crate's fast engines whatever the text holds.
fn ascii_classes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 32);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('w') => out.push_str("[A-Za-z0-9_]"),
            Some('d') => out.push_str("[0-9]"),
            Some('s') => out.push_str("[\\t\\n\\x0B\\x0C\\r ]"),
            Some('b') => out.push_str("(?-u:\\b)"),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Compile the scrubbing rules now rather than on the first call that needs them.
pub(crate) fn warm_up() {
    LazyLock::force(&SCRUBBER);
}

impl Scrubber {
    /// The rules whose keywords occur in `text`.
    fn triggered(&self, text: &str) -> [u64; RULE_WORDS] {
        let mut set = [0; RULE_WORDS];
        for found in self.keywords.find_overlapping_iter(text) {
            let rules = &self.triggers[found.pattern().as_usize()];
            for (word, bits) in set.iter_mut().zip(rules) {
                *word |= bits;
            }
        }
        set
    }

    fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if !self.gate.may_hold_secret(text) {
            return Cow::Borrowed(text);
        }
        let set = self.triggered(text);
        if set == [0; RULE_WORDS] {
            return Cow::Borrowed(text);
        }
        let mut out = Cow::Borrowed(text);
        for (index, rule) in RULES.iter().enumerate() {
            if set[index / 64] & (1 << (index % 64)) == 0 {
                continue;
            }
            if let Cow::Owned(replaced) =
                apply(&self.regexes[index], &self.parsers[index], rule, &out)
            {
                out = Cow::Owned(replaced);
            }
        }
        out
    }
}

/// Replace the secret part of each of `rule`'s matches, found by `finder` and read by
/// `parser` on the match alone. A match the rule's check keeps
/// (`config: api_key=...` is not a secret of `config`) is searched again inside its value,
/// so an assignment there is still found.
fn apply<'a>(finder: &Regex, parser: &Regex, rule: &Rule, text: &'a str) -> Cow<'a, str> {
    let mut secrets: Vec<(usize, usize)> = Vec::new();
    // Returns where to search next: after the match, or for a YAML block scalar after
    // the lines that belong to it (the match runs on over every indented line after it,
    // siblings included, which may hold credentials of their own).
    let each = |found: regex::Match<'_>, secrets: &mut Vec<(usize, usize)>| -> usize {
        let span = found.range();
        let Some(caps) = parser.captures(&text[span.clone()]) else {
            return span.end;
        };
        if let (Some(block), Some(key)) = (caps.name("block"), caps.name("key")) {
            // The key's column: where its quote is, if it has one.
            let quoted = caps[0][..key.start()].ends_with(['"', '\'']);
            let column = key.start() - usize::from(quoted);
            let from = span.start + block.start();
            let Some(lines) = names::block_lines(&text[from..], column) else {
                return span.end;
            };
            if names::block_is_secret(key.as_str(), &text[from + lines.start..from + lines.end]) {
                secrets.push((from + lines.start, from + lines.end));
            }
            return from + lines.end;
        }
        if decide(rule, &caps, span.start, secrets) {
            return span.end;
        }
        // Kept: look inside the value (the rare path), within the match.
        let Some(value) = secret_part(&caps) else {
            return span.end;
        };
        if value.start() == 0 || !value.as_str().contains(['=', ':']) {
            return span.end;
        }
        let inner = &text[..span.end];
        let mut at = span.start + value.start();
        while let Some(inside) = finder.find_at(inner, at) {
            if let Some(caps) = parser.captures(&inner[inside.range()]) {
                decide(rule, &caps, inside.start(), secrets);
            }
            at = inside.end().max(inside.start() + 1);
            while at < inner.len() && !inner.is_char_boundary(at) {
                at += 1;
            }
            if at >= inner.len() {
                break;
            }
        }
        span.end
    };
    let mut at = 0;
    while at <= text.len() {
        let Some(found) = finder.find_at(text, at) else {
            break;
        };
        let next = each(found, &mut secrets);
        at = if next > found.start() {
            next
        } else {
            found.start() + 1
        };
        while at < text.len() && !text.is_char_boundary(at) {
            at += 1;
        }
    }
    if secrets.is_empty() {
        return Cow::Borrowed(text);
    }
    secrets.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (start, end) in secrets {
        if start < copied {
            continue; // inside a secret already replaced
        }
        out.push_str(&text[copied..start]);
        out.push_str(rule.label);
        copied = end;
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// The part of a match that is the secret: the `secret` group, else the value of an
/// assignment, else the whole match.
fn secret_part<'h>(caps: &Captures<'h>) -> Option<regex::Match<'h>> {
    names::VALUE_GROUPS
        .iter()
        .find_map(|name| caps.name(name))
        .or_else(|| caps.get(0))
}

/// Add the spans to replace in a match found at `offset`, if the rule's check says it
/// holds a secret; `false` if it holds none. A header of cookies gives one span per
/// credential cookie, a YAML block scalar the lines that belong to it.
fn decide(
    rule: &Rule,
    caps: &Captures<'_>,
    offset: usize,
    secrets: &mut Vec<(usize, usize)>,
) -> bool {
    if rule.check.is_some_and(|check| !check(caps)) {
        return false;
    }
    let before = secrets.len();
    if let Some(cookies) = caps.name("cookies").or_else(|| caps.name("cookiesq")) {
        secrets.extend(names::credential_cookies(cookies.as_str()).map(|r| {
            (
                offset + cookies.start() + r.start,
                offset + cookies.start() + r.end,
            )
        }));
    } else if let Some(m) = secret_part(caps) {
        secrets.push((offset + m.start(), offset + m.end()));
    }
    secrets.len() > before
}

/// Replace credentials in `text`: private keys, passwords in URLs, `Authorization`
/// headers, bearer and basic credentials, JWTs, the token formats of cloud, VCS, chat,
/// payment, package-registry, AI, messaging, hosting and secrets-manager services, and
/// values named like secrets (`api_key=...`, `"password": "..."`, JSON-escaped too).
///
/// Returns the text unchanged (borrowed) when nothing matched, which is the common case.
///
/// ```
/// let out = secure_tool::scrub_secrets("call failed: Authorization: Bearer abcdefghijklmnop");
/// assert_eq!(out, "call failed: Authorization: Bearer [redacted]");
/// let out = secure_tool::scrub_secrets(r#"{"log": "{\"password\": \"hunter2\"}"}"#);
/// assert_eq!(out, r#"{"log": "{\"password\": \"[redacted]\"}"}"#);
/// // Words are not tokens.
/// assert_eq!(secure_tool::scrub_secrets("Bearer authentication failed"), "Bearer authentication failed");
/// ```
pub fn scrub_secrets(text: &str) -> Cow<'_, str> {
    SCRUBBER.scrub(text)
}

/// [`scrub_secrets`], and absolute filesystem paths replaced by `[path]`: what every public
/// error message goes through before it reaches the model.
///
/// ```
/// let out = secure_tool::scrub_public("cannot open /home/alice/.ssh/id_rsa");
/// assert_eq!(out, "cannot open [path]");
/// ```
pub fn scrub_public(text: &str) -> Cow<'_, str> {
    // Paths first: `/etc/passwd: denied` is a path, not a `passwd: <secret>` assignment.
    let path = &SCRUBBER.path;
    if !path.is_match(text) {
        return scrub_secrets(text);
    }
    let replaced = path.replace_all(text, |caps: &Captures<'_>| {
        let whole = &caps[0];
        let inner = &caps[1];
        format!("{}[path]", &whole[..whole.len() - inner.len()])
    });
    Cow::Owned(scrub_secrets(&replaced).into_owned())
}

/// Scrub every string of a tool's result where it lives: text blocks, the strings of
/// `structuredContent` (rebuilding its text copy from the scrubbed value, so the two
/// agree), embedded text resources (text and URI), blob resources' URIs and resource
/// links (URI, title, description).
pub(crate) fn scrub_result(result: &mut CallToolResult, scrub: fn(&str) -> Cow<'_, str>) {
    // The text copy of structured content, rebuilt if the value changes: rmcp's compact
    // one, or any other spelling of the same JSON (a tool's pretty-printed copy).
    let mut mirror: Option<(Value, String, String)> = None;
    if let Some(value) = &mut result.structured_content
        && needs_scrub(value, scrub)
    {
        let before = value.clone();
        let compact = value.to_string();
        scrub_value(value, scrub);
        mirror = Some((before, compact, value.to_string()));
    }
    let scrubbed = result.structured_content.as_ref();
    for block in &mut result.content {
        match block {
            ContentBlock::Text(text) => match (&mirror, scrubbed) {
                (Some((_, compact, after)), _) if text.text == *compact => {
                    text.text.clone_from(after);
                }
                (Some((before, ..)), Some(value))
                    if text.text.trim_start().starts_with(['{', '['])
                        && serde_json::from_str::<Value>(&text.text)
                            .is_ok_and(|v| v == *before) =>
                {
                    if let Ok(pretty) = serde_json::to_string_pretty(value) {
                        text.text = pretty;
                    }
                }
                _ => replace(&mut text.text, scrub),
            },
            ContentBlock::Resource(embedded) => match &mut embedded.resource {
                ResourceContents::TextResourceContents { uri, text, .. } => {
                    replace(uri, scrub);
                    replace(text, scrub);
                }
                ResourceContents::BlobResourceContents { uri, .. } => replace(uri, scrub),
                other => scrub_serialized(other, scrub),
            },
            ContentBlock::ResourceLink(link) => {
                replace(&mut link.uri, scrub);
                if let Some(title) = &mut link.title {
                    replace(title, scrub);
                }
                if let Some(description) = &mut link.description {
                    replace(description, scrub);
                }
            }
            ContentBlock::Image(_) | ContentBlock::Audio(_) => {}
            other => scrub_serialized(other, scrub),
        }
    }
}

/// A block of a kind this crate does not know yet: scrubbed through its JSON form.
fn scrub_serialized<T>(item: &mut T, scrub: fn(&str) -> Cow<'_, str>)
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let Ok(mut value) = serde_json::to_value(&*item) else {
        return;
    };
    if needs_scrub(&value, scrub) {
        scrub_value(&mut value, scrub);
        if let Ok(clean) = serde_json::from_value(value) {
            *item = clean;
        }
    }
}

fn replace(text: &mut String, scrub: fn(&str) -> Cow<'_, str>) {
    if let Cow::Owned(clean) = scrub(text) {
        *text = clean;
    }
}

fn needs_scrub(value: &Value, scrub: fn(&str) -> Cow<'_, str>) -> bool {
    match value {
        Value::String(s) => matches!(scrub(s), Cow::Owned(_)),
        Value::Array(items) => {
            pem_body(items, 0).is_some() || items.iter().any(|v| needs_scrub(v, scrub))
        }
        Value::Object(map) => {
            named_secret(map).is_some()
                || map.iter().any(|(key, value)| {
                    secret_member(key, value)
                        || (value.is_array() || value.is_object())
                            && names::secret_holder(key).is_some()
                        || matches!(scrub(key), Cow::Owned(_))
                        || needs_scrub(value, scrub)
                })
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// A member whose key names a credential, judged as `key = value` would be in text: a
/// string, or a number (`"pin_code": 482913`; the text copy and the value must agree).
fn secret_member(key: &str, value: &Value) -> bool {
    match value {
        Value::String(text) => text != REDACTED && names::value_is_secret(key, text),
        Value::Number(number) => names::value_is_secret(key, &number.to_string()),
        _ => false,
    }
}

/// A private key split over array items (one PEM line each): the range of the lines
/// between a `BEGIN` and its `END` line, the first at or after `from` that still holds
/// a line not redacted.
fn pem_body(items: &[Value], from: usize) -> Option<std::ops::Range<usize>> {
    fn line(v: &Value) -> Option<&str> {
        v.as_str().map(str::trim)
    }
    let mut at = from;
    while at < items.len() {
        let begin = at
            + items[at..].iter().position(|v| {
                line(v).is_some_and(|l| {
                    l.starts_with("-----BEGIN")
                        && l.contains("PRIVATE KEY")
                        && !l.contains("-----END")
                })
            })?;
        let end = items[begin + 1..]
            .iter()
            .position(|v| line(v).is_some_and(|l| l.starts_with("-----END")))
            .map_or(items.len(), |n| begin + 1 + n);
        let body = begin + 1..end;
        if items[body.clone()]
            .iter()
            .any(|v| v.as_str().is_some_and(|l| l != REDACTED))
        {
            return Some(body);
        }
        at = end;
    }
    None
}

fn scrub_value(value: &mut Value, scrub: fn(&str) -> Cow<'_, str>) {
    match value {
        Value::String(s) => replace(s, scrub),
        Value::Array(items) => {
            let mut from = 0;
            while let Some(body) = pem_body(items, from) {
                from = body.end;
                for item in &mut items[body] {
                    *item = Value::String(REDACTED.to_owned());
                }
            }
            items.iter_mut().for_each(|v| scrub_value(v, scrub));
        }
        Value::Object(map) => {
            if let Some(field) = named_secret(map) {
                map.insert(field, Value::String(REDACTED.to_owned()));
            }
            scrub_keys(map, scrub);
            for (key, value) in map.iter_mut() {
                if secret_member(key, value) {
                    *value = Value::String(REDACTED.to_owned());
                } else if let Some(holder) =
                    names::secret_holder(key).filter(|_| value.is_array() || value.is_object())
                {
                    redact_held(value, holder, scrub);
                } else {
                    scrub_value(value, scrub);
                }
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

const REDACTED: &str = "[redacted]";

/// A key is a value too (a map keyed by token): scrubbed, its value kept.
fn scrub_keys(map: &mut serde_json::Map<String, Value>, scrub: fn(&str) -> Cow<'_, str>) {
    let keys: Vec<String> = map
        .keys()
        .filter(|key| matches!(scrub(key), Cow::Owned(_)))
        .cloned()
        .collect();
    for key in keys {
        if let Some(value) = map.remove(&key) {
            map.insert(scrub(&key).into_owned(), value);
        }
    }
}

/// The secrets a member named `holder` holds (`{"password": {"current": ".."}}`,
/// `{"tokens": [".."]}`): every string and number inside, each judged as `holder = value`,
/// except under keys that name their own kind (`"api_key"` inside is judged by its own
/// name) or describe the secret (`type`, `expires_at`, `username`).
fn redact_held(value: &mut Value, holder: &str, scrub: fn(&str) -> Cow<'_, str>) {
    match value {
        Value::String(text) if text != REDACTED && names::value_is_secret(holder, text) => {
            *value = Value::String(REDACTED.to_owned());
        }
        Value::Number(number)
            if names::holds_numbers(holder)
                && names::value_is_secret(holder, &number.to_string()) =>
        {
            *value = Value::String(REDACTED.to_owned());
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact_held(v, holder, scrub)),
        Value::Object(map) => {
            scrub_keys(map, scrub);
            for (key, value) in map.iter_mut() {
                if secret_member(key, value) {
                    *value = Value::String(REDACTED.to_owned());
                } else if names::is_descriptor(key) {
                    scrub_value(value, scrub);
                } else {
                    redact_held(value, holder, scrub);
                }
            }
        }
        _ => scrub_value(value, scrub),
    }
}

/// An object that names its own value, as Kubernetes, ECS and CI list environment
/// variables (`{"name": "DB_PASSWORD", "value": "..."}`): the value field to redact, if
/// the name says it holds a credential. Each string alone would not say so.
fn named_secret(map: &serde_json::Map<String, Value>) -> Option<String> {
    let text = |field: &str| map.get(field).and_then(Value::as_str);
    let name = ["name", "key", "Name", "Key", "ParameterKey", "OptionName"]
        .iter()
        .find_map(|f| text(f))?;
    let field = ["value", "Value", "ParameterValue"]
        .iter()
        .find(|f| text(f).is_some())?;
    let value = text(field)?;
    (value != REDACTED && names::value_is_secret(name, value)).then(|| (*field).to_owned())
}

/// Every rule's id, for the per-rule tests.
pub fn rule_ids() -> impl Iterator<Item = &'static str> {
    RULES.iter().map(|rule| rule.id)
}

/// `text` scrubbed by the rule `id` alone (the gate, its keywords, then its regex and
/// check), or `None` for an unknown id: what the per-rule tests run.
pub fn scrub_with_rule(id: &str, text: &str) -> Option<String> {
    let index = RULES.iter().position(|rule| rule.id == id)?;
    let rule = &RULES[index];
    // The production path for this one rule: the gate, then the keyword automaton.
    if !SCRUBBER.gate.may_hold_secret(text)
        || SCRUBBER.triggered(text)[index / 64] & (1 << (index % 64)) == 0
    {
        return Some(text.to_owned());
    }
    Some(
        apply(
            &SCRUBBER.regexes[index],
            &SCRUBBER.parsers[index],
            rule,
            text,
        )
        .into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_compiles_and_has_a_keyword() {
        warm_up();
        for rule in RULES {
            assert!(!rule.keywords.is_empty(), "{}", rule.id);
        }
        let mut ids: Vec<_> = rule_ids().collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), RULES.len(), "duplicate rule ids");
    }

    #[test]
    fn scrubs_absolute_paths_but_not_urls_or_words() {
        assert_eq!(
            scrub_public("open /etc/passwd: denied"),
            "open [path]: denied"
        );
        assert_eq!(scrub_public(r"open C:\Users\bob\secret.txt"), "open [path]");
        assert_eq!(
            scrub_public("see https://example.com/a/b"),
            "see https://example.com/a/b"
        );
        assert_eq!(scrub_public("use and/or"), "use and/or");
    }

    #[test]
    fn leaves_clean_text_borrowed() {
        assert!(matches!(scrub_public("no such record"), Cow::Borrowed(_)));
        assert!(matches!(
            scrub_secrets("the key to the secret garden"),
            Cow::Borrowed(_)
        ));
    }
}
