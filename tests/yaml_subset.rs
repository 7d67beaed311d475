//! The fast reader of template YAML (`render::yaml_subset`) against serde_norway on every
//! template output glidepath renders for the examples and the catalog fixtures: it either
//! refuses a text or reads exactly the value serde_norway reads, and it refuses little enough to
//! be worth having. One test in this binary: the reader's recording of the texts it is offered
//! is process-wide, so nothing else may render while it records.

use std::fs;
use std::path::{Path, PathBuf};

use glidepath::render::{self, pipeline, workflow, yaml_subset};
use glidepath::{catalog, check};

/// Every catalog under examples/ and the fixtures that hold whole catalogs (a directory or one
/// `.hcl` file each); the invalid ones are skipped where they fail to load.
fn catalogs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let entries = |dir: &str| -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        paths.sort();
        paths
    };
    out.extend(entries("examples").into_iter().filter(|p| p.is_dir()));
    out.extend(entries("tests/fixtures/render").into_iter().filter(|p| p.is_dir()));
    for dir in ["tests/fixtures/check", "tests/fixtures/valid", "tests/fixtures/invalid"] {
        out.extend(entries(dir).into_iter().filter(|p| p.extension().is_some_and(|e| e == "hcl")));
    }
    for file in
        ["tests/fixtures/dataplane/catalog.hcl", "tests/fixtures/e2e/catalog.hcl", "tests/fixtures/routers/catalog.hcl"]
    {
        out.push(PathBuf::from(file));
    }
    out
}

/// Every text the renderers hand the reader for `catalog`: kube objects, buildspecs,
/// notification templates (through `render`), workflows (through `workflows` and `check`).
fn template_texts(path: &Path) -> Option<Vec<String>> {
    let model = catalog::load(path).ok()?;
    yaml_subset::start_recording();
    let desired = render::render(&model);
    let _ = workflow::workflows(&model);
    let _ = pipeline::buildspecs(&model);
    if let Ok(desired) = &desired {
        let _ = check::check(&model, desired);
    }
    Some(yaml_subset::stop_recording())
}

#[test]
fn the_fast_reader_refuses_or_agrees_with_serde_norway_on_every_rendered_template() {
    let (mut total, mut accepted, mut loaded) = (0, 0, 0);
    for path in catalogs() {
        let Some(texts) = template_texts(&path) else { continue };
        loaded += 1;
        let mut refused = Vec::new();
        for text in &texts {
            let expected: Result<serde_json::Value, _> = serde_norway::from_str(text);
            match yaml_subset::parse(text) {
                Some(fast) => {
                    let expected = expected.unwrap_or_else(|e| {
                        panic!("{}: the fast reader accepts what serde_norway refuses ({e}):\n{text}", path.display())
                    });
                    assert_eq!(fast, expected, "{}: the readers disagree on\n{text}", path.display());
                    // A workflow as `check` reads it is that same value.
                    assert_eq!(workflow::document(text).unwrap(), fast);
                    accepted += 1;
                }
                None => refused.push(text),
            }
        }
        total += texts.len();
        for text in &refused {
            eprintln!("refused ({}): {}", path.display(), text.lines().take(3).collect::<Vec<_>>().join(" ⏎ "));
        }
        // The shop example is what a real catalog renders: the reader must take all of it, or it
        // is silently falling back.
        if path == Path::new("examples/shop") {
            assert!(texts.len() > 50, "only {} texts recorded for examples/shop", texts.len());
            assert!(
                refused.is_empty(),
                "examples/shop: the fast reader refuses {} texts, e.g.\n{}",
                refused.len(),
                refused[0]
            );
        }
    }
    eprintln!("{loaded} catalogs, {total} texts, {accepted} read by the fast reader");
    assert!(loaded > 20, "only {loaded} catalogs loaded");
    // Refusals are the exception (hostile fixtures, empty literal blocks and the like).
    assert!(accepted * 100 >= total * 95, "the fast reader accepts only {accepted} of {total} texts");
}
