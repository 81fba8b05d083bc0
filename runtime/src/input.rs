//! Tool inputs: the [`SecureInput`] trait, the waivers it lists, and deserialization
//! with value-free errors. The errors are in `problem.rs`, the translation of serde's and
//! validator's messages in `messages.rs`, the raw-argument limits in `raw.rs`.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::messages::describe_serde;
use crate::problem::InputError;

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
    crate::field::InputField + DeserializeOwned + schemars::JsonSchema + 'static
{
    /// Run every validation rule; each failure names the field path and the rule, never
    /// the value. The derive's checks live in its [`InputField`](crate::InputField) impl,
    /// which runs here from the root of the arguments.
    fn validate_input(&self) -> Result<(), InputError> {
        let mut problems = Vec::new();
        self.check_field(&crate::field::FieldPath::ROOT, true, &mut problems);
        crate::support::finish_validation(problems)
    }

    /// Fields whose compile-time audit was waived, and the reason written for each.
    fn opt_outs() -> &'static [OptOut] {
        &[]
    }

    /// Append the name and (truncated) value of every `#[secure(audit)]` field, for the
    /// audit trail.
    #[doc(hidden)]
    fn audit_values(&self, out: &mut Vec<(&'static str, Value)>) {
        let _ = out;
    }

    /// The `#[secure(each(length(max = N)))]` bounds of this type's own fields, by the
    /// name serde reads, so its input schema shows them.
    #[doc(hidden)]
    fn item_bounds() -> &'static [(&'static str, usize)] {
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

/// Deserialize a tool's arguments, turning serde's messages (which quote the offending
/// input) into value-free ones with the field path.
pub fn deserialize<T: DeserializeOwned>(
    arguments: serde_json::Map<String, Value>,
) -> Result<T, InputError> {
    crate::de::from_value(Value::Object(arguments))
        .map_err(|error| InputError::single(error.path(), describe_serde(error.message())))
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
}
