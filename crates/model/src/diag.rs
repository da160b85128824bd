//! Located diagnostics: every problem names the file, the line, the column
//! and what was expected.
//!
//! A hostile file can contain millions of problems, so a [`Diagnostics`]
//! keeps at most [`Limits::max_diagnostics`] of them (errors first, then the
//! earliest in the file) and counts the rest; printing ends with
//! "and 19,990 more". Keeping costs O(log cap) per problem, amortised.
//! Messages are bounded too: a quoted value longer than
//! [`Limits::ECHO_BYTES`] is cut to a prefix, and a whole message to
//! [`MAX_MESSAGE_BYTES`].

use std::fmt;

use crate::limits::{floor_char_boundary, Echo, Limits};
use crate::node::Loc;

/// Longest message kept; longer ones are cut with an ellipsis.
pub const MAX_MESSAGE_BYTES: usize = 1024;

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

/// The problems found in one file: the first [`Limits::max_diagnostics`]
/// (errors before warnings, then by position) in `items`, and how many
/// there were in all.
#[derive(Clone, Debug)]
pub struct Diagnostics {
    pub file: String,
    /// The kept problems; in file order after [`Diagnostics::sort`].
    pub items: Vec<Diagnostic>,
    cap: usize,
    errors: usize,
    warnings: usize,
    /// Names of objects left out because they did not decode: a reference to one is not
    /// reported as unknown (its own error says what is wrong).
    pub undecoded: std::collections::HashSet<String>,
}

impl Default for Diagnostics {
    fn default() -> Self {
        Diagnostics::new(String::new())
    }
}

impl Diagnostics {
    /// Keeps the default number of diagnostics ([`Limits::default`]).
    pub fn new(file: impl Into<String>) -> Self {
        Diagnostics::with_limits(file, &Limits::default())
    }

    /// Keeps at most `limits.max_diagnostics` diagnostics (at least one).
    pub fn with_limits(file: impl Into<String>, limits: &Limits) -> Self {
        Diagnostics {
            file: file.into(),
            items: Vec::new(),
            cap: limits.max_diagnostics.max(1),
            errors: 0,
            warnings: 0,
            undecoded: Default::default(),
        }
    }

    /// New diagnostics for the same file, with the same cap.
    pub fn empty_like(&self) -> Self {
        Diagnostics {
            file: self.file.clone(),
            items: Vec::new(),
            cap: self.cap,
            errors: 0,
            warnings: 0,
            undecoded: Default::default(),
        }
    }

    /// Nothing reported and nothing left out.
    pub fn is_silent(&self) -> bool {
        self.errors == 0 && self.warnings == 0 && self.items.is_empty() && self.undecoded.is_empty()
    }

    pub fn error(&mut self, loc: Loc, message: impl Into<String>) {
        self.errors += 1;
        self.push(Severity::Error, loc, message.into());
    }

    pub fn warning(&mut self, loc: Loc, message: impl Into<String>) {
        self.warnings += 1;
        self.push(Severity::Warning, loc, message.into());
    }

    fn push(&mut self, severity: Severity, loc: Loc, message: String) {
        self.items.push(Diagnostic {
            severity,
            loc,
            message: bounded_message(message),
        });
        if self.items.len() >= 2 * self.cap {
            self.keep_first();
        }
    }

    /// Drops all but the `cap` most important items: errors first, then by
    /// position. The sort is stable, so equal items keep their order.
    fn keep_first(&mut self) {
        self.items.sort_by_key(|a| (a.severity, a.loc));
        self.items.truncate(self.cap);
    }

    /// Whether any error was reported (kept or not).
    pub fn has_errors(&self) -> bool {
        self.errors > 0
    }

    /// Errors reported in all, kept or not.
    pub fn error_count(&self) -> usize {
        self.errors
    }

    /// Warnings reported in all, kept or not.
    pub fn warning_count(&self) -> usize {
        self.warnings
    }

    /// Diagnostics reported but not kept.
    pub fn omitted(&self) -> usize {
        self.errors + self.warnings - self.items.len()
    }

    /// The kept errors.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.severity == Severity::Error)
    }

    /// The kept warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Warning)
    }

    /// Keeps the first `max_diagnostics` and sorts them by position (stable
    /// for equal positions) so output is deterministic.
    pub fn sort(&mut self) {
        if self.items.len() > self.cap {
            self.keep_first();
        }
        self.items.sort_by_key(|a| a.loc);
    }
}

/// Cuts quoted values longer than [`Limits::ECHO_BYTES`] and the whole
/// message to [`MAX_MESSAGE_BYTES`]. Ordinary messages are untouched.
fn bounded_message(message: String) -> String {
    if message.len() <= 2 * Limits::ECHO_BYTES + 160 {
        return message;
    }
    let mut out = String::with_capacity(MAX_MESSAGE_BYTES + 8);
    for (i, part) in message.split('\'').enumerate() {
        if i > 0 {
            out.push('\'');
        }
        if i % 2 == 1 {
            out.push_str(&Echo(part).to_string());
        } else {
            out.push_str(part);
        }
        if out.len() > MAX_MESSAGE_BYTES {
            break;
        }
    }
    if out.len() > MAX_MESSAGE_BYTES {
        let end = floor_char_boundary(&out, MAX_MESSAGE_BYTES);
        out.truncate(end);
        out.push('…');
    }
    out
}

/// `19990` as `19,990`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
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
        let omitted = self.omitted();
        if omitted > 0 {
            writeln!(
                f,
                "{}: and {} more ({} errors and {} warnings in all; the first {} are shown)",
                self.file,
                thousands(omitted),
                thousands(self.errors),
                thousands(self.warnings),
                self.items.len()
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(19_990), "19,990");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn keeps_errors_first_then_the_earliest() {
        let limits = Limits {
            max_diagnostics: 2,
            ..Limits::default()
        };
        let mut d = Diagnostics::with_limits("f", &limits);
        for line in (1..=10).rev() {
            d.warning(Loc { line, col: 1 }, "w");
            d.error(Loc { line, col: 2 }, "e");
        }
        d.sort();
        let kept: Vec<_> = d.items.iter().map(|x| (x.severity, x.loc.line)).collect();
        assert_eq!(kept, [(Severity::Error, 1), (Severity::Error, 2)]);
        assert_eq!(
            (d.error_count(), d.warning_count(), d.omitted()),
            (10, 10, 18)
        );
        assert!(d.to_string().ends_with(
            "f: and 18 more (10 errors and 10 warnings in all; the first 2 are shown)\n"
        ));
    }

    #[test]
    fn long_quoted_values_are_cut() {
        let long = "x".repeat(100_000);
        let m = bounded_message(format!("unknown key '{long}' in a vnet"));
        assert!(m.len() < 200, "{m}");
        assert!(m.starts_with(&format!("unknown key '{}… (100000 bytes)'", "x".repeat(40))));
        assert!(m.ends_with(" in a vnet"));
    }
}
