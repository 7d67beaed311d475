//! One bad catalog per validation rule (tests/fixtures/invalid): each must be rejected with the
//! problem codes its first line expects, every problem located at file:line:col, and the full
//! report snapshotted so wording changes are reviewed like code. A fixture is one file, or a
//! directory catalog (for rules about `modules/`) whose first file carries the expect line.

use std::fs;
use std::path::Path;

mod support;

use glidepath::catalog::{self, CatalogError};

use support::fixture_catalogs as fixtures;

fn expected_codes(path: &Path) -> Vec<String> {
    let file = if path.is_dir() {
        let files = fixtures(path.to_str().unwrap());
        files.into_iter().find(|p| p.is_file()).unwrap_or_else(|| panic!("{} holds no catalog file", path.display()))
    } else {
        path.to_path_buf()
    };
    let text = fs::read_to_string(&file).unwrap();
    let first = text.lines().next().unwrap_or_default();
    let codes = first
        .strip_prefix("# expect: ")
        .unwrap_or_else(|| panic!("{} must start with `# expect: CODE…`", file.display()));
    codes.split_whitespace().map(str::to_string).collect()
}

#[test]
fn every_invalid_fixture_is_rejected_with_located_problems() {
    let paths = fixtures("tests/fixtures/invalid");
    assert!(paths.len() >= 18, "expected a fixture per rule, found {}", paths.len());
    for path in paths {
        let problems = match catalog::load(&path) {
            Ok(_) => panic!("{} was accepted", path.display()),
            Err(CatalogError::Invalid(problems)) => problems,
            Err(other) => panic!("{}: {other}", path.display()),
        };
        let codes: Vec<&str> = problems.iter().map(|p| p.code.as_str()).collect();
        for expected in expected_codes(&path) {
            assert!(codes.contains(&expected.as_str()), "{}: expected {expected}, got {codes:?}", path.display());
        }
        let shown = path.display().to_string();
        let within = if path.is_dir() { format!("{shown}/") } else { format!("{shown}:") };
        for problem in &problems {
            let location = problem.span.location();
            assert!(location.starts_with(&within), "{location} is not in {shown}");
            assert!(problem.help.is_some(), "{}: problem without a fix: {}", shown, problem.message);
        }
        let report: Vec<String> = problems.iter().map(|p| p.one_line()).collect();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        insta::with_settings!({ snapshot_path => "../snapshots/validation", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(name, report.join("\n"));
        });
    }
}

#[test]
fn all_problems_are_reported_at_once() {
    let Err(CatalogError::Invalid(problems)) = catalog::load(Path::new("tests/fixtures/invalid/many-at-once.hcl"))
    else {
        panic!("many-at-once.hcl must be rejected");
    };
    assert!(problems.len() >= 5, "expected every problem, got {}: {problems:#?}", problems.len());
}

#[test]
fn locations_point_at_the_offending_text() {
    let Err(CatalogError::Invalid(problems)) = catalog::load(Path::new("tests/fixtures/invalid/unknown-field.hcl"))
    else {
        panic!("must be rejected");
    };
    let problem = problems.iter().find(|p| p.code == "catalog::unknown-field").unwrap();
    assert_eq!(problem.span.text(), "replica");
    assert_eq!(problem.span.location(), "tests/fixtures/invalid/unknown-field.hcl:29:3");
    assert_eq!(problem.help.as_deref(), Some("did you mean `replicas`?"));
}

#[test]
fn yaml_problems_are_located_too() {
    let Err(CatalogError::Invalid(problems)) = catalog::load(Path::new("tests/fixtures/invalid/yaml-errors.yaml"))
    else {
        panic!("must be rejected");
    };
    let unknown = problems.iter().find(|p| p.code == "catalog::unknown-field").unwrap();
    assert_eq!(unknown.span.text(), "readines");
    assert_eq!(unknown.span.location(), "tests/fixtures/invalid/yaml-errors.yaml:18:7");
}

#[test]
fn valid_fixtures_and_examples_load() {
    for path in fixtures("tests/fixtures/valid") {
        catalog::load(&path).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    }
    let model = catalog::load(Path::new("examples/shop")).unwrap();
    assert!(model.services.len() >= 10);
    let payment = model.services.iter().find(|s| s.name == "payment-service").unwrap();
    assert_eq!(payment.per_env["prod"].replicas, 20);
    assert_eq!(payment.canary.steps, [5, 20, 50, 100]);
    assert_eq!(payment.tier, 1, "tier comes from the critical profile");
    let user = model.services.iter().find(|s| s.name == "user-service").unwrap();
    assert_eq!(
        user.per_env["prod"].strategy,
        catalog::StrategyKind::BlueGreen,
        "YAML services load with the same schema"
    );
}

