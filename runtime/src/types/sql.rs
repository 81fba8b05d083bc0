//! Databases: [`ReadOnlySql`], one read-only query checked by `sqlparser` in the field's
//! dialect, and [`SqlIdent`], an identifier that is safe to interpolate.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::ops::ControlFlow;

use sqlparser::ast::{Expr, ObjectName, Query, SetExpr, Statement, TableFactor, Visit, Visitor};
use sqlparser::dialect::Dialect;
use sqlparser::parser::Parser;

use crate::Problem;

/// Longest accepted query, in bytes.
pub const MAX_SQL_BYTES: usize = 8192;

/// An SQL dialect for [`ReadOnlySql`]: [`Generic`], [`Postgres`], [`Sqlite`], [`MySql`].
pub trait SqlDialect: 'static {
    /// The dialect's name, as the schema tells the model.
    const NAME: &'static str;
    /// The sqlparser dialect.
    fn dialect() -> &'static dyn Dialect;
}

macro_rules! dialects {
    ($($(#[$doc:meta])* $name:ident => $dialect:ident, $label:literal;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name;

        impl SqlDialect for $name {
            const NAME: &'static str = $label;
            fn dialect() -> &'static dyn Dialect {
                static DIALECT: sqlparser::dialect::$dialect = sqlparser::dialect::$dialect {};
                &DIALECT
            }
        }
    )*};
}

dialects! {
    /// ANSI-ish SQL accepted by most databases.
    Generic => GenericDialect, "generic";
    /// PostgreSQL.
    Postgres => PostgreSqlDialect, "PostgreSQL";
    /// SQLite.
    Sqlite => SQLiteDialect, "SQLite";
    /// MySQL.
    MySql => MySqlDialect, "MySQL";
}

/// Functions that reach files, the network, other databases, the OS or the server's own
/// state, in the databases people run. Matched on the last part of the name, any case.
const DENIED_FUNCTIONS: &[&str] = &[
    // PostgreSQL: files, large objects, other servers, server control, sleeps
    "pg_read_file",
    "pg_read_binary_file",
    "pg_ls_dir",
    "pg_stat_file",
    "pg_ls_logdir",
    "pg_ls_waldir",
    "pg_ls_tmpdir",
    "pg_ls_archive_statusdir",
    "lo_import",
    "lo_export",
    "lo_get",
    "lo_put",
    "lo_from_bytea",
    "lo_open",
    "lo_create",
    "lo_unlink",
    "dblink",
    "dblink_exec",
    "dblink_connect",
    "dblink_connect_u",
    "dblink_send_query",
    "dblink_open",
    "pg_sleep",
    "pg_sleep_for",
    "pg_sleep_until",
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_reload_conf",
    "pg_rotate_logfile",
    "set_config",
    "pg_promote",
    "pg_switch_wal",
    "pg_create_restore_point",
    "pg_advisory_lock",
    "pg_advisory_xact_lock",
    "query_to_xml",
    "http_get",
    "http_post",
    "http",
    "copy_from",
    "pg_execute_server_program",
    // SQLite
    "load_extension",
    "readfile",
    "writefile",
    "fts3_tokenizer",
    "edit",
    "fsdir",
    "zipfile",
    "sqlar_compress",
    "sqlar_uncompress",
    "shell",
    "system",
    // MySQL / MariaDB
    "load_file",
    "sleep",
    "benchmark",
    "get_lock",
    "sys_exec",
    "sys_eval",
    "master_pos_wait",
    // SQL Server
    "xp_cmdshell",
    "xp_dirtree",
    "xp_fileexist",
    "xp_regread",
    "openrowset",
    "opendatasource",
    "openquery",
    "openxml",
    "waitfor",
    // DuckDB and friends: files and URLs as tables
    "read_csv",
    "read_csv_auto",
    "read_parquet",
    "read_json",
    "read_json_auto",
    "read_text",
    "read_blob",
    "glob",
    "parquet_scan",
    "csv_scan",
    "sqlite_scan",
    "postgres_scan",
    "mysql_scan",
    "iceberg_scan",
    "delta_scan",
    // Oracle
    "utl_http",
    "utl_file",
    "utl_inaddr",
    "dbms_pipe",
    "dbms_lock",
    "dbms_scheduler",
];

/// Why a query was refused. Names the rule, never the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlRejection(Cow<'static, str>);

impl fmt::Display for SqlRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SqlRejection {}

