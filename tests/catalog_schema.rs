//! The catalog's JSON Schema (`glidepath schema`), checked by check-jsonschema, the validator
//! pre-commit hooks and CI pipelines run on YAML and JSON files: it accepts every file of every
//! catalog glidepath accepts, and rejects the structural mistakes glidepath rejects (unknown
//! fields, wrong types, values out of range, unknown relaxations and waivers).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use glidepath::catalog;
use serde_json::{json, Value};

const CHECK_JSONSCHEMA: &str = "check-jsonschema-0.39.0/bin/check-jsonschema";
const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots/catalog.schema.json");

/// Problem codes a schema of one file can see: the shape of the file, not references between
/// files or rules over several values.
const STRUCTURAL: &[&str] = &[
    "catalog::unknown-field",
    "catalog::wrong-type",
    "catalog::unknown-relaxation",
    "catalog::unknown-waiver",
    "catalog::unreasoned-relaxation",
    "catalog::unreasoned-waiver",
    "catalog::invalid-name",
];

fn check_jsonschema() -> PathBuf {
    support::cached_tool(CHECK_JSONSCHEMA, "run scripts/install-check-jsonschema")
}

fn schema_text() -> String {
    let out = support::glidepath_command().arg("schema").output().expect("run glidepath schema");
    assert!(out.status.success(), "glidepath schema failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// check-jsonschema's verdict: the files it rejects (an empty list: all valid).
fn rejected(schema: &Path, instances: &[PathBuf]) -> Vec<String> {
    let out = Command::new(check_jsonschema())
        .args(["--output-format", "json", "--schemafile"])
        .arg(schema)
        .args(instances)
        .output()
        .expect("run check-jsonschema");
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("check-jsonschema printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    let mut files: Vec<String> = report["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| format!("{}: {} at {}", e["filename"].as_str().unwrap_or("?"), e["message"], e["path"]))
        .collect();
    // Parse errors are reported apart from validation errors.
    if let Some(parse) = report["parse_errors"].as_array() {
        files.extend(parse.iter().map(|e| format!("parse error: {e}")));
    }
    assert_eq!(files.is_empty(), out.status.success(), "exit status and report disagree: {report}");
    files
}

fn rejects(failures: &[String], instance: &Path) -> bool {
    let name = format!("{}: ", instance.display());
    failures.iter().any(|f| f.starts_with(&name))
}

struct Bed {
    dir: tempfile::TempDir,
    schema: PathBuf,
}

impl Bed {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let schema = dir.path().join("catalog.schema.json");
        std::fs::write(&schema, schema_text()).expect("write schema");
        Bed { dir, schema }
    }

    /// The file as the JSON the schema describes, written next to the schema.
    fn instance(&self, file: &Path, value: &Value) -> PathBuf {
        let name = file.to_string_lossy().replace('/', "_") + ".json";
        let path = self.dir.path().join(name);
        std::fs::write(&path, serde_json::to_string_pretty(value).expect("serialize")).expect("write instance");
        path
    }

    fn as_json(&self, file: &Path) -> PathBuf {
        let value = catalog::file_as_json(file).unwrap_or_else(|p| panic!("{} does not parse: {p:?}", file.display()));
        self.instance(file, &value)
    }
}

fn files_in(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("hcl" | "yaml" | "yml")))
        .collect();
    files.sort();
    files
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let committed = std::fs::read_to_string(SNAPSHOT).unwrap_or_default();
    assert!(
        committed == schema_text(),
        "snapshots/catalog.schema.json is stale: run `cargo run -q -- schema > snapshots/catalog.schema.json` and review the diff"
    );
}

