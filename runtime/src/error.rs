//! Tool errors and how they reach the model: public messages (scrubbed of secrets) or a
//! redacted `internal error (ref XXXXXXXX)` whose full text goes to the server log.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

/// The error type of a secured tool.
///
/// A `ToolError` is either **public**, built with [`ToolError::public`], whose message is
/// shown to the model after secret scrubbing, or **internal**, the default for every
/// [`std::error::Error`] (so `?` works on any error), which the model only ever sees as
/// `internal error (ref 1a2b3c4d)`. The full internal error, with its source chain, is
/// logged under the same ref at target `secure_tool::error`.
///
/// `ToolError` deliberately does not implement [`std::error::Error`]: that is what lets
/// every error type convert into it with `?` (the same trade-off as `anyhow::Error`).
///
/// ```
/// use secure_tool::ToolError;
///
/// fn lookup(id: u32) -> Result<String, ToolError> {
///     if id == 0 {
///         return Err(ToolError::public("no such record"));
///     }
///     // Any std error converts, as an internal (redacted) error.
///     let n: u32 = "not a number".parse()?;
///     Ok(n.to_string())
/// }
/// assert!(lookup(0).unwrap_err().is_public());
/// assert!(!lookup(1).unwrap_err().is_public());
/// ```
pub struct ToolError {
    kind: Kind,
}

enum Kind {
    Public(Cow<'static, str>),
    Internal(Box<dyn StdError + Send + Sync + 'static>),
}

impl ToolError {
    /// An error whose message is shown to the model (after secret scrubbing).
    ///
    /// Write it for the model: say what was wrong and what to do instead, and never put
    /// a secret, a path or an internal identifier in it.
    pub fn public(message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind: Kind::Public(message.into()),
        }
    }

    /// An internal error: the model sees only `internal error (ref ..)`.
    pub fn internal(error: impl Into<Box<dyn StdError + Send + Sync + 'static>>) -> Self {
        Self {
            kind: Kind::Internal(error.into()),
        }
    }

    /// Whether this error's message is shown to the model.
    pub fn is_public(&self) -> bool {
        matches!(self.kind, Kind::Public(_))
    }

    /// The public message, if this is a public error (before scrubbing).
    pub fn public_message(&self) -> Option<&str> {
        match &self.kind {
            Kind::Public(message) => Some(message),
            Kind::Internal(_) => None,
        }
    }

    /// The internal error, if this is one.
    pub fn internal_error(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        match &self.kind {
            Kind::Internal(error) => Some(error.as_ref()),
            Kind::Public(_) => None,
        }
    }

    /// The full text for the server log: the message and every `source()` in the chain.
    pub fn log_chain(&self) -> String {
        match &self.kind {
            Kind::Public(message) => message.to_string(),
            Kind::Internal(error) => {
                let mut text = error.to_string();
                let mut source = error.source();
                while let Some(cause) = source {
                    text.push_str(": ");
                    text.push_str(&cause.to_string());
                    source = cause.source();
                }
                text
            }
        }
    }
}

impl<E> From<E> for ToolError
where
    E: StdError + Send + Sync + 'static,
{
    fn from(error: E) -> Self {
        Self::internal(error)
    }
}

impl fmt::Debug for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Public(message) => f.debug_tuple("ToolError::Public").field(message).finish(),
            Kind::Internal(error) => f.debug_tuple("ToolError::Internal").field(error).finish(),
        }
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Public(message) => f.write_str(message),
            Kind::Internal(error) => fmt::Display::fmt(error, f),
        }
    }
}

/// A short correlation reference: what the model sees of an internal error, and the key
/// under which the full error is logged.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorRef(u32);

impl ErrorRef {
    /// A fresh random reference.
    pub fn new() -> Self {
        let mut bytes = [0u8; 4];
        // A failing OS RNG must not take a tool down; a time-derived ref still correlates.
        if getrandom::fill(&mut bytes).is_err() {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or_default();
            bytes = nanos.to_le_bytes();
        }
        Self(u32::from_le_bytes(bytes))
    }
}

impl Default for ErrorRef {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for ErrorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

impl fmt::Debug for ErrorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ErrorRef({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_text_carries_the_whole_source_chain() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("loading the config failed")
            }
        }
        impl StdError for Outer {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        let error = ToolError::from(Outer(std::io::Error::other("disk on fire")));
        assert_eq!(error.log_chain(), "loading the config failed: disk on fire");
        assert!(!error.is_public());
    }
}
