//! Threat-typed inputs: the dangerous cases of the OWASP MCP Top 10 as types.
//!
//! Each type validates itself when it is deserialized, describes its rule in its JSON
//! Schema (so the model is told before it calls), never echoes a rejected value, and is
//! recognised by the `SecureInput` compile-time audit (a field named `path` typed `String`
//! is refused in favour of [`SafePath`]).
//!
//! - [`SafePath`] + [`Sandbox`]: files, only inside one root.
//! - [`SafeUrl`]: http(s) URLs that cannot reach this machine, its network or a cloud
//!   metadata service, before and after DNS ([`SafeUrl::resolve`]).
//! - [`ReadOnlySql`] (dialect per field: `ReadOnlySql<Postgres>`) and [`SqlIdent`].
//! - [`CommandLine`]: a program from the field's allowlist, arguments as a list, no shell.
//! - hidden-content guard ([`find_hidden`]): every string field of a `SecureInput` is
//!   scanned for zero-width, bidi, tag and control characters unless waived with
//!   `#[secure(hidden_text = "why")]`.

#[cfg(any(
    feature = "path",
    feature = "url",
    feature = "sql",
    feature = "command"
))]
pub(crate) mod checked;
#[cfg(feature = "command")]
pub(crate) mod command;
#[cfg(feature = "path")]
mod path;
#[cfg(feature = "path")]
mod sandbox;
#[cfg(feature = "sql")]
pub(crate) mod sql;
#[cfg(feature = "sql")]
mod sql_functions;
#[cfg(feature = "sql")]
mod sql_lexing;
mod subdivisions;
mod text;
#[cfg(feature = "url")]
pub(crate) mod url;
mod variants;

#[cfg(any(
    feature = "path",
    feature = "url",
    feature = "sql",
    feature = "command"
))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(
        feature = "path",
        feature = "url",
        feature = "sql",
        feature = "command"
    )))
)]
pub use checked::Rejection;
#[cfg(feature = "command")]
#[cfg_attr(docsrs, doc(cfg(feature = "command")))]
pub use command::{CommandLine, CommandRejection, MAX_ARG_BYTES, MAX_ARGS};
#[cfg(feature = "path")]
#[cfg_attr(docsrs, doc(cfg(feature = "path")))]
pub use path::{MAX_COMPONENT_BYTES, MAX_PATH_BYTES, MAX_PATH_DEPTH, PathRejection, SafePath};
#[cfg(feature = "path")]
#[cfg_attr(docsrs, doc(cfg(feature = "path")))]
pub use sandbox::{DirEntry, Metadata, Sandbox, SandboxError, SandboxErrorKind};
#[cfg(feature = "sql")]
#[cfg_attr(docsrs, doc(cfg(feature = "sql")))]
pub use sql::{
    Generic, MAX_IDENT_BYTES, MAX_SQL_BYTES, MySql, Postgres, ReadOnlySql, SqlDialect, SqlIdent,
    SqlRejection, Sqlite,
};
pub use text::{find_hidden, hidden_class};
#[cfg(feature = "url")]
#[cfg_attr(docsrs, doc(cfg(feature = "url")))]
pub use url::{MAX_URL_BYTES, SafeUrl, UrlRejection};

/// The values a field holds: itself, or each item of an `Option` or `Vec` of it. The
/// field checks of the threat types take any of these shapes through it.
pub trait FieldValues<T> {
    /// Each value, in order.
    fn values<'a>(&'a self) -> impl Iterator<Item = &'a T>
    where
        T: 'a;
}

impl<T> FieldValues<T> for T {
    fn values<'a>(&'a self) -> impl Iterator<Item = &'a T>
    where
        T: 'a,
    {
        std::iter::once(self)
    }
}

impl<T> FieldValues<T> for Option<T> {
    fn values<'a>(&'a self) -> impl Iterator<Item = &'a T>
    where
        T: 'a,
    {
        self.iter()
    }
}

impl<T> FieldValues<T> for Vec<T> {
    fn values<'a>(&'a self) -> impl Iterator<Item = &'a T>
    where
        T: 'a,
    {
        self.iter()
    }
}
