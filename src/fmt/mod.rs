//! `glidepath fmt`: the canonical layout of catalog files, like `terraform fmt`.
//!
//! HCL files are re-indented and aligned (see [`hcl`]); YAML files only lose trailing
//! whitespace and extra blank lines, and only when they still load to the same documents (see
//! [`yaml`]). Comments and values never change. A file that does not parse is not touched.

pub mod hcl;
pub mod yaml;

use std::sync::Arc;

use crate::catalog::source::SourceFile;
use crate::catalog::{self, Problem};

/// What formatting one catalog file gives.
#[derive(Debug)]
pub enum Outcome {
    /// Already in canonical form.
    Unchanged,
    /// The canonical text, which differs from the file's.
    Changed(String),
    /// Left as it is, and why (YAML whose whitespace is content).
    Kept(&'static str),
    /// The file does not parse: its located syntax problems.
    Invalid(Vec<Problem>),
    /// The formatter could not guarantee the same meaning (a bug); nothing is written.
    Failed(String),
}

/// Joins lines with a final newline, keeping at most one blank line in a row and none first or
/// last; a line whose `collapsible` is false (content of a heredoc, comment or block scalar) is
/// kept even when empty.
pub(crate) fn join_lines<'a>(lines: impl IntoIterator<Item = (&'a str, bool)>, capacity: usize) -> String {
    let mut result = String::with_capacity(capacity);
    let mut pending_blank = false;
    for (line, collapsible) in lines {
        if collapsible && line.is_empty() {
            pending_blank = !result.is_empty();
            continue;
        }
        if pending_blank {
            result.push('\n');
            pending_blank = false;
        }
        result.push_str(line);
        result.push('\n');
    }
    result
}

/// Formats one catalog file's text; HCL unless its extension says YAML.
pub fn format_file(file: &Arc<SourceFile>) -> Outcome {
    let problems = catalog::syntax_problems(file);
    if !problems.is_empty() {
        return Outcome::Invalid(problems);
    }
    let text: &str = &file.text;
    let formatted = match file.path.extension().and_then(|e| e.to_str()) {
        Some("yaml" | "yml") => match yaml::format(text) {
            yaml::Outcome::Formatted(formatted) => formatted,
            yaml::Outcome::Kept => return Outcome::Kept("whitespace in a block scalar is content"),
        },
        _ => match hcl::format(text) {
            Ok(formatted) => formatted,
            Err(hcl::FormatError::Parse(e)) => return Outcome::Failed(format!("does not parse: {e}")),
            Err(hcl::FormatError::Internal(reason)) => return Outcome::Failed(reason),
        },
    };
    if formatted == text {
        Outcome::Unchanged
    } else {
        Outcome::Changed(formatted)
    }
}
