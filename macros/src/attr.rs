//! Parse attribute arguments into a spanned model. Errors are collected, not returned at
//! the first one, so a user sees every problem of one attribute in one build.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{Expr, ExprArray, Lit, LitInt, LitStr};

use secure_tool_words::{is_scope_name, parse_duration_ms, parse_rate, parse_size, suggest};

/// Collects errors; `finish` combines them into one.
#[derive(Default)]
pub struct Errors(Option<syn::Error>, usize);

impl Errors {
    pub fn push(&mut self, error: syn::Error) {
        self.1 += 1;
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// How many errors were pushed.
    pub fn len(&self) -> usize {
        self.1
    }

    pub fn at(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    pub fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// `#[secure_tool(...)]`, parsed. Every value keeps the span of its token.
#[derive(Default)]
pub struct ToolArgs {
    pub scope: Option<(Span, Vec<LitStr>)>,
    pub scopes: Option<(Span, Vec<LitStr>)>,
    pub public: Option<Span>,
    /// The limits declared, each once, in the order written.
    pub limits: Vec<Limit>,
    /// `authorize = path::to::function`.
    pub authorize: Option<syn::Path>,
    /// The hints for clients, each a flag: `read_only`, `destructive`, `idempotent`,
    /// `open_world` (in the order of [`HINTS`]).
    pub hints: [Option<Span>; 4],
}

/// The flags that become rmcp's `ToolAnnotations`, with the hint each sets.
pub const HINTS: [(&str, &str); 4] = [
    ("read_only", "read_only_hint"),
    ("destructive", "destructive_hint"),
    ("idempotent", "idempotent_hint"),
    ("open_world", "open_world_hint"),
];

/// One declared limit: a key of [`LIMITS`], its value, and the span of the key.
pub struct Limit {
    pub key: Span,
    pub name: &'static str,
    pub value: LimitValue,
}

/// A limit's value, as its kind parses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitValue {
    /// `"60/min"`: calls and period in milliseconds.
    Rate(u32, u64),
    /// `5`: a whole number, at least 1.
    Count(u32),
    /// `"2s"`: milliseconds.
    Millis(u64),
    /// `"64KiB"`: bytes.
    Bytes(u64),
}

/// How a limit key's value is written.
#[derive(Clone, Copy)]
pub enum LimitKind {
    Rate,
    Count,
    Duration,
    Size,
}

/// Every limit key of `#[secure_tool]`. Each is the name of a field of the runtime's
/// `secure_tool::Limits` (the generated declaration names them all), so a new limit is a
/// row here, a field there, and the stage that enforces it.
pub const LIMITS: &[(&str, LimitKind)] = &[
    ("rate", LimitKind::Rate),
    ("burst", LimitKind::Count),
    ("timeout", LimitKind::Duration),
    ("concurrency", LimitKind::Count),
    ("max_output", LimitKind::Size),
    ("max_input", LimitKind::Size),
    ("rate_global", LimitKind::Rate),
];

/// The keys that say who may call the tool.
const ACCESS_KEYS: &[&str] = &["scope", "scopes", "public"];

/// Every key of `#[secure_tool]`, for suggestions.
pub fn tool_keys() -> Vec<&'static str> {
    ACCESS_KEYS
        .iter()
        .copied()
        .chain(LIMITS.iter().map(|(key, _)| *key))
        .chain(["authorize"])
        .chain(HINTS.iter().map(|(key, _)| *key))
        .collect()
}

impl ToolArgs {
    /// The declared limit `name`, if any.
    pub fn limit(&self, name: &str) -> Option<&Limit> {
        self.limits.iter().find(|l| l.name == name)
    }

