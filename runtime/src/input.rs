//! Tool inputs: the [`SecureInput`] trait, value-free validation and deserialization
//! errors, and the raw-argument limits checked before anything is deserialized.

use std::borrow::Cow;
use std::fmt;
use std::fmt::Write as _;

use serde::de::DeserializeOwned;
use serde_json::Value;

/// A tool input whose every field was audited at compile time and is validated at run time.
///
/// Implement it with `#[derive(SecureInput)]` (next to `serde::Deserialize`,
/// `schemars::JsonSchema` and `validator::Validate`), never by hand: the derive refuses
/// unbounded strings and collections, untyped JSON and unknown fields, and its
/// [`validate_input`](SecureInput::validate_input) runs the `#[validate(...)]` rules.
///
/// ```
/// use secure_tool::SecureInput;
///
/// #[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
/// #[serde(deny_unknown_fields)]
/// struct Search {
///     #[validate(length(min = 1, max = 200))]
///     words: String,
///     #[validate(range(min = 1, max = 50))]
///     limit: u8,
/// }
///
/// let ok = Search { words: "rust".into(), limit: 10 };
/// assert!(ok.validate_input().is_ok());
/// let bad = Search { words: "\u{200B}".into(), limit: 0 };
/// let err = bad.validate_input().unwrap_err();
/// // Every failure at once: the hidden zero-width space, and the range.
/// assert_eq!(err.to_string(), "invalid arguments: `limit`: range (max 50, min 1); `words`: contains invisible characters");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a secured tool input",
    label = "`{Self}` does not implement `SecureInput`",
    note = "add `#[derive(SecureInput)]` to `{Self}` (with `serde::Deserialize`, `schemars::JsonSchema` and `validator::Validate`)"
)]
pub trait SecureInput:
    crate::InputField + DeserializeOwned + schemars::JsonSchema + 'static
{
    /// Run every validation rule; each failure names the field path and the rule, never
    /// the value. The derive's checks live in its [`InputField`](crate::InputField) impl,
    /// which runs here from the root of the arguments.
    fn validate_input(&self) -> Result<(), InputError> {
        let mut problems = Vec::new();
        self.check_field(&crate::FieldPath::ROOT, true, &mut problems);
        crate::support::finish_validation(problems)
    }

    /// Fields whose compile-time audit was waived, and the reason written for each.
    fn opt_outs() -> &'static [OptOut] {
        &[]
    }
}

/// A waived compile-time rule on one field, with the reason its author wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct OptOut {
    /// The field (`Type.field`).
    pub field: &'static str,
    /// The rule waived (`unbounded`, `untyped`...).
    pub rule: &'static str,
    /// Why the author accepted the risk.
    pub reason: &'static str,
}

/// One thing wrong with a tool's arguments: where, and which rule. Never the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    path: String,
    rule: Cow<'static, str>,
}

impl Problem {
    /// A problem at `path` (`field.sub[2]`, empty for the arguments as a whole).
    pub fn new(path: impl Into<String>, rule: impl Into<Cow<'static, str>>) -> Self {
        Self {
            path: path.into(),
            rule: rule.into(),
        }
    }

    /// Where in the arguments (`field.sub[2]`; empty for the whole object).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What rule failed, in words.
    pub fn rule(&self) -> &str {
        &self.rule
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.rule)
        } else {
            write!(f, "`{}`: {}", self.path, self.rule)
        }
    }
}

/// Everything wrong with one call's arguments.
///
/// Its `Display` is what the model reads: `invalid arguments: `limit`: range (min 1, max
/// 50); `query_text`: length (min 1, max 200)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    problems: Vec<Problem>,
}

impl InputError {
    /// An error with these problems.
    pub fn new(problems: Vec<Problem>) -> Self {
        Self { problems }
    }

    /// One problem.
    pub fn single(path: impl Into<String>, rule: impl Into<Cow<'static, str>>) -> Self {
        Self::new(vec![Problem::new(path, rule)])
    }

    /// The problems, sorted by path.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// The problems, owned.
    pub fn into_problems(self) -> Vec<Problem> {
        self.problems
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid arguments: ")?;
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            fmt::Display::fmt(problem, f)?;
        }
        Ok(())
    }
}

impl std::error::Error for InputError {}

impl From<validator::ValidationErrors> for InputError {
    fn from(errors: validator::ValidationErrors) -> Self {
        let mut problems = Vec::new();
        collect_validation(&errors, &mut String::new(), &mut problems);
        problems.sort_by(|a, b| a.path.cmp(&b.path));
        Self { problems }
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
        let _ = write!(text, ": {}", crate::scrub_public(message));
    }
    text
}

/// Deserialize a tool's arguments, turning serde's messages (which quote the offending
/// input) into value-free ones with the field path.
pub fn deserialize<T: DeserializeOwned>(
    arguments: serde_json::Map<String, Value>,
) -> Result<T, InputError> {
    crate::de::from_value(Value::Object(arguments))
        .map_err(|error| InputError::single(error.path(), describe_serde(error.message())))
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

/// Bounds on a call's raw arguments, checked before deserialization: a payload that is
/// too big or too deep is refused before any user type sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawLimits {
    /// Total size, approximately the length of the JSON text (default 256 KiB).
    pub max_bytes: usize,
    /// Nesting depth of arrays and objects (default 32).
    pub max_depth: usize,
    /// Length in bytes of any one string or object key (default 64 KiB).
    pub max_string: usize,
    /// Items in any one array or entries in any one object (default 10,000).
    pub max_items: usize,
}

