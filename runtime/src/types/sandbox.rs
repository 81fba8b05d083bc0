//! [`Sandbox`]: a root directory opened once, in which every operation on a
//! [`SafePath`] resolves through `cap-std` (symlinks included), so nothing outside the
//! root can be named, followed or raced into.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;

use cap_std::ambient_authority;
use cap_std::fs::{Dir, OpenOptions};

use super::SafePath;
use crate::error::ToolError;

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
    /// A pipe (FIFO), socket or device: never opened (reading one may block forever, or
    /// act on hardware), only regular files and directories are.
    Special,
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
            SandboxErrorKind::Special => {
                "not a regular file or directory (a pipe, socket or device is never opened)"
            }
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

    /// Open `path` with `options`, only if it is a regular file or a directory. What is
    /// there is looked at first (opening a FIFO or a device may block or act), then opened
    /// non-blocking and without taking a terminal, and looked at again through the open
    /// file (it may have been swapped in between). Links inside the root are followed, as
    /// everywhere in the sandbox; whatever they lead to is checked.
    fn open_regular(
        &self,
        path: &SafePath,
        options: &mut OpenOptions,
    ) -> Result<cap_std::fs::File, SandboxError> {
        let regular = |m: &cap_std::fs::Metadata| m.is_file() || m.is_dir();
        if let Ok(metadata) = self.root.metadata(path.as_path())
            && !regular(&metadata)
        {
            return Err(SandboxError::new(SandboxErrorKind::Special));
        }
        #[cfg(unix)]
        {
            use cap_std::fs::OpenOptionsExt as _;
            use rustix::fs::OFlags;
            let flags = (OFlags::NONBLOCK | OFlags::NOCTTY).bits();
            options.custom_flags(i32::try_from(flags).unwrap_or(0));
        }
        let file = self.root.open_with(path.as_path(), options)?;
        if !regular(&file.metadata()?) {
            return Err(SandboxError::new(SandboxErrorKind::Special));
        }
        Ok(file)
    }

    /// Read a file of at most `max_bytes`. A pipe, socket or device is refused
    /// ([`SandboxErrorKind::Special`]) without blocking.
    pub fn read(&self, path: &SafePath, max_bytes: u64) -> Result<Vec<u8>, SandboxError> {
        let file = self.open_regular(path, OpenOptions::new().read(true))?;
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
        let mut file = self.open_regular(path, &mut options)?;
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
        let mut file = self.open_regular(path, &mut options)?;
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