fn reject<T>(why: &'static str) -> Result<T, SqlRejection> {
    Err(SqlRejection(Cow::Borrowed(why)))
}

/// One read-only query, checked in dialect `D` when it is deserialized.
///
/// Accepted: exactly one statement, a query (`SELECT`, `WITH ... SELECT`, `VALUES`,
/// set operations), at most [`MAX_SQL_BYTES`]. Refused: every other statement (`INSERT`,
/// `UPDATE`, `DELETE`, `MERGE`, DDL, `PRAGMA`, `ATTACH`, `COPY`, `SET`, `EXPLAIN`...),
/// data-modifying subqueries and CTEs, `SELECT ... INTO`, locking clauses (`FOR UPDATE`),
/// and functions that reach files, the network or the server (`pg_read_file`,
/// `lo_import`, `load_extension`, `dblink`, `xp_cmdshell`, `read_csv`...).
///
/// This type checks what the model sent; run it on a connection that can only read
/// (a read-only database user, `SQLITE_OPEN_READ_ONLY`), so a parser disagreement cannot
/// become a write.
///
/// ```
/// use secure_tool::types::{Postgres, ReadOnlySql};
///
/// assert!(ReadOnlySql::<Postgres>::parse("SELECT id, name FROM users WHERE id = 1").is_ok());
/// assert!(ReadOnlySql::<Postgres>::parse("DELETE FROM users").is_err());
/// assert!(ReadOnlySql::<Postgres>::parse("SELECT 1; DROP TABLE users").is_err());
/// assert!(ReadOnlySql::<Postgres>::parse("SELECT pg_read_file('/etc/passwd')").is_err());
/// ```
pub struct ReadOnlySql<D = Generic> {
    text: String,
    dialect: PhantomData<fn() -> D>,
}

impl<D: SqlDialect> ReadOnlySql<D> {
    /// Check `text`.
    pub fn parse(text: &str) -> Result<Self, SqlRejection> {
        if text.trim().is_empty() {
            return reject("the query is empty");
        }
        if text.len() > MAX_SQL_BYTES {
            return reject("the query is too long (at most 8192 bytes)");
        }
        if super::find_hidden(text).is_some() {
            return reject("the query contains hidden or control characters");
        }
        let statements = Parser::parse_sql(D::dialect(), text)
            .map_err(|_| SqlRejection(format!("the query is not valid {} SQL", D::NAME).into()))?;
        let [statement] = statements.as_slice() else {
            return reject("exactly one statement is allowed");
        };
        if !matches!(statement, Statement::Query(_)) {
            return reject("only read-only queries (SELECT) are allowed");
        }
        if let ControlFlow::Break(why) = statement.visit(&mut ReadOnly) {
            return reject(why);
        }
        Ok(Self {
            text: text.to_owned(),
            dialect: PhantomData,
        })
    }

    /// The query, as sent.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Walks the whole query: every subquery, CTE, expression and table factor.
struct ReadOnly;

fn denied(name: &ObjectName) -> bool {
    let text = name.to_string().to_ascii_lowercase();
    let last = text.rsplit('.').next().unwrap_or_default();
    let last = last.trim_matches(|c| matches!(c, '"' | '`' | '[' | ']'));
    DENIED_FUNCTIONS.contains(&last) || last.starts_with("dbms_") || last.starts_with("xp_")
}

fn check_set_expr(body: &SetExpr) -> ControlFlow<&'static str> {
    match body {
        SetExpr::Select(select) if select.into.is_some() => {
            ControlFlow::Break("SELECT ... INTO writes a table: not allowed")
        }
        SetExpr::SetOperation { left, right, .. } => {
            check_set_expr(left)?;
            check_set_expr(right)
        }
        SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_) => {
            ControlFlow::Break("data-modifying statements inside a query are not allowed")
        }
        _ => ControlFlow::Continue(()),
    }
}

