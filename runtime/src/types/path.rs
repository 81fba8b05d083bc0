//! Filesystem: [`SafePath`], a relative path that cannot name anything outside its root,
//! and [`Sandbox`], a root directory opened once in which every operation resolves
//! (through `cap-std`, symlinks included).

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;

use cap_std::ambient_authority;
use cap_std::fs::{Dir, OpenOptions};
use unicode_normalization::UnicodeNormalization;

use crate::ToolError;

/// Longest accepted path, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;
/// Longest accepted path component, in bytes (the common filesystem limit).
pub const MAX_COMPONENT_BYTES: usize = 255;
/// Deepest accepted path, in components.
pub const MAX_PATH_DEPTH: usize = 64;

/// A path relative to a [`Sandbox`] root, checked when it is deserialized.
///
/// Refused: absolute paths, `..` components, drive letters and UNC prefixes, backslashes,
/// NUL and other control or hidden characters, percent-encoded characters (so neither
/// `%2e%2e%2f` nor a double-encoded `%252e` survives), Unicode look-alikes of `.` `/` `\`
/// `:` (fullwidth dot and solidus, division slash...), components made only of dots or
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathRejection(&'static str);

impl fmt::Display for PathRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for PathRejection {}

/// Look-alikes of the separators and dots that have no compatibility decomposition, so
/// NFKC alone would not catch them.
const LOOKALIKES: &[char] = &[
    '\u{2215}', // DIVISION SLASH
    '\u{2044}', // FRACTION SLASH
    '\u{29F8}', // BIG SOLIDUS
    '\u{2216}', // SET MINUS
    '\u{29F5}', // REVERSE SOLIDUS OPERATOR
    '\u{29F9}', // BIG REVERSE SOLIDUS
    '\u{3002}', // IDEOGRAPHIC FULL STOP
    '\u{FF61}', // HALFWIDTH IDEOGRAPHIC FULL STOP
    '\u{2E31}', // WORD SEPARATOR MIDDLE DOT
    '\u{0589}', // ARMENIAN FULL STOP
    '\u{06D4}', // ARABIC FULL STOP
];

const WINDOWS_DEVICES: &[&str] = &[
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

impl SafePath {
    /// Check and normalise `text`.
    pub fn parse(text: &str) -> Result<Self, PathRejection> {
        let reject = |why| Err(PathRejection(why));
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
            for c in text.chars() {
                if c.is_ascii() {
                    continue;
                }
                let lookalike = LOOKALIKES.contains(&c)
                    || std::iter::once(c)
                        .nfkc()
                        .any(|d| matches!(d, '.' | '/' | '\\' | ':' | '%' | '~'));
                if lookalike {
                    return reject("the path contains a look-alike of `.`, `/`, `\\` or `:`");
                }
            }
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
            let stem = component.split('.').next().unwrap_or_default();
            if WINDOWS_DEVICES.contains(&stem.to_ascii_lowercase().as_str()) {
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

impl<'de> serde::Deserialize<'de> for SafePath {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        super::deserialize_checked(deserializer, Self::parse)
    }
}

impl serde::Serialize for SafePath {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl schemars::JsonSchema for SafePath {
    fn schema_name() -> Cow<'static, str> {
        "SafePath".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_PATH_BYTES,
            "pattern": r"^(?![/~])(?![A-Za-z]:)(?!.*(^|/)\.\.(/|$))[^\\%\x00-\x1f]+$",
            "description": "A path relative to the tool's root directory, with `/` separators: no leading `/`, no `..`, no `\\`, no drive letter, no percent-encoding."
        })
    }

    fn inline_schema() -> bool {
        true
    }
}

/// What went wrong in a [`Sandbox`] operation. Converts into a [`ToolError`] whose
/// message the model may read for the expected cases (not found, too large, read-only,
/// outside the root) and that is redacted for the rest.
pub struct SandboxError {
    kind: SandboxErrorKind,
    source: Option<io::Error>,
}

/// The kind of a [`SandboxError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SandboxErrorKind {
    /// Nothing at that path.
    NotFound,
    /// Something is already there.
    AlreadyExists,
    /// The path resolves outside the root (through a symlink), or the OS refused access.
    Denied,
    /// The sandbox was opened read-only.
    ReadOnly,
    /// A file is larger than the cap given.
    TooLarge,
    /// A directory where a file was expected, or the reverse.
    WrongType,
    /// The file is not UTF-8 text.
    NotText,
    /// Any other I/O failure (redacted).
    Io,
}

impl SandboxError {
    fn new(kind: SandboxErrorKind) -> Self {
        Self { kind, source: None }
    }

    /// The kind of failure.
    pub fn kind(&self) -> SandboxErrorKind {
        self.kind
    }

    fn message(&self) -> &'static str {
        match self.kind {
            SandboxErrorKind::NotFound => "no such file or directory",
            SandboxErrorKind::AlreadyExists => "something already exists at that path",
            SandboxErrorKind::Denied => {
                "not permitted: the path leads outside the root or is not accessible"
            }
            SandboxErrorKind::ReadOnly => "this directory is read-only",
            SandboxErrorKind::TooLarge => "the file is larger than the limit",
            SandboxErrorKind::WrongType => "a directory where a file was expected, or the reverse",
            SandboxErrorKind::NotText => "the file is not UTF-8 text",
            SandboxErrorKind::Io => "input/output error",
        }
    }
}

