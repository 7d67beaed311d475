//! The service catalog: files on disk → one validated `Model`, or every problem found.
//!
//! A catalog is one `.hcl`/`.yaml` file or a directory of them. Profiles come from the built-in
//! modules, from a `modules/` directory beside the catalog files, and from `profile` blocks.

mod build;
mod ci;
pub mod decode;
mod delivery;
pub mod edit;
mod hcl;
pub mod model;
pub mod names;
pub mod problem;
mod profiles;
mod quarantine;
mod safety;
pub mod schema;
mod service;
pub mod source;
pub mod text;
mod traffic;
pub mod tree;
pub mod values;
mod workload;
mod yaml;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use model::*;
pub use problem::{CatalogError, Problem, Problems};

use crate::rules;
use profiles::{Origin, ProfileSet};
use source::{SourceFile, Span};
use tree::{Entry, Node, Value};

/// Keys whose entries are named blocks; files contribute to them together.
const GROUPED_KEYS: &[&str] = &["services", "environments", "notifications", "profiles", "clusters", "quarantines"];

/// Reads, parses and validates the catalog at `path`.
pub fn load(path: &Path) -> Result<Model, CatalogError> {
    let Discovered { catalog: catalog_files, modules: module_files, broken } = discover(path)?;
    let mut problems = Problems::default();
    // A file that cannot be read (a dangling or looping symlink, not UTF-8) is a problem at that
    // file, never skipped: a catalog missing a file would plan deletes of everything it declared.
    let broken_count = broken.len();
    for problem in broken {
        problems.push(problem);
    }

    let mut profiles = ProfileSet::default();
    for file in profiles::builtin_files() {
        collect_module(&file, Origin::BuiltIn, &mut profiles, &mut problems);
    }
    for file in &module_files {
        collect_module(file, Origin::Catalog, &mut profiles, &mut problems);
    }

    let mut roots = Vec::new();
    for file in &catalog_files {
        if let Some(root) = parse_file(file, &mut problems) {
            roots.push(root);
        }
    }
    // A file that does not parse hides its declarations; checking the rest would only report
    // their absence as more problems.
    if roots.len() < catalog_files.len() || broken_count > 0 {
        return Err(CatalogError::Invalid(problems.into_sorted()));
    }
    let root = merge_roots(&roots, catalog_files.first());
    if let Some(group) = root.entries().and_then(|e| e.iter().find(|e| e.key == "profiles")) {
        add_profiles(&group.node, Origin::Catalog, &mut profiles, &mut problems);
    }

    let model = build::build(&root, &profiles, path.to_path_buf(), &mut problems);
    match model {
        Some(model) if problems.is_empty() => Ok(model),
        _ => Err(CatalogError::Invalid(problems.into_sorted())),
    }
}

/// The files of one catalog: its own, and its `modules/` profiles, each in sorted order.
struct Discovered {
    catalog: Vec<Arc<SourceFile>>,
    modules: Vec<Arc<SourceFile>>,
    /// Catalog or module files that exist by name but cannot be read, as problems.
    broken: Vec<Problem>,
}

/// Every file `load` reads for the catalog at `path`: its own files, then its `modules/` files,
/// each in sorted order (for `fmt`; built-in profiles are not among them).
pub fn files(path: &Path) -> Result<Vec<PathBuf>, CatalogError> {
    let (mut catalog, modules) = discover_paths(path)?;
    catalog.extend(modules);
    Ok(catalog)
}

/// Syntax problems of one catalog file, located (an HCL or YAML parse error); empty when it parses.
pub fn syntax_problems(file: &Arc<SourceFile>) -> Vec<Problem> {
    let mut problems = Problems::default();
    match file.path.extension().and_then(|e| e.to_str()) {
        Some("yaml" | "yml") => {
            yaml::parse(file, &mut problems);
        }
        _ => {
            if let Err(problem) = hcl::parse_body(file) {
                problems.push(*problem);
            }
        }
    }
    problems.into_sorted().into_iter().filter(|p| p.code == rules::SYNTAX.code).collect()
}

/// The paths of a catalog's files and of its `modules/` files.
fn discover_paths(path: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>), CatalogError> {
    let unreadable =
        |p: &Path, e: std::io::Error| CatalogError::Unreadable { path: p.display().to_string(), reason: e.to_string() };
    let (catalog_paths, modules_dir) = if path.is_dir() {
        (catalog_files_in(path).map_err(|e| unreadable(path, e))?, path.join("modules"))
    } else if path.exists() {
        let beside = path.parent().unwrap_or(Path::new(".")).join("modules");
        (vec![path.to_path_buf()], beside)
    } else {
        return Err(CatalogError::Unreadable {
            path: path.display().to_string(),
            reason: "no such file or directory (pass the catalog with -c/--catalog)".into(),
        });
    };
    if catalog_paths.is_empty() {
        return Err(CatalogError::Unreadable {
            path: path.display().to_string(),
            reason: "the directory holds no .hcl, .yaml or .yml files".into(),
        });
    }
    let module_paths = if modules_dir.is_dir() {
        catalog_files_in(&modules_dir).map_err(|e| unreadable(&modules_dir, e))?
    } else {
        Vec::new()
    };
    Ok((catalog_paths, module_paths))
}

fn discover(path: &Path) -> Result<Discovered, CatalogError> {
    let (catalog_paths, module_paths) = discover_paths(path)?;
    let mut broken = Vec::new();
    let mut read = |paths: Vec<PathBuf>| -> Vec<Arc<SourceFile>> {
        let mut files = Vec::new();
        for p in paths {
            match read_source(&p) {
                Ok(file) => files.push(file),
                Err(problem) => broken.push(*problem),
            }
        }
        files
    };
    let catalog = read(catalog_paths);
    let modules = read(module_paths);
    if catalog.is_empty() && broken.is_empty() {
        return Err(CatalogError::Unreadable {
            path: path.display().to_string(),
            reason: "no catalog file could be read".into(),
        });
    }
    Ok(Discovered { catalog, modules, broken })
}

