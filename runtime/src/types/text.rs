//! The hidden-content guard: characters a person reviewing a prompt does not see, which
//! carry prompt injections (zero-width and tag characters, bidi overrides, controls).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use crate::Problem;

/// What kind of hidden character `c` is, if it is one. Newline and tab are ordinary text.
pub fn hidden_class(c: char) -> Option<&'static str> {
    match c {
        '\n' | '\t' => None,
        c if c.is_control() => Some("control characters"),
        '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}'
        | '\u{200E}'
        | '\u{200F}'
        | '\u{061C}' => Some("bidirectional override characters"),
        '\u{200B}'..='\u{200D}'
        | '\u{2060}'..='\u{2064}'
        | '\u{FEFF}'
        | '\u{180E}'
        | '\u{00AD}'
        | '\u{034F}'
        | '\u{115F}'
        | '\u{1160}'
        | '\u{3164}'
        | '\u{FFA0}' => Some("invisible characters"),
        '\u{E0000}'..='\u{E007F}' => Some("Unicode tag characters"),
        '\u{E0100}'..='\u{E01EF}' => Some("invisible variation selectors"),
        _ => None,
    }
}

/// The first kind of hidden character in `text`, if any.
///
/// ```
/// use secure_tool::types::find_hidden;
/// assert_eq!(find_hidden("plain text\nwith a newline"), None);
/// assert_eq!(find_hidden("pay\u{200B}pal"), Some("invisible characters"));
/// assert_eq!(find_hidden("abc\u{202E}fed"), Some("bidirectional override characters"));
/// ```
pub fn find_hidden(text: &str) -> Option<&'static str> {
    if text.is_ascii() {
        // The common case: only ASCII controls can hide here.
        return text
            .bytes()
            .any(|b| (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7f)
            .then_some("control characters");
    }
    text.chars().find_map(hidden_class)
}

/// Text a `SecureInput` field may hold; scanned for hidden characters by generated code.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be scanned for hidden characters",
    note = "use `String`, `Option<String>`, `Vec<String>` or a map of strings, or add `#[secure(hidden_text = \"why\")]` to the field"
)]
pub trait ScanText {
    /// Record a problem for `field` if the text hides characters.
    fn scan_text(&self, field: &'static str, problems: &mut Vec<Problem>);
}

fn scan_str(text: &str, field: &'static str, problems: &mut Vec<Problem>) {
    if let Some(class) = find_hidden(text) {
        problems.push(Problem::new(field, format!("contains {class}")));
    }
}

impl ScanText for str {
    fn scan_text(&self, field: &'static str, problems: &mut Vec<Problem>) {
        scan_str(self, field, problems);
    }
}

impl ScanText for char {
    fn scan_text(&self, field: &'static str, problems: &mut Vec<Problem>) {
        let mut buf = [0u8; 4];
        scan_str(self.encode_utf8(&mut buf), field, problems);
    }
}

macro_rules! deref_text {
    ($($ty:ty),*) => {$(
        impl ScanText for $ty {
            fn scan_text(&self, field: &'static str, problems: &mut Vec<Problem>) {
                scan_str(self, field, problems);
            }
        }
    )*};
}
deref_text!(String, Box<str>, Arc<str>, std::rc::Rc<str>, Cow<'_, str>);

macro_rules! no_text {
    ($($ty:ty),*) => {$(
        impl ScanText for $ty {
            fn scan_text(&self, _: &'static str, _: &mut Vec<Problem>) {}
        }
    )*};
}
no_text!(
    bool, u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64
);

impl<T: ScanText + ?Sized> ScanText for &T {
    fn scan_text(&self, field: &'static str, problems: &mut Vec<Problem>) {
        (**self).scan_text(field, problems);
    }
}

impl<T: ScanText> ScanText for Option<T> {
    fn scan_text(&self, field: &'static str, problems: &mut Vec<Problem>) {
        if let Some(value) = self {
            value.scan_text(field, problems);
        }
    }
}

macro_rules! seq_text {
    ($($ty:ident),*) => {$(
        impl<T: ScanText> ScanText for $ty<T> {
            fn scan_text(&self, field: &'static str, problems: &mut Vec<Problem>) {
                // One problem per field is enough for the model to act on.
                let before = problems.len();
                for item in self {
                    item.scan_text(field, problems);
                    if problems.len() > before {
                        return;
                    }
                }
            }
        }
    )*};
}
seq_text!(Vec, VecDeque, BTreeSet);

impl<T: ScanText, S> ScanText for HashSet<T, S> {
    fn scan_text(&self, field: &'static str, problems: &mut Vec<Problem>) {
        let before = problems.len();
        for item in self {
            item.scan_text(field, problems);
            if problems.len() > before {
                return;
            }
        }
    }
}

impl<K: ScanText, V: ScanText> ScanText for BTreeMap<K, V> {
    fn scan_text(&self, field: &'static str, problems: &mut Vec<Problem>) {
        let before = problems.len();
        for (key, value) in self {
            key.scan_text(field, problems);
            value.scan_text(field, problems);
            if problems.len() > before {
                return;
            }
        }
    }
}

impl<K: ScanText, V: ScanText, S> ScanText for HashMap<K, V, S> {
    fn scan_text(&self, field: &'static str, problems: &mut Vec<Problem>) {
        let before = problems.len();
        for (key, value) in self {
            key.scan_text(field, problems);
            value.scan_text(field, problems);
            if problems.len() > before {
                return;
            }
        }
    }
}
