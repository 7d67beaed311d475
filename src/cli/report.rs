//! Printing errors: catalog problems as located diagnostics (source line and caret), anything
//! else as one line.

use std::io::IsTerminal;

use miette::{GraphicalReportHandler, GraphicalTheme};

use super::CliError;
use crate::catalog::CatalogError;

pub fn print_error(error: &CliError) {
    match error {
        CliError::Catalog(CatalogError::Invalid(problems)) => {
            let theme = if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
                GraphicalTheme::unicode()
            } else {
                GraphicalTheme::unicode_nocolor()
            };
            let handler = GraphicalReportHandler::new_themed(theme).with_width(110);
            for problem in problems {
                let mut text = String::new();
                if handler.render_report(&mut text, problem).is_err() {
                    text = problem.one_line();
                }
                eprintln!("{}", text.trim_end());
                eprintln!();
            }
            eprintln!("error: {error}; nothing was rendered or changed");
        }
        other => eprintln!("error: {other}"),
    }
}
