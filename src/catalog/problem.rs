//! Catalog problems: located, coded, with a fix, and collected so every one is reported at once.

use std::fmt;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};

use super::source::Span;
use crate::rules::{Code, Rule};

/// One thing wrong with the catalog, pointing at the offending text.
#[derive(Debug)]
pub struct Problem {
    /// The rule's stable code (`catalog::unknown-field`): see `crate::rules`.
    pub code: Code,
    /// What is wrong, naming the offending value.
    pub message: String,
    pub span: Span,
    /// Short text shown under the caret.
    pub label: String,
    /// How to fix it.
    pub help: Option<String>,
    source: NamedSource<std::sync::Arc<str>>,
}

impl Problem {
    /// A problem of a registered validation rule (`rules::UNKNOWN_FIELD`).
    pub fn new(rule: &Rule, span: &Span, message: impl Into<String>) -> Self {
        let source = NamedSource::new(span.file.display_path(), span.file.text.clone());
        Problem {
            code: rule.code,
            message: message.into(),
            span: span.clone(),
            label: "here".to_string(),
            help: None,
            source,
        }
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// `file:line:col: error[code]: message` followed by the fix: the one-line form for logs and CI.
    pub fn one_line(&self) -> String {
        let mut line = format!("{}: error[{}]: {}", self.span.location(), self.code, self.message);
        if let Some(help) = &self.help {
            line.push_str(&format!(" (help: {help})"));
        }
        line
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The location is shown by the report's source header (and by `one_line`).
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for Problem {}

impl Diagnostic for Problem {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let len = (self.span.end - self.span.start).max(if self.span.file.text.is_empty() { 0 } else { 1 });
        let start = self.span.start.min(self.span.file.text.len().saturating_sub(len));
        Some(Box::new(std::iter::once(LabeledSpan::new(Some(self.label.clone()), start, len))))
    }
}

/// Every problem found in one catalog, in source order. Never empty when returned as an error.
#[derive(Debug, Default)]
pub struct Problems {
    items: Vec<Problem>,
    /// (code, message, offset, file) of each problem, so a repeat is found without a scan.
    seen: std::collections::HashSet<(Code, String, usize, std::path::PathBuf)>,
}

impl Problems {
    pub fn push(&mut self, problem: Problem) {
        // A profile's mistake is found once per service that uses it; report it once.
        let key = (problem.code, problem.message.clone(), problem.span.start, problem.span.file.path.clone());
        if self.seen.insert(key) {
            self.items.push(problem);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Problem> {
        self.items.iter()
    }

    /// Sorted by file, then position, so output is stable whatever order checks ran in.
    pub fn into_sorted(mut self) -> Vec<Problem> {
        self.items
            .sort_by(|a, b| (&a.span.file.path, a.span.start, a.code).cmp(&(&b.span.file.path, b.span.start, b.code)));
        self.items
    }
}

/// Catalog loading failed; carries every problem found.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read catalog {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("the catalog has {} problem(s)", .0.len())]
    Invalid(Vec<Problem>),
}