impl Default for RawLimits {
    fn default() -> Self {
        Self {
            max_bytes: 256 * 1024,
            max_depth: 32,
            max_string: 64 * 1024,
            max_items: 10_000,
        }
    }
}

impl RawLimits {
    /// Check `arguments` against these limits. Stops at the first breach.
    pub fn check(&self, arguments: &serde_json::Map<String, Value>) -> Result<(), InputError> {
        let mut budget = self.max_bytes;
        self.check_object(arguments, 1, &mut budget)
    }

    fn spend(&self, budget: &mut usize, bytes: usize) -> Result<(), InputError> {
        *budget = budget.checked_sub(bytes).ok_or_else(|| {
            InputError::single(
                "",
                format!("arguments too large (limit {} bytes)", self.max_bytes),
            )
        })?;
        Ok(())
    }

    fn check_string(&self, s: &str, budget: &mut usize) -> Result<(), InputError> {
        if s.len() > self.max_string {
            return Err(InputError::single(
                "",
                format!("a string is too long (limit {} bytes)", self.max_string),
            ));
        }
        self.spend(budget, s.len() + 2)
    }

    fn check_object(
        &self,
        map: &serde_json::Map<String, Value>,
        depth: usize,
        budget: &mut usize,
    ) -> Result<(), InputError> {
        self.check_container(map.len(), depth, budget)?;
        for (key, value) in map {
            self.check_string(key, budget)?;
            self.check_value(value, depth, budget)?;
        }
        Ok(())
    }

    fn check_container(
        &self,
        len: usize,
        depth: usize,
        budget: &mut usize,
    ) -> Result<(), InputError> {
        if depth > self.max_depth {
            return Err(InputError::single(
                "",
                format!("arguments nested too deeply (limit {})", self.max_depth),
            ));
        }
        if len > self.max_items {
            return Err(InputError::single(
                "",
                format!(
                    "an array or object has too many items (limit {})",
                    self.max_items
                ),
            ));
        }
        self.spend(budget, 2 + len)
    }

    fn check_value(
        &self,
        value: &Value,
        depth: usize,
        budget: &mut usize,
    ) -> Result<(), InputError> {
        match value {
            Value::Null | Value::Bool(_) => self.spend(budget, 5),
            Value::Number(_) => self.spend(budget, 8),
            Value::String(s) => self.check_string(s, budget),
            Value::Array(items) => {
                self.check_container(items.len(), depth + 1, budget)?;
                items
                    .iter()
                    .try_for_each(|item| self.check_value(item, depth + 1, budget))
            }
            Value::Object(map) => self.check_object(map, depth + 1, budget),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Args {
        name: String,
        count: u32,
        tags: Option<Vec<u8>>,
    }

    fn obj(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn serde_errors_never_echo_the_input() {
        let secret = "sk-live-SECRETVALUE";
        let cases = [
            json!({"name": secret, "count": secret}),
            json!({"name": "a", "count": 1, secret: 1}),
            json!({"name": "a", "count": 1, "tags": [1, secret]}),
            json!({"name": 1, "count": 1}),
            json!({"count": -1, "name": secret}),
        ];
        for case in cases {
            let err = deserialize::<Args>(obj(case.clone()))
                .unwrap_err()
                .to_string();
            assert!(!err.contains("SECRET"), "{case} -> {err}");
            assert!(err.starts_with("invalid arguments: "), "{err}");
        }
        let err = deserialize::<Args>(obj(json!({"name": "x", "count": "7"}))).unwrap_err();
        assert_eq!(err.problems()[0].path(), "count");
        assert_eq!(err.problems()[0].rule(), "wrong type: expected u32");
        let err = deserialize::<Args>(obj(json!({"name": "x"}))).unwrap_err();
        assert_eq!(err.problems()[0].rule(), "missing required field `count`");
        let err = deserialize::<Args>(obj(json!({"name": "x", "count": 1, "tags": [1, "x"]})))
            .unwrap_err();
        assert_eq!(err.problems()[0].path(), "tags[1]");
    }

    #[test]
    fn raw_limits_refuse_deep_wide_and_long_payloads() {
        let limits = RawLimits::default();
        let mut deep = json!(1);
        for _ in 0..40 {
            deep = json!([deep]);
        }
        assert!(limits.check(&obj(json!({ "a": deep }))).is_err());
        let long = "x".repeat(70 * 1024);
        assert!(limits.check(&obj(json!({ "a": long }))).is_err());
        let wide: Vec<u8> = vec![0; 20_000];
        assert!(limits.check(&obj(json!({ "a": wide }))).is_err());
        let many: Vec<String> = (0..5000).map(|_| "y".repeat(60)).collect();
        let err = limits.check(&obj(json!({ "a": many }))).unwrap_err();
        assert!(err.to_string().contains("too large"));
        assert!(limits.check(&obj(json!({"a": [1, 2, {"b": "c"}]}))).is_ok());
    }
}
