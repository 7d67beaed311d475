//! `glidepath fmt [--check] [--diff]`: rewrites the catalog's files (and its modules/) in
//! canonical layout, or with `--check` lists those that are not, for CI.

use std::io::Write;
use std::path::Path;

use super::args::FmtArgs;
use super::{CliError, EXIT_ERROR, EXIT_OK};
use crate::catalog;
use crate::fmt::{format_file, Outcome};

pub fn fmt(args: &FmtArgs) -> Result<u8, CliError> {
    let mut problems = Vec::new();
    let mut failed = Vec::new();
    let mut unformatted = 0;
    for path in catalog::files(&args.catalog.catalog)? {
        let file = match catalog::read_source(&path) {
            Ok(file) => file,
            Err(problem) => {
                problems.push(*problem);
                continue;
            }
        };
        match format_file(&file) {
            Outcome::Unchanged => {}
            Outcome::Kept(why) => eprintln!("{}: left as it is ({why})", path.display()),
            Outcome::Invalid(found) => problems.extend(found),
            Outcome::Failed(reason) => failed.push(format!("{}: {reason}; not changed", path.display())),
            Outcome::Changed(formatted) => {
                unformatted += 1;
                if args.diff {
                    out!("{}", diff(&path, &file.text, &formatted));
                }
                if !args.check {
                    write_atomically(&path, &formatted)
                        .map_err(|e| CliError::Usage(format!("cannot write {}: {e}", path.display())))?;
                }
                outln!("{}", path.display());
            }
        }
    }
    for reason in &failed {
        eprintln!("error: {reason}");
    }
    if !problems.is_empty() {
        // Located like validate's problems; the files that parse were still handled above.
        return Err(CliError::Unformattable(problems));
    }
    if !failed.is_empty() || (args.check && unformatted > 0) {
        return Ok(EXIT_ERROR);
    }
    Ok(EXIT_OK)
}

/// Replaces `path` with `text` through a temporary file beside it, keeping its permissions, so
/// a crash leaves the old file or the new one. A symlink stays a symlink: its target is written.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let resolved = std::fs::canonicalize(path)?;
    let path = resolved.as_path();
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let temp = dir.join(format!(".{name}.glidepath-fmt.{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&temp, meta.permissions())?;
        }
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// A line diff (`-` old, `+` new) of the lines that differ, with their line numbers. Formatting
/// changes whitespace only, so lines pair up except where blank lines were removed.
fn diff(path: &Path, old: &str, new: &str) -> String {
    let old: Vec<&str> = old.lines().collect();
    let new: Vec<&str> = new.lines().collect();
    let mut out = format!("--- {0}\n+++ {0} (formatted)\n", path.display());
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        match (old.get(i), new.get(j)) {
            (Some(a), Some(b)) if a == b => {
                i += 1;
                j += 1;
            }
            // A removed blank line: the new text goes on with the next old line.
            (Some(a), _) if a.trim().is_empty() && new.get(j).is_none_or(|b| !b.trim().is_empty()) => {
                out.push_str(&format!("{:>5} -{a}\n", i + 1));
                i += 1;
            }
            (a, b) => {
                if let Some(a) = a {
                    out.push_str(&format!("{:>5} -{a}\n", i + 1));
                    i += 1;
                }
                if let Some(b) = b {
                    out.push_str(&format!("{:>5} +{b}\n", j + 1));
                    j += 1;
                }
            }
        }
    }
    out
}
