//! The HCL formatter: hcl-edit's parse says which line is what (attribute, block open or close,
//! continuation of a multi-line value, inside a comment), then whitespace is rewritten line by
//! line. hcl-edit has no formatter of its own, and printing its tree back would not re-indent.
//!
//! What changes: indentation (two spaces per block level), the spaces around `=`, `=` aligned
//! across a run of consecutive single-line attributes of one block, trailing whitespace, blank
//! lines (at most one in a row, none at the start or end), one final newline. What never
//! changes: comments and where they are, values. Continuation lines of a multi-line value move
//! with their attribute's indentation; a value holding a heredoc or a `/* */` comment is kept
//! byte for byte, as is every line of a multi-line `/* */` comment.

use hcl_edit::structure::{Body, Structure};
use hcl_edit::Span as _;

/// How one source line is written back.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// Structure or gap (comment, blank) at `depth`: re-indented, trailing whitespace removed.
    Code,
    /// The first line of a multi-line block: `ident "label" {`, one space between its parts
    /// when only whitespace separates them; `brace` is the offset of its `{`.
    Header { brace: usize },
    /// The first line of an attribute: `key = value`, normalized. `single` when the value ends
    /// on this line (only those align their `=`).
    Attribute { key: (usize, usize), value_start: usize, single: bool },
    /// A line after the first of a multi-line value: shifted by as much as its attribute moved.
    Continuation { head: usize },
    /// Inside a heredoc or a `/* */` comment: written exactly as it was.
    Verbatim,
}

#[derive(Debug, Clone, Copy)]
struct Line {
    kind: Kind,
    depth: usize,
}

/// Formats HCL source. Fails with hcl-edit's error when the text does not parse, and with a
/// message when the result would not mean the same (a bug, never expected; nothing is written).
pub fn format(text: &str) -> Result<String, FormatError> {
    let body = hcl_edit::parser::parse_body(text).map_err(FormatError::Parse)?;
    let starts: Vec<usize> = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
    let raw_lines: Vec<&str> = split_lines(text);
    let mut lines = vec![Line { kind: Kind::Code, depth: 0 }; raw_lines.len()];
    let mut covered: Vec<(usize, usize)> = Vec::new();
    let mut headers = std::collections::HashMap::new();
    let mut walker = Walker { text, starts: &starts, lines: &mut lines, covered: &mut covered, headers: &mut headers };
    walker.body(&body, 0);
    mark_block_comments(text, &starts, &mut covered, &mut lines);

    let mut out: Vec<String> = Vec::with_capacity(raw_lines.len());
    let mut new_indent: Vec<isize> = vec![0; raw_lines.len()];
    let widths = alignment(text, &raw_lines, &lines);
    for (i, raw) in raw_lines.iter().enumerate() {
        let Line { kind, depth } = lines[i];
        let indent = "  ".repeat(depth);
        let line = match kind {
            Kind::Verbatim => raw.to_string(),
            Kind::Code => {
                let content = raw.trim();
                if content.is_empty() {
                    String::new()
                } else {
                    format!("{indent}{content}")
                }
            }
            Kind::Header { brace } => {
                let parts = &headers[&i];
                let between_only_spaces = parts.windows(2).all(|w| text[w[0].1..w[1].0].trim().is_empty())
                    && text[parts[parts.len() - 1].1..brace].trim().is_empty();
                if between_only_spaces {
                    let words: Vec<&str> = parts.iter().map(|&(a, b)| &text[a..b]).collect();
                    let rest = text[brace + 1..starts[i] + raw.len()].trim();
                    let rest = if rest.is_empty() { String::new() } else { format!(" {rest}") };
                    format!("{indent}{} {{{rest}", words.join(" "))
                } else {
                    format!("{indent}{}", raw.trim())
                }
            }
            Kind::Attribute { key, value_start, .. } => {
                let key_text = &text[key.0..key.1];
                let between = &text[key.1..value_start];
                let line_end = starts[i] + raw.len();
                if between.trim() == "=" {
                    let pad = widths[i].saturating_sub(key_text.chars().count());
                    let value = text[value_start..line_end].trim_end();
                    format!("{indent}{key_text}{} = {value}", " ".repeat(pad))
                } else {
                    format!("{indent}{}", raw.trim())
                }
            }
            Kind::Continuation { head } => {
                let delta = new_indent[head] - leading_spaces(raw_lines[head]) as isize;
                let content = raw.trim_start_matches(' ');
                let old = (raw.len() - content.len()) as isize;
                let content = content.trim_end();
                if content.is_empty() {
                    String::new()
                } else {
                    format!("{}{content}", " ".repeat((old + delta).max(0) as usize))
                }
            }
        };
        new_indent[i] = leading_spaces(&line) as isize;
        out.push(line);
    }

    // Blank lines: at most one in a row, none first or last. Lines inside a heredoc or comment
    // are content and are kept.
    let result =
        super::join_lines(out.iter().enumerate().map(|(i, line)| (line.as_str(), lines[i].kind != Kind::Verbatim)), text.len());

    // Only whitespace may differ, and the result must parse: anything else is a formatter bug,
    // reported rather than written.
    let squeeze = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    if squeeze(&result) != squeeze(text) {
        return Err(FormatError::Internal("formatting would change more than whitespace".into()));
    }
    if let Err(e) = hcl_edit::parser::parse_body(&result) {
        return Err(FormatError::Internal(format!("the formatted text does not parse: {e}")));
    }
    Ok(result)
}

#[derive(Debug)]
pub enum FormatError {
    Parse(hcl_edit::parser::Error),
    Internal(String),
}

