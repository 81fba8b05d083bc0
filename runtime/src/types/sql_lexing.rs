//! The ways a database may lex one query text. A query is checked under each reading the
//! server may have (MySQL with and without `NO_BACKSLASH_ESCAPES`, PostgreSQL with
//! `standard_conforming_strings` on and off), and never with executable comments: a
//! dialect's lexer is wrapped so `/*! */` stays a comment the check can see and refuse.

use sqlparser::dialect::Dialect;

/// A dialect's lexer with backslash escapes in string literals forced on or off, and
/// `/*! */` never run: everything else is the dialect's own. (Its `dialect()` is the
/// wrapped one's, so the tokenizer's per-dialect rules apply as they would.)
#[derive(Debug)]
pub(super) struct Reading {
    pub(super) inner: &'static dyn Dialect,
    /// `Some`: backslash escapes as given, whatever the dialect says.
    pub(super) backslash: Option<bool>,
}

impl Dialect for Reading {
    fn dialect(&self) -> std::any::TypeId {
        self.inner.dialect()
    }
    fn is_identifier_start(&self, ch: char) -> bool {
        self.inner.is_identifier_start(ch)
    }
    fn is_identifier_part(&self, ch: char) -> bool {
        self.inner.is_identifier_part(ch)
    }
    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        self.inner.is_delimited_identifier_start(ch)
    }
    fn is_custom_operator_part(&self, ch: char) -> bool {
        self.inner.is_custom_operator_part(ch)
    }
    fn identifier_quote_style(&self, identifier: &str) -> Option<char> {
        self.inner.identifier_quote_style(identifier)
    }
    fn ignores_wildcard_escapes(&self) -> bool {
        self.inner.ignores_wildcard_escapes()
    }
    fn requires_single_line_comment_whitespace(&self) -> bool {
        self.inner.requires_single_line_comment_whitespace()
    }
    fn supports_dollar_as_money_prefix(&self) -> bool {
        self.inner.supports_dollar_as_money_prefix()
    }
    fn supports_dollar_placeholder(&self) -> bool {
        self.inner.supports_dollar_placeholder()
    }
    fn supports_geometric_types(&self) -> bool {
        self.inner.supports_geometric_types()
    }
    fn supports_multiline_comment_hints(&self) -> bool {
        false
    }
    fn supports_nested_comments(&self) -> bool {
        self.inner.supports_nested_comments()
    }
    fn supports_numeric_literal_underscores(&self) -> bool {
        self.inner.supports_numeric_literal_underscores()
    }
    fn supports_numeric_prefix(&self) -> bool {
        self.inner.supports_numeric_prefix()
    }
    fn supports_pipe_operator(&self) -> bool {
        self.inner.supports_pipe_operator()
    }
    fn supports_quote_delimited_string(&self) -> bool {
        self.inner.supports_quote_delimited_string()
    }
    fn supports_string_escape_constant(&self) -> bool {
        self.inner.supports_string_escape_constant()
    }
    fn supports_string_literal_backslash_escape(&self) -> bool {
        self.backslash
            .unwrap_or_else(|| self.inner.supports_string_literal_backslash_escape())
    }
    fn supports_triple_quoted_string(&self) -> bool {
        self.inner.supports_triple_quoted_string()
    }
    fn supports_unicode_string_literal(&self) -> bool {
        self.inner.supports_unicode_string_literal()
    }
}
