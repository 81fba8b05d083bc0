//! The hidden-content guard: characters a person reviewing a prompt does not see, which
//! carry prompt injections.
//!
//! Classification is by Unicode properties from ICU4X (`icu_properties`, a maintained
//! copy of the Unicode Character Database), not by hand-kept ranges: a character is
//! *hidden* when it is `Default_Ignorable_Code_Point`, or of general category `Cc`
//! (control), `Cf` (format), `Zl` or `Zp` (line and paragraph separators), or a
//! noncharacter, or the braille blank. Some of these are what real text needs, and each
//! of those is allowed by its context, never by an exception list:
//!
//! | character | allowed where |
//! |---|---|
//! | `\t`, `\n` | anywhere |
//! | `\r` | before `\n` (CRLF line endings) |
//! | ZWJ U+200D | after a virama (RFC 5892 CONTEXTJ: Devanagari, Malayalam chillu, Sinhala conjuncts...); between a letter and a virama of its script (Bengali ya-phala `র‍্য`, Marathi eyelash ra); between two emoji of an emoji ZWJ sequence (UTS #51) |
//! | ZWNJ U+200C | after a virama; between a left- or dual-joining and a right- or dual-joining letter, transparent marks between (RFC 5892 CONTEXTJ: Persian, Urdu...) |
//! | variation selectors U+FE00–FE0F (including text and emoji presentation) and the Mongolian free variation selectors U+180B–180D | once, after a base Unicode defines the sequence for: StandardizedVariants.txt (math symbols `≩︀`, digit zero, CJK compatibility ideographs, Myanmar, Phags-pa, Manichaean, Egyptian hieroglyphs, Mongolian) and emoji-variation-sequences.txt (`❤️`, `#️⃣`, `☺︎`), taken from the files themselves ([`variants`](super::variants)) |
//! | U+E0100–E01EF (ideographic variation selectors) | once, where the Ideographic Variation Database registers the sequence (every collection: Adobe-Japan1, Hanyo-Denshi, Moji_Joho, MSARG, KRName): `葛󠄁` |
//! | Mongolian free variation selector four U+180F | once, after a Mongolian letter (the Unicode 15.0 data lists no sequence for it yet) |
//! | tag characters U+E0020–E007F | inside an emoji tag sequence (UTS #51): 🏴, a valid subdivision code (one of ISO 3166-2's, as CLDR spells them: `gbsct`, `ustx`), the cancel tag |
//! | braille blank U+2800 | next to a braille pattern (a space in braille text) |
//! | prepended concatenation marks (U+0600–0605, U+06DD...) | anywhere: `Cf`, but visible |
//!
//! A run of selectors is refused (a selector after a selector has no base), so the
//! one-selector-per-half-byte channel is closed. Private-use characters are allowed (a
//! renderer shows a glyph or a box, never nothing); noncharacters are refused (never
//! meant for interchange); unassigned code points are allowed unless Unicode reserves
//! them as default-ignorable.

use icu_properties::props::{
    BidiControl, CanonicalCombiningClass, DefaultIgnorableCodePoint, ExtendedPictographic,
    GeneralCategory, JoiningType, PrependedConcatenationMark, Script,
};
use icu_properties::{CodePointMapData, CodePointSetData};

use super::variants::{IDEOGRAPHIC, STANDARDIZED};

const ZWNJ: char = '\u{200C}';
const ZWJ: char = '\u{200D}';
const BRAILLE_BLANK: char = '\u{2800}';
const BLACK_FLAG: char = '\u{1F3F4}';
const CANCEL_TAG: char = '\u{E007F}';

