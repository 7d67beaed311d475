//! One small catalog per rendered feature (tests/fixtures/render/FEATURE/catalog.hcl), and one
//! short snapshot per feature (snapshots/features/FEATURE.snap) holding only the files, or parts
//! of files, that the feature is about. A template change therefore shows up in the one or two
//! feature snapshots that exercise it, and a reviewer reads those first; the whole-example
//! snapshots in snapshots/render (tests/render.rs) stay as the broad safety net.
//!
//! What a feature snapshots is written at the top of its catalog, one line per selection:
//!
//! ```text
//! # snapshot: prod/api/rollout.api.yaml#/spec/strategy
//! # snapshot: aws/sns_topic.*.json
//! ```
//!
//! A selection is a rendered file path (as under `render --out DIR`; `*` matches within one path
//! segment), optionally followed by `#` and a JSON pointer into the file (that part is shown as
//! YAML). The other comment lines at the top of the catalog say what the feature is; they become
//! the snapshot's description.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use glidepath::catalog;
use glidepath::render::{self, output};
use serde_json::Value;

const FIXTURES: &str = "tests/fixtures/render";
const SELECTION: &str = "# snapshot: ";

/// One test per feature; the test's name is the fixture directory's, with `_` for `-`.
macro_rules! features {
    ($($name:ident),* $(,)?) => {
        const FEATURES: &[&str] = &[$(stringify!($name)),*];
        $(
            #[test]
            fn $name() {
                assert_feature_snapshot(&stringify!($name).replace('_', "-"));
            }
        )*
    };
}

features!(
    minimal,
    canary,
    blue_green,
    analysis,
    rollout,
    migrations,
    hpa,
    pdb,
    irsa,
    notifications,
    profiles,
    github_workflow,
    codepipeline,
    buildspecs,
    gitops,
    traffic_istio,
    traffic_alb,
    traffic_gateway_api,
    security,
);

/// Which rendered files each template under templates/ produces. A new template must be added
/// here, and some feature must snapshot its output whole (`every_template_is_shown_by_a_feature`).
const TEMPLATE_OUTPUT: &[(&str, &str)] = &[
    ("aws/buildspec-build.yaml.j2", "aws/buildspec.*-build.yaml"),
    ("aws/buildspec-deploy.yaml.j2", "aws/buildspec.*-deploy.yaml"),
    ("aws/buildspec-integration-tests.yaml.j2", "aws/buildspec.*-integration-tests.yaml"),
    ("aws/buildspec-load-test.yaml.j2", "aws/buildspec.*-load-test.yaml"),
    ("github/workflow.yaml.j2", ".github/workflows/*.yaml"),
    ("kube/analysistemplate-slo.yaml.j2", "*/*/analysistemplate.*-slo.yaml"),
    ("kube/analysistemplate-smoke.yaml.j2", "*/*/analysistemplate.*-smoke.yaml"),
    ("kube/horizontalpodautoscaler.yaml.j2", "*/*/horizontalpodautoscaler.*.yaml"),
    ("kube/namespace.yaml.j2", "*/_shared/namespace.*.yaml"),
    ("kube/notification-configmap.yaml.j2", "*/_shared/configmap.argo-rollouts-notification-configmap.yaml"),
    // Its output is the ConfigMap's `template.*` entries.
    ("kube/notification-template.yaml.j2", "*/_shared/configmap.argo-rollouts-notification-configmap.yaml"),
    ("kube/poddisruptionbudget.yaml.j2", "*/*/poddisruptionbudget.*.yaml"),
    ("kube/rollout.yaml.j2", "*/*/rollout.*.yaml"),
    ("kube/migration-job.yaml.j2", "*/*/job.*.yaml"),
    ("kube/service.yaml.j2", "*/*/service.*.yaml"),
    ("kube/serviceaccount.yaml.j2", "*/*/serviceaccount.*.yaml"),
    ("kube/virtualservice.yaml.j2", "*/*/virtualservice.*.yaml"),
    ("kube/ingress.yaml.j2", "*/*/ingress.*.yaml"),
    ("kube/httproute.yaml.j2", "*/*/httproute.*.yaml"),
];

