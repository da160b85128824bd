//! Located diagnostics: every problem names the file, the line, the column
//! and what was expected.

use std::fmt;

use crate::node::Loc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub loc: Loc,
    pub message: String,
}

/// All problems found in one file, in file order.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    pub file: String,
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new(file: impl Into<String>) -> Self {
        Diagnostics {
            file: file.into(),
            items: Vec::new(),
        }
    }
    pub fn error(&mut self, loc: Loc, message: impl Into<String>) {
        self.items.push(Diagnostic {
            severity: Severity::Error,
            loc,
            message: message.into(),
        });
    }
    pub fn warning(&mut self, loc: Loc, message: impl Into<String>) {
        self.items.push(Diagnostic {
            severity: Severity::Warning,
            loc,
            message: message.into(),
        });
    }
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.severity == Severity::Error)
    }
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Warning)
    }
    /// Sorts by position (stable for equal positions) so output is deterministic.
    pub fn sort(&mut self) {
        self.items.sort_by(|a, b| a.loc.cmp(&b.loc));
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.items {
            let sev = match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            writeln!(
                f,
                "{}:{}:{}: {}: {}",
                self.file, d.loc.line, d.loc.col, sev, d.message
            )?;
        }
        Ok(())
    }
}
