//! `validate --format json`: the catalog's problems for editors and CI, one document on stdout.
//! `format_version` changes only when a field changes meaning (as for the plan JSON).

use std::path::Path;

use serde_json::{json, Value};

use crate::catalog::{CatalogError, Model, Problem};
use crate::cli::CliError;

const FORMAT_VERSION: &str = "1.0";

/// The document, and whether the catalog is valid. Every problem carries its rule's code, file
/// and one-based line/column range (end exclusive), message, label and fix; an error that is not
/// about a place in the catalog (an unreadable path, a render failure) has no code and no line.
pub fn json(catalog: &Path, loaded: Result<(Model, usize), CliError>) -> (String, bool) {
    let (summary, problems) = match loaded {
        Ok((model, resources)) => (
            json!({
                "services": model.services.len(),
                "environments": model.environments.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
                "notification_routes": model.notifications.len(),
                "resources": resources,
            }),
            Vec::new(),
        ),
        Err(CliError::Catalog(CatalogError::Invalid(problems))) => {
            (Value::Null, problems.iter().map(located).collect())
        }
        Err(CliError::Catalog(CatalogError::Unreadable { path, reason })) => {
            (Value::Null, vec![unlocated(Some(&path), format!("cannot read catalog {path}: {reason}"))])
        }
        Err(other) => (Value::Null, vec![unlocated(None, other.to_string())]),
    };
    let valid = problems.is_empty();
    let mut document = json!({
        "format_version": FORMAT_VERSION,
        "catalog": catalog.display().to_string(),
        "valid": valid,
        "problems": problems,
    });
    if valid {
        document["summary"] = summary;
    }
    (serde_json::to_string_pretty(&document).expect("validate JSON serializes"), valid)
}

fn located(problem: &Problem) -> Value {
    let span = &problem.span;
    let (line, column) = span.file.line_col(span.start);
    let (end_line, end_column) = span.file.line_col(span.end);
    json!({
        "code": problem.code.to_string(),
        "severity": "error",
        "file": span.file.display_path(),
        "line": line,
        "column": column,
        "end_line": end_line,
        "end_column": end_column,
        "message": problem.message,
        "label": problem.label,
        "help": problem.help,
    })
}

fn unlocated(file: Option<&str>, message: String) -> Value {
    json!({
        "code": null,
        "severity": "error",
        "file": file,
        "line": null,
        "column": null,
        "end_line": null,
        "end_column": null,
        "message": message,
        "label": null,
        "help": null,
    })
}
