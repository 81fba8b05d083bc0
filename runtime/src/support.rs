//! What generated code calls besides the pipeline: the derive's validation helpers, the
//! manifest's view of a tool's input type, and the traits whose bounds report a user's
//! mistake with a message that says what to do. Re-exported from `__private`; not API.

/// Problems found by the generated field checks.
pub type Problems = ::std::vec::Vec<crate::problem::Problem>;

/// The problems found, as the result of `validate_input`.
pub fn finish_validation(
    mut problems: Problems,
) -> ::core::result::Result<(), crate::problem::InputError> {
    if problems.is_empty() {
        return ::core::result::Result::Ok(());
    }
    problems.sort_by(|a, b| a.path().cmp(b.path()));
    ::core::result::Result::Err(crate::problem::InputError::new(problems))
}

/// Record validator's problems under `path`. validator names a field as Rust does;
/// `fields` gives, for each field whose serde name differs or whose type checks its own
/// rules, that name (`""` for a flattened field, whose own fields sit beside its
/// siblings) and whether its type validates itself: validator's `nested` problems inside
/// such a type are that type's to report (once, under serde's names), so every path is
/// one the model wrote.
pub fn validated_at(
    result: ::core::result::Result<(), crate::problem::InputError>,
    path: &crate::field::FieldPath<'_>,
    fields: &[(&str, &str, bool)],
    problems: &mut Problems,
) {
    let ::core::result::Result::Err(error) = result else {
        return;
    };
    for problem in error.into_problems() {
        let inner = problem.path();
        // The first segment is one of this struct's fields: `max_days`, `tags[2]`, `a.b`.
        let end = inner.find(['.', '[']).unwrap_or(inner.len());
        let (first, rest) = inner.split_at(end);
        let field = fields.iter().find(|(rust, ..)| *rust == first);
        if field.is_some_and(|(_, _, validates_itself)| *validates_itself) && !rest.is_empty() {
            continue;
        }
        let renamed = field.map_or(first, |(_, wire, _)| *wire);
        let rest = match (renamed, rest.strip_prefix('.')) {
            ("", Some(after)) => after,
            _ => rest,
        };
        let inner = ::std::format!("{renamed}{rest}");
        let at = match (path.to_string(), inner.as_str()) {
            (base, "") => base,
            (base, inner) if base.is_empty() => inner.to_owned(),
            (base, inner) => ::std::format!("{base}.{inner}"),
        };
        problems.push(crate::problem::Problem::new(at, problem.rule().to_owned()));
    }
}

/// The manifest's view of a tool's input type (autoref specialization: generated code
/// calls `(&OptOutsOf::<T>::NEW).collector()`, which reaches `T`'s waivers when `T` is
/// a tool input and does nothing otherwise, so a wrong input type is reported once, by
/// the pipeline's bound, not again by the manifest).
pub struct OptOutsOf<T>(::core::marker::PhantomData<T>);

impl<T> OptOutsOf<T> {
    /// The marker.
    pub const NEW: Self = Self(::core::marker::PhantomData);
}

/// Collects the waivers of a tool's input and of every input nested in it.
pub type CollectOptOuts =
    fn(&mut ::std::vec::Vec<crate::input::OptOut>, &mut ::std::vec::Vec<&'static str>);

/// Picked when `T` is a tool input.
pub trait ViaToolInput {
    /// `T`'s collector.
    fn collector(&self) -> CollectOptOuts;

    /// `T`'s `each(length(max))` bounds, for its input schema.
    fn item_bounds(&self) -> &'static [(&'static str, usize)];
}

impl<T: ObjectInput> ViaToolInput for OptOutsOf<T> {
    fn collector(&self) -> CollectOptOuts {
        <T as crate::field::InputField>::collect_opt_outs
    }

    fn item_bounds(&self) -> &'static [(&'static str, usize)] {
        <T as crate::input::SecureInput>::item_bounds()
    }
}