impl From<io::Error> for SandboxError {
    fn from(error: io::Error) -> Self {
        use io::ErrorKind as K;
        let kind = match error.kind() {
            K::NotFound => SandboxErrorKind::NotFound,
            K::AlreadyExists => SandboxErrorKind::AlreadyExists,
            K::PermissionDenied => SandboxErrorKind::Denied,
            K::IsADirectory | K::NotADirectory | K::DirectoryNotEmpty => {
                SandboxErrorKind::WrongType
            }
            K::InvalidData => SandboxErrorKind::NotText,
            K::ReadOnlyFilesystem => SandboxErrorKind::ReadOnly,
            _ => SandboxErrorKind::Io,
        };
        // cap-std reports an escape ("a path led outside of the filesystem") as an
        // `Other`-kind error; ELOOP from O_NOFOLLOW likewise means a symlink was refused.
        let kind = match (kind, error.raw_os_error()) {
            (SandboxErrorKind::Io, Some(40)) => SandboxErrorKind::Denied,
            (SandboxErrorKind::Io, _)
                if error.to_string().contains("outside of the filesystem") =>
            {
                SandboxErrorKind::Denied
            }
            (kind, _) => kind,
        };
        Self {
            kind,
            source: Some(error),
        }
    }
}

impl fmt::Debug for SandboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxError")
            .field("kind", &self.kind)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for SandboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(source) => write!(f, "{}: {source}", self.message()),
            None => f.write_str(self.message()),
        }
    }
}

impl From<SandboxError> for ToolError {
    fn from(error: SandboxError) -> Self {
        match error.kind {
            SandboxErrorKind::Io => match error.source {
                Some(source) => ToolError::internal(source),
                None => ToolError::internal("sandbox i/o error"),
            },
            _ => ToolError::public(error.message()),
        }
    }
}

/// A root directory, opened once; every operation resolves beneath it.
///
/// Built on `cap-std`: each path is resolved component by component relative to the
/// root's directory handle, so a symlink that points outside cannot be followed out, and
/// renaming directories under a running operation cannot make it escape. A sandbox
/// opened with [`Sandbox::open_read_only`] refuses every write.
///
/// ```
/// use secure_tool::types::{SafePath, Sandbox};
///
/// let dir = std::env::temp_dir().join(format!("secure-tool-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let sandbox = Sandbox::open(&dir).unwrap();
/// let path = SafePath::parse("notes.txt").unwrap();
/// sandbox.write(&path, "hello").unwrap();
/// assert_eq!(sandbox.read_to_string(&path, 1024).unwrap(), "hello");
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Clone)]
pub struct Sandbox {
    root: Arc<Dir>,
    read_only: bool,
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

/// One entry of [`Sandbox::list`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct DirEntry {
    /// The entry's file name.
    pub name: String,
    /// Whether it is a directory.
    pub is_dir: bool,
}

/// What [`Sandbox::metadata`] tells.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Metadata {
    /// Size in bytes.
    pub len: u64,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Whether it is a regular file.
    pub is_file: bool,
}