    pub fn parse(tokens: TokenStream, errors: &mut Errors) -> Self {
        let mut args = Self::default();
        let parser = syn::meta::parser(|meta| {
            let key = meta.path.span();
            let name = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            let limit = LIMITS.iter().find(|(k, _)| *k == name);
            let hint = HINTS.iter().position(|(k, _)| *k == name);
            let duplicate = match name.as_str() {
                "scope" => args.scope.is_some(),
                "scopes" => args.scopes.is_some(),
                "public" => args.public.is_some(),
                "authorize" => args.authorize.is_some(),
                _ if limit.is_some() => args.limit(&name).is_some(),
                _ if hint.is_some() => hint.is_some_and(|i| args.hints[i].is_some()),
                _ => {
                    let keys = tool_keys();
                    let hint = suggest(&name, &keys)
                        .map(|s| format!(": did you mean `{s}`?"))
                        .unwrap_or_else(|| {
                            format!(
                                "; expected one of {}",
                                keys.iter()
                                    .map(|k| format!("`{k}`"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        });
                    errors.at(
                        key,
                        format!("unknown `#[secure_tool]` argument `{name}`{hint}"),
                    );
                    skip_value(&meta)?;
                    return Ok(());
                }
            };
            if duplicate {
                errors.at(
                    key,
                    format!("duplicate `{name}`: each argument may be given once"),
                );
                skip_value(&meta)?;
                return Ok(());
            }
            if let Some((field, kind)) = limit {
                if let Some(value) = parse_limit(&meta, &name, *kind, errors)? {
                    args.limits.push(Limit {
                        key,
                        name: field,
                        value,
                    });
                }
                return Ok(());
            }
            if let Some(index) = hint {
                if meta.input.peek(syn::Token![=]) || meta.input.peek(syn::token::Paren) {
                    errors.at(key, format!("`{name}` takes no value: write `{name}`"));
                    skip_value(&meta)?;
                } else {
                    args.hints[index] = Some(key);
                }
                return Ok(());
            }
            match name.as_str() {
                "public" => {
                    if meta.input.peek(syn::Token![=]) {
                        errors.at(key, "`public` takes no value: write `public`");
                        skip_value(&meta)?;
                    } else {
                        args.public = Some(key);
                    }
                }
                "authorize" => match meta.value()?.parse::<Expr>()? {
                    Expr::Path(path) if path.qself.is_none() => args.authorize = Some(path.path),
                    other => errors.at(
                        other.span(),
                        "`authorize` takes the path of a function, e.g. `authorize = crate::auth::own_records`",
                    ),
                },
                "scope" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    // Recorded even when invalid: the scope was declared, just badly.
                    check_scope(&lit, errors);
                    args.scope = Some((key, vec![lit]));
                }
                _ => {
                    let array: ExprArray = meta.value()?.parse()?;
                    let mut list = Vec::new();
                    for element in &array.elems {
                        match element {
                            Expr::Lit(syn::ExprLit {
                                lit: Lit::Str(lit), ..
                            }) => {
                                check_scope(lit, errors);
                                list.push(lit.clone());
                            }
                            other => errors.at(
                                other.span(),
                                "a scope must be a string literal, e.g. `scopes = [\"fs.read\", \"fs.write\"]`",
                            ),
                        }
                    }
                    if array.elems.is_empty() {
                        errors.at(
                            array.span(),
                            "`scopes` is empty: list at least one scope, or write `public` for a tool anyone may call",
                        );
                    }
                    args.scopes = Some((key, list));
                }
            }
            Ok(())
        });
        if let Err(error) = parser.parse2(tokens) {
            errors.push(error);
        }
        args
    }
}

/// The value of limit `name`, parsed as its kind: `None` (and the error recorded) when
/// it is not a valid one.
fn parse_limit(
    meta: &syn::meta::ParseNestedMeta<'_>,
    name: &str,
    kind: LimitKind,
    errors: &mut Errors,
) -> syn::Result<Option<LimitValue>> {
    let parsed = match kind {
        LimitKind::Count => {
            let lit: LitInt = meta.value()?.parse()?;
            let value = match lit.base10_parse::<u32>() {
                Ok(0) => Err(format!("`{name}` must be at least 1")),
                Ok(value) => Ok(LimitValue::Count(value)),
                Err(_) => Err(format!(
                    "`{name}` must be a whole number from 1 to {}",
                    u32::MAX
                )),
            };
            (lit.span(), value)
        }
        LimitKind::Rate | LimitKind::Duration | LimitKind::Size => {
            let lit: LitStr = meta.value()?.parse()?;
            let text = lit.value();
            let value = match kind {
                LimitKind::Rate => parse_rate(&text).map(|(n, ms)| LimitValue::Rate(n, ms)),
                LimitKind::Duration => parse_duration_ms(&text).map(LimitValue::Millis),
                _ => parse_size(&text).map(LimitValue::Bytes),
            }
            .map_err(|why| format!("invalid `{name}`: {why}"));
            (lit.span(), value)
        }
    };
    match parsed {
        (_, Ok(value)) => Ok(Some(value)),
        (span, Err(message)) => {
            errors.at(span, message);
            Ok(None)
        }
    }
}

/// Consume `= value` or `(...)` after an unknown or duplicate key, so parsing goes on.
pub fn skip_value(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<TokenStream>()?;
    }
    Ok(())
}

/// A scope is a non-empty word of letters, digits and `. _ : / -`.
fn check_scope(lit: &LitStr, errors: &mut Errors) {
    if !is_scope_name(&lit.value()) {
        errors.at(
            lit.span(),
            "invalid scope: use a non-empty name of letters, digits and `.` `:` `_` `/` `-`, e.g. `\"fs.read\"`",
        );
    }
}

/// `#[secure(...)]` on a field of a `SecureInput` type.
#[derive(Default)]
pub struct FieldArgs {
    pub unbounded: Option<LitStr>,
    pub untyped: Option<LitStr>,
    pub hidden_text: Option<LitStr>,
    pub plain: Option<LitStr>,
    /// The field's type is not an `InputField`: nothing checks its value.
    pub opaque: Option<LitStr>,
    /// `url(allow_hosts = [..], deny_hosts = [..], schemes = [..])`
    pub url: Option<(Span, Vec<Vec<LitStr>>)>,
    /// `command(programs = [..], options = [..])`
    pub command: Option<(Span, Vec<Vec<LitStr>>)>,
    /// `ident(allow = [..])`
    pub ident: Option<(Span, Vec<Vec<LitStr>>)>,
    /// `sql(allow_functions = [..])`
    pub sql: Option<(Span, Vec<Vec<LitStr>>)>,
    /// `audit`: the value goes into the audit trail (truncated).
    pub audit: Option<Span>,
    /// `sensitive`: the value is never written anywhere.
    pub sensitive: Option<Span>,
    /// `each(length(max = N))`: every item of the collection at most N long.
    pub each: Option<(Span, LitInt)>,
    /// An `each(..)` was written but did not parse (already reported).
    pub each_malformed: bool,
}

pub const FIELD_KEYS: &[&str] = &[
    "unbounded",
    "untyped",
    "hidden_text",
    "plain",
    "opaque",
    "url",
    "command",
    "ident",
    "sql",
    "audit",
    "sensitive",
    "each",
];

/// `name = ["a", "b"]` inside a nested list.
fn string_list(
    meta: &syn::meta::ParseNestedMeta<'_>,
    errors: &mut Errors,
) -> syn::Result<Vec<LitStr>> {
    let array: ExprArray = meta.value()?.parse()?;
    let mut list = Vec::new();
    for element in &array.elems {
        match element {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Str(lit), ..
            }) if !lit.value().is_empty() => {
                list.push(lit.clone());
            }
            other => errors.at(other.span(), "expected a non-empty string literal"),
        }
    }
    Ok(list)
}

