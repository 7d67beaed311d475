//! Printing errors: catalog problems as located diagnostics (source line and caret), anything
//! else as one line.

use std::io::Write;

use miette::{GraphicalReportHandler, GraphicalTheme};

use super::CliError;
use crate::catalog::{CatalogError, Problem};

/// Problems shown with their source snippet; the rest are shown one line each.
const SNIPPETS: usize = 50;

pub fn print_error(error: &CliError) {
    match error {
        CliError::Catalog(CatalogError::Invalid(problems)) => {
            print_problems(problems);
            eprintln!("error: {error}; nothing was rendered or changed");
        }
        CliError::Unformattable(problems) => {
            print_problems(problems);
            eprintln!("error: {error}");
        }
        other => eprintln!("error: {other}"),
    }
}

fn print_problems(problems: &[Problem]) {
    let theme = if crate::cli::views::Paint::for_stderr().enabled() {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(110);
    // Drawing a snippet reads the file up to the problem; past the first ones, the
    // one-line form (file:line:col, code, message, fix) keeps printing linear.
    let stderr = std::io::stderr();
    let mut stderr = stderr.lock();
    for (i, problem) in problems.iter().enumerate() {
        let mut text = String::new();
        if i >= SNIPPETS || handler.render_report(&mut text, problem).is_err() {
            text = problem.one_line();
        }
        let _ = writeln!(stderr, "{}", text.trim_end());
        if i < SNIPPETS {
            let _ = writeln!(stderr);
        }
    }
}
