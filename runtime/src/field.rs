//! What a [`SecureInput`](crate::SecureInput) field may hold, and the checks that run on
//! it after deserialization.
//!
//! `#[derive(SecureInput)]` requires every field's type to implement [`InputField`], so an
//! input cannot hold a value nobody checks: a nested struct or enum must derive
//! `SecureInput` itself, and a type from another crate must be waived by name with
//! `#[secure(opaque = "why")]`, which the manifest reports.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

use crate::input::OptOut;
use crate::problem::Problem;
#[cfg(feature = "command")]
use crate::types::CommandLine;
#[cfg(feature = "path")]
use crate::types::SafePath;
#[cfg(feature = "url")]
use crate::types::SafeUrl;
#[cfg(feature = "sql")]
use crate::types::{ReadOnlySql, SqlDialect, SqlIdent};

/// Where a value sits in a tool's arguments: `files[2].name`. Built on the stack as the
/// checks descend and rendered only when a problem is recorded.
#[derive(Clone, Copy)]
pub struct FieldPath<'a> {
    parent: Option<&'a FieldPath<'a>>,
    segment: Segment,
}

#[derive(Clone, Copy)]
enum Segment {
    Root,
    Field(&'static str),
    Index(usize),
}

impl<'a> FieldPath<'a> {
    /// The arguments as a whole.
    pub const ROOT: FieldPath<'static> = FieldPath {
        parent: None,
        segment: Segment::Root,
    };

    /// The field `name` of the value at this path.
    pub fn field(&'a self, name: &'static str) -> FieldPath<'a> {
        FieldPath {
            parent: Some(self),
            segment: Segment::Field(name),
        }
    }

    /// Item `index` of the sequence at this path.
    pub fn index(&'a self, index: usize) -> FieldPath<'a> {
        FieldPath {
            parent: Some(self),
            segment: Segment::Index(index),
        }
    }

    /// Record that the value at this path breaks `rule`.
    pub fn problem(&self, rule: impl Into<Cow<'static, str>>, problems: &mut Vec<Problem>) {
        problems.push(Problem::new(self.to_string(), rule));
    }

    fn is_root(&self) -> bool {
        matches!(self.segment, Segment::Root)
    }
}

impl fmt::Display for FieldPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parent = self.parent.filter(|p| !p.is_root());
        if let Some(parent) = parent {
            fmt::Display::fmt(parent, f)?;
        }
        match self.segment {
            Segment::Root => Ok(()),
            Segment::Field(name) if parent.is_some() => write!(f, ".{name}"),
            Segment::Field(name) => f.write_str(name),
            Segment::Index(index) => write!(f, "[{index}]"),
        }
    }
}

impl fmt::Debug for FieldPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FieldPath({self})")
    }
}

/// A type a [`SecureInput`](crate::SecureInput) field may have.
///
/// Implemented for the types secure-tool knows how to check: numbers and `bool`; text
/// (scanned for hidden characters); the threat types of [`types`](crate::types) (checked
/// when deserialized); `Option`, `Box`, sequences, sets and maps of these; and every type
/// that derives `SecureInput` (validated in place, with the field path).
///
/// ```
/// use secure_tool::{FieldPath, InputField, Problem};
///
/// let mut problems = Vec::new();
/// let names = vec!["plain".to_owned(), "pay\u{200B}pal".to_owned()];
/// names.check_field(&FieldPath::ROOT.field("names"), true, &mut problems);
/// assert_eq!(problems, [Problem::new("names[1]", "contains invisible characters")]);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a checked input type",
    label = "secure-tool cannot check what this field holds",
    note = "derive `SecureInput` on `{Self}` (structs and enums), or, for a type from another crate that checks itself when deserialized, waive the field with `#[secure(opaque = \"why\")]`"
)]
pub trait InputField {
    /// Check the value at `path` after deserialization, recording problems (never the
    /// value). `scan_text` is false below a field waived with `hidden_text`.
    fn check_field(&self, path: &FieldPath<'_>, scan_text: bool, problems: &mut Vec<Problem>);

    /// Whether `check_field` runs the type's own `validator` rules, under the names serde
    /// reads (a struct deriving `SecureInput`, or a container of one). A parent's
    /// `#[validate(nested)]` problems inside such a type are then left to it: validator
    /// names fields as Rust does, and would report each problem a second time.
    #[doc(hidden)]
    const VALIDATES_ITSELF: bool = false;

    /// Append the waivers of the inputs this type holds (nested `SecureInput` types),
    /// skipping types already in `seen`.
    fn collect_opt_outs(out: &mut Vec<OptOut>, seen: &mut Vec<&'static str>) {
        let _ = (out, seen);
    }

    /// Append the text of every `#[secure(sensitive)]` field this value holds, so the
    /// pipeline can keep it out of every message and log.
    #[doc(hidden)]
    fn sensitive_values(&self, out: &mut Vec<String>) {
        let _ = out;
    }

    /// Whether this value, as an item of a collection, is longer than `max`: characters
    /// of text, items of a collection (or anything inside them). Other values are bounded
    /// by their type. For `#[secure(each(length(max = N)))]`.
    #[doc(hidden)]
    fn item_exceeds(&self, max: usize) -> bool {
        let _ = max;
        false
    }

    /// Whether any item of this collection (key or value of a map) is longer than `max`,
    /// as [`item_exceeds`](Self::item_exceeds) measures it.
    #[doc(hidden)]
    fn items_exceed(&self, max: usize) -> bool {
        let _ = max;
        false
    }
}

/// Characters of text over `max` (bytes bound characters from above: the fast path).
fn text_exceeds(text: &str, max: usize) -> bool {
    text.len() > max && text.chars().count() > max
}

fn scan(text: &str, path: &FieldPath<'_>, scan_text: bool, problems: &mut Vec<Problem>) {
    if scan_text && let Some(class) = crate::types::find_hidden(text) {
        path.problem(format!("contains {class}"), problems);
    }
}

impl InputField for str {
    fn check_field(&self, path: &FieldPath<'_>, scan_text: bool, problems: &mut Vec<Problem>) {
        scan(self, path, scan_text, problems);
    }

