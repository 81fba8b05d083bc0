//! [`SafePath`]: a relative path that cannot name anything outside its root. It is opened
//! through a [`Sandbox`](super::Sandbox) (`sandbox.rs`).

use std::borrow::Cow;
use std::fmt;
use std::path::Path;

use unicode_normalization::UnicodeNormalization;

/// Longest accepted path, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;
/// Longest accepted path component, in bytes (the common filesystem limit).
pub const MAX_COMPONENT_BYTES: usize = 255;
/// Deepest accepted path, in components.
pub const MAX_PATH_DEPTH: usize = 64;

/// A path relative to a [`Sandbox`](super::Sandbox) root, checked when it is deserialized.
///
/// Refused: absolute paths, `..` components, drive letters and UNC prefixes, backslashes,
/// NUL and other control or hidden characters, percent-encoded characters (so neither
/// `%2e%2e%2f` nor a double-encoded `%252e` survives), Unicode look-alikes that become a
/// separator, a `..`, a drive colon or a percent escape once normalised (fullwidth solidus
/// and dots, division slash...; a look-alike that only changes a name's look, such as the
/// fullwidth colon of `会议纪要：第三季度.docx`, stays), components made only of dots or
/// ending in a dot or space, reserved Windows device names, over-long paths and
/// components. Accepted paths are normalised to NFC, `.` components dropped; `.` alone is
/// the root itself.
///
/// ```
/// use secure_tool::types::SafePath;
///
/// assert_eq!(SafePath::parse("docs/./guide.md").unwrap().as_str(), "docs/guide.md");
/// assert!(SafePath::parse("../etc/passwd").is_err());
/// assert!(SafePath::parse("/etc/passwd").is_err());
/// assert!(SafePath::parse("%2e%2e%2fsecret").is_err());
/// assert!(SafePath::parse("docs\u{FF0F}..\u{FF0F}x").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SafePath(String);

/// Why a path was refused. Its text names the rule, never the path.
pub type PathRejection = super::Rejection;

/// Look-alikes of the separators and dots that have no compatibility decomposition (so
/// NFKC alone would not fold them), with what a consumer that folds look-alikes (a
/// best-fit code page, a confusables map) may read them as.
const LOOKALIKES: &[(char, char)] = &[
    ('\u{2215}', '/'),  // DIVISION SLASH
    ('\u{2044}', '/'),  // FRACTION SLASH
    ('\u{29F8}', '/'),  // BIG SOLIDUS
    ('\u{2216}', '\\'), // SET MINUS
    ('\u{29F5}', '\\'), // REVERSE SOLIDUS OPERATOR
    ('\u{29F9}', '\\'), // BIG REVERSE SOLIDUS
    ('\u{3002}', '.'),  // IDEOGRAPHIC FULL STOP
    ('\u{FF61}', '.'),  // HALFWIDTH IDEOGRAPHIC FULL STOP
    ('\u{2E31}', '.'),  // WORD SEPARATOR MIDDLE DOT
    ('\u{0589}', '.'),  // ARMENIAN FULL STOP
    ('\u{06D4}', '.'),  // ARABIC FULL STOP
];

/// The path as a consumer that normalises may read it (NFKC, look-alikes folded), checked
/// for what would change its meaning there: a separator that was not one (`／`, `∕`, `＼`),
/// a `..` or dots-only component (`．．`), a drive colon (`Ｃ：`), a percent escape
/// (`％2e`) or a device name (`COM¹`). A look-alike that only changes a name's look
/// (`会议纪要：第三季度.docx`, `～まとめ～.docx`, `Draft…`) is a real file name and stays.
fn check_folded(text: &str) -> Result<(), PathRejection> {
    let reject = super::checked::reject;
    // Already NFKC with no look-alike: folding changes nothing the checks before missed.
    if unicode_normalization::is_nfkc_quick(text.chars())
        == unicode_normalization::IsNormalized::Yes
        && !text
            .chars()
            .any(|c| LOOKALIKES.iter().any(|(from, _)| *from == c))
    {
        return Ok(());
    }
    let folded: String = text
        .nfkc()
        .map(|c| {
            LOOKALIKES
                .iter()
                .find(|(from, _)| *from == c)
                .map_or(c, |(_, to)| *to)
        })
        .collect();
    let separator =
        "the path contains a look-alike that becomes a separator or `..` when normalised";
    if folded.contains('\\') || folded.matches('/').count() != text.matches('/').count() {
        return reject(separator);
    }
    if folded.starts_with('/') {
        return reject("the path must be relative to the root (no leading `/` or `~`)");
    }
    let bytes = folded.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return reject("drive letters are not allowed: the path must be relative");
    }
    if has_percent_escape(&folded) {
        return reject("the path contains percent-encoded characters: write them plainly");
    }
    for component in folded.split('/') {
        if component.bytes().all(|b| b == b'.') {
            return reject(separator);
        }
        if is_device(component) {
            return reject("reserved device names (`con`, `nul`...) are not allowed");
        }
    }
    Ok(())
}

const WINDOWS_DEVICES: &[&str] = &[
    "con", "prn", "aux", "nul", "com0", "com1", "com2", "com3", "com4", "com5", "com6", "com7",
    "com8", "com9", "lpt0", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
    "conin$", "conout$", "clock$",
];

/// Whether a component names a Windows device (`nul.txt`, `COM1`; Windows reads the
/// superscript digits of `COM¹` as digits too).
fn is_device(component: &str) -> bool {
    let stem = component.split('.').next().unwrap_or_default();
    WINDOWS_DEVICES.contains(&stem.trim_end_matches(' ').to_ascii_lowercase().as_str())
}

