//! Parse attribute arguments into a spanned model. Errors are collected, not returned at
//! the first one, so a user sees every problem of one attribute in one build.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{Expr, ExprArray, Lit, LitInt, LitStr};

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
    pub rate: Option<Keyed<(u32, u64)>>,
    pub burst: Option<Keyed<u32>>,
    pub timeout: Option<Keyed<u64>>,
    pub concurrency: Option<Keyed<u32>>,
    pub max_output: Option<Keyed<u64>>,
    pub max_input: Option<Keyed<u64>>,
}

/// A parsed value and the span of the key that set it.
pub struct Keyed<T> {
    pub key: Span,
    pub value: T,
}

pub const TOOL_KEYS: &[&str] = &[
    "scope",
    "scopes",
    "public",
    "rate",
    "burst",
    "timeout",
    "concurrency",
    "max_output",
    "max_input",
];

impl ToolArgs {
    pub fn parse(tokens: TokenStream, errors: &mut Errors) -> Self {
        let mut args = Self::default();
        let parser = syn::meta::parser(|meta| {
            let key = meta.path.span();
            let name = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            let duplicate = match name.as_str() {
                "scope" => args.scope.is_some(),
                "scopes" => args.scopes.is_some(),
                "public" => args.public.is_some(),
                "rate" => args.rate.is_some(),
                "burst" => args.burst.is_some(),
                "timeout" => args.timeout.is_some(),
                "concurrency" => args.concurrency.is_some(),
                "max_output" => args.max_output.is_some(),
                "max_input" => args.max_input.is_some(),
                _ => {
                    let hint = suggest(&name, TOOL_KEYS)
                        .map(|s| format!(": did you mean `{s}`?"))
                        .unwrap_or_else(|| {
                            format!(
                                "; expected one of {}",
                                TOOL_KEYS
                                    .iter()
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
            match name.as_str() {
                "public" => {
                    if meta.input.peek(syn::Token![=]) {
                        errors.at(key, "`public` takes no value: write `public`");
                        skip_value(&meta)?;
                    } else {
                        args.public = Some(key);
                    }
                }
                "scope" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    // Recorded even when invalid: the scope was declared, just badly.
                    check_scope(&lit, errors);
                    args.scope = Some((key, vec![lit]));
                }
                "scopes" => {
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
                "rate" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    match parse_rate(&lit.value()) {
                        Ok(value) => args.rate = Some(Keyed { key, value }),
                        Err(why) => errors.at(lit.span(), format!("invalid `rate`: {why}")),
                    }
                }
                "timeout" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    match parse_duration_ms(&lit.value()) {
                        Ok(value) => args.timeout = Some(Keyed { key, value }),
                        Err(why) => errors.at(lit.span(), format!("invalid `timeout`: {why}")),
                    }
                }
                "max_output" | "max_input" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    match parse_size(&lit.value()) {
                        Ok(value) if name == "max_output" => {
                            args.max_output = Some(Keyed { key, value });
                        }
                        Ok(value) => args.max_input = Some(Keyed { key, value }),
                        Err(why) => errors.at(lit.span(), format!("invalid `{name}`: {why}")),
                    }
                }
                "burst" | "concurrency" => {
                    let lit: LitInt = meta.value()?.parse()?;
                    match lit.base10_parse::<u32>() {
                        Ok(0) => errors.at(lit.span(), format!("`{name}` must be at least 1")),
                        Ok(value) => {
                            let slot = Some(Keyed { key, value });
                            if name == "burst" {
                                args.burst = slot;
                            } else {
                                args.concurrency = slot;
                            }
                        }
                        Err(_) => errors.at(
                            lit.span(),
                            format!("`{name}` must be a whole number from 1 to {}", u32::MAX),
                        ),
                    }
                }
                _ => unreachable!("every key is matched above"),
            }
            Ok(())
        });
        if let Err(error) = parser.parse2(tokens) {
            errors.push(error);
        }
        args
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
    let value = lit.value();
    let ok = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".:_/-".contains(&b));
    if !ok {
        errors.at(
            lit.span(),
            "invalid scope: use a non-empty name of letters, digits and `.` `:` `_` `/` `-`, e.g. `\"fs.read\"`",
        );
    }
}

/// `"60/min"` -> (60, 60_000 ms).
pub fn parse_rate(text: &str) -> Result<(u32, u64), String> {
    const FORM: &str = "write it as `N/sec`, `N/min` or `N/hour`, e.g. `\"60/min\"`";
    let (count, unit) = text.split_once('/').ok_or_else(|| FORM.to_owned())?;
    let count: u32 = count
        .trim()
        .parse()
        .map_err(|_| format!("`{}` is not a whole number; {FORM}", count.trim()))?;
    if count == 0 {
        return Err("a rate of 0 would refuse every call; remove the tool instead, or give a rate of at least 1".into());
    }
    let period_ms = match unit.trim() {
        "s" | "sec" | "second" => 1_000,
        "m" | "min" | "minute" => 60_000,
        "h" | "hour" => 3_600_000,
        other => return Err(format!("unknown unit `{other}`; {FORM}")),
    };
    Ok((count, period_ms))
}

/// `"500ms"`, `"2s"`, `"1m"`, `"1h"` -> milliseconds.
pub fn parse_duration_ms(text: &str) -> Result<u64, String> {
    const FORM: &str = "write it as a whole number and a unit: `500ms`, `2s`, `1m` or `1h`";
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| FORM.to_owned())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| FORM.to_owned())?;
    let factor = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        _ => return Err(FORM.to_owned()),
    };
    let ms = number
        .checked_mul(factor)
        .ok_or_else(|| "the duration is too long".to_owned())?;
    if ms == 0 {
        return Err("a zero duration would stop every call at once; give at least `1ms`".into());
    }
    Ok(ms)
}

