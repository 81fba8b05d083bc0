//! What is wrong with a tool's arguments: [`Problem`]s (a path and a rule, never a value)
//! and the [`InputError`] that carries them to the model.

use std::borrow::Cow;
use std::fmt;

/// One thing wrong with a tool's arguments: where, and which rule. Never the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    path: String,
    rule: Cow<'static, str>,
}

impl Problem {
    /// A problem at `path` (`field.sub[2]`, empty for the arguments as a whole).
    pub fn new(path: impl Into<String>, rule: impl Into<Cow<'static, str>>) -> Self {
        Self {
            path: path.into(),
            rule: rule.into(),
        }
    }

    /// Where in the arguments (`field.sub[2]`; empty for the whole object).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What rule failed, in words.
    pub fn rule(&self) -> &str {
        &self.rule
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.rule)
        } else {
            write!(f, "`{}`: {}", self.path, self.rule)
        }
    }
}

/// Everything wrong with one call's arguments.
///
/// Its `Display` is what the model reads: `invalid arguments: `limit`: range (min 1, max
/// 50); `query_text`: length (min 1, max 200)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    problems: Vec<Problem>,
}

impl InputError {
    /// An error with these problems.
    pub fn new(problems: Vec<Problem>) -> Self {
        Self { problems }
    }

    /// One problem.
    pub fn single(path: impl Into<String>, rule: impl Into<Cow<'static, str>>) -> Self {
        Self::new(vec![Problem::new(path, rule)])
    }

    /// The problems, sorted by path.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// The problems, owned.
    pub fn into_problems(self) -> Vec<Problem> {
        self.problems
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid arguments: ")?;
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            fmt::Display::fmt(problem, f)?;
        }
        Ok(())
    }
}

impl std::error::Error for InputError {}
