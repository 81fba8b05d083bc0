//! Databases: [`ReadOnlySql`], one read-only query checked by `sqlparser` in the field's
//! dialect, and [`SqlIdent`], an identifier that is safe to interpolate.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlparser::ast::{
    BinaryOperator, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, ObjectName,
    ObjectNamePart, Query, SetExpr, Statement, TableFactor, Value, Visit, Visitor,
};
use sqlparser::dialect::Dialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, Whitespace, Word};

use super::sql_functions;
use super::sql_lexing::Reading;

use crate::problem::Problem;

/// Longest accepted query, in bytes.
pub const MAX_SQL_BYTES: usize = 8192;

/// An SQL dialect for [`ReadOnlySql`]: [`Generic`], [`Postgres`], [`Sqlite`], [`MySql`].
///
/// A dialect says how the database parses a query and resolves a function's name, and
/// which built-in functions are free of side effects. A dialect of your own that keeps
/// the defaults of the function items allows no function at all.
pub trait SqlDialect: 'static {
    /// The dialect's name, as the schema tells the model.
    const NAME: &'static str;
    /// The side-effect-free built-in functions, lowercase and sorted.
    const FUNCTIONS: &'static [&'static str] = &[];
    /// The schema that holds the built-ins, which a query may name (`pg_catalog.lower`).
    const CATALOG: Option<&'static str> = None;
    /// Whether a quoted name keeps its case (`"Lower"` is not `lower`), as in PostgreSQL
    /// and standard SQL; SQLite and MySQL match function names in any case.
    const QUOTED_NAMES_KEEP_CASE: bool = true;
    /// Whether `U&"..."` writes an identifier with Unicode escapes (PostgreSQL).
    const UNICODE_IDENTIFIERS: bool = false;
    /// How the server may read a backslash in a string literal, depending on its settings:
    /// `None` as the dialect's lexer reads it, `Some(on)` with escapes on or off. A query
    /// must be safe under every reading listed.
    const BACKSLASH_READINGS: &'static [Option<bool>] = &[None];
    /// Whether a table name may be a table-valued function (SQLite's eponymous virtual
    /// tables: `FROM fsdir` is `fsdir()`).
    const EPONYMOUS_TABLES: bool = false;
    /// The sqlparser dialect.
    fn dialect() -> &'static dyn Dialect;
    /// Whether the built-in function `name` (normalised: unqualified, case folded as the
    /// database folds it) is free of side effects.
    fn allows_function(name: &str) -> bool {
        Self::FUNCTIONS.binary_search(&name).is_ok()
    }

    /// Check `text` as this dialect's database reads it: everything but the function
    /// allowlist, and the functions it calls that are not this dialect's built-ins.
    #[doc(hidden)]
    fn analyse(text: &str) -> Result<Vec<String>, SqlRejection>
    where
        Self: Sized,
    {
        analyse::<Self>(text)
    }
}

macro_rules! dialects {
    ($($(#[$doc:meta])* $name:ident => $dialect:ident, $label:literal { $($item:tt)* })*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name;

        impl SqlDialect for $name {
            const NAME: &'static str = $label;
            $($item)*
            fn dialect() -> &'static dyn Dialect {
                static DIALECT: sqlparser::dialect::$dialect = sqlparser::dialect::$dialect {};
                &DIALECT
            }
        }
    )*};
}

