//! The hidden-content guard: characters a person reviewing a prompt does not see, which
//! carry prompt injections (zero-width and tag characters, bidi overrides, controls).

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