#[test]
fn the_schema_accepts_every_file_of_the_catalogs_glidepath_accepts() {
    let bed = Bed::new();
    let mut sources = files_in("examples/shop");
    sources.extend(files_in("modules"));
    sources.extend(files_in("tests/fixtures/valid"));
    for catalog in ["examples/shop", "tests/fixtures/valid/minimal.hcl", "tests/fixtures/valid/cluster.hcl"] {
        catalog::load(Path::new(catalog)).unwrap_or_else(|e| panic!("{catalog} is no longer valid: {e:?}"));
    }
    let mut instances: Vec<PathBuf> = sources.iter().map(|f| bed.as_json(f)).collect();
    // The YAML file also as editors and CI validators read it, not through glidepath's parser.
    instances.push(PathBuf::from("examples/shop/accounts.yaml"));
    let failures = rejected(&bed.schema, &instances);
    assert!(failures.is_empty(), "the schema rejects files glidepath accepts:\n{}", failures.join("\n"));
}

#[test]
fn the_schema_rejects_the_structural_mistakes_glidepath_rejects() {
    let bed = Bed::new();
    let mut checked = Vec::new();
    let mut instances = Vec::new();
    for fixture in files_in("tests/fixtures/invalid") {
        let text = std::fs::read_to_string(&fixture).expect("read fixture");
        let Some(expected) = text.lines().next().and_then(|l| l.strip_prefix("# expect: ")) else { continue };
        let codes: Vec<&str> = expected.split_whitespace().collect();
        if !codes.iter().all(|c| STRUCTURAL.contains(c)) {
            continue;
        }
        // glidepath rejects it (the fixture's own test says with which codes) …
        assert!(catalog::load(&fixture).is_err(), "{} is accepted by glidepath", fixture.display());
        let Ok(value) = catalog::file_as_json(&fixture) else { continue };
        instances.push(bed.instance(&fixture, &value));
        checked.push(format!("{} ({expected})", fixture.display()));
    }
    // … and so does the schema.
    let failures = rejected(&bed.schema, &instances);
    for (instance, fixture) in instances.iter().zip(&checked) {
        assert!(rejects(&failures, instance), "the schema accepts {fixture}");
    }
    assert!(checked.len() >= 6, "too few structural fixtures were checked: {checked:?}");
}

/// Every block the example catalog writes, given a field no block has: the schema refuses each
/// one, so no block is left open to misspelt settings.
#[test]
fn a_misspelt_field_is_refused_in_every_block_of_the_example() {
    let bed = Bed::new();
    let mut instances = Vec::new();
    for file in files_in("examples/shop") {
        let value = catalog::file_as_json(&file).expect("parses");
        let mut paths = Vec::new();
        blocks_in(&value, &mut Vec::new(), &mut paths);
        for path in paths {
            let mut broken = value.clone();
            let mut at = &mut broken;
            for key in &path {
                at = &mut at[key.as_str()];
            }
            at.as_object_mut().expect("a block").insert("replicaz".into(), json!(1));
            let name = PathBuf::from(format!("{}-{}", file.display(), path.join(".")));
            instances.push((path.join("."), bed.instance(&name, &broken)));
        }
    }
    assert!(instances.len() > 20, "few blocks found: {}", instances.len());
    let files: Vec<PathBuf> = instances.iter().map(|(_, file)| file.clone()).collect();
    let failures = rejected(&bed.schema, &files);
    for (path, instance) in &instances {
        assert!(rejects(&failures, instance), "the schema accepts an unknown field in {path}");
    }
}

/// Paths of the objects in `value` that are blocks (not maps of names, environments or
/// variables: those take any key).
fn blocks_in(value: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let Value::Object(map) = value else { return };
    let parent = path.last().map(String::as_str);
    let is_map_of_names = matches!(
        parent,
        Some("services" | "environments" | "clusters" | "notifications" | "profiles" | "env" | "relax" | "waivers")
    ) || map.contains_key("default")
        || parent.is_some_and(|p| ["replicas", "image_tag", "strategy", "expected_rps", "max_replicas"].contains(&p));
    if !is_map_of_names {
        out.push(path.clone());
    }
    for (key, inner) in map {
        path.push(key.clone());
        blocks_in(inner, path, out);
        path.pop();
    }
}