impl Visitor for ReadOnly {
    type Break = &'static str;

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<Self::Break> {
        if !query.locks.is_empty() {
            return ControlFlow::Break("locking clauses (FOR UPDATE, FOR SHARE) are not allowed");
        }
        check_set_expr(&query.body)
    }

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<Self::Break> {
        match statement {
            Statement::Query(_) => ControlFlow::Continue(()),
            _ => ControlFlow::Break("only read-only queries (SELECT) are allowed"),
        }
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<Self::Break> {
        match expr {
            Expr::Function(function) if denied(&function.name) => ControlFlow::Break(
                "the query calls a function that reaches files, the network or the server",
            ),
            _ => ControlFlow::Continue(()),
        }
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<Self::Break> {
        let name = match factor {
            TableFactor::Table {
                name,
                args: Some(_),
                ..
            }
            | TableFactor::Function { name, .. } => name,
            _ => return ControlFlow::Continue(()),
        };
        if denied(name) {
            return ControlFlow::Break(
                "the query reads from a function that reaches files, the network or the server",
            );
        }
        ControlFlow::Continue(())
    }
}

impl<D> Clone for ReadOnlySql<D> {
    fn clone(&self) -> Self {
        Self {
            text: self.text.clone(),
            dialect: PhantomData,
        }
    }
}

impl<D> PartialEq for ReadOnlySql<D> {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl<D> Eq for ReadOnlySql<D> {}

impl<D: SqlDialect> fmt::Debug for ReadOnlySql<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadOnlySql")
            .field("dialect", &D::NAME)
            .field("text", &self.text)
            .finish()
    }
}

impl<D> fmt::Display for ReadOnlySql<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de, D: SqlDialect> serde::Deserialize<'de> for ReadOnlySql<D> {
    fn deserialize<De: serde::Deserializer<'de>>(deserializer: De) -> Result<Self, De::Error> {
        super::deserialize_checked(deserializer, Self::parse)
    }
}

impl<D> serde::Serialize for ReadOnlySql<D> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<D: SqlDialect> schemars::JsonSchema for ReadOnlySql<D> {
    fn schema_name() -> Cow<'static, str> {
        format!("ReadOnlySql_{}", D::NAME).into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_SQL_BYTES,
            "description": format!(
                "One read-only {} query (SELECT). No other statements, no writes, no locking, no file or network functions.",
                D::NAME
            ),
        })
    }

    fn inline_schema() -> bool {
        true
    }
}

/// Longest accepted identifier.
pub const MAX_IDENT_BYTES: usize = 63;

/// A table or column name that is safe to interpolate into SQL: ASCII letters, digits
/// and `_`, not starting with a digit, at most 63 bytes. A field can narrow it to a list
/// with `#[secure(ident(allow = ["users", "orders"]))]`.
///
/// ```
/// use secure_tool::types::SqlIdent;
///
/// let column = SqlIdent::parse("created_at").unwrap();
/// assert_eq!(column.quoted(), "\"created_at\"");
/// assert!(SqlIdent::parse("name; DROP TABLE users").is_err());
/// assert!(SqlIdent::parse("\"quoted\"").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SqlIdent(String);

impl SqlIdent {
    /// Check `text`.
    pub fn parse(text: &str) -> Result<Self, SqlRejection> {
        let bytes = text.as_bytes();
        if bytes.is_empty() || bytes.len() > MAX_IDENT_BYTES {
            return reject("an identifier has 1 to 63 characters");
        }
        if bytes[0].is_ascii_digit()
            || !bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            return reject(
                "an identifier has only ASCII letters, digits and `_`, and does not start with a digit",
            );
        }
        Ok(Self(text.to_owned()))
    }

    /// The identifier, as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The identifier in double quotes, for interpolation (`"name"`).
    pub fn quoted(&self) -> String {
        format!("\"{}\"", self.0)
    }
}

impl fmt::Debug for SqlIdent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SqlIdent").field(&self.0).finish()
    }
}

impl fmt::Display for SqlIdent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for SqlIdent {
    fn deserialize<De: serde::Deserializer<'de>>(deserializer: De) -> Result<Self, De::Error> {
        super::deserialize_checked(deserializer, Self::parse)
    }
}

impl serde::Serialize for SqlIdent {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl schemars::JsonSchema for SqlIdent {
    fn schema_name() -> Cow<'static, str> {
        "SqlIdent".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_IDENT_BYTES,
            "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
        })
    }

    fn inline_schema() -> bool {
        true
    }
}

/// Check a `SqlIdent` field (or `Option`/`Vec` of them) against
/// `#[secure(ident(allow = [..]))]`. Called by generated code.
pub fn check_ident_field<F: super::FieldValues<SqlIdent> + ?Sized>(
    value: &F,
    path: &crate::FieldPath<'_>,
    allow: &[&str],
    problems: &mut Vec<Problem>,
) {
    if !allow.is_empty() && value.values().any(|ident| !allow.contains(&ident.as_str())) {
        path.problem(
            format!("only these names are allowed: {}", allow.join(", ")),
            problems,
        );
    }
}