dialects! {
    /// ANSI-ish SQL accepted by most databases: the functions every dialect here allows,
    /// names resolved as strictly as any of them would.
    Generic => GenericDialect, "generic" {
        const UNICODE_IDENTIFIERS: bool = true;
        fn allows_function(name: &str) -> bool {
            Postgres::allows_function(name)
                && Sqlite::allows_function(name)
                && MySql::allows_function(name)
        }
        /// A portable query must be read the same way everywhere: it passes each
        /// dialect's own reading (MySQL and SQLite do not nest comments, PostgreSQL
        /// does; MySQL runs `/*! */`), and a function is unknown if any dialect lacks it.
        fn analyse(text: &str) -> Result<Vec<String>, SqlRejection> {
            let mut unlisted = analyse::<Generic>(text)?;
            for more in [
                Postgres::analyse(text)?,
                Sqlite::analyse(text)?,
                MySql::analyse(text)?,
            ] {
                for name in more {
                    if !unlisted.contains(&name) {
                        unlisted.push(name);
                    }
                }
            }
            Ok(unlisted)
        }
    }
    /// PostgreSQL.
    Postgres => PostgreSqlDialect, "PostgreSQL" {
        const FUNCTIONS: &'static [&'static str] = sql_functions::POSTGRES;
        const CATALOG: Option<&'static str> = Some("pg_catalog");
        const UNICODE_IDENTIFIERS: bool = true;
        /// `standard_conforming_strings` on (the default) and off.
        const BACKSLASH_READINGS: &'static [Option<bool>] = &[Some(false), Some(true)];
    }
    /// SQLite.
    Sqlite => SQLiteDialect, "SQLite" {
        const FUNCTIONS: &'static [&'static str] = sql_functions::SQLITE;
        const QUOTED_NAMES_KEEP_CASE: bool = false;
        const EPONYMOUS_TABLES: bool = true;
    }
    /// MySQL.
    MySql => MySqlDialect, "MySQL" {
        const FUNCTIONS: &'static [&'static str] = sql_functions::MYSQL;
        const QUOTED_NAMES_KEEP_CASE: bool = false;
        /// The default mode and `NO_BACKSLASH_ESCAPES`.
        const BACKSLASH_READINGS: &'static [Option<bool>] = &[Some(true), Some(false)];
    }
}

/// Why a query was refused. Names the rule, never the query.
pub type SqlRejection = super::Rejection;

use super::checked::reject;

/// One read-only query, checked in dialect `D` when it is deserialized.
///
/// Accepted: exactly one statement, a query (`SELECT`, `WITH ... SELECT`, `VALUES`,
/// set operations), at most [`MAX_SQL_BYTES`], that calls only the side-effect-free
/// built-in functions of its dialect: aggregate, window, string, numeric, date/time,
/// JSON, array, conditional and type-conversion functions. Refused: every other
/// statement (`INSERT`, `UPDATE`, `DELETE`, `MERGE`, DDL, `PRAGMA`, `ATTACH`, `COPY`,
/// `SET`, `EXPLAIN`...), data-modifying subqueries and CTEs, `SELECT ... INTO`, locking
/// clauses (`FOR UPDATE`), and every function not on the dialect's list: those that run
/// SQL held in a string, reach files or the network, take locks, notify, advance
/// sequences, sleep, or touch transactions, replication or configuration, and every
/// function the list does not know (a database's own functions included).
///
/// The text is read as the server may lex it under each of its settings (MySQL with and
/// without `NO_BACKSLASH_ESCAPES`, PostgreSQL with `standard_conforming_strings` on and
/// off), and refused outright where servers read tokens their own way: executable
/// comments and optimizer hints (`/*! */`, `/*+ */`), parameters and placeholders, and
/// user-defined operators. SQLite's eponymous virtual tables (`FROM fsdir`) are judged as
/// the functions they are.
///
/// Function names are read as the database resolves them: unquoted names case-folded,
/// quoted names kept as written where the dialect keeps them (`"PG_SLEEP"` is not
/// `pg_sleep` in PostgreSQL, and is refused as unknown), `U&"..."` Unicode escapes
/// decoded, and the built-ins' own schema (`pg_catalog.`) allowed; any other schema
/// makes a function unknown. A field extends its dialect's list with
/// `#[secure(sql(allow_functions = ["my_pure_fn", "analytics.score"]))]`.
///
/// A query can still run long (a recursive CTE, a huge `generate_series`): bound it with
/// the database's own statement timeout, and run it on a connection that can only read
/// (a read-only role with `default_transaction_read_only`, `SQLITE_OPEN_READ_ONLY`), so
/// a parser disagreement cannot become a write.
///
/// ```
/// use secure_tool::types::{Postgres, ReadOnlySql, Sqlite};
///
/// assert!(ReadOnlySql::<Postgres>::parse("SELECT id, lower(name) FROM users WHERE id = 1").is_ok());
/// assert!(ReadOnlySql::<Postgres>::parse("DELETE FROM users").is_err());
/// assert!(ReadOnlySql::<Postgres>::parse("SELECT 1; DROP TABLE users").is_err());
/// assert!(ReadOnlySql::<Postgres>::parse("SELECT pg_read_file('/etc/passwd')").is_err());
/// assert!(ReadOnlySql::<Postgres>::parse(r#"SELECT U&"\0070g_sleep"(10)"#).is_err());
/// assert!(ReadOnlySql::<Sqlite>::parse("SELECT name FROM files WHERE glob('*.rs', name)").is_ok());
/// ```
pub struct ReadOnlySql<D = Generic> {
    text: String,
    /// Functions the query calls that are not on the dialect's list, normalised. Only a
    /// value deserialized inside secure-tool's input pipeline holds any: the field check,
    /// which knows the field's `allow_functions`, decides them (see [`deferring`]).
    unlisted: Box<[String]>,
    /// `unlisted` is not empty and no field check has looked at it yet.
    pending: AtomicBool,
    dialect: PhantomData<fn() -> D>,
}

