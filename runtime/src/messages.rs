//! serde's and validator's messages, translated into value-free rules: what a refusal
//! may tell the model about its arguments without quoting them.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::problem::{InputError, Problem};

impl From<validator::ValidationErrors> for InputError {
    fn from(errors: validator::ValidationErrors) -> Self {
        let mut problems = Vec::new();
        collect_validation(&errors, &mut String::new(), &mut problems);
        problems.sort_by(|a, b| a.path().cmp(b.path()));
        Self::new(problems)
    }
}

fn collect_validation(
    errors: &validator::ValidationErrors,
    prefix: &mut String,
    out: &mut Vec<Problem>,
) {
    use validator::ValidationErrorsKind as K;
    for (field, kind) in errors.errors() {
        let len = prefix.len();
        if field != "__all__" {
            if !prefix.is_empty() {
                prefix.push('.');
            }
            prefix.push_str(field);
        }
        match kind {
            K::Field(list) => {
                for error in list {
                    out.push(Problem::new(prefix.clone(), describe_validation(error)));
                }
            }
            K::Struct(inner) => collect_validation(inner, prefix, out),
            K::List(items) => {
                for (index, inner) in items {
                    let len = prefix.len();
                    let _ = write!(prefix, "[{index}]");
                    collect_validation(inner, prefix, out);
                    prefix.truncate(len);
                }
            }
        }
        prefix.truncate(len);
    }
}

/// `length (min 1, max 200)`: the rule's code and its numeric bounds, never the `value`
/// param validator attaches, and the author's own message when there is one.
fn describe_validation(error: &validator::ValidationError) -> String {
    let mut text = String::from(&*error.code);
    let mut params: Vec<_> = error
        .params
        .iter()
        .filter(|(name, value)| *name != "value" && (value.is_number() || value.is_boolean()))
        .collect();
    params.sort_by(|a, b| a.0.cmp(b.0));
    if !params.is_empty() {
        text.push_str(" (");
        for (i, (name, value)) in params.iter().enumerate() {
            if i > 0 {
                text.push_str(", ");
            }
            let _ = write!(text, "{name} {value}");
        }
        text.push(')');
    }
    if let Some(message) = &error.message {
        let _ = write!(text, ": {}", crate::scrub::scrub_public(message));
    }
    text
}

/// Map one serde error message to a value-free rule. serde's wording is stable; anything
/// unrecognised becomes a generic `invalid value`, so nothing attacker-controlled leaks.
pub(crate) fn describe_serde(message: &str) -> Cow<'static, str> {
    // What follows the *last* ", expected " is produced by the target type's Visitor, not
    // by the input, so it is safe to show; what precedes it quotes the input.
    let expected = || {
        message
            .rfind(", expected ")
            .map(|i| &message[i + ", expected ".len()..])
            .filter(|e| e.len() <= 120 && !e.contains('`') && !e.contains('"'))
    };
    if let Some(rest) = message.strip_prefix("missing field `") {
        if let Some(name) = rest
            .strip_suffix('`')
            .filter(|n| crate::de::is_plain_key(n))
        {
            return format!("missing required field `{name}`").into();
        }
        return "missing required field".into();
    }
    if let Some(rest) = message.strip_prefix("duplicate field `") {
        if let Some(name) = rest
            .strip_suffix('`')
            .filter(|n| crate::de::is_plain_key(n))
        {
            return format!("duplicate field `{name}`").into();
        }
        return "duplicate field".into();
    }
    if message.starts_with("unknown field") {
        return "unknown field: only the fields in the tool's inputSchema are accepted".into();
    }
    if message.starts_with("unknown variant") {
        return "unknown variant: see the tool's inputSchema for the accepted values".into();
    }
    for (prefix, rule) in [
        ("invalid type", "wrong type"),
        ("invalid value", "invalid value"),
        ("invalid length", "wrong length"),
    ] {
        if message.starts_with(prefix) {
            return match expected() {
                Some(e) => format!("{rule}: expected {e}").into(),
                None => rule.into(),
            };
        }
    }
    if let Some(own) = message.strip_prefix(PUBLIC_REJECTION_PREFIX) {
        return own.to_owned().into();
    }
    "invalid value".into()
}

/// A custom serde error whose text starts with this is written by this crate's own input
/// types to be value-free, and is shown to the model as it is (without the prefix).
pub(crate) const PUBLIC_REJECTION_PREFIX: &str = "secure_tool: ";
