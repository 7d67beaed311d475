//! Catalog source files and byte spans into them, so every diagnostic can point at file:line:col.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One catalog file as read from disk; shared by every span that points into it.
#[derive(Debug)]
pub struct SourceFile {
    /// Path as the user would type it (relative to where glidepath runs, when possible).
    pub path: PathBuf,
    pub text: Arc<str>,
    /// Byte offset of each line's start, built on first use: locating a problem costs a binary
    /// search, not a scan of the file (20,000 problems in a large file took minutes).
    line_starts: std::sync::OnceLock<Vec<usize>>,
}

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Arc<Self> {
        Arc::new(SourceFile {
            path: path.into(),
            text: Arc::from(text.into()),
            line_starts: std::sync::OnceLock::new(),
        })
    }

    /// One-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let starts = self
            .line_starts
            .get_or_init(|| std::iter::once(0).chain(self.text.match_indices('\n').map(|(i, _)| i + 1)).collect());
        let line = starts.partition_point(|&start| start <= offset);
        let line_start = starts[line - 1];
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
    /// Kept inside the file and on character boundaries whatever a parser reports (an error
    /// "at" the end of the file is one byte past it), so every span can be drawn and sliced.
    pub fn new(file: &Arc<SourceFile>, range: std::ops::Range<usize>) -> Self {
        let text = &file.text;
        let mut start = range.start.min(text.len());
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = range.end.clamp(start, text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        Span { file: Arc::clone(file), start, end }
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
    use super::*;

    #[test]
    fn lines_and_columns() {
        let file = SourceFile::new("f", "ab\ncdé\n\nx");
        assert_eq!(file.line_col(0), (1, 1));
        assert_eq!(file.line_col(2), (1, 3));
        assert_eq!(file.line_col(3), (2, 1));
        assert_eq!(file.line_col(7), (2, 4), "columns count characters");
        assert_eq!(file.line_col(8), (3, 1));
        assert_eq!(file.line_col(9), (4, 1));
        assert_eq!(file.line_col(99), (4, 2));
    }

    /// The line index answers exactly what scanning the text before the offset answers (the
    /// way offsets were located before the index), for every offset of texts with multibyte
    /// characters, CRLF line ends (the `\r` is the last column of its line), empty lines and no
    /// final newline.
    #[test]
    fn the_line_index_agrees_with_a_scan_of_the_text() {
        fn scanned(text: &str, offset: usize) -> (usize, usize) {
            let mut offset = offset.min(text.len());
            while !text.is_char_boundary(offset) {
                offset -= 1;
            }
            let before = &text[..offset];
            let line = before.matches('\n').count() + 1;
            let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
            (line, text[line_start..offset].chars().count() + 1)
        }
        for text in ["", "\n", "a\r\nbé\r\n\r\nc", "日本\n語 = \"ü\"\r\n  x\n", "🙂\r\n🙂🙂\n\n\n"] {
            let file = SourceFile::new("f", text);
            for offset in 0..=text.len() + 2 {
                assert_eq!(file.line_col(offset), scanned(text, offset), "offset {offset} of {text:?}");
            }
        }
        let crlf = SourceFile::new("f", "ab\r\ncd");
        assert_eq!(crlf.line_col(2), (1, 3), "the \\r ends line 1");
        assert_eq!(crlf.line_col(4), (2, 1));
    }
}