impl<D: SqlDialect> ReadOnlySql<D> {
    /// Check `text`, allowing the dialect's side-effect-free built-in functions.
    pub fn parse(text: &str) -> Result<Self, SqlRejection> {
        Self::parse_allowing(text, &[])
    }

    /// Check `text`, allowing the dialect's built-ins and the functions in `allow`
    /// (normalised names: lowercase unless quoted, schema-qualified where the query
    /// qualifies them: `"my_pure_fn"`, `"analytics.score"`).
    pub fn parse_allowing(text: &str, allow: &[&str]) -> Result<Self, SqlRejection> {
        let unlisted = D::analyse(text)?;
        if let Some(name) = unlisted.iter().find(|n| !allow.contains(&n.as_str())) {
            return Err(not_allowed::<D>(name));
        }
        Ok(Self::new(text, Box::default()))
    }

    /// What `Deserialize` does: inside secure-tool's input pipeline, unlisted functions
    /// are recorded for the field check; anywhere else they are refused at once.
    fn parse_for_field(text: &str) -> Result<Self, SqlRejection> {
        let unlisted = D::analyse(text)?;
        if unlisted.is_empty() {
            return Ok(Self::new(text, Box::default()));
        }
        if !DEFERRED.with(|d| d.get().is_some()) {
            return Err(not_allowed::<D>(&unlisted[0]));
        }
        Ok(Self::new(text, unlisted.into_boxed_slice()))
    }

    fn new(text: &str, unlisted: Box<[String]>) -> Self {
        let pending = !unlisted.is_empty();
        if pending {
            deferred_add(1);
        }
        Self {
            text: text.to_owned(),
            unlisted,
            pending: AtomicBool::new(pending),
            dialect: PhantomData,
        }
    }

    /// The field check: every unlisted function must be in `allow`.
    fn check_functions(&self, allow: &[&str]) -> Result<(), SqlRejection> {
        if self.pending.swap(false, Ordering::Relaxed) {
            deferred_add(-1);
        }
        match self.unlisted.iter().find(|n| !allow.contains(&n.as_str())) {
            Some(name) => Err(not_allowed::<D>(name)),
            None => Ok(()),
        }
    }