/// `"64KiB"`, `"1MiB"`, `"4096B"` -> bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    const FORM: &str = "write it as a whole number and a unit: `4096B`, `64KiB` or `1MiB`";
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| FORM.to_owned())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| FORM.to_owned())?;
    let factor = match unit.trim() {
        "B" => 1,
        "KiB" | "KB" | "kB" => 1024,
        "MiB" | "MB" => 1024 * 1024,
        "GiB" | "GB" => 1024 * 1024 * 1024,
        _ => return Err(FORM.to_owned()),
    };
    let bytes = number
        .checked_mul(factor)
        .ok_or_else(|| "the size is too large".to_owned())?;
    if bytes == 0 {
        return Err("a zero size would refuse every call; give at least `1B`".into());
    }
    Ok(bytes)
}

/// The closest of `candidates` to `word`, if it is close enough to be a typo.
pub fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (levenshtein(word, c), *c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
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

/// Whether the container has `#[serde(deny_unknown_fields)]`.
pub fn denies_unknown_fields(attrs: &[syn::Attribute]) -> bool {
    serde_word(attrs, "deny_unknown_fields")
}

/// Whether a `#[serde(..)]` attribute in `attrs` says `word` (`flatten`, `untagged`,
/// `tag = ".."`...).
pub fn serde_word(attrs: &[syn::Attribute], word: &str) -> bool {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("serde"))
        .filter_map(|a| a.meta.require_list().ok())
        .any(|list| {
            list.tokens
                .clone()
                .into_iter()
                .any(|t| matches!(&t, TokenTree::Ident(i) if i == word))
        })
}

/// The string value of `#[serde(key = "..")]` in `attrs` (`rename`, `rename_all`). A
/// `rename(deserialize = "..")` pair gives its `deserialize` side, which is what the model
/// writes.
pub fn serde_value(attrs: &[syn::Attribute], key: &str) -> Option<String> {
    let mut found = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        // Other crates' keys are serde's business: ignore what does not parse here.
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident(key) {
                if meta.input.peek(syn::Token![=]) {
                    found = Some(meta.value()?.parse::<LitStr>()?.value());
                } else {
                    meta.parse_nested_meta(|side| {
                        let value = side.value()?.parse::<LitStr>()?.value();
                        if side.path.is_ident("deserialize") {
                            found = Some(value);
                        }
                        Ok(())
                    })?;
                }
            } else if meta.input.peek(syn::Token![=]) {
                meta.value()?.parse::<Expr>()?;
            } else if meta.input.peek(syn::token::Paren) {
                meta.parse_nested_meta(|inner| {
                    if inner.input.peek(syn::Token![=]) {
                        inner.value()?.parse::<Expr>()?;
                    }
                    Ok(())
                })?;
            }
            Ok(())
        });
    }
    found
}