/// The lines of `text` without their `\n` (a final newline does not start another line).
fn split_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.split('\n').collect();
    if text.ends_with('\n') || text.is_empty() {
        lines.pop();
    }
    lines
}

fn leading_spaces(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

struct Walker<'a> {
    text: &'a str,
    starts: &'a [usize],
    lines: &'a mut Vec<Line>,
    /// Byte ranges that are structure (not comments or whitespace between structures).
    covered: &'a mut Vec<(usize, usize)>,
    /// The ident and label spans of each multi-line block's first line, by line.
    headers: &'a mut std::collections::HashMap<usize, Vec<(usize, usize)>>,
}

impl Walker<'_> {
    fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset) - 1
    }

    fn body(&mut self, body: &Body, depth: usize) {
        for structure in body.iter() {
            match structure {
                Structure::Attribute(attr) => {
                    let (Some(span), Some(key), Some(value)) = (attr.span(), attr.key.span(), attr.value.span()) else {
                        continue;
                    };
                    self.covered.push((span.start, span.end.max(value.end)));
                    let first = self.line_of(span.start);
                    let last = self.line_of(value.end.saturating_sub(1).max(value.start));
                    self.lines[first] = Line {
                        kind: Kind::Attribute {
                            key: (key.start, key.end),
                            value_start: value.start,
                            single: first == last,
                        },
                        depth,
                    };
                    let source = &self.text[value.clone()];
                    let keep = source.contains("<<") || source.contains("/*");
                    for line in first + 1..=last {
                        let kind = if keep { Kind::Verbatim } else { Kind::Continuation { head: first } };
                        self.lines[line] = Line { kind, depth };
                    }
                }
                Structure::Block(block) => {
                    let Some(span) = block.span() else { continue };
                    let open = self.line_of(span.start);
                    let close = self.line_of(span.end.saturating_sub(1).max(span.start));
                    if open == close {
                        self.lines[open] = Line { kind: Kind::Code, depth };
                        self.covered.push((span.start, span.end));
                        continue;
                    }
                    // The header runs to its `{`, which ends the line it is on (HCL's grammar).
                    let mut parts: Vec<(usize, usize)> = Vec::new();
                    parts.extend(block.ident.span().map(|r| (r.start, r.end)));
                    parts.extend(block.labels.iter().filter_map(|l| l.span()).map(|r| (r.start, r.end)));
                    let after = parts.last().map(|p| p.1).unwrap_or(span.start);
                    let brace = self.text[after..].find('{').map(|i| after + i).unwrap_or(span.end - 1);
                    let kind = if parts.len() == block.labels.len() + 1 && self.line_of(brace) == open {
                        self.headers.insert(open, parts);
                        Kind::Header { brace }
                    } else {
                        Kind::Code
                    };
                    self.lines[open] = Line { kind, depth };
                    self.covered.push((span.start, brace + 1));
                    self.covered.push((span.end - 1, span.end));
                    for line in open + 1..close {
                        self.lines[line] = Line { kind: Kind::Code, depth: depth + 1 };
                    }
                    self.lines[close] = Line { kind: Kind::Code, depth };
                    self.body(&block.body, depth + 1);
                }
            }
        }
    }
}

/// Lines after the first of a `/* … */` comment that spans lines are kept as they are. Comments
/// live only between structures, so only the uncovered text is scanned.
fn mark_block_comments(text: &str, starts: &[usize], covered: &mut [(usize, usize)], lines: &mut [Line]) {
    covered.sort();
    let line_of = |offset: usize| starts.partition_point(|&s| s <= offset) - 1;
    let mut gaps = Vec::new();
    let mut at = 0;
    for &(start, end) in covered.iter() {
        if start > at {
            gaps.push((at, start));
        }
        at = at.max(end);
    }
    gaps.push((at, text.len()));
    for (start, end) in gaps {
        let gap = &text[start..end];
        let bytes = gap.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let rest = &gap[i..];
            if rest.starts_with('#') || rest.starts_with("//") {
                i += rest.find('\n').unwrap_or(rest.len());
            } else if let Some(comment) = rest.strip_prefix("/*") {
                let len = comment.find("*/").map(|j| j + 4).unwrap_or(rest.len());
                let (first, last) = (line_of(start + i), line_of(start + i + len - 1));
                for line in lines.iter_mut().take(last + 1).skip(first + 1) {
                    line.kind = Kind::Verbatim;
                }
                i += len;
            } else {
                i += rest.chars().next().map(char::len_utf8).unwrap_or(1);
            }
        }
    }
}

/// For each single-line attribute, the key width its run aligns `=` to: runs are consecutive
/// lines of single-line attributes at one depth; anything else (a blank line, a comment, a
/// multi-line value, a block) ends the run.
fn alignment(text: &str, raw_lines: &[&str], lines: &[Line]) -> Vec<usize> {
    let mut widths = vec![0; raw_lines.len()];
    let alignable = |i: usize| match lines[i].kind {
        Kind::Attribute { key, value_start, single: true } => {
            (text[key.1..value_start].trim() == "=").then(|| text[key.0..key.1].chars().count())
        }
        _ => None,
    };
    let mut i = 0;
    while i < lines.len() {
        let Some(first) = alignable(i) else {
            i += 1;
            continue;
        };
        let mut end = i + 1;
        let mut width = first;
        while end < lines.len() && lines[end].depth == lines[i].depth {
            let Some(w) = alignable(end) else { break };
            width = width.max(w);
            end += 1;
        }
        for w in &mut widths[i..end] {
            *w = width;
        }
        i = end;
    }
    widths
}

#[cfg(test)]
mod tests;