    /// The query, as sent.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

fn not_allowed<D: SqlDialect>(name: &str) -> SqlRejection {
    // The name is the model's own text: it is only repeated when it is a plain name.
    let plain = name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
    SqlRejection::owned(if plain {
        format!(
            "the query calls `{name}`, which is not one of the side-effect-free {} functions this tool allows",
            D::NAME
        )
    } else {
        format!(
            "the query calls a function that is not one of the side-effect-free {} functions this tool allows",
            D::NAME
        )
    })
}

thread_local! {
    /// While secure-tool's pipeline deserializes and validates one call's arguments: how
    /// many `ReadOnlySql` values hold unlisted functions that no field check has decided.
    static DEFERRED: Cell<Option<isize>> = const { Cell::new(None) };
}

fn deferred_add(delta: isize) {
    DEFERRED.with(|d| {
        if let Some(n) = d.get() {
            d.set(Some(n + delta));
        }
    });
}

/// Run `f` (deserialize and validate one call's arguments) so that `ReadOnlySql` values
/// defer unlisted functions to their field's check, which knows the field's
/// `allow_functions`. Returns `f`'s result and whether every deferred value was checked:
/// a value nothing checked (inside an `opaque` field) fails closed.
pub(crate) fn deferring<R>(f: impl FnOnce() -> R) -> (R, bool) {
    let outer = DEFERRED.with(|d| d.replace(Some(0)));
    let result = f();
    let unchecked = DEFERRED.with(|d| d.replace(outer)).unwrap_or(0);
    (result, unchecked == 0)
}

impl<D> Drop for ReadOnlySql<D> {
    fn drop(&mut self) {
        // A value dropped unchecked (a failed attempt of an untagged enum) no longer
        // needs its check.
        if *self.pending.get_mut() {
            deferred_add(-1);
        }
    }
}

impl<D: SqlDialect> Clone for ReadOnlySql<D> {
    fn clone(&self) -> Self {
        let pending = self.pending.load(Ordering::Relaxed);
        if pending {
            deferred_add(1);
        }
        Self {
            text: self.text.clone(),
            unlisted: self.unlisted.clone(),
            pending: AtomicBool::new(pending),
            dialect: PhantomData,
        }
    }
}

/// Parse and check everything but the function allowlist; return the functions the
/// query calls that are not on the dialect's list.
fn analyse<D: SqlDialect>(text: &str) -> Result<Vec<String>, SqlRejection> {
    if text.trim().is_empty() {
        return reject("the query is empty");
    }
    if text.len() > MAX_SQL_BYTES {
        return reject("the query is too long (at most 8192 bytes)");
    }
    if super::find_hidden(text).is_some() {
        return reject("the query contains hidden or control characters");
    }
    let mut unlisted: Vec<String> = Vec::new();
    // Without a backslash, every backslash reading lexes the text alike: one is enough.
    let readings = if text.contains('\\') {
        D::BACKSLASH_READINGS
    } else {
        &D::BACKSLASH_READINGS[..1]
    };
    for backslash in readings {
        let reading = Reading {
            inner: D::dialect(),
            backslash: *backslash,
        };
        for name in analyse_reading::<D>(text, &reading)? {
            if !unlisted.contains(&name) {
                unlisted.push(name);
            }
        }
    }
    Ok(unlisted)
}

/// Check `text` as the server reads it under one `reading` of its lexer.
fn analyse_reading<D: SqlDialect>(
    text: &str,
    reading: &Reading,
) -> Result<Vec<String>, SqlRejection> {
    let invalid = || SqlRejection::owned(format!("the query is not valid {} SQL", D::NAME));
    let mut tokens = Tokenizer::new(reading, text)
        .tokenize_with_location()
        .map_err(|_| invalid())?;
    for token in &tokens {
        match &token.token {
            // MySQL runs `/*! */` (MariaDB `/*M! */`) and obeys `/*+ */` hints, which may
            // lift the statement timeout; PostgreSQL's pg_hint_plan reads `/*+` too.
            // Nothing a read-only query needs: refused in every dialect, so no lexer of
            // the inside of an executable comment has to be modelled.
            Token::Whitespace(Whitespace::MultiLineComment(comment))
                if comment.starts_with(['!', '+']) || comment.starts_with("M!") =>
            {
                return reject(
                    "executable comments and optimizer hints (/*! */, /*+ */) are not allowed",
                );
            }
            // A parameter is bound by the driver, and its spellings are lexed differently
            // by each server (SQLite reads `$a::b(...)` as one name): a model's query has
            // none.
            Token::Placeholder(_) => {
                return reject("parameters and placeholders ($1, ?, :name, @name) are not allowed");
            }
            // sqlparser reads `X'...'` with backslash escapes whatever the server does, so
            // a quote or backslash inside one is read differently by SQLite and MySQL:
            // a hex literal holds hex digits only.
            Token::HexStringLiteral(hex) if !hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                return reject("a hex literal (X'...') holds hex digits only");
            }
            // MySQL ends `--` comments only after ASCII whitespace and reads U+3000 and its
            // kin as identifier characters; sqlparser takes any Unicode space.
            Token::Whitespace(Whitespace::SingleLineComment { prefix, comment })
                if prefix == "--" && comment.starts_with(|c: char| !c.is_ascii()) =>
            {
                return reject(
                    "`--` followed by a non-ASCII character is read differently by MySQL",
                );
            }
            _ => {}
        }
    }
    if D::UNICODE_IDENTIFIERS {
        tokens = decode_unicode_identifiers(tokens).ok_or_else(invalid)?;
    }
    let statements = Parser::new(D::dialect())
        .with_tokens_with_locations(tokens)
        .parse_statements()
        .map_err(|_| invalid())?;
    let [statement] = statements.as_slice() else {
        return reject("exactly one statement is allowed");
    };
    if !matches!(statement, Statement::Query(_)) {
        return reject("only read-only queries (SELECT) are allowed");
    }
    let mut visitor = ReadOnly::<D> {
        unlisted: Vec::new(),
        dialect: PhantomData,
    };
    if let ControlFlow::Break(why) = statement.visit(&mut visitor) {
        return reject(why);
    }
    Ok(visitor.unlisted)
}

