//! Aligned text tables for the human views, sized to the terminal.
//!
//! On a terminal narrower than a table, the cells of the columns marked `wraps` (free text:
//! per-step lists, detectability notes, phases) are wrapped onto continuation lines, widest
//! column first, so every character is still shown. Nothing is ever cut off: identifiers,
//! numbers, images and digests stay whole on one line (a PR comment or a terminal showing 43 of
//! 64 hex digits is how the wrong image gets approved). Into a pipe or a file there is no width
//! (`None`) and rows are single lines, so `grep` and scripts see whole rows.

use std::io::IsTerminal;

/// One column: its header and whether its cells may wrap onto several lines.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub header: &'static str,
    pub wraps: bool,
}

/// Narrowest a wrapping column is made, so a very narrow terminal still gets readable words.
const MIN_WRAP_WIDTH: usize = 12;
const GAP: &str = "  ";

/// The terminal's width when stdout is a terminal; `None` into a pipe or a file.
pub fn stdout_width() -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    terminal_size::terminal_size().map(|(terminal_size::Width(w), _)| usize::from(w))
}

/// The table as text, one line per row unless `width` is given and the rows do not fit in it.
pub fn layout(columns: &[Column], rows: &[Vec<String>], width: Option<usize>) -> String {
    let chars = |s: &str| s.chars().count();
    let mut widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| rows.iter().map(|r| chars(&r[i])).chain([chars(c.header)]).max().unwrap_or(0))
        .collect();
    if let Some(limit) = width {
        let total = |w: &[usize]| w.iter().sum::<usize>() + GAP.len() * w.len().saturating_sub(1);
        while total(&widths) > limit {
            // Narrow the widest column that may wrap and is still above its floor.
            // A wrapping column's header wraps too, down to its longest word.
            let floor = |c: &Column| MIN_WRAP_WIDTH.max(c.header.split(' ').map(chars).max().unwrap_or(0));
            let widest = (0..columns.len())
                .filter(|&i| columns[i].wraps && widths[i] > floor(&columns[i]))
                .max_by_key(|&i| (widths[i], std::cmp::Reverse(i)));
            match widest {
                Some(i) => widths[i] -= 1,
                None => break, // The rest is identifiers and numbers: the terminal scrolls or wraps them.
            }
        }
    }
    let mut out = String::new();
    let header: Vec<String> = columns.iter().map(|c| c.header.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let cells: Vec<Vec<String>> = row
            .iter()
            .enumerate()
            .map(|(i, cell)| if columns[i].wraps { wrap(cell, widths[i]) } else { vec![cell.clone()] })
            .collect();
        let height = cells.iter().map(Vec::len).max().unwrap_or(1);
        for line in 0..height {
            let text: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{:<w$}", c.get(line).map(String::as_str).unwrap_or(""), w = widths[i]))
                .collect();
            out.push_str(text.join(GAP).trim_end());
            out.push('\n');
        }
    }
    out
}

/// Words of `text` in lines of at most `width` characters; a longer word is split.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let used = current.chars().count();
            let needed = if used == 0 { word.len() } else { used + 1 + word.len() };
            if needed <= width {
                if used > 0 {
                    current.push(' ');
                }
                current.extend(word.drain(..));
                break;
            }
            if used > 0 {
                lines.push(std::mem::take(&mut current));
                continue;
            }
            let rest = word.split_off(width);
            lines.push(word.into_iter().collect());
            word = rest;
        }
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: [Column; 3] = [
        Column { header: "service", wraps: false },
        Column { header: "image", wraps: false },
        Column { header: "steps", wraps: true },
    ];

    fn rows() -> Vec<Vec<String>> {
        let digest = format!("shop/cart@sha256:{}", "ab".repeat(32));
        vec![vec!["cart".into(), digest, "5%·1 20%·4 50%·10 100%·20".into()]]
    }

    #[test]
    fn without_a_width_every_row_is_one_line() {
        let text = layout(&COLUMNS, &rows(), None);
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.lines().nth(1).unwrap().ends_with("5%·1 20%·4 50%·10 100%·20"), "{text}");
    }

    #[test]
    fn a_narrow_terminal_wraps_free_text_and_keeps_digests_whole() {
        let digest = format!("shop/cart@sha256:{}", "ab".repeat(32));
        let text = layout(&COLUMNS, &rows(), Some(110));
        assert!(text.lines().all(|l| l.chars().count() <= 110), "{text}");
        assert!(text.contains(&digest), "{text}");
        assert!(text.lines().count() > 2, "{text}");
        let steps: Vec<&str> =
            text.lines().skip(1).map(|l| l.get(l.rfind("  ").unwrap() + 2..).unwrap().trim()).collect();
        assert_eq!(steps.join(" "), "5%·1 20%·4 50%·10 100%·20", "{text}");
    }

    #[test]
    fn a_long_header_wraps_with_its_column() {
        let columns = [
            Column { header: "service", wraps: false },
            Column { header: "traffic·canary pods per step", wraps: true },
        ];
        let rows = vec![vec!["payment-service".to_string(), "5%·1 20%·4 50%·10 100%·20".to_string()]];
        // 15 + 2 for the service leaves 15: the header wraps at its spaces, down to its longest word.
        let text = layout(&columns, &rows, Some(32));
        assert!(text.lines().all(|l| l.chars().count() <= 32), "{text}");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[..2], ["service          traffic·canary", "                 pods per step"], "{text}");
        assert!(lines[2].starts_with("payment-service  5%·1 20%·4"), "{text}");
    }

    #[test]
    fn a_table_that_cannot_fit_keeps_its_identifiers_whole() {
        let digest = format!("shop/cart@sha256:{}", "ab".repeat(32));
        let text = layout(&COLUMNS, &rows(), Some(20));
        assert!(text.contains(&digest), "{text}");
    }

    #[test]
    fn long_words_are_split_and_nothing_is_lost() {
        assert_eq!(wrap("abcdefghij klm", 4), ["abcd", "efgh", "ij", "klm"]);
        assert_eq!(wrap("", 4), [""]);
        assert_eq!(wrap("a b c", 3), ["a b", "c"]);
    }
}
