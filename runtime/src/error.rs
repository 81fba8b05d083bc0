//! Tool errors and how they reach the model: public messages (scrubbed of secrets) or a
//! redacted `internal error (ref XXXXXXXX)` whose full text goes to the server log.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::sync::LazyLock;

use regex::{Regex, RegexSet};

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

/// What a secret looks like, and what it is replaced by. Order matters: the private key
/// block and URL credentials go before the token shapes that could match inside them.
const SECRET_PATTERNS: &[(&str, &str)] = &[
    (
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\z)",
        "[redacted private key]",
    ),
    // scheme://user:password@host -> keep the user, drop the password.
    (
        r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s:/@]*):[^\s@/]*@",
        "${1}:[redacted]@",
    ),
    (
        r"(?i)\b(bearer|basic|token)\s+[a-z0-9\-._~+/]{8,}=*",
        "${1} [redacted]",
    ),
    // JSON Web Tokens.
    (
        r"\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*",
        "[redacted token]",
    ),
    // Well-known key shapes: OpenAI/Anthropic/Stripe, AWS, GitHub, Slack, Google.
    (
        r"\b(?:sk|pk|rk)[-_](?:live[-_]|test[-_]|proj[-_]|ant[-_])?[A-Za-z0-9_\-]{16,}",
        "[redacted key]",
    ),
    (r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b", "[redacted key]"),
    (r"\bgh[pousr]_[A-Za-z0-9]{30,}", "[redacted key]"),
    (r"\bgithub_pat_[A-Za-z0-9_]{30,}", "[redacted key]"),
    (r"\bxox[abposr]-[A-Za-z0-9\-]{10,}", "[redacted key]"),
    (r"\bAIza[0-9A-Za-z_\-]{35}", "[redacted key]"),
    // key=value / "key": "value" assignments of anything named like a secret.
    (
        r#"(?i)\b([a-z0-9_\-]*(?:api[_\-]?key|secret|passw(?:or)?d|pwd|access[_\-]?token|auth[_\-]?token|client[_\-]?secret|private[_\-]?key)[a-z0-9_\-]*)("?\s*[:=]\s*"?)[^\s"',;&]+"#,
        "${1}${2}[redacted]",
    ),
];

/// Absolute filesystem paths: Unix paths of two or more components, Windows drive and UNC
/// paths. A path inside a URL is not preceded by a boundary this accepts, so it survives.
const PATH_PATTERN: &str =
    r#"(?:^|[\s"'`(\[=,:])((?:/[A-Za-z0-9._@+\-~]+){2,}/?|[A-Za-z]:\\[^\s"'`]+|\\\\[^\s"'`]+)"#;

struct Scrubber {
    any: RegexSet,
    each: Vec<(Regex, &'static str)>,
    path: Regex,
}

static SCRUBBER: LazyLock<Scrubber> = LazyLock::new(|| {
    let patterns = SECRET_PATTERNS.iter().map(|(p, _)| *p);
    Scrubber {
        any: RegexSet::new(patterns).expect("secret patterns compile"),
        each: SECRET_PATTERNS
            .iter()
            .map(|(p, r)| (Regex::new(p).expect("secret pattern compiles"), *r))
            .collect(),
        path: Regex::new(PATH_PATTERN).expect("path pattern compiles"),
    }
});

/// Compile the scrubbing patterns now rather than on the first call that needs them.
pub(crate) fn warm_up() {
    LazyLock::force(&SCRUBBER);
}

/// Replace secrets in `text`: private keys, bearer/basic tokens, JWTs, well-known API key
/// shapes, `password=...`-style assignments and passwords in URLs.
///
/// Returns the text unchanged (borrowed) when nothing matched, which is the common case.
///
/// ```
/// let out = secure_tool::scrub_secrets("call failed: Authorization: Bearer abcdefghijklmnop");
/// assert_eq!(out, "call failed: Authorization: Bearer [redacted]");
/// ```
pub fn scrub_secrets(text: &str) -> Cow<'_, str> {
    let scrubber = &*SCRUBBER;
    // `is_match` stops at the first hit and is far cheaper than finding which patterns
    // matched; almost every output matches none.
    if !scrubber.any.is_match(text) {
        return Cow::Borrowed(text);
    }
    let matched = scrubber.any.matches(text);
    let mut out = Cow::Borrowed(text);
    for index in matched.iter() {
        let (regex, replacement) = &scrubber.each[index];
        if let Cow::Owned(replaced) = regex.replace_all(&out, *replacement) {
            out = Cow::Owned(replaced);
        }
    }
    out
}

/// [`scrub_secrets`], and absolute filesystem paths replaced by `[path]`: what every public
/// error message goes through before it reaches the model.
///
/// ```
/// let out = secure_tool::scrub_public("cannot open /home/alice/.ssh/id_rsa");
/// assert_eq!(out, "cannot open [path]");
/// ```
pub fn scrub_public(text: &str) -> Cow<'_, str> {
    // Paths first: `/etc/passwd: denied` is a path, not a `passwd: <secret>` assignment.
    let path = &SCRUBBER.path;
    if !path.is_match(text) {
        return scrub_secrets(text);
    }
    let replaced = path.replace_all(text, |caps: &regex::Captures<'_>| {
        let whole = &caps[0];
        let inner = &caps[1];
        format!("{}[path]", &whole[..whole.len() - inner.len()])
    });
    Cow::Owned(scrub_secrets(&replaced).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_each_secret_shape() {
        let cases = [
            (
                "key sk-proj-abcdefghijklmnopqrstuvwx used",
                "[redacted key]",
            ),
            ("AKIAABCDEFGHIJKLMNOP", "[redacted key]"),
            ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "[redacted key]"),
            ("postgres://admin:hunter2@db:5432/app", "admin:[redacted]@"),
            ("password=hunter2", "password=[redacted]"),
            (r#"{"api_key": "abc123"}"#, r#""api_key": "[redacted]""#),
            ("Bearer eyJhbGciOi.eyJzdWIiOi.sig", "Bearer [redacted]"),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
                "[redacted private key]",
            ),
        ];
        for (input, expected) in cases {
            let out = scrub_public(input);
            assert!(out.contains(expected), "{input:?} -> {out:?}");
        }
        assert!(!scrub_public("postgres://admin:hunter2@db/app").contains("hunter2"));
    }

    #[test]
    fn scrubs_absolute_paths_but_not_urls_or_words() {
        assert_eq!(
            scrub_public("open /etc/passwd: denied"),
            "open [path]: denied"
        );
        assert_eq!(scrub_public(r"open C:\Users\bob\secret.txt"), "open [path]");
        assert_eq!(
            scrub_public("see https://example.com/a/b"),
            "see https://example.com/a/b"
        );
        assert_eq!(scrub_public("use and/or"), "use and/or");
    }

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

    #[test]
    fn leaves_clean_text_borrowed() {
        assert!(matches!(scrub_public("no such record"), Cow::Borrowed(_)));
    }
}