impl SafePath {
    /// Check and normalise `text`.
    pub fn parse(text: &str) -> Result<Self, PathRejection> {
        let reject = super::checked::reject;
        if text.is_empty() {
            return reject("the path is empty");
        }
        if text.len() > MAX_PATH_BYTES {
            return reject("the path is too long (at most 1024 bytes)");
        }
        if let Some(class) = super::find_hidden(text) {
            return reject(match class {
                "control characters" => "the path contains control characters",
                _ => "the path contains hidden or invisible characters",
            });
        }
        if text.contains('\\') {
            return reject("backslashes are not path separators here: use `/`");
        }
        if has_percent_escape(text) {
            return reject("the path contains percent-encoded characters: write them plainly");
        }
        if text.starts_with('/') || text.starts_with('~') {
            return reject("the path must be relative to the root (no leading `/` or `~`)");
        }
        let bytes = text.as_bytes();
        if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
            return reject("drive letters are not allowed: the path must be relative");
        }
        if !text.is_ascii() {
            check_folded(text)?;
        }
        let normalized: Cow<'_, str> = if text.is_ascii() {
            Cow::Borrowed(text)
        } else {
            Cow::Owned(text.nfc().collect())
        };
        let mut out = String::with_capacity(normalized.len());
        let mut depth = 0;
        for component in normalized.split('/') {
            match component {
                "" => return reject("the path has an empty component (`//` or a trailing `/`)"),
                "." => continue,
                ".." => return reject("`..` is not allowed: paths cannot leave the root"),
                _ => {}
            }
            if component.len() > MAX_COMPONENT_BYTES {
                return reject("a path component is too long (at most 255 bytes)");
            }
            if component.bytes().all(|b| b == b'.') {
                return reject("a path component cannot be only dots");
            }
            if component.ends_with('.') || component.ends_with(' ') || component.starts_with(' ') {
                return reject(
                    "a path component cannot start with a space or end with a dot or space",
                );
            }
            if component.contains(':') {
                return reject("`:` is not allowed in a path component");
            }
            if is_device(component) {
                return reject("reserved device names (`con`, `nul`...) are not allowed");
            }
            depth += 1;
            if depth > MAX_PATH_DEPTH {
                return reject("the path is too deep (at most 64 components)");
            }
            if !out.is_empty() {
                out.push('/');
            }
            out.push_str(component);
        }
        if out.is_empty() {
            out.push('.');
        }
        Ok(Self(out))
    }

    /// The normalised path (`/`-separated; `.` for the root).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The normalised path as a `Path`, relative.
    pub fn as_path(&self) -> &Path {
        Path::new(&self.0)
    }

    /// Whether this is the root itself (`.`).
    pub fn is_root(&self) -> bool {
        self.0 == "."
    }
}

fn has_percent_escape(text: &str) -> bool {
    text.as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
}

impl fmt::Debug for SafePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SafePath").field(&self.0).finish()
    }
}

impl fmt::Display for SafePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<Path> for SafePath {
    fn as_ref(&self) -> &Path {
        self.as_path()
    }
}

impl super::checked::Checked for SafePath {
    type Raw<'de> = Cow<'de, str>;

    fn check(raw: Cow<'_, str>) -> Result<Self, PathRejection> {
        Self::parse(&raw)
    }

    fn schema_name() -> Cow<'static, str> {
        "SafePath".into()
    }

    fn schema() -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_PATH_BYTES,
            "pattern": r"^(?![/~])(?![A-Za-z]:)(?!.*(^|/)\.\.(/|$))[^\\%\x00-\x1f]+$",
            "description": "A path relative to the tool's root directory, with `/` separators: no leading `/`, no `..`, no `\\`, no drive letter, no percent-encoding."
        })
    }
}

super::checked::threat_type!([] SafePath);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::path::Component;

    /// Pieces attackers combine: separators, dots, encodings, look-alikes, names.
    fn piece() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "/",
            "//",
            ".",
            "..",
            "...",
            "\\",
            "%2e",
            "%2f",
            "%25",
            ":",
            "~",
            "C:",
            "a",
            "b.txt",
            "\u{FF0E}",
            "\u{FF0F}",
            "\u{2215}",
            "\u{2024}",
            "\u{0000}",
            "\u{200B}",
            " ",
            "é",
            "e\u{0301}",
            "con",
            "x",
            "-",
            "_",
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// Whatever is accepted is a relative path of plain components: joined to a
        /// root, it stays beneath it.
        #[test]
        fn no_accepted_path_resolves_outside(pieces in prop::collection::vec(piece(), 1..12)) {
            let text: String = pieces.concat();
            if let Ok(path) = SafePath::parse(&text) {
                let root = Path::new("/sandbox/root");
                let joined = root.join(path.as_path());
                let mut depth: i32 = 0;
                for component in path.as_path().components() {
                    match component {
                        Component::Normal(_) => depth += 1,
                        Component::CurDir => prop_assert!(path.is_root()),
                        other => prop_assert!(false, "{text:?} gave {other:?}"),
                    }
                }
                prop_assert!(depth >= 0);
                prop_assert!(joined.starts_with(root));
                prop_assert!(!path.as_str().contains('\\'));
                prop_assert!(!path.as_str().contains('%'));
            }
        }

        /// Any string at all: parse never panics, and a refusal never quotes the input.
        #[test]
        fn refusals_never_echo(text in "\\PC{0,80}") {
            if let Err(why) = SafePath::parse(&text) {
                let message = why.to_string();
                prop_assert!(text.len() < 4 || !message.contains(text.as_str()));
            }
        }
    }
}