struct Fixture {
    catalog: PathBuf,
    /// The leading comment lines that are not selections.
    about: String,
    /// (path pattern, JSON pointer or "" for the whole file), in the order written.
    selections: Vec<(String, String)>,
}

fn fixture(feature: &str) -> Fixture {
    let catalog = Path::new(FIXTURES).join(feature).join("catalog.hcl");
    let text = fs::read_to_string(&catalog).unwrap_or_else(|e| panic!("{}: {e}", catalog.display()));
    let mut about = Vec::new();
    let mut selections = Vec::new();
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        match line.strip_prefix(SELECTION) {
            Some(selection) => {
                let (pattern, pointer) = selection.trim().split_once('#').unwrap_or((selection.trim(), ""));
                selections.push((pattern.to_string(), pointer.to_string()));
            }
            None => about.push(line.trim_start_matches('#').trim()),
        }
    }
    assert!(!selections.is_empty(), "{} has no `{SELECTION}PATH[#POINTER]` line", catalog.display());
    Fixture { catalog, about: about.join(" "), selections }
}

/// `*` matches any run of characters within one path segment; everything else matches itself.
fn matches(pattern: &str, path: &str) -> bool {
    fn segment(pattern: &str, text: &str) -> bool {
        match pattern.split_once('*') {
            None => pattern == text,
            Some((head, tail)) => {
                let Some(rest) = text.strip_prefix(head) else { return false };
                (0..=rest.len()).filter(|&i| rest.is_char_boundary(i)).any(|i| segment(tail, &rest[i..]))
            }
        }
    }
    let (pattern, path): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), path.split('/').collect());
    pattern.len() == path.len() && pattern.iter().zip(&path).all(|(p, s)| segment(p, s))
}

fn rendered_files(fixture: &Fixture) -> BTreeMap<String, String> {
    let dir = fixture.catalog.parent().unwrap();
    let model = catalog::load(dir).unwrap_or_else(|e| panic!("{}: {e:?}", dir.display()));
    let files = output::files(&model, &render::render(&model).unwrap()).unwrap();
    files.into_iter().map(|(path, text)| (path.to_string_lossy().replace('\\', "/"), text)).collect()
}

