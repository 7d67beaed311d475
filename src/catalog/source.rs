//! Catalog source files and byte spans into them, so every diagnostic can point at file:line:col.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One catalog file as read from disk; shared by every span that points into it.
#[derive(Debug)]
pub struct SourceFile {
    /// Path as the user would type it (relative to where glidepath runs, when possible).
    pub path: PathBuf,
    pub text: Arc<str>,
}

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Arc<Self> {
        Arc::new(SourceFile { path: path.into(), text: Arc::from(text.into()) })
    }

    /// One-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let col = self.text[line_start..offset].chars().count() + 1;
        (line, col)
    }

    pub fn display_path(&self) -> String {
        self.path.display().to_string()
    }
}

/// A byte range in one source file. Built-in profiles have spans too (their file is embedded).
#[derive(Debug, Clone)]
pub struct Span {
    pub file: Arc<SourceFile>,
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(file: &Arc<SourceFile>, range: std::ops::Range<usize>) -> Self {
        Span { file: Arc::clone(file), start: range.start, end: range.end.max(range.start) }
    }

    /// `path:line:col`, the form editors and terminals turn into links.
    pub fn location(&self) -> String {
        let (line, col) = self.file.line_col(self.start);
        format!("{}:{}:{}", self.file.display_path(), line, col)
    }

    pub fn text(&self) -> &str {
        self.file.text.get(self.start..self.end).unwrap_or("")
    }

    pub fn path(&self) -> &Path {
        &self.file.path
    }
}
