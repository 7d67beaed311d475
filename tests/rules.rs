//! The rule registry (src/rules.rs) against the fixtures and the docs: every registered code must
//! come out of running validation or check on a fixture, and have its row in the README's
//! tables. A rule added without both fails here.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use glidepath::catalog::{self, CatalogError};
use glidepath::{check, render, rules};

use support::fixture_catalogs as fixtures;

/// Every code the fixtures produce, with what produced it: the catalogs under
/// tests/fixtures/invalid (validation), those under tests/fixtures/check (the check), and the
/// tampered renders of tests/support/tamper.rs (policies a correct render never breaks).
fn produced_codes() -> BTreeMap<&'static str, BTreeSet<String>> {
    let mut found: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    for path in fixtures("tests/fixtures/invalid") {
        match catalog::load(&path) {
            Err(CatalogError::Invalid(problems)) => {
                for problem in problems {
                    found.entry(problem.code.as_str()).or_default().insert(path.display().to_string());
                }
            }
            Err(other) => panic!("{}: {other}", path.display()),
            Ok(_) => panic!("{} was accepted", path.display()),
        }
    }
    for path in fixtures("tests/fixtures/check") {
        let model = catalog::load(&path).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        let desired = render::render(&model).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for finding in check::check(&model, &desired).findings {
            found.entry(finding.code.as_str()).or_default().insert(path.display().to_string());
        }
    }
    for case in support::tamper::cases() {
        for code in support::tamper::policy_errors(case.edit) {
            found.entry(code).or_default().insert(format!("tampered render: {}", case.what));
        }
    }
    found
}

#[test]
fn every_rule_is_triggered_by_a_fixture() {
    let produced = produced_codes();
    let missing: Vec<String> = rules::ALL
        .iter()
        .filter(|rule| !produced.contains_key(rule.code.as_str()))
        .map(|rule| format!("  {} ({:?})", rule.code, rule.stage))
        .collect();
    assert!(
        missing.is_empty(),
        "no fixture triggers these rules:\n{}\nadd a catalog that does to tests/fixtures/invalid/ (validation, with an \
         insta snapshot) or tests/fixtures/check/ (check), or, for a policy a correct render never breaks, an edit to \
         tests/support/tamper.rs",
        missing.join("\n")
    );
    // Problem and Finding only take registered codes; this guards the fixtures' view of that.
    for code in produced.keys() {
        assert!(rules::lookup(code).is_some(), "{code} is produced but not registered in src/rules.rs");
    }
}

#[test]
fn fixtures_expect_registered_codes() {
    for dir in ["tests/fixtures/invalid", "tests/fixtures/check"] {
        for path in fixtures(dir) {
            let file = if path.is_dir() { path.join("catalog.hcl") } else { path.clone() };
            let text = fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let expect = text.lines().next().and_then(|l| l.strip_prefix("# expect: "));
            let expect = expect.unwrap_or_else(|| panic!("{} must start with `# expect: CODE…`", file.display()));
            for code in expect.split_whitespace() {
                assert!(rules::lookup(code).is_some(), "{}: `{code}` is not a registered rule", file.display());
            }
        }
    }
    for case in support::tamper::cases() {
        assert!(rules::lookup(case.expect).is_some(), "{}: `{}` is not a registered rule", case.what, case.expect);
    }
}

/// The codes of the README's rule tables (rows starting with a code), in order.
fn readme_rows() -> Vec<String> {
    let readme = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    readme
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`').map(|(code, _)| code.to_string()))
        .filter(|code| ["catalog::", "check::", "policy::"].iter().any(|p| code.starts_with(p)))
        .collect()
}

#[test]
fn every_rule_has_a_readme_row_and_every_row_a_rule() {
    let rows = readme_rows();
    let missing: Vec<&str> =
        rules::ALL.iter().map(|r| r.code.as_str()).filter(|code| !rows.iter().any(|row| row == code)).collect();
    assert!(missing.is_empty(), "README.md has no table row for {missing:?}: add `| `CODE` | … |` to its table");
    let unknown: Vec<&String> = rows.iter().filter(|row| rules::lookup(row).is_none()).collect();
    assert!(unknown.is_empty(), "README.md documents codes no rule has: {unknown:?}");
    let registered: Vec<&str> = rules::ALL.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(rows, registered, "README.md's tables and src/rules.rs list the rules in the same order, once each");
}

#[test]
fn explain_prints_a_rules_documentation() {
    let explain = |args: &[&str]| support::glidepath_command().arg("explain").args(args).output().unwrap();
    let one = explain(&["empty-route"]);
    assert_eq!(one.status.code(), Some(0));
    let text = String::from_utf8_lossy(&one.stdout);
    assert!(text.starts_with("catalog::empty-route (error, catalog validation"), "{text}");
    assert!(text.contains(rules::EMPTY_ROUTE.why) && text.contains(rules::EMPTY_ROUTE.fix), "{text}");
    let waivable = explain(&["check::exposure-over-limit"]);
    assert!(String::from_utf8_lossy(&waivable.stdout).contains("waivers { exposure = "));

    let all = explain(&[]);
    assert_eq!(String::from_utf8_lossy(&all.stdout).lines().count(), rules::ALL.len());

    let unknown = explain(&["catalog::empty-rout"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("did you mean `catalog::empty-route`?"));
}