impl Sandbox {
    /// Open `root` for reading and writing.
    pub fn open(root: impl AsRef<Path>) -> io::Result<Self> {
        Ok(Self {
            root: Arc::new(Dir::open_ambient_dir(root, ambient_authority())?),
            read_only: false,
        })
    }

    /// Open `root` read-only: every write, create and remove fails.
    pub fn open_read_only(root: impl AsRef<Path>) -> io::Result<Self> {
        Ok(Self {
            read_only: true,
            ..Self::open(root)?
        })
    }

    /// Whether writes are refused.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    fn writable(&self) -> Result<(), SandboxError> {
        if self.read_only {
            return Err(SandboxError::new(SandboxErrorKind::ReadOnly));
        }
        Ok(())
    }

    /// Read a UTF-8 file of at most `max_bytes`.
    pub fn read_to_string(&self, path: &SafePath, max_bytes: u64) -> Result<String, SandboxError> {
        let bytes = self.read(path, max_bytes)?;
        String::from_utf8(bytes).map_err(|_| SandboxError::new(SandboxErrorKind::NotText))
    }

    /// Read a file of at most `max_bytes`.
    pub fn read(&self, path: &SafePath, max_bytes: u64) -> Result<Vec<u8>, SandboxError> {
        let file = self.root.open(path.as_path())?;
        let metadata = file.metadata()?;
        if metadata.is_dir() {
            return Err(SandboxError::new(SandboxErrorKind::WrongType));
        }
        if metadata.len() > max_bytes {
            return Err(SandboxError::new(SandboxErrorKind::TooLarge));
        }
        // The file may grow between the check and the read: read one byte past the cap.
        let mut bytes = Vec::new();
        file.take(max_bytes.saturating_add(1))
            .read_to_end(&mut bytes)?;
        if bytes.len() as u64 > max_bytes {
            return Err(SandboxError::new(SandboxErrorKind::TooLarge));
        }
        Ok(bytes)
    }

    /// Create or replace a file.
    pub fn write(&self, path: &SafePath, contents: impl AsRef<[u8]>) -> Result<(), SandboxError> {
        self.writable()?;
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        let mut file = self.root.open_with(path.as_path(), &options)?;
        file.write_all(contents.as_ref())?;
        Ok(())
    }

    /// Create a new file; fails if something is already there.
    pub fn create_new(
        &self,
        path: &SafePath,
        contents: impl AsRef<[u8]>,
    ) -> Result<(), SandboxError> {
        self.writable()?;
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        let mut file = self.root.open_with(path.as_path(), &options)?;
        file.write_all(contents.as_ref())?;
        Ok(())
    }

    /// Create a directory and its parents.
    pub fn create_dir_all(&self, path: &SafePath) -> Result<(), SandboxError> {
        self.writable()?;
        Ok(self.root.create_dir_all(path.as_path())?)
    }

    /// Remove a file.
    pub fn remove_file(&self, path: &SafePath) -> Result<(), SandboxError> {
        self.writable()?;
        Ok(self.root.remove_file(path.as_path())?)
    }

    /// Remove an empty directory.
    pub fn remove_dir(&self, path: &SafePath) -> Result<(), SandboxError> {
        self.writable()?;
        if path.is_root() {
            return Err(SandboxError::new(SandboxErrorKind::Denied));
        }
        Ok(self.root.remove_dir(path.as_path())?)
    }

    /// List a directory (`.` for the root), sorted by name, at most `max_entries`.
    pub fn list(&self, path: &SafePath, max_entries: usize) -> Result<Vec<DirEntry>, SandboxError> {
        let dir = if path.is_root() {
            self.root.try_clone()?
        } else {
            self.root.open_dir(path.as_path())?
        };
        let mut entries = Vec::new();
        for entry in dir.entries()?.take(max_entries) {
            let entry = entry?;
            entries.push(DirEntry {
                name: entry.file_name().to_string_lossy().into_owned(),
                is_dir: entry.file_type()?.is_dir(),
            });
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    /// Size and type of what is at `path`.
    pub fn metadata(&self, path: &SafePath) -> Result<Metadata, SandboxError> {
        let metadata = if path.is_root() {
            self.root.dir_metadata()?
        } else {
            self.root.metadata(path.as_path())?
        };
        Ok(Metadata {
            len: metadata.len(),
            is_dir: metadata.is_dir(),
            is_file: metadata.is_file(),
        })
    }
}

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