/// What kind of hidden character `c` is, wherever it stands, if it is one: the
/// context-free classification. [`find_hidden`] applies the context rules on top (a ZWJ
/// inside an emoji sequence, a CRLF line ending...); this function refuses them all, as
/// fits a URL or an identifier. Newline and tab are ordinary text.
///
/// ```
/// use secure_tool::types::hidden_class;
/// assert_eq!(hidden_class('a'), None);
/// assert_eq!(hidden_class('\u{2028}'), Some("line or paragraph separators"));
/// assert_eq!(hidden_class('\u{E0041}'), Some("Unicode tag characters"));
/// ```
pub fn hidden_class(c: char) -> Option<&'static str> {
    if c.is_ascii() {
        return (c.is_ascii_control() && c != '\n' && c != '\t').then_some("control characters");
    }
    let category = CodePointMapData::<GeneralCategory>::new().get(c);
    let ignorable = CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c);
    let class = match category {
        GeneralCategory::Control => "control characters",
        GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator => {
            "line or paragraph separators"
        }
        _ if CodePointSetData::new::<BidiControl>().contains(c) => {
            "bidirectional override characters"
        }
        _ if ('\u{E0000}'..='\u{E007F}').contains(&c) => "Unicode tag characters",
        _ if is_variation_selector(c) => "invisible variation selectors",
        GeneralCategory::Format
            if !CodePointSetData::new::<PrependedConcatenationMark>().contains(c) =>
        {
            "invisible characters"
        }
        _ if ignorable || c == BRAILLE_BLANK => "invisible characters",
        _ if is_noncharacter(c) => "noncharacters",
        _ => return None,
    };
    Some(class)
}

/// The first kind of hidden character in `text`, if any, with the context rules of the
/// module documentation: ordinary text in every script (Persian ZWNJ, Devanagari and
/// Sinhala conjuncts, emoji ZWJ sequences and flags, CRLF) passes, the invisible carriers
/// do not.
///
/// ```
/// use secure_tool::types::find_hidden;
/// assert_eq!(find_hidden("plain text\r\nwith a CRLF"), None);
/// assert_eq!(find_hidden("می‌خواهم"), None); // Persian, ZWNJ between joining letters
/// assert_eq!(find_hidden("👨‍👩‍👧"), None); // an emoji ZWJ sequence
/// assert_eq!(find_hidden("pay\u{200B}pal"), Some("invisible characters"));
/// assert_eq!(find_hidden("a\u{200D}b"), Some("invisible characters"));
/// assert_eq!(find_hidden("abc\u{202E}fed"), Some("bidirectional override characters"));
/// assert_eq!(find_hidden("hi\u{FE01}\u{FE0A}"), Some("invisible variation selectors"));
/// ```
pub fn find_hidden(text: &str) -> Option<&'static str> {
    // Printable ASCII hides nothing: the common case.
    if printable_ascii(text.as_bytes()) {
        return None;
    }
    if text.is_ascii() {
        // The common case: only ASCII controls can hide here.
        let bytes = text.as_bytes();
        return bytes
            .iter()
            .enumerate()
            .any(|(i, &b)| match b {
                b'\n' | b'\t' => false,
                b'\r' => bytes.get(i + 1) != Some(&b'\n'),
                _ => b < 0x20 || b == 0x7f,
            })
            .then_some("control characters");
    }
    text.char_indices().find_map(|(at, c)| {
        let class = hidden_class(c)?;
        (!allowed_here(text, at, c)).then_some(class)
    })
}

/// Whether every byte is printable ASCII (U+0020 to U+007E): eight bytes at a time, as
/// one word (no branch per byte), then the rest.
fn printable_ascii(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // Whether any byte of `w` (all below 0x80) is below `n` (at most 0x80): exact as a
    // yes or no, the classic test for a zero byte generalised.
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH != 0;
    let (words, rest) = bytes.as_chunks::<8>();
    words.iter().all(|word| {
        let w = u64::from_ne_bytes(*word);
        // No byte from 0x80 up, none below 0x20, and no DEL (0x7F, which is 0 after
        // the XOR).
        w & HIGH == 0 && !below(w, 0x20) && !below(w ^ (ONES * 0x7f), 1)
    }) && rest.iter().all(|&b| b.wrapping_sub(0x20) < 0x5f)
}