/// `url(...)` / `command(...)`: named string lists, in the order of `keys`.
fn named_lists(
    meta: &syn::meta::ParseNestedMeta<'_>,
    keys: &[&str],
    errors: &mut Errors,
) -> syn::Result<(Span, Vec<Vec<LitStr>>)> {
    let span = meta.path.span();
    let mut lists = vec![Vec::new(); keys.len()];
    meta.parse_nested_meta(|inner| {
        let name = inner
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        if let Some(index) = keys.iter().position(|k| *k == name) {
            lists[index] = string_list(&inner, errors)?;
        } else {
            let hint = suggest(&name, keys)
                .map(|s| format!(": did you mean `{s}`?"))
                .unwrap_or_else(|| {
                    let all: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
                    format!("; expected one of {}", all.join(", "))
                });
            errors.at(
                inner.path.span(),
                format!("unknown argument `{name}`{hint}"),
            );
            skip_value(&inner)?;
        }
        Ok(())
    })?;
    Ok((span, lists))
}

/// `each(length(max = N))`, validator's `length` applied to every item.
fn each_length(
    meta: &syn::meta::ParseNestedMeta<'_>,
    errors: &mut Errors,
) -> syn::Result<Option<(Span, LitInt)>> {
    const FORM: &str =
        "write `each(length(max = N))`: the most characters (or items) each item may hold";
    let span = meta.path.span();
    if !meta.input.peek(syn::token::Paren) {
        errors.at(span, FORM);
        skip_value(meta)?;
        return Ok(None);
    }
    let mut max = None;
    let reported = errors.len();
    meta.parse_nested_meta(|inner| {
        if !inner.path.is_ident("length") {
            errors.at(inner.path.span(), FORM);
            return skip_value(&inner);
        }
        inner.parse_nested_meta(|bound| {
            if bound.path.is_ident("max") {
                let value: LitInt = bound.value()?.parse()?;
                if value.base10_parse::<u64>().map_or(true, |n| n == 0) {
                    errors.at(value.span(), "`max` must be a whole number above 0");
                } else {
                    max = Some(value);
                }
            } else {
                errors.at(bound.path.span(), FORM);
                skip_value(&bound)?;
            }
            Ok(())
        })
    })?;
    if max.is_none() && errors.len() == reported {
        errors.at(span, FORM);
    }
    Ok(max.map(|max| (span, max)))
}