/// Picked otherwise (a compile error is reported elsewhere): nothing.
pub trait ViaNoInput {
    /// A collector that collects nothing.
    fn collector(&self) -> CollectOptOuts {
        |_, _| {}
    }

    /// No bounds.
    fn item_bounds(&self) -> &'static [(&'static str, usize)] {
        &[]
    }
}

impl<T> ViaNoInput for &OptOutsOf<T> {}

/// Add the waivers of `T` and of the inputs it holds, once per type.
pub fn collect_own_opt_outs<T: crate::input::SecureInput>(
    out: &mut ::std::vec::Vec<crate::input::OptOut>,
    seen: &mut ::std::vec::Vec<&'static str>,
) -> bool {
    let name = ::core::any::type_name::<T>();
    if seen.contains(&name) {
        return false;
    }
    seen.push(name);
    out.extend_from_slice(T::opt_outs());
    true
}

/// A `SecureInput` struct with named fields: the only input shape whose JSON Schema is
/// an object, as MCP requires of a tool's `inputSchema`. The derive implements it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a secured tool input",
    label = "`{Self}` is not a struct with named fields that derives `SecureInput`",
    note = "add `#[derive(SecureInput)]` to `{Self}` (with `serde::Deserialize`, `schemars::JsonSchema` and `validator::Validate`); a tool's arguments are a JSON object, so an enum or a tuple struct goes in a field of such a struct"
)]
pub trait ObjectInput: crate::input::SecureInput {}

/// `Self: validator::Validate`, with a message that says what to derive.
#[diagnostic::on_unimplemented(
    message = "`{Self}` derives `SecureInput` but not `validator::Validate`",
    label = "`{Self}` needs `#[derive(validator::Validate)]`",
    note = "`SecureInput` runs the `#[validate(...)]` rules through `validator::Validate`: add it to the derive list"
)]
pub trait HasValidate {
    /// Run `validator::Validate::validate`, as an `InputError`.
    fn run_validate(&self) -> ::core::result::Result<(), crate::problem::InputError>;
}

impl<T: ::validator::Validate> HasValidate for T {
    fn run_validate(&self) -> ::core::result::Result<(), crate::problem::InputError> {
        ::validator::Validate::validate(self).map_err(crate::problem::InputError::from)
    }
}

/// A `#[secure(audit)]` field's value for the audit trail: as JSON, each string cut to
/// [`AUDIT_VALUE_CHARS`](crate::AUDIT_VALUE_CHARS) characters (marked with `…`), and
/// scrubbed of credentials. A value that cannot be serialized is recorded as `null`.
pub fn audit_value<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Value {
    fn cut(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(text) => {
                let clean = crate::scrub::scrub_secrets(text).into_owned();
                *text = match clean.char_indices().nth(crate::audit::AUDIT_VALUE_CHARS) {
                    Some((end, _)) => format!("{}…", &clean[..end]),
                    None => clean,
                };
            }
            serde_json::Value::Array(items) => {
                items.truncate(crate::audit::AUDIT_VALUE_CHARS);
                items.iter_mut().for_each(cut);
            }
            serde_json::Value::Object(map) => map.values_mut().for_each(cut),
            _ => {}
        }
    }
    let mut json = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
    cut(&mut json);
    json
}

/// Append the text a `#[secure(sensitive)]` field holds: every string in it, and every
/// number of four digits or more (a PIN, an account number), as the value would appear
/// in a message.
pub fn sensitive_strings<T: serde::Serialize + ?Sized>(value: &T, out: &mut Vec<String>) {
    fn walk(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::String(text) if !text.is_empty() => out.push(text.clone()),
            serde_json::Value::Number(n) if n.to_string().len() >= 4 => out.push(n.to_string()),
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            serde_json::Value::Object(map) => map.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    if let Ok(json) = serde_json::to_value(value) {
        walk(&json, out);
    }
}