/// Whether the hidden character `c` at byte `at` of `text` is one that real text needs
/// right there.
fn allowed_here(text: &str, at: usize, c: char) -> bool {
    let before = text[..at].chars().next_back();
    let after = text[at + c.len_utf8()..].chars().next();
    match c {
        '\r' => after == Some('\n'),
        ZWJ => {
            after_virama(before)
                || before_virama(before, after)
                || in_emoji_zwj_sequence(&text[..at], after)
        }
        ZWNJ => after_virama(before) || between_joining_letters(&text[..at], &text[at + 3..]),
        '\u{FE00}'..='\u{FE0F}' | '\u{180B}'..='\u{180D}' => {
            before.is_some_and(|b| standardized_variant(b, c))
        }
        '\u{E0100}'..='\u{E01EF}' => before.is_some_and(|b| ideographic_variant(b, c)),
        '\u{180F}' => before.is_some_and(|b| {
            CodePointMapData::<Script>::new().get(b) == Script::Mongolian && b.is_alphabetic()
        }),
        '\u{E0020}'..='\u{E007F}' => in_emoji_tag_sequence(text, at),
        BRAILLE_BLANK => [before, after]
            .into_iter()
            .flatten()
            .any(|n| ('\u{2801}'..='\u{28FF}').contains(&n)),
        _ => false,
    }
}

fn is_variation_selector(c: char) -> bool {
    matches!(c, '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}' | '\u{180B}'..='\u{180D}' | '\u{180F}')
}

/// Unicode's noncharacters: U+FDD0–FDEF and the last two code points of every plane.
fn is_noncharacter(c: char) -> bool {
    let c = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&c) || c & 0xFFFE == 0xFFFE
}

/// A ZWJ between RA and the virama that follows it, in its script: Bengali's (and
/// Assamese's) ya-phala, `র‍্য` (RA, ZWJ, VIRAMA, YA: the RA stays whole instead of
/// becoming a reph), and Devanagari's eyelash RA, as the scripts' chapters of the Unicode
/// Standard describe them. Any other letter before a ZWJ and a virama is refused.
fn before_virama(before: Option<char>, after: Option<char>) -> bool {
    let (Some(ra @ ('\u{09B0}' | '\u{09F0}' | '\u{0930}')), Some(virama)) = (before, after) else {
        return false;
    };
    let scripts = CodePointMapData::<Script>::new();
    after_virama(after) && scripts.get(ra) == scripts.get(virama)
}

fn after_virama(before: Option<char>) -> bool {
    before.is_some_and(|b| {
        CodePointMapData::<CanonicalCombiningClass>::new().get(b) == CanonicalCombiningClass::Virama
    })
}

/// UTS #51: `emoji_zwj_element (ZWJ emoji_zwj_element)+`. The element before may carry an
/// emoji presentation selector or a skin-tone modifier; the element after must be a
/// pictograph.
fn in_emoji_zwj_sequence(before: &str, after: Option<char>) -> bool {
    let pictograph = |c: char| CodePointSetData::new::<ExtendedPictographic>().contains(c);
    let mut back = before.chars().rev();
    let mut element = back.next();
    if element == Some('\u{FE0F}') {
        element = back.next();
    }
    if element.is_some_and(|c| ('\u{1F3FB}'..='\u{1F3FF}').contains(&c)) {
        element = back.next();
    }
    element.is_some_and(pictograph) && after.is_some_and(pictograph)
}

/// RFC 5892 CONTEXTJ for ZWNJ: `(Joining_Type:{L,D})(Joining_Type:T)* ZWNJ
/// (Joining_Type:T)*(Joining_Type:{R,D})`.
fn between_joining_letters(before: &str, after: &str) -> bool {
    let left = first_non_transparent(before.chars().rev());
    let right = first_non_transparent(after.chars());
    matches!(
        left,
        Some(JoiningType::LeftJoining | JoiningType::DualJoining)
    ) && matches!(
        right,
        Some(JoiningType::RightJoining | JoiningType::DualJoining)
    )
}

fn first_non_transparent(chars: impl Iterator<Item = char>) -> Option<JoiningType> {
    chars
        .map(|c| CodePointMapData::<JoiningType>::new().get(c))
        .find(|&joining| joining != JoiningType::Transparent)
}