/// `#[secure(...)]` on a `SecureInput` type itself.
#[derive(Default)]
pub struct ContainerArgs {
    pub allow_unknown_fields: Option<LitStr>,
}

pub const CONTAINER_KEYS: &[&str] = &["allow_unknown_fields"];

/// One `key = "reason"` waiver: `None` (and the error recorded) when the key is unknown
/// or the reason is missing or empty.
fn waiver(
    meta: &syn::meta::ParseNestedMeta<'_>,
    name: &str,
    keys: &[&str],
    errors: &mut Errors,
) -> syn::Result<Option<LitStr>> {
    if !keys.contains(&name) {
        let hint = suggest(name, keys)
            .map(|s| format!(": did you mean `{s}`?"))
            .unwrap_or_default();
        errors.at(
            meta.path.span(),
            format!("unknown `#[secure]` argument `{name}`{hint}"),
        );
        skip_value(meta)?;
        return Ok(None);
    }
    if !meta.input.peek(syn::Token![=]) {
        errors.at(
            meta.path.span(),
            format!("`{name}` needs a written reason: `{name} = \"why this is safe\"`"),
        );
        skip_value(meta)?;
        return Ok(None);
    }
    let reason: LitStr = meta.value()?.parse()?;
    if reason.value().trim().len() < 3 {
        errors.at(
            reason.span(),
            format!("`{name}` needs a real reason: say why accepting this risk is safe"),
        );
        return Ok(None);
    }
    Ok(Some(reason))
}

impl FieldArgs {
    /// The waived rules and their reasons.
    pub fn waivers(&self) -> impl Iterator<Item = (&'static str, &LitStr)> {
        [
            ("unbounded", &self.unbounded),
            ("untyped", &self.untyped),
            ("hidden_text", &self.hidden_text),
            ("plain", &self.plain),
            ("opaque", &self.opaque),
        ]
        .into_iter()
        .filter_map(|(rule, reason)| Some((rule, reason.as_ref()?)))
    }

