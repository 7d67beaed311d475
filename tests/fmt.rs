//! `glidepath fmt`: formatting every catalog file in the repository is idempotent and changes
//! nothing the catalog means; a messed-up copy formats back to the original; and the command
//! as users run it (`--check` exit codes, in-place rewrite, files that do not parse).

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use glidepath::catalog::{self, source::SourceFile};
use glidepath::fmt::{format_file, Outcome};
use glidepath::render::{self, output};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn glidepath(args: &[&str], cwd: &Path) -> Output {
    let home = tempfile::tempdir().unwrap();
    support::glidepath_command()
        .args(args)
        .current_dir(cwd)
        .env("HOME", home.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

/// Every `.hcl` file under `dir`, recursively, sorted.
fn hcl_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "hcl") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn format_text(path: &Path, text: &str) -> Option<String> {
    match format_file(&SourceFile::new(path, text)) {
        Outcome::Unchanged => Some(text.to_string()),
        Outcome::Changed(formatted) => Some(formatted),
        Outcome::Invalid(_) => None,
        other => panic!("{}: {other:?}", path.display()),
    }
}

/// The repository's own catalogs are formatted; every parseable `.hcl` in the tree (invalid
/// fixtures included) formats to a fixed point in one pass.
#[test]
fn repository_files_are_formatted_and_formatting_is_idempotent() {
    let mut checked = 0;
    for dir in ["examples", "modules", "tests/fixtures"] {
        for path in hcl_files(&repo().join(dir)) {
            let Ok(original) = std::fs::read_to_string(&path) else { continue };
            let Some(once) = format_text(&path, &original) else { continue };
            let twice = format_text(&path, &once).unwrap();
            assert_eq!(once, twice, "{}: fmt of fmt output changed", path.display());
            if !dir.starts_with("tests/fixtures") || path.starts_with(repo().join("tests/fixtures/valid")) {
                assert_eq!(once, original, "{} is not formatted: run glidepath fmt", path.display());
            }
            checked += 1;
        }
    }
    assert!(checked > 50, "only {checked} files checked");
}

/// The same file with its layout damaged: indentation, `=` spacing, trailing whitespace,
/// doubled blank lines. Lines of a multi-line value are values (fmt only moves them with their
/// attribute), so they and the line that opens them are only shifted; lines of heredocs or
/// `/* */` comments would be content: files with them are skipped by the caller.
fn mess_up(text: &str) -> String {
    let attribute = regex::Regex::new(r"^(\s*[A-Za-z_][A-Za-z0-9_-]*)\s+=\s+").unwrap();
    let mut out = String::from("\n\n");
    let mut open = 0i32;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            out.push_str("  \n\t\n");
            continue;
        }
        let code = line.split(" #").next().unwrap_or(line);
        let balance = code.matches(['{', '[']).count() as i32 - code.matches(['}', ']']).count() as i32;
        let in_value = open > 0 || (balance > 0 && attribute.is_match(line));
        if open > 0 || in_value {
            open += balance;
        }
        if in_value {
            out.push_str(&format!("   {line}  \n"));
            continue;
        }
        let line = attribute.replace(line, "$1=");
        let indent = if i % 2 == 0 { "   " } else { "\t " };
        out.push_str(&format!("{indent}{line}  \n"));
    }
    out
}

/// Formatting a damaged copy gives back the original, and the catalog it declares renders to
/// exactly the same files before and after (model and rendered output, locations aside).
#[test]
fn damaged_layout_formats_back_and_means_the_same() {
    let location = regex::Regex::new(r"[^\s\x22]*\.hcl:\d+:\d+").unwrap();
    let catalogs = [
        repo().join("examples/shop"),
        repo().join("tests/fixtures/valid/cluster.hcl"),
        repo().join("tests/fixtures/valid/minimal.hcl"),
    ];
    let mut restored = 0;
    for source in catalogs {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("catalog");
        std::fs::create_dir(&dir).unwrap();
        let sources: Vec<PathBuf> =
            if source.is_dir() { catalog::files(&source).unwrap() } else { vec![source.clone()] };
        // The repository's modules/ sit beside the catalog, so they are formatted and loaded too.
        std::fs::create_dir(dir.join("modules")).unwrap();
        let mut copied = Vec::new();
        for path in sources.iter().chain(&catalog::files(&repo().join("modules")).unwrap_or_default()) {
            let is_module = path.starts_with(repo().join("modules"));
            let target = if is_module { dir.join("modules") } else { dir.clone() }.join(path.file_name().unwrap());
            std::fs::copy(path, &target).unwrap();
            copied.push(target);
        }
        let meaning = |dir: &Path| {
            let model = catalog::load(dir).unwrap_or_else(|e| panic!("{}: {e:?}", dir.display()));
            let files = output::files(&model, &render::render(&model).unwrap()).unwrap();
            let json = serde_json::to_string_pretty(&model).unwrap();
            (location.replace_all(&json, "LOCATION").to_string(), files)
        };
        let before = meaning(&dir);
        let mut damaged_files = Vec::new();
        for path in &copied {
            let original = std::fs::read_to_string(path).unwrap();
            if path.extension().is_none_or(|e| e != "hcl") || original.contains("<<") || original.contains("/*") {
                continue;
            }
            damaged_files.push(path.clone());
            let damaged = mess_up(&original);
            assert_ne!(damaged, original);
            let formatted = format_text(path, &damaged).expect("damaged copy parses");
            assert_eq!(formatted, original, "{}: damaged copy did not format back", path.display());
            std::fs::write(path, damaged).unwrap();
            restored += 1;
        }
        let damaged = meaning(&dir);
        assert_eq!(before, damaged, "whitespace alone changes neither the model nor what is rendered");
        let out = glidepath(&["fmt", "-c", dir.to_str().unwrap()], temp.path());
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        for path in &damaged_files {
            let name = path.strip_prefix(temp.path()).unwrap().display().to_string();
            assert!(text(&out.stdout).contains(&name), "{name} not listed: {}", text(&out.stdout));
        }
        assert_eq!(meaning(&dir), before, "{}: the catalog means the same after fmt", source.display());
    }
    assert!(restored >= 6, "only {restored} files restored");
}

