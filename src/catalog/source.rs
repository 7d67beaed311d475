//! Catalog source files and byte spans into them, so every diagnostic can point at file:line:col.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// One catalog file as read from disk; shared by every span that points into it.
#[derive(Debug)]
pub struct SourceFile {
    /// Path as the user would type it (relative to where glidepath runs, when possible).
    pub path: PathBuf,
    pub text: Arc<str>,
    /// Byte offset of each line's start, made on first use: a location is then a binary search,
    /// not a scan from the top of the file (which made locating every service of a big file
    /// quadratic).
    line_starts: OnceLock<Vec<usize>>,
}

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Arc<Self> {
        Arc::new(SourceFile { path: path.into(), text: Arc::from(text.into()), line_starts: OnceLock::new() })
    }

    /// One-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let starts = self.line_starts.get_or_init(|| {
            std::iter::once(0).chain(self.text.match_indices('\n').map(|(i, _)| i + 1)).collect()
        });
        // The last line starting at or before the offset.
        let line = starts.partition_point(|&start| start <= offset);
        let col = self.text[starts[line - 1]..offset].chars().count() + 1;
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

#[cfg(test)]
mod tests {
    use super::SourceFile;

    #[test]
    fn line_col_counts_lines_and_characters() {
        let file = SourceFile::new("c.hcl", "a = 1\nbé = 2\n\nlast");
        assert_eq!(file.line_col(0), (1, 1));
        assert_eq!(file.line_col(4), (1, 5));
        assert_eq!(file.line_col(5), (1, 6), "the newline itself ends line 1");
        assert_eq!(file.line_col(6), (2, 1));
        assert_eq!(file.line_col(9), (2, 3), "é is one character of two bytes");
        assert_eq!(file.line_col(14), (3, 1));
        assert_eq!(file.line_col(15), (4, 1));
        assert_eq!(file.line_col(999), (4, 5), "past the end: the end");
    }
}