/// The part of a rendered file a pointer selects, as YAML whatever the file's format (shorter
/// than pretty JSON, and the same for every part).
fn part(path: &str, text: &str, pointer: &str) -> String {
    let value: Value = if path.ends_with(".json") {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{path}: {e}"))
    } else {
        serde_norway::from_str(text).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    match value.pointer(pointer) {
        // An absent part is worth showing too (no `spec.replicas` where an HPA owns them).
        None => "(absent)\n".to_string(),
        Some(part) => serde_norway::to_string(part).unwrap(),
    }
}

/// The selected (path, text) sections of a feature's rendered output; every selection must
/// match at least one file, so a renamed file cannot silently empty a snapshot.
fn selected(fixture: &Fixture) -> Vec<(String, String)> {
    let files = rendered_files(fixture);
    let mut sections = Vec::new();
    for (pattern, pointer) in &fixture.selections {
        let chosen: Vec<(&String, &String)> = files.iter().filter(|(path, _)| matches(pattern, path)).collect();
        assert!(
            !chosen.is_empty(),
            "{}: `{pattern}` matches no rendered file; rendered:\n{}",
            fixture.catalog.display(),
            files.keys().cloned().collect::<Vec<_>>().join("\n")
        );
        for (path, text) in chosen {
            if pointer.is_empty() {
                sections.push((path.clone(), text.clone()));
            } else {
                sections.push((format!("{path}#{pointer}"), part(path, text, pointer)));
            }
        }
    }
    sections
}

fn assert_feature_snapshot(feature: &str) {
    let fixture = fixture(feature);
    let body: String =
        selected(&fixture).iter().map(|(heading, text)| format!("# ---- {heading} ----\n{text}")).collect();
    let description = format!("{}: {}", fixture.catalog.display(), fixture.about);
    insta::with_settings!({
        snapshot_path => "../snapshots/features",
        prepend_module_to_snapshot => false,
        description => description,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(feature, body);
    });
}

#[test]
fn every_fixture_has_a_test() {
    let mut dirs: Vec<String> = fs::read_dir(FIXTURES)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    dirs.sort();
    let mut tested: Vec<String> = FEATURES.iter().map(|f| f.replace('_', "-")).collect();
    tested.sort();
    assert_eq!(dirs, tested, "add the fixture directory's name to features!(…) in this file");
}

#[test]
fn every_template_is_shown_by_a_feature() {
    fn templates_in(dir: &Path, out: &mut BTreeSet<String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                templates_in(&path, out);
            } else if path.extension().is_some_and(|e| e == "j2") {
                // Not tools.yaml: the pin table is data the templates are filled from, held to
                // the deployer image by tests/tools.rs.
                out.insert(path.strip_prefix("templates").unwrap().to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut on_disk = BTreeSet::new();
    templates_in(Path::new("templates"), &mut on_disk);
    let listed: BTreeSet<String> = TEMPLATE_OUTPUT.iter().map(|(t, _)| t.to_string()).collect();
    assert_eq!(on_disk, listed, "list every template under templates/ in TEMPLATE_OUTPUT");

    // Every file some feature snapshot shows whole (not just a part of it), so a change anywhere
    // in a template shows up in at least one feature snapshot.
    let mut shown = BTreeSet::new();
    for feature in FEATURES {
        for (heading, _) in selected(&fixture(&feature.replace('_', "-"))) {
            if !heading.contains('#') {
                shown.insert(heading);
            }
        }
    }
    for (template, pattern) in TEMPLATE_OUTPUT {
        assert!(
            shown.iter().any(|path| matches(pattern, path)),
            "no feature snapshot shows the output of templates/{template} ({pattern}) whole; add a fixture under {FIXTURES}"
        );
    }
}

#[test]
fn patterns_match_within_segments() {
    assert!(matches("*/*/rollout.*.yaml", "prod/api/rollout.api.yaml"));
    assert!(!matches("*/*/rollout.*.yaml", "gitops/overlays/prod/api/rollout.api.yaml"));
    assert!(matches("aws/buildspec.*-build.yaml", "aws/buildspec.demo-api-build.yaml"));
    assert!(!matches("aws/buildspec.*-build.yaml", "aws/buildspec.demo-api-deploy.yaml"));
    assert!(matches(".github/workflows/*.yaml", ".github/workflows/api.yaml"));
}

/// The escaping convention of templates/ (see src/render/templates.rs): `{{ x }}` and
/// `{{ x | tojson }}` are escaped; `| line` (unquoted, one line) only in comments and in the
/// literal message block of the notification template; nothing can write raw text.
#[test]
fn templates_write_raw_text_only_in_comments_and_literal_blocks() {
    for (template, _) in TEMPLATE_OUTPUT {
        let text = fs::read_to_string(Path::new("templates").join(template)).unwrap();
        for (n, line) in text.lines().enumerate() {
            let at = format!("templates/{template}:{}", n + 1);
            for raw in ["| safe", "|safe", "| e ", "| escape", "autoescape"] {
                assert!(!line.contains(raw), "{at}: `{raw}` writes text unescaped: {line}");
            }
            if line.contains("| line") {
                let comment = line.trim_start().starts_with('#');
                let literal_block = *template == "kube/notification-template.yaml.j2";
                assert!(comment || literal_block, "{at}: `| line` outside a comment or literal block: {line}");
            }
        }
        // Values reach workflows and buildspecs only as whole YAML values (env variables the
        // shell lines read as "$VAR"), never inside a shell line or a `${{ }}` expression.
        if template.starts_with("aws/") || template.starts_with("github/") {
            let value_line =
                regex::Regex::new(r#"^(- )?[A-Za-z0-9_.-]+: (\[)?\{\{[^{}]*\}\}(\])?$|^\{\{ [a-z_.]+ \}\}:$"#).unwrap();
            let mut raw = false;
            for (n, line) in text.lines().enumerate() {
                let trimmed = line.trim();
                if trimmed.starts_with("{% raw %}") {
                    raw = true;
                } else if trimmed.starts_with("{% endraw %}") {
                    raw = false;
                } else if !raw && trimmed.contains("{{") && !trimmed.starts_with('#') {
                    assert!(
                        value_line.is_match(trimmed),
                        "templates/{template}:{}: not a whole-value line: {line}",
                        n + 1
                    );
                }
            }
        }
    }
}