/// One catalog file, or the problem that keeps it from being read, located at the file (and,
/// for text that is not UTF-8, at the first bad byte).
pub fn read_source(path: &Path) -> Result<Arc<SourceFile>, Box<Problem>> {
    let at_start = |reason: String, help: &str| {
        let file = SourceFile::new(path, "");
        Box::new(
            Problem::new(rules::UNREADABLE_FILE, &Span::new(&file, 0..0), reason)
                .label("cannot read")
                .help(help.to_string()),
        )
    };
    let is_link = std::fs::symlink_metadata(path).map(|m| m.file_type().is_symlink()).unwrap_or(false);
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if is_link => {
            let target = std::fs::read_link(path).map(|t| t.display().to_string()).unwrap_or_else(|_| "?".into());
            return Err(at_start(
                format!("{} is a symlink to {target}, which cannot be read: {e}", path.display()),
                "point the symlink at an existing catalog file, or remove it",
            ));
        }
        Err(e) => {
            return Err(at_start(
                format!("cannot read {}: {e}", path.display()),
                "make the file readable, or remove it",
            ))
        }
    };
    match String::from_utf8(bytes) {
        Ok(text) => Ok(SourceFile::new(path, text)),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let file = SourceFile::new(path, String::from_utf8_lossy(e.as_bytes()).to_string());
            Err(Box::new(
                Problem::new(
                    rules::UNREADABLE_FILE,
                    &Span::new(&file, at..at + 1),
                    format!("{} is not UTF-8 text", path.display()),
                )
                .label("not UTF-8")
                .help("save the file as UTF-8"),
            ))
        }
    }
}

fn catalog_files_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        // Not `is_file()`: that is false for a dangling or looping symlink, which must be reported
        // (by `read_source`), not skipped. Directories are not catalog files.
        .filter(|p| !p.is_dir() && matches!(p.extension().and_then(|e| e.to_str()), Some("hcl" | "yaml" | "yml")))
        .collect();
    files.sort();
    Ok(files)
}

/// One catalog file's contents as the JSON value its JSON Schema describes (HCL blocks become
/// the mappings a YAML catalog writes), or the problems that keep it from parsing.
pub fn file_as_json(path: &Path) -> Result<serde_json::Value, Vec<Problem>> {
    let file = read_source(path).map_err(|p| vec![*p])?;
    let mut problems = Problems::default();
    match parse_file(&file, &mut problems) {
        Some(root) if problems.is_empty() => Ok(root.to_json()),
        _ => Err(problems.into_sorted()),
    }
}

fn parse_file(file: &Arc<SourceFile>, problems: &mut Problems) -> Option<Node> {
    match file.path.extension().and_then(|e| e.to_str()) {
        Some("yaml" | "yml") => yaml::parse(file, problems),
        _ => hcl::parse(file, problems),
    }
}

/// A module file may only declare profiles.
fn collect_module(file: &Arc<SourceFile>, origin: Origin, profiles: &mut ProfileSet, problems: &mut Problems) {
    let Some(root) = parse_file(file, problems) else { return };
    let Some(entries) = root.entries() else { return };
    for entry in entries {
        if entry.key == "profiles" {
            add_profiles(&entry.node, origin, profiles, problems);
        } else {
            problems.push(
                Problem::new(rules::MODULE_CONTENT, &entry.key_span, format!("`{}` in a modules/ file", entry.key))
                    .label("only profiles belong here")
                    .help("modules/ files hold `profile \"NAME\" { … }` blocks; move this into the catalog"),
            );
        }
    }
}

fn add_profiles(group: &Node, origin: Origin, profiles: &mut ProfileSet, problems: &mut Problems) {
    for (name, node) in build::named_blocks(Some(group), "profile", problems) {
        if let Some(entries) = node.entries() {
            if let Some(nested) = entries.iter().find(|e| e.key == "use") {
                problems.push(
                    Problem::new(
                        rules::PROFILE_CHAIN,
                        &nested.key_span,
                        format!("profile `{}` uses another profile", name.value),
                    )
                    .help("profiles do not stack; copy the settings you need into this profile"),
                );
            }
        }
        if let Err(first) = profiles.insert(name.value.clone(), node.clone(), origin) {
            problems.push(
                Problem::new(rules::DUPLICATE_NAME, &name.span, format!("profile `{}` is declared twice", name.value))
                    .help(format!("rename or remove one; the other is at {}", first.span.location())),
            );
        }
    }
}

/// Joins the files of a directory catalog into one tree: named groups are concatenated, other
/// keys are kept side by side so a second `platform` is reported as a duplicate.
fn merge_roots(roots: &[Node], first_file: Option<&Arc<SourceFile>>) -> Node {
    let span = match first_file {
        Some(file) => Span::new(file, 0..0),
        None => Span::new(&SourceFile::new("<empty>", ""), 0..0),
    };
    let mut entries: Vec<Entry> = Vec::new();
    for root in roots {
        let Some(root_entries) = root.entries() else { continue };
        for entry in root_entries {
            let grouped = GROUPED_KEYS.contains(&entry.key.as_str());
            let existing = entries.iter_mut().find(|e| e.key == entry.key);
            match (grouped, existing, &entry.node.value) {
                (true, Some(Entry { node: Node { value: Value::Map(group), .. }, .. }), Value::Map(more)) => {
                    group.extend(more.iter().cloned())
                }
                _ => entries.push(entry.clone()),
            }
        }
    }
    Node { span, value: Value::Map(entries) }
}
