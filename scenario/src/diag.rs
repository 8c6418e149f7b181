//! Positions and errors: every error in a scenario file names the file, the line, the column
//! and the reason, as `file:line:col: error: reason` (the format editors and CI logs link).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// A position in a scenario file: 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Span {
    /// Line number, from 1.
    pub line: u32,
    /// Column number, from 1.
    pub col: u32,
}

impl Span {
    /// The position `line:col`.
    pub const fn new(line: u32, col: u32) -> Self {
        Self { line, col }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// One error found while parsing or validating a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The file name as given to the parser.
    pub file: String,
    /// Where the problem is.
    pub span: Span,
    /// What is wrong, in words ("unknown signal SIGFOO").
    pub reason: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error: {}",
            self.file, self.span.line, self.span.col, self.reason
        )
    }
}

/// Every error of a file (the parser and the validator report all they find, not only the
/// first), in line order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Errors(pub Vec<Error>);

impl Errors {
    /// Whether no error was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of errors.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The errors, in line order.
    pub fn iter(&self) -> core::slice::Iter<'_, Error> {
        self.0.iter()
    }

    pub(crate) fn push(&mut self, file: &str, span: Span, reason: impl Into<String>) {
        self.0.push(Error {
            file: String::from(file),
            span,
            reason: reason.into(),
        });
    }

    pub(crate) fn sort(&mut self) {
        self.0.sort_by_key(|e| e.span);
        self.0.dedup();
    }
}

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.0 {
            writeln!(f, "{e}")?;
        }
        Ok(())
    }
}

impl<'a> IntoIterator for &'a Errors {
    type Item = &'a Error;
    type IntoIter = core::slice::Iter<'a, Error>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}