/// PostgreSQL's `U&"..."` identifiers (with an optional `UESCAPE 'c'`), which sqlparser
/// reads as the column `U`, `&` and a quoted name: rewritten into the one quoted name
/// PostgreSQL reads, so the function name checked is the one that runs. `None` for an
/// escape PostgreSQL would refuse.
fn decode_unicode_identifiers(tokens: Vec<TokenWithSpan>) -> Option<Vec<TokenWithSpan>> {
    let is_u = |t: &Token| matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("u"));
    let quoted = |t: &Token| matches!(t, Token::Word(w) if w.quote_style == Some('"'));
    if !tokens
        .windows(3)
        .any(|w| is_u(&w[0].token) && w[1].token == Token::Ampersand && quoted(&w[2].token))
    {
        return Some(tokens);
    }
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let is_escaped = i + 2 < tokens.len()
            && is_u(&tokens[i].token)
            && tokens[i + 1].token == Token::Ampersand
            && quoted(&tokens[i + 2].token);
        if !is_escaped {
            out.push(tokens[i].clone());
            i += 1;
            continue;
        }
        let Token::Word(word) = &tokens[i + 2].token else {
            unreachable!("checked above")
        };
        // `UESCAPE 'c'` after the name (whitespace between) sets the escape character.
        let mut next = i + 3;
        let mut escape = '\\';
        let mut j = next;
        while tokens
            .get(j)
            .is_some_and(|t| matches!(t.token, Token::Whitespace(_)))
        {
            j += 1;
        }
        if let Some(Token::Word(w)) = tokens.get(j).map(|t| &t.token)
            && w.quote_style.is_none()
            && w.value.eq_ignore_ascii_case("uescape")
        {
            j += 1;
            while tokens
                .get(j)
                .is_some_and(|t| matches!(t.token, Token::Whitespace(_)))
            {
                j += 1;
            }
            let Some(Token::SingleQuotedString(c)) = tokens.get(j).map(|t| &t.token) else {
                return None;
            };
            let mut chars = c.chars();
            escape = match (chars.next(), chars.next()) {
                (Some(c), None)
                    if !c.is_ascii_hexdigit()
                        && !matches!(c, '+' | '\'' | '"')
                        && !c.is_whitespace() =>
                {
                    c
                }
                _ => return None,
            };
            next = j + 1;
        }
        let value = unescape_unicode(&word.value, escape)?;
        out.push(TokenWithSpan::new(
            Token::Word(Word {
                value,
                quote_style: Some('"'),
                keyword: Keyword::NoKeyword,
            }),
            tokens[i].span.union(&tokens[i + 2].span),
        ));
        i = next;
    }
    Some(out)
}