#[test]
fn check_lists_unformatted_files_and_writes_nothing() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("catalog");
    std::fs::create_dir(&dir).unwrap();
    let original = std::fs::read_to_string(repo().join("tests/fixtures/valid/minimal.hcl")).unwrap();
    let messy = mess_up(&original);
    std::fs::write(dir.join("a.hcl"), &messy).unwrap();
    // A formatted YAML file and one whose trailing spaces are block-scalar content.
    std::fs::write(dir.join("b.yaml"), "notifications:\n  team:\n    sns_topic: team-alerts\n").unwrap();
    std::fs::write(dir.join("c.yaml"), "# keep\nprofiles:\n  p:\n    team: |\n      a  \n").unwrap();

    let check = glidepath(&["fmt", "--check", "-c", "catalog"], temp.path());
    assert_eq!(check.status.code(), Some(1), "{}", text(&check.stderr));
    assert_eq!(text(&check.stdout), "catalog/a.hcl\n");
    assert!(text(&check.stderr).contains("catalog/c.yaml: left as it is"), "{}", text(&check.stderr));
    assert_eq!(std::fs::read_to_string(dir.join("a.hcl")).unwrap(), messy, "--check writes nothing");

    let diff = glidepath(&["fmt", "--check", "--diff", "-c", "catalog"], temp.path());
    assert_eq!(diff.status.code(), Some(1));
    let shown = text(&diff.stdout);
    assert!(
        shown.contains("--- catalog/a.hcl") && shown.contains(" -   platform {") && shown.contains(" +platform {"),
        "{shown}"
    );

    let write = glidepath(&["fmt", "-c", "catalog"], temp.path());
    assert_eq!(write.status.code(), Some(0), "{}", text(&write.stderr));
    assert_eq!(text(&write.stdout), "catalog/a.hcl\n");
    assert_eq!(std::fs::read_to_string(dir.join("a.hcl")).unwrap(), original);
    assert!(std::fs::read_to_string(dir.join("c.yaml")).unwrap().contains("a  \n"), "block scalar kept");
    let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(leftovers.len(), 3, "no temporary files left: {leftovers:?}");

    let again = glidepath(&["fmt", "--check", "-c", "catalog"], temp.path());
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert_eq!(text(&again.stdout), "");
}

#[test]
fn a_file_that_does_not_parse_is_located_and_left_alone() {
    let temp = tempfile::tempdir().unwrap();
    let broken = "platform {\n  name = \"shop\"\n    region = \n}\n";
    std::fs::write(temp.path().join("bad.hcl"), broken).unwrap();
    std::fs::write(temp.path().join("good.hcl"), "service \"a\" {\nport=1\n}\n").unwrap();
    let out = glidepath(&["fmt", "-c", "."], temp.path());
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("bad.hcl:3:14") && stderr.contains("catalog::syntax"), "{stderr}");
    assert!(stderr.contains("1 file(s) could not be read or do not parse"), "{stderr}");
    assert_eq!(std::fs::read_to_string(temp.path().join("bad.hcl")).unwrap(), broken, "not touched");
    assert_eq!(std::fs::read_to_string(temp.path().join("good.hcl")).unwrap(), "service \"a\" {\n  port = 1\n}\n");
}

#[cfg(unix)]
#[test]
fn a_symlinked_catalog_file_stays_a_symlink() {
    let temp = tempfile::tempdir().unwrap();
    std::fs::create_dir(temp.path().join("shared")).unwrap();
    std::fs::create_dir(temp.path().join("catalog")).unwrap();
    std::fs::write(temp.path().join("shared/a.hcl"), "service \"a\" {\nport=1\n}\n").unwrap();
    std::os::unix::fs::symlink("../shared/a.hcl", temp.path().join("catalog/a.hcl")).unwrap();
    let out = glidepath(&["fmt", "-c", "catalog"], temp.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(std::fs::symlink_metadata(temp.path().join("catalog/a.hcl")).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read_to_string(temp.path().join("shared/a.hcl")).unwrap(), "service \"a\" {\n  port = 1\n}\n");
}

/// What CI runs: the example catalog and the built-in profiles are formatted.
#[test]
fn the_examples_and_modules_pass_fmt_check() {
    for catalog in ["examples/shop", "modules"] {
        let out = glidepath(&["fmt", "--check", "-c", catalog], repo());
        assert_eq!(out.status.code(), Some(0), "{catalog}: {}{}", text(&out.stdout), text(&out.stderr));
        assert_eq!(text(&out.stdout), "", "{catalog}");
    }
}