    fn item_exceeds(&self, max: usize) -> bool {
        text_exceeds(self, max)
    }
}

impl InputField for char {
    fn check_field(&self, path: &FieldPath<'_>, scan_text: bool, problems: &mut Vec<Problem>) {
        scan(self.encode_utf8(&mut [0; 4]), path, scan_text, problems);
    }
}

macro_rules! text {
    ($($ty:ty),*) => {$(
        impl InputField for $ty {
            fn check_field(&self, path: &FieldPath<'_>, scan_text: bool, problems: &mut Vec<Problem>) {
                scan(self, path, scan_text, problems);
            }

            fn item_exceeds(&self, max: usize) -> bool {
                text_exceeds(self, max)
            }
        }
    )*};
}
text!(String, Cow<'_, str>);

macro_rules! checked_by_type {
    ($($ty:ty),*) => {$(
        impl InputField for $ty {
            #[inline]
            fn check_field(&self, _: &FieldPath<'_>, _: bool, _: &mut Vec<Problem>) {}
        }
    )*};
}
checked_by_type!(
    (),
    bool,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    std::num::NonZeroU8,
    std::num::NonZeroU16,
    std::num::NonZeroU32,
    std::num::NonZeroU64,
    std::num::NonZeroUsize,
    std::num::NonZeroI32,
    std::num::NonZeroI64,
    std::net::IpAddr,
    std::net::Ipv4Addr,
    std::net::Ipv6Addr
);

// The threat types check themselves when deserialized; their per-field allowlists are
// checked by code the derive generates next to this call.
#[cfg(feature = "path")]
checked_by_type!(SafePath);
#[cfg(feature = "url")]
checked_by_type!(SafeUrl);
#[cfg(feature = "sql")]
checked_by_type!(SqlIdent);
#[cfg(feature = "command")]
checked_by_type!(CommandLine);

/// The query's syntax was checked when it was deserialized; its functions are checked
/// here, against its dialect's built-ins (a field with `sql(allow_functions = [..])` is
/// checked by `check_sql_field` instead).
#[cfg(feature = "sql")]
impl<D: SqlDialect> InputField for ReadOnlySql<D> {
    #[inline]
    fn check_field(&self, path: &FieldPath<'_>, _: bool, problems: &mut Vec<Problem>) {
        crate::types::sql::check_sql_field(self, path, &[], problems);
    }
}

macro_rules! forward {
    ($($ty:ident),*) => {$(
        impl<T: InputField + ?Sized> InputField for $ty<T> {
            const VALIDATES_ITSELF: bool = T::VALIDATES_ITSELF;

            fn check_field(&self, path: &FieldPath<'_>, scan_text: bool, problems: &mut Vec<Problem>) {
                (**self).check_field(path, scan_text, problems);
            }

            fn sensitive_values(&self, out: &mut Vec<String>) {
                (**self).sensitive_values(out);
            }

            fn collect_opt_outs(out: &mut Vec<OptOut>, seen: &mut Vec<&'static str>) {
                T::collect_opt_outs(out, seen);
            }

            fn item_exceeds(&self, max: usize) -> bool {
                (**self).item_exceeds(max)
            }

            fn items_exceed(&self, max: usize) -> bool {
                (**self).items_exceed(max)
            }
        }
    )*};
}
forward!(Box, Arc, Rc);

impl<T: InputField> InputField for Option<T> {
    const VALIDATES_ITSELF: bool = T::VALIDATES_ITSELF;

    fn check_field(&self, path: &FieldPath<'_>, scan_text: bool, problems: &mut Vec<Problem>) {
        if let Some(value) = self {
            value.check_field(path, scan_text, problems);
        }
    }

    fn sensitive_values(&self, out: &mut Vec<String>) {
        if let Some(value) = self {
            value.sensitive_values(out);
        }
    }

    fn item_exceeds(&self, max: usize) -> bool {
        self.as_ref().is_some_and(|value| value.item_exceeds(max))
    }

    fn items_exceed(&self, max: usize) -> bool {
        self.as_ref().is_some_and(|value| value.items_exceed(max))
    }

    fn collect_opt_outs(out: &mut Vec<OptOut>, seen: &mut Vec<&'static str>) {
        T::collect_opt_outs(out, seen);
    }
}

/// Items of a sequence, each at its index. One item with problems is enough for the model
/// to act on, and stopping there keeps a hostile million-item array cheap to refuse.
fn check_items<'v, T: InputField + 'v>(
    items: impl IntoIterator<Item = &'v T>,
    path: &FieldPath<'_>,
    scan_text: bool,
    problems: &mut Vec<Problem>,
) {
    let before = problems.len();
    for (index, item) in items.into_iter().enumerate() {
        item.check_field(&path.index(index), scan_text, problems);
        if problems.len() > before {
            return;
        }
    }
}

macro_rules! sequence {
    ($($ty:ident),*) => {$(
        impl<T: InputField> InputField for $ty<T> {
            const VALIDATES_ITSELF: bool = T::VALIDATES_ITSELF;

            fn check_field(&self, path: &FieldPath<'_>, scan_text: bool, problems: &mut Vec<Problem>) {
                check_items(self, path, scan_text, problems);
            }

            fn sensitive_values(&self, out: &mut Vec<String>) {
                self.iter().for_each(|item| item.sensitive_values(out));
            }

            fn collect_opt_outs(out: &mut Vec<OptOut>, seen: &mut Vec<&'static str>) {
                T::collect_opt_outs(out, seen);
            }

            fn item_exceeds(&self, max: usize) -> bool {
                self.len() > max || self.items_exceed(max)
            }

            fn items_exceed(&self, max: usize) -> bool {
                self.iter().any(|item| item.item_exceeds(max))
            }
        }
    )*};
}
sequence!(Vec, VecDeque, BTreeSet);

impl<T: InputField, const N: usize> InputField for [T; N] {
    const VALIDATES_ITSELF: bool = T::VALIDATES_ITSELF;

    fn check_field(&self, path: &FieldPath<'_>, scan_text: bool, problems: &mut Vec<Problem>) {
        check_items(self, path, scan_text, problems);
    }

    fn item_exceeds(&self, max: usize) -> bool {
        N > max || self.items_exceed(max)
    }

    fn items_exceed(&self, max: usize) -> bool {
        self.iter().any(|item| item.item_exceeds(max))
    }

    fn collect_opt_outs(out: &mut Vec<OptOut>, seen: &mut Vec<&'static str>) {
        T::collect_opt_outs(out, seen);
    }
}

impl<T: InputField, S> InputField for HashSet<T, S> {
    const VALIDATES_ITSELF: bool = T::VALIDATES_ITSELF;

    fn item_exceeds(&self, max: usize) -> bool {
        self.len() > max || self.items_exceed(max)
    }

    fn items_exceed(&self, max: usize) -> bool {
        self.iter().any(|item| item.item_exceeds(max))
    }

    fn check_field(&self, path: &FieldPath<'_>, scan_text: bool, problems: &mut Vec<Problem>) {
        // Set order is arbitrary, so an index would name nothing: report the field.
        let before = problems.len();
        for item in self {
            item.check_field(path, scan_text, problems);
            if problems.len() > before {
                return;
            }
        }
    }

    fn collect_opt_outs(out: &mut Vec<OptOut>, seen: &mut Vec<&'static str>) {
        T::collect_opt_outs(out, seen);
    }
}

/// Keys and values of a map, reported at the map's path: a key is the model's text, so
/// naming it would echo the value.
fn check_entries<'v, K: InputField + 'v, V: InputField + 'v>(
    entries: impl IntoIterator<Item = (&'v K, &'v V)>,
    path: &FieldPath<'_>,
    scan_text: bool,
    problems: &mut Vec<Problem>,
) {
    let before = problems.len();
    for (key, value) in entries {
        key.check_field(path, scan_text, problems);
        value.check_field(path, scan_text, problems);
        if problems.len() > before {
            return;
        }
    }
}

impl<K: InputField, V: InputField> InputField for BTreeMap<K, V> {
    const VALIDATES_ITSELF: bool = V::VALIDATES_ITSELF;

    fn item_exceeds(&self, max: usize) -> bool {
        self.len() > max || self.items_exceed(max)
    }

    fn items_exceed(&self, max: usize) -> bool {
        self.iter()
            .any(|(key, value)| key.item_exceeds(max) || value.item_exceeds(max))
    }

    fn check_field(&self, path: &FieldPath<'_>, scan_text: bool, problems: &mut Vec<Problem>) {
        check_entries(self, path, scan_text, problems);
    }

    fn collect_opt_outs(out: &mut Vec<OptOut>, seen: &mut Vec<&'static str>) {
        K::collect_opt_outs(out, seen);
        V::collect_opt_outs(out, seen);
    }
}

impl<K: InputField, V: InputField, S> InputField for HashMap<K, V, S> {
    const VALIDATES_ITSELF: bool = V::VALIDATES_ITSELF;

    fn item_exceeds(&self, max: usize) -> bool {
        self.len() > max || self.items_exceed(max)
    }

    fn items_exceed(&self, max: usize) -> bool {
        self.iter()
            .any(|(key, value)| key.item_exceeds(max) || value.item_exceeds(max))
    }

    fn check_field(&self, path: &FieldPath<'_>, scan_text: bool, problems: &mut Vec<Problem>) {
        check_entries(self, path, scan_text, problems);
    }

    fn collect_opt_outs(out: &mut Vec<OptOut>, seen: &mut Vec<&'static str>) {
        K::collect_opt_outs(out, seen);
        V::collect_opt_outs(out, seen);
    }
}

/// Untyped JSON (only with `#[secure(untyped = "why")]`): every string in it is scanned,
/// and problems are reported at the field (object keys are the model's text).
impl InputField for serde_json::Value {
    fn check_field(&self, path: &FieldPath<'_>, scan_text: bool, problems: &mut Vec<Problem>) {
        match self {
            serde_json::Value::String(text) => scan(text, path, scan_text, problems),
            serde_json::Value::Array(items) => check_items(items, path, scan_text, problems),
            serde_json::Value::Object(map) => map.check_field(path, scan_text, problems),
            _ => {}
        }
    }

    fn item_exceeds(&self, max: usize) -> bool {
        match self {
            serde_json::Value::String(text) => text_exceeds(text, max),
            serde_json::Value::Array(items) => items.item_exceeds(max),
            serde_json::Value::Object(map) => map.item_exceeds(max),
            _ => false,
        }
    }

    fn items_exceed(&self, max: usize) -> bool {
        match self {
            serde_json::Value::Array(items) => items.items_exceed(max),
            serde_json::Value::Object(map) => map.items_exceed(max),
            _ => false,
        }
    }
}

impl InputField for serde_json::Map<String, serde_json::Value> {
    fn check_field(&self, path: &FieldPath<'_>, scan_text: bool, problems: &mut Vec<Problem>) {
        check_entries(self, path, scan_text, problems);
    }

    fn item_exceeds(&self, max: usize) -> bool {
        self.len() > max || self.items_exceed(max)
    }

    fn items_exceed(&self, max: usize) -> bool {
        self.iter()
            .any(|(key, value)| text_exceeds(key, max) || value.item_exceeds(max))
    }
}

/// `#[secure(each(length(max = N)))]`: every item of the collection (key and value of a
/// map, and everything inside them) at most `max` characters or items long. Called by
/// generated code.
pub fn check_each_length<F: InputField + ?Sized>(
    value: &F,
    path: &FieldPath<'_>,
    max: usize,
    problems: &mut Vec<Problem>,
) {
    if value.items_exceed(max) {
        path.problem(
            format!("each item must be at most {max} characters (or items) long"),
            problems,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_render_as_the_model_wrote_them() {
        let root = FieldPath::ROOT;
        let files = root.field("files");
        let second = files.index(2);
        let name = second.field("name");
        assert_eq!(root.to_string(), "");
        assert_eq!(files.to_string(), "files");
        assert_eq!(name.to_string(), "files[2].name");
        assert_eq!(root.index(0).to_string(), "[0]");
    }

    #[test]
    fn a_waived_scan_finds_nothing_and_maps_never_name_their_keys() {
        let mut problems = Vec::new();
        let text = "a\u{202E}b".to_owned();
        text.check_field(&FieldPath::ROOT.field("t"), false, &mut problems);
        assert!(problems.is_empty());
        let map = BTreeMap::from([(text.clone(), 1u8)]);
        map.check_field(&FieldPath::ROOT.field("m"), true, &mut problems);
        assert_eq!(
            problems,
            [Problem::new(
                "m",
                "contains bidirectional override characters"
            )]
        );
    }
}