#[test]
fn profile_values_merge_under_service_values() {
    let model = catalog::load(Path::new("tests/fixtures/valid/minimal.hcl")).unwrap();
    let api = &model.services[0];
    // From the built-in `standard` profile:
    assert_eq!(api.canary.steps, [10, 50, 100]);
    assert_eq!(api.slo.max_error_rate.to_string(), "2%");
    // Defaults where neither sets a value:
    assert_eq!(api.per_env["dev"].replicas, 2);
    assert_eq!(model.environment("dev").unwrap().namespace, "demo-dev");
}

#[test]
fn linked_keys_replace_the_profile_together() {
    let temp = tempfile::tempdir().unwrap();
    let original = fs::read_to_string("tests/fixtures/valid/minimal.hcl").unwrap();
    // `critical` sets pdb.min_available and four canary steps with three pauses.
    let edited = original.replace("use       = \"standard\"", "use       = \"critical\"").replace(
        "  notify = [\"oncall\"]",
        "  notify = [\"oncall\"]\n  pdb {\n    max_unavailable = 1\n  }\n  canary {\n    steps = [25, 100]\n  }",
    );
    let path = temp.path().join("catalog.hcl");
    fs::write(&path, edited).unwrap();
    let model = catalog::load(&path).unwrap_or_else(|e| panic!("{e:?}"));
    let api = &model.services[0];
    assert!(matches!(api.pdb, catalog::Pdb::MaxUnavailable(ref v) if v == "1"));
    assert_eq!(api.canary.steps, [25, 100]);
    assert_eq!(api.canary.pauses.len(), 1, "the profile's three pauses went with its steps");
    assert_eq!(api.slo.max_error_rate.to_string(), "1%", "the rest of the profile still applies");
}

/// Issue 17: values that would add a key or a line to rendered YAML are refused at the catalog,
/// each at the offending string.
#[test]
fn hostile_strings_are_located_catalog_errors() {
    let located = |path: &str| -> Vec<(String, String)> {
        let Err(CatalogError::Invalid(problems)) = catalog::load(Path::new(path)) else {
            panic!("{path} must be rejected");
        };
        problems.iter().map(|p| (p.span.location(), p.code.as_str().to_string())).collect()
    };
    let control = located("tests/fixtures/invalid/control-character.hcl");
    let file = "tests/fixtures/invalid/control-character.hcl";
    for (at, what) in [
        ("25:13", "webhook with `\\n insecureSkipVerify: true`"),
        ("26:14", "email with a newline"),
        ("32:15", "team with a newline"),
        ("36:17", "probe path with CRLF"),
    ] {
        let location = format!("{file}:{at}");
        assert!(
            control.contains(&(location.clone(), "catalog::control-character".into())),
            "{what}: expected catalog::control-character at {location}, got {control:?}"
        );
    }
    assert!(!control.iter().any(|(_, code)| code == "catalog::empty-route"), "{control:?}");
    let text = located("tests/fixtures/invalid/malformed-text.hcl");
    let file = "tests/fixtures/invalid/malformed-text.hcl";
    for at in ["25:13", "26:14", "26:46", "27:14", "28:13", "34:15", "38:17"] {
        let location = format!("{file}:{at}");
        assert!(text.contains(&(location.clone(), "catalog::malformed-value".into())), "{location}: {text:?}");
    }
}

/// Secrets in env are refused, each located, and no message repeats the secret.
#[test]
fn plaintext_secrets_are_refused_without_repeating_them() {
    let path = "tests/fixtures/invalid/secret-in-catalog.hcl";
    let Err(CatalogError::Invalid(problems)) = catalog::load(Path::new(path)) else {
        panic!("{path} must be rejected")
    };
    let secrets: Vec<&glidepath::catalog::Problem> =
        problems.iter().filter(|p| p.code == "catalog::secret-in-catalog").collect();
    let lines: Vec<String> = secrets.iter().map(|p| p.span.location()).collect();
    assert_eq!(lines, [31, 32, 33, 34].map(|l| format!("{path}:{l}:21")), "{lines:?}");
    for problem in &problems {
        let line = problem.one_line();
        assert!(!line.contains("planted"), "{line}");
    }
    // The reference form is accepted: only the four literals are problems.
    assert_eq!(problems.len(), 4, "{problems:#?}");
}