/// PostgreSQL's Unicode escapes: `<e>XXXX`, `<e>+XXXXXX`, `<e><e>` for the escape itself.
fn unescape_unicode(text: &str, escape: char) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != escape {
            out.push(c);
            continue;
        }
        let digits = match chars.clone().next() {
            Some(e) if e == escape => {
                chars.next();
                out.push(escape);
                continue;
            }
            Some('+') => {
                chars.next();
                6
            }
            _ => 4,
        };
        let hex: String = chars.by_ref().take(digits).collect();
        if hex.len() != digits || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
    }
    Some(out)
}

/// Walks the whole query: every subquery, CTE, expression and table factor.
struct ReadOnly<D> {
    unlisted: Vec<String>,
    dialect: PhantomData<fn() -> D>,
}

impl<D: SqlDialect> ReadOnly<D> {
    /// Record `name` if it is not one of the dialect's built-ins.
    fn function(&mut self, name: &ObjectName) -> ControlFlow<&'static str> {
        let Some(parts) = normalise::<D>(name) else {
            return ControlFlow::Break("the query calls a function by a computed name");
        };
        let builtin = match parts.as_slice() {
            [name] => D::allows_function(name),
            [schema, name] => D::CATALOG == Some(schema.as_str()) && D::allows_function(name),
            _ => false,
        };
        if !builtin {
            let name = parts.join(".");
            if !self.unlisted.contains(&name) {
                self.unlisted.push(name);
            }
        }
        ControlFlow::Continue(())
    }
}

/// A function's name as the database resolves it: each part case-folded unless quoted in
/// a dialect where quotes keep the case. `None` for a part that is computed.
fn normalise<D: SqlDialect>(name: &ObjectName) -> Option<Vec<String>> {
    name.0
        .iter()
        .map(|part| match part {
            ObjectNamePart::Identifier(ident)
                if ident.quote_style.is_some() && D::QUOTED_NAMES_KEEP_CASE =>
            {
                Some(ident.value.clone())
            }
            ObjectNamePart::Identifier(ident) => Some(ident.value.to_lowercase()),
            ObjectNamePart::Function(_) => None,
        })
        .collect()
}

/// Whether `current_setting`'s arguments name, as a literal, a setting that is public
/// (what `SHOW` tells any user and holds no secret).
fn public_setting(args: &FunctionArguments) -> bool {
    let FunctionArguments::List(list) = args else {
        return false;
    };
    let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(value)))) = list.args.first()
    else {
        return false;
    };
    match &value.value {
        Value::SingleQuotedString(name) => {
            sql_functions::PUBLIC_SETTINGS.contains(&name.to_ascii_lowercase().as_str())
        }
        _ => false,
    }
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