    pub fn parse(attrs: &[syn::Attribute], errors: &mut Errors) -> Self {
        let mut args = Self::default();
        each_secure_key(attrs, errors, |meta, name, errors| {
            // The keys that take named lists of strings, and the lists each takes.
            let lists = match name {
                "url" => Some((&mut args.url, &["allow_hosts", "deny_hosts", "schemes"][..])),
                "ident" => Some((&mut args.ident, &["allow"][..])),
                "sql" => Some((&mut args.sql, &["allow_functions"][..])),
                "command" => Some((&mut args.command, &["programs", "options"][..])),
                _ => None,
            };
            if let Some((slot, keys)) = lists {
                if slot.is_some() {
                    errors.at(meta.path.span(), format!("duplicate `{name}`"));
                }
                *slot = Some(named_lists(meta, keys, errors)?);
                return Ok(());
            }
            if name == "each" {
                if args.each.is_some() {
                    errors.at(meta.path.span(), "duplicate `each`");
                }
                args.each = each_length(meta, errors)?;
                args.each_malformed |= args.each.is_none();
                return Ok(());
            }
            // Flags: what the audit trail may keep of the value.
            let flag = match name {
                "audit" => Some(&mut args.audit),
                "sensitive" => Some(&mut args.sensitive),
                _ => None,
            };
            if let Some(slot) = flag {
                let span = meta.path.span();
                if meta.input.peek(syn::Token![=]) || meta.input.peek(syn::token::Paren) {
                    errors.at(
                        span,
                        format!("`{name}` takes no value: write `#[secure({name})]`"),
                    );
                    skip_value(meta)?;
                } else if slot.is_some() {
                    errors.at(span, format!("duplicate `{name}`"));
                } else {
                    *slot = Some(span);
                }
                return Ok(());
            }
            let Some(reason) = waiver(meta, name, FIELD_KEYS, errors)? else {
                return Ok(());
            };
            let slot = match name {
                "unbounded" => &mut args.unbounded,
                "untyped" => &mut args.untyped,
                "hidden_text" => &mut args.hidden_text,
                "opaque" => &mut args.opaque,
                _ => &mut args.plain,
            };
            if slot.is_some() {
                errors.at(reason.span(), format!("duplicate `{name}`"));
            }
            *slot = Some(reason);
            Ok(())
        });
        args
    }
}

impl ContainerArgs {
    pub fn parse(attrs: &[syn::Attribute], errors: &mut Errors) -> Self {
        let mut args = Self::default();
        each_secure_key(attrs, errors, |meta, name, errors| {
            if let Some(reason) = waiver(meta, name, CONTAINER_KEYS, errors)? {
                if args.allow_unknown_fields.is_some() {
                    errors.at(reason.span(), format!("duplicate `{name}`"));
                }
                args.allow_unknown_fields = Some(reason);
            }
            Ok(())
        });
        args
    }
}

/// Call `each` with every key of every `#[secure(..)]` in `attrs` (and the key's name);
/// a key that does not parse is recorded in `errors`.
fn each_secure_key(
    attrs: &[syn::Attribute],
    errors: &mut Errors,
    mut each: impl FnMut(&syn::meta::ParseNestedMeta<'_>, &str, &mut Errors) -> syn::Result<()>,
) {
    for attr in attrs.iter().filter(|a| a.path().is_ident("secure")) {
        let result = attr.parse_nested_meta(|meta| {
            let name = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            each(&meta, &name, errors)
        });
        if let Err(error) = result {
            errors.push(error);
        }
    }
}

/// Whether some `#[validate(...)]` on the field gives an upper length bound:
/// `length(max = ..)` or `length(equal = ..)`.
pub fn has_length_bound(attrs: &[syn::Attribute]) -> bool {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("validate"))
        .filter_map(|a| a.meta.require_list().ok())
        .any(|list| bound_in(list.tokens.clone()))
}

fn bound_in(tokens: TokenStream) -> bool {
    let mut iter = tokens.into_iter().peekable();
    while let Some(tree) = iter.next() {
        if let TokenTree::Ident(ident) = &tree
            && ident == "length"
            && let Some(TokenTree::Group(group)) = iter.peek()
        {
            let found = group
                .stream()
                .into_iter()
                .any(|t| matches!(&t, TokenTree::Ident(i) if i == "max" || i == "equal"));
            if found {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keys_only() {
        let keys = tool_keys();
        assert_eq!(suggest("timout", &keys), Some("timeout"));
        assert_eq!(suggest("scop", &keys), Some("scope"));
        assert_eq!(suggest("frobnicate", &keys), None);
    }
}