/// Whether `base` followed by `selector` (U+FE00–FE0F or U+180B–180D) is one of
/// Unicode's standardized or emoji variation sequences.
fn standardized_variant(base: char, selector: char) -> bool {
    let bit = match u32::from(selector) {
        s @ 0xFE00..=0xFE0F => s - 0xFE00,
        s @ 0x180B..=0x180D => 16 + s - 0x180B,
        _ => return false,
    };
    STANDARDIZED
        .binary_search_by_key(&u32::from(base), |&(b, _)| b)
        .is_ok_and(|i| STANDARDIZED[i].1 & (1 << bit) != 0)
}

/// Whether `base` followed by `selector` (U+E0100–E01EF) is registered in the IVD.
fn ideographic_variant(base: char, selector: char) -> bool {
    let index = u32::from(selector) - 0xE0100;
    let base = u32::from(base);
    // Entries are `base << 5 | (count - 1)`: the first entry at or after `base << 5`.
    let at = IDEOGRAPHIC.partition_point(|&e| e < base << 5);
    IDEOGRAPHIC
        .get(at)
        .is_some_and(|&e| e >> 5 == base && index <= e & 31)
}

/// UTS #51 emoji tag sequence: U+1F3F4, a valid subdivision code as tag characters
/// (`gbeng`, `gbsct`, `ustx`: [`SUBDIVISIONS`](super::subdivisions::SUBDIVISIONS)), then
/// the cancel tag. Anything else in the tag block carries hidden ASCII.
fn in_emoji_tag_sequence(text: &str, at: usize) -> bool {
    const LONGEST_SPEC: usize = 7;
    let is_tag = |c: char| ('\u{E0020}'..='\u{E007E}').contains(&c);
    // Back to the flag, forward to the cancel tag, each at most a code's length away.
    let mut back = text[..at].chars().rev();
    let mut start = at;
    for c in back.by_ref().take(LONGEST_SPEC + 1) {
        if is_tag(c) {
            start -= c.len_utf8();
        } else {
            if c != BLACK_FLAG {
                return false;
            }
            break;
        }
    }
    if !text[..start].ends_with(BLACK_FLAG) {
        return false;
    }
    let spec: String = text[start..]
        .chars()
        .take_while(|&c| is_tag(c))
        .take(LONGEST_SPEC + 1)
        .map(|c| char::from((u32::from(c) - 0xE0000) as u8))
        .collect();
    let end = start + spec.len() * 4;
    if !text[end..].starts_with(CANCEL_TAG) || at > end {
        return false;
    }
    // Only a code that names a subdivision: any other letters are a message.
    super::subdivisions::SUBDIVISIONS
        .binary_search(&spec.as_str())
        .is_ok()
}

#[cfg(test)]
mod tests {
    /// The word-at-a-time test agrees with the byte-at-a-time one for every byte value
    /// at every position, for every length up to three words.
    #[test]
    fn printable_ascii_agrees_with_the_bytes() {
        let printable = |b: u8| (0x20..=0x7e).contains(&b);
        for len in 1..=24 {
            for at in 0..len {
                for b in 0..=u8::MAX {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = b;
                    assert_eq!(
                        super::printable_ascii(&bytes),
                        printable(b),
                        "byte {b:#04x} at {at} of {len}"
                    );
                }
            }
        }
        assert!(super::printable_ascii(b""));
        // Two odd bytes in one word: the borrow of one must not hide the other.
        for (a, b) in [
            (0x1f, 0x7f),
            (0x7f, 0x00),
            (0x20, 0x7f),
            (0x7e, 0x1f),
            (0xff, 0x41),
        ] {
            for (i, j) in [(2, 5), (5, 2), (0, 7), (7, 0)] {
                let mut bytes = *b"abcdefgh";
                bytes[i] = a;
                bytes[j] = b;
                assert_eq!(
                    super::printable_ascii(&bytes),
                    printable(a) && printable(b),
                    "{a:#04x} at {i}, {b:#04x} at {j}"
                );
            }
        }
    }
}