/// The name serde reads for a field or variant written `ident`: its `rename`, else its
/// container's `rename_all` rule applied, as serde applies it.
pub fn serde_name(
    ident: &str,
    attrs: &[syn::Attribute],
    rename_all: Option<&str>,
    variant: bool,
) -> String {
    if let Some(name) = serde_value(attrs, "rename") {
        return name;
    }
    let ident = ident.strip_prefix("r#").unwrap_or(ident);
    let Some(rule) = rename_all else {
        return ident.to_owned();
    };
    // Variants are written in PascalCase and fields in snake_case: split accordingly.
    let words: Vec<String> = if variant {
        let mut words = Vec::new();
        for c in ident.chars() {
            if c.is_uppercase() || words.is_empty() {
                words.push(String::new());
            }
            words.last_mut().expect("pushed above").push(c);
        }
        words.into_iter().map(|w| w.to_lowercase()).collect()
    } else {
        ident.split('_').map(str::to_lowercase).collect()
    };
    let capital = |w: &String| {
        let mut chars = w.chars();
        chars
            .next()
            .map(|c| c.to_uppercase().chain(chars).collect::<String>())
            .unwrap_or_default()
    };
    match rule {
        "lowercase" => words.concat(),
        "UPPERCASE" => words.concat().to_uppercase(),
        "PascalCase" => words.iter().map(capital).collect(),
        "camelCase" => words
            .iter()
            .enumerate()
            .map(|(i, w)| if i == 0 { w.clone() } else { capital(w) })
            .collect(),
        "snake_case" => words.join("_"),
        "SCREAMING_SNAKE_CASE" => words.join("_").to_uppercase(),
        "kebab-case" => words.join("-"),
        "SCREAMING-KEBAB-CASE" => words.join("-").to_uppercase(),
        _ => ident.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_serde_renames() {
        let none: Vec<syn::Attribute> = Vec::new();
        assert_eq!(
            serde_name("ByAge", &none, Some("snake_case"), true),
            "by_age"
        );
        assert_eq!(
            serde_name("ByAge", &none, Some("kebab-case"), true),
            "by-age"
        );
        assert_eq!(serde_name("ByAge", &none, Some("camelCase"), true), "byAge");
        assert_eq!(serde_name("ByAge", &none, None, true), "ByAge");
        assert_eq!(
            serde_name("max_days", &none, Some("camelCase"), false),
            "maxDays"
        );
        assert_eq!(
            serde_name("max_days", &none, Some("PascalCase"), false),
            "MaxDays"
        );
        assert_eq!(
            serde_name("max_days", &none, Some("SCREAMING-KEBAB-CASE"), false),
            "MAX-DAYS"
        );
        let renamed: Vec<syn::Attribute> =
            vec![syn::parse_quote!(#[serde(default, rename = "days")])];
        assert_eq!(
            serde_name("max_days", &renamed, Some("camelCase"), false),
            "days"
        );
        let sides: Vec<syn::Attribute> =
            vec![syn::parse_quote!(#[serde(rename(serialize = "out", deserialize = "in"))])];
        assert_eq!(serde_name("x", &sides, None, false), "in");
    }

    #[test]
    fn parses_rates_durations_sizes() {
        assert_eq!(parse_rate("60/min"), Ok((60, 60_000)));
        assert_eq!(parse_rate("5 / sec"), Ok((5, 1_000)));
        assert!(parse_rate("0/min").is_err());
        assert!(parse_rate("60/week").is_err());
        assert!(parse_rate("lots").is_err());
        assert_eq!(parse_duration_ms("500ms"), Ok(500));
        assert_eq!(parse_duration_ms("2s"), Ok(2_000));
        assert_eq!(parse_duration_ms("1m"), Ok(60_000));
        assert!(parse_duration_ms("0s").is_err());
        assert!(parse_duration_ms("2 seconds").is_err());
        assert!(parse_duration_ms("1.5s").is_err());
        assert_eq!(parse_size("64KiB"), Ok(65_536));
        assert!(parse_size("0B").is_err());
    }

    #[test]
    fn suggests_close_keys_only() {
        assert_eq!(suggest("timout", TOOL_KEYS), Some("timeout"));
        assert_eq!(suggest("scop", TOOL_KEYS), Some("scope"));
        assert_eq!(suggest("frobnicate", TOOL_KEYS), None);
    }
}