impl<D: SqlDialect> Visitor for ReadOnly<D> {
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
            Expr::Function(function) => {
                // PostgreSQL's `current_setting` is on no list (a custom setting may hold a
                // secret): it is allowed for a public setting named as a literal.
                let setting = D::CATALOG == Some("pg_catalog")
                    && normalise::<D>(&function.name).is_some_and(|parts| {
                        matches!(parts.as_slice(), [n] if n == "current_setting")
                            || matches!(parts.as_slice(), [s, n] if s == "pg_catalog" && n == "current_setting")
                    });
                if setting {
                    return if public_setting(&function.args) {
                        ControlFlow::Continue(())
                    } else {
                        ControlFlow::Break(
                            "current_setting() reads only the server's public settings, named as a literal",
                        )
                    };
                }
                self.function(&function.name)
            }
            // `:name` and `@name` become parameters in the parser, not the lexer.
            Expr::Value(value) if matches!(value.value, Value::Placeholder(_)) => {
                ControlFlow::Break(
                    "parameters and placeholders ($1, ?, :name, @name) are not allowed",
                )
            }
            // An operator calls a function: a user-defined one may do anything, and only
            // the built-in operators (sqlparser's own, or `OPERATOR(pg_catalog.x)`) are
            // known to be pure.
            Expr::BinaryOp { op, .. } => match op {
                BinaryOperator::Custom(_) => {
                    ControlFlow::Break("user-defined operators are not allowed")
                }
                BinaryOperator::PGCustomBinaryOperator(parts)
                    if !(parts.len() == 2 && parts[0].eq_ignore_ascii_case("pg_catalog")) =>
                {
                    ControlFlow::Break("user-defined operators are not allowed")
                }
                _ => ControlFlow::Continue(()),
            },
            _ => ControlFlow::Continue(()),
        }
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<Self::Break> {
        match factor {
            TableFactor::Table {
                name,
                args: Some(_),
                ..
            }
            | TableFactor::Function { name, .. } => self.function(name),
            // SQLite's eponymous virtual tables are functions without parentheses.
            TableFactor::Table {
                name, args: None, ..
            } if D::EPONYMOUS_TABLES
                && normalise::<D>(name)
                    .and_then(|parts| parts.last().cloned())
                    .is_some_and(|table| sql_functions::is_eponymous_table(&table)) =>
            {
                let table = name.0.last().cloned().into_iter().collect();
                self.function(&ObjectName(table))
            }
            _ => ControlFlow::Continue(()),
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

impl<D: SqlDialect> super::checked::Checked for ReadOnlySql<D> {
    type Raw<'de> = Cow<'de, str>;

    fn check(raw: Cow<'_, str>) -> Result<Self, SqlRejection> {
        Self::parse_for_field(&raw)
    }

    fn schema_name() -> Cow<'static, str> {
        format!("ReadOnlySql_{}", D::NAME).into()
    }

    fn schema() -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_SQL_BYTES,
            "description": format!(
                "One read-only {} query (SELECT). No other statements, no writes, no locking; only side-effect-free built-in functions (aggregate, window, string, numeric, date/time, JSON, array, conditional, conversion).",
                D::NAME
            ),
        })
    }
}

super::checked::threat_type!([D: SqlDialect] ReadOnlySql<D>);

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

impl super::checked::Checked for SqlIdent {
    type Raw<'de> = Cow<'de, str>;

    fn check(raw: Cow<'_, str>) -> Result<Self, SqlRejection> {
        Self::parse(&raw)
    }

    fn schema_name() -> Cow<'static, str> {
        "SqlIdent".into()
    }

    fn schema() -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_IDENT_BYTES,
            "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
        })
    }
}

super::checked::threat_type!([] SqlIdent);

/// Check a `SqlIdent` field (or `Option`/`Vec` of them) against
/// `#[secure(ident(allow = [..]))]`. Called by generated code.
pub fn check_ident_field<F: super::FieldValues<SqlIdent> + ?Sized>(
    value: &F,
    path: &crate::field::FieldPath<'_>,
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

/// Check a `ReadOnlySql` field (or `Option`/`Vec` of them) against
/// `#[secure(sql(allow_functions = [..]))]`: every function the query calls is a built-in
/// of its dialect or on this list. Called by generated code in place of the type's own
/// check, which allows the built-ins only.
pub fn check_sql_field<D: SqlDialect, F: super::FieldValues<ReadOnlySql<D>> + ?Sized>(
    value: &F,
    path: &crate::field::FieldPath<'_>,
    allow_functions: &[&str],
    problems: &mut Vec<Problem>,
) {
    for query in value.values() {
        if let Err(why) = query.check_functions(allow_functions) {
            path.problem(why.into_rule(), problems);
        }
    }
}
