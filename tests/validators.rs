//! The field's own validators on what glidepath renders for examples/shop: kubeconform (every
//! manifest and every kustomize-built overlay against the Kubernetes and CRD schemas, strict),
//! kube-score (workloads, Rollouts through their pod templates), actionlint with ShellCheck and
//! zizmor (the GitHub Actions workflows). Each must find nothing, except what
//! `tests/fixtures/validators/ignore.yaml` lists with its reason; an entry there that matches
//! nothing fails too, so the list never outlives its findings.
//!
//! The tools are built by `scripts/install-*` (CI runs them); a missing tool fails the test with
//! the command that installs it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_json::{json, Value};

#[path = "support/shop.rs"]
mod shop_catalog;

const KUBECONFORM: &str = "bin/kubeconform-v0.8.0";
const KUBE_SCORE: &str = "bin/kube-score-v1.20.0";
const ACTIONLINT: &str = "bin/actionlint-v1.7.12";
const ZIZMOR: &str = "zizmor-1.32.0/bin/zizmor";
const SHELLCHECK: &str = "shellcheck-0.11.0.1/bin/shellcheck";
const KUSTOMIZE: &str = "bin/kustomize-v5.7.1";
/// scripts/install-kube-schemas: Kubernetes release (scripts/lib.sh KUBE_VERSION) and FORMAT.
const KUBE_SCHEMAS: &str = "kube-schemas-v1.34.1-1";

/// A file or directory in the tool cache, or a failure that says how to install it.
fn cached(relative: &str, install: &str) -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let cache = std::env::var_os("GLIDEPATH_CACHE").map(PathBuf::from).unwrap_or(home.join(".cache/glidepath"));
    let path = cache.join(relative);
    assert!(path.exists(), "{} not found: run scripts/{install}", path.display());
    path
}

/// One finding of one tool: `check` is the tool's id for it, `subject` what it is about.
#[derive(Debug)]
struct Finding {
    check: String,
    subject: String,
    message: String,
}

#[derive(Deserialize)]
struct Ignored {
    check: String,
    #[serde(rename = "where")]
    place: Option<String>,
    reason: String,
}

impl Ignored {
    fn covers(&self, finding: &Finding) -> bool {
        self.check == finding.check && self.place.as_deref().is_none_or(|p| finding.subject.contains(p))
    }
}

/// Fails on every finding the ignore list does not cover, and on every entry that covers none.
fn assert_clean(tool: &str, findings: &[Finding]) {
    let text = std::fs::read_to_string("tests/fixtures/validators/ignore.yaml").unwrap();
    let mut lists: BTreeMap<String, Vec<Ignored>> = serde_norway::from_str(&text).unwrap();
    let ignored = lists.remove(tool).unwrap_or_default();
    for entry in &ignored {
        assert!(!entry.reason.trim().is_empty(), "{tool}: ignored check {} has no reason", entry.check);
    }
    let unexplained: Vec<&Finding> = findings.iter().filter(|f| !ignored.iter().any(|i| i.covers(f))).collect();
    let stale: Vec<String> = ignored
        .iter()
        .filter(|i| !findings.iter().any(|f| i.covers(f)))
        .map(|i| format!("{} (where {:?})", i.check, i.place))
        .collect();
    assert!(
        unexplained.is_empty() && stale.is_empty(),
        "{tool}: {} finding(s) not in tests/fixtures/validators/ignore.yaml:\n{}\n\
         ignore entries that match no finding any more (delete them): {stale:?}",
        unexplained.len(),
        unexplained
            .iter()
            .map(|f| format!("  [{}] {}: {}", f.check, f.subject, f.message))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// examples/shop rendered as `glidepath render --out` writes it.
fn rendered() -> (glidepath::catalog::Model, tempfile::TempDir) {
    rendered_from(glidepath::catalog::load(Path::new("examples/shop")).unwrap())
}

/// examples/shop in the other promotion model: GitOps delivery, set in the catalog's text so
/// every environment takes it as the decoder gives it (the example pushes with a named secret).
fn rendered_gitops() -> (glidepath::catalog::Model, tempfile::TempDir) {
    rendered_from(shop_catalog::shop_in_gitops_mode())
}

fn rendered_from(model: glidepath::catalog::Model) -> (glidepath::catalog::Model, tempfile::TempDir) {
    let desired = glidepath::render::render(&model).unwrap();
    let dir = tempfile::tempdir().unwrap();
    glidepath::render::output::write_tree(&model, &desired, &dir.path().join("out")).unwrap();
    (model, dir)
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(yaml_files(&path));
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn run(command: &mut Command) -> std::process::Output {
    let output = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    // The validators exit non-zero when they find something: the findings are read from stdout.
    assert!(
        !output.stdout.is_empty() || output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn documents(yaml: &[u8]) -> Vec<Value> {
    serde_norway::Deserializer::from_slice(yaml)
        .map(|d| Value::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

/// The CRDs' schemas, from the vendored CRDs (Argo Rollouts, Argo CD, Gateway API, Istio), in
/// DIR/crd-schemas. They go to the script as JSON, so it needs no YAML library.
fn crd_schemas(dir: &Path) -> PathBuf {
    let schemas = dir.join("crd-schemas");
    let mut crds: Vec<Value> = Vec::new();
    for family in std::fs::read_dir("tests/fixtures/crds").unwrap() {
        let family = family.unwrap().path();
        if family.is_dir() {
            for file in yaml_files(&family) {
                crds.extend(documents(&std::fs::read(file).unwrap()));
            }
        }
    }
    let crds_json = dir.join("crds.json");
    std::fs::write(&crds_json, serde_json::to_vec(&crds).unwrap()).unwrap();
    let made = Command::new("python3")
        .arg("scripts/kube-schemas.py")
        .arg("crd")
        .arg(&schemas)
        .arg(&crds_json)
        .output()
        .unwrap();
    assert!(made.status.success(), "kube-schemas.py crd: {}", String::from_utf8_lossy(&made.stderr));
    schemas
}

/// kubeconform, strict, over `files`: its report (every object, with `status`).
fn kubeconform(dir: &Path, files: &[PathBuf]) -> Value {
    let kubeconform = cached(KUBECONFORM, "install-kubeconform");
    let builtin = cached(KUBE_SCHEMAS, "install-kube-schemas");
    let crds = crd_schemas(dir);
    let output = run(Command::new(&kubeconform)
        .args(["-strict", "-summary", "-verbose", "-output", "json", "-schema-location"])
        .arg(format!("{}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json", builtin.display()))
        .arg("-schema-location")
        .arg(format!("{}/{{{{ .Group }}}}/{{{{ .ResourceKind }}}}_{{{{ .ResourceAPIVersion }}}}.json", crds.display()))
        .args(files));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn kubeconform_findings(dir: &Path, report: &Value) -> Vec<Finding> {
    let resources = report["resources"].as_array().cloned().unwrap_or_default();
    resources
        .iter()
        .filter(|r| r["status"] != "statusValid")
        .map(|r| Finding {
            check: r["status"].as_str().unwrap_or_default().to_string(),
            subject: format!(
                "{} {}/{}",
                r["filename"].as_str().unwrap_or_default().replace(&format!("{}/", dir.display()), ""),
                r["kind"].as_str().unwrap_or_default(),
                r["name"].as_str().unwrap_or_default()
            ),
            message: r["msg"].as_str().unwrap_or_default().to_string(),
        })
        .collect()
}

#[test]
fn kubeconform_accepts_every_manifest_and_built_overlay_strictly() {
    let kustomize = cached(KUSTOMIZE, "install-kustomize");
    let (model, dir) = rendered();
    let out = dir.path().join("out");

    // What `render` writes per environment, the Argo CD objects, and every overlay as kustomize
    // builds it (the overlay files themselves are patches, not objects).
    let mut files: Vec<PathBuf> = Vec::new();
    for env in &model.environments {
        files.extend(yaml_files(&out.join(&env.name)));
    }
    files.extend(yaml_files(&out.join("gitops/argocd")));
    let built = dir.path().join("built");
    std::fs::create_dir(&built).unwrap();
    let overlays = out.join("gitops/overlays");
    for env in &model.environments {
        for owner in std::fs::read_dir(overlays.join(&env.name)).unwrap() {
            let owner = owner.unwrap().file_name().to_string_lossy().to_string();
            let result =
                Command::new(&kustomize).arg("build").arg(overlays.join(&env.name).join(&owner)).output().unwrap();
            assert!(
                result.status.success(),
                "kustomize build {}/{owner}: {}",
                env.name,
                String::from_utf8_lossy(&result.stderr)
            );
            let path = built.join(format!("overlay.{}.{owner}.yaml", env.name));
            std::fs::write(&path, &result.stdout).unwrap();
            files.push(path);
        }
    }
    let expected: usize = files.iter().map(|f| documents(&std::fs::read(f).unwrap()).len()).sum();

    let report = kubeconform(dir.path(), &files);
    assert_clean("kubeconform", &kubeconform_findings(dir.path(), &report));
    // Every object was validated against a schema: none skipped, none unread.
    let read = report["resources"].as_array().map_or(0, Vec::len);
    assert_eq!(report["summary"]["skipped"], json!(0), "{}", report["summary"]);
    assert_eq!(read, expected, "kubeconform read {read} objects of {expected}");
    assert!(expected > 300, "only {expected} objects: is the render tree complete?");
}

/// The control: the schemas are strict and detailed (a misplaced field deep in a Rollout's pod
/// template, in a Service and in an Argo CD Application is an error), so a clean run means
/// something.
#[test]
fn kubeconform_rejects_unknown_fields_at_any_depth() {
    let (_, dir) = rendered();
    let out = dir.path().join("out");
    let mut rollout = documents(&std::fs::read(out.join("prod/cart/rollout.cart.yaml")).unwrap()).remove(0);
    rollout["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = json!("Always");
    let mut service = documents(&std::fs::read(out.join("prod/cart/service.cart.yaml")).unwrap()).remove(0);
    service["spec"]["ports"][0]["targetPort"] = json!(8080); // int-or-string: still valid
    service["spec"]["selectors"] = json!({});
    let mut projects = documents(&std::fs::read(out.join("gitops/argocd/appproject.prod.yaml")).unwrap());
    projects[0]["spec"]["destination"] = json!([]);
    let mut files = Vec::new();
    for (name, object) in [("rollout", rollout), ("service", service), ("project", projects.remove(0))] {
        let path = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&path, serde_norway::to_string(&object).unwrap()).unwrap();
        files.push(path);
    }
    let messages: Vec<String> =
        kubeconform_findings(dir.path(), &kubeconform(dir.path(), &files)).into_iter().map(|f| f.message).collect();
    assert_eq!(messages.len(), 3, "{messages:#?}");
    for (path, field) in
        [("/spec/template/spec/containers/0", "imagePullPolicyy"), ("/spec", "selectors"), ("/spec", "destination")]
    {
        assert!(
            messages.iter().any(|m| m.contains(&format!("at '{path}': additional properties '{field}' not allowed"))),
            "{field} at {path} not reported: {messages:#?}"
        );
    }
}

/// A Rollout as the Deployment with the same pod template, so Kubernetes linters see its pods;
/// HPAs that scale it then point at that Deployment.
fn as_deployment(mut object: Value) -> Value {
    if object["kind"] == "Rollout" {
        let spec = &object["spec"];
        return json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": object["metadata"],
            "spec": {"replicas": spec["replicas"], "selector": spec["selector"], "template": spec["template"]},
        });
    }
    if object["kind"] == "HorizontalPodAutoscaler" && object["spec"]["scaleTargetRef"]["kind"] == "Rollout" {
        object["spec"]["scaleTargetRef"]["kind"] = json!("Deployment");
        object["spec"]["scaleTargetRef"]["apiVersion"] = json!("apps/v1");
    }
    object
}

#[test]
fn kube_score_finds_nothing_unexplained_in_any_environment() {
    let kube_score = cached(KUBE_SCORE, "install-kube-score");
    let (model, dir) = rendered();
    let mut findings = Vec::new();
    let mut workloads = 0;
    for env in &model.environments {
        // One file per environment: kube-score relates Services, PDBs and HPAs to the pods.
        let mut objects = Vec::new();
        for file in yaml_files(&dir.path().join("out").join(&env.name)) {
            objects.extend(documents(&std::fs::read(file).unwrap()).into_iter().map(as_deployment));
        }
        workloads += objects.iter().filter(|o| o["kind"] == "Deployment").count();
        let input = dir.path().join(format!("{}.yaml", env.name));
        let text: Vec<String> = objects.iter().map(|o| serde_norway::to_string(o).unwrap()).collect();
        std::fs::write(&input, text.join("---\n")).unwrap();
        let output = run(Command::new(&kube_score)
            .args(["score", "--kubernetes-version", "v1.34", "--output-format", "json"])
            .args(["--enable-optional-test", "container-seccomp-profile"])
            .arg(&input));
        let report: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
        for object in report {
            for check in object["checks"].as_array().unwrap() {
                if check["skipped"] == json!(true) || check["grade"].as_i64() == Some(10) {
                    continue;
                }
                let comments: Vec<String> = check["comments"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| {
                        format!(
                            "{} {}",
                            c["path"].as_str().unwrap_or_default(),
                            c["summary"].as_str().unwrap_or_default()
                        )
                    })
                    .collect();
                findings.push(Finding {
                    check: check["check"]["id"].as_str().unwrap().to_string(),
                    subject: format!(
                        "{}/{}/{}",
                        env.name,
                        object["type_meta"]["kind"].as_str().unwrap(),
                        object["object_meta"]["name"].as_str().unwrap()
                    ),
                    message: comments.join("; "),
                });
            }
        }
    }
    assert!(workloads >= 30, "only {workloads} workloads scored");
    assert_clean("kube-score", &findings);
}

fn workflows(dir: &Path) -> Vec<PathBuf> {
    let files = yaml_files(&dir.join("out/.github/workflows"));
    assert!(files.len() >= 8, "only {} workflows rendered", files.len());
    files
}

/// actionlint's findings over `files`, every `run:` script checked with ShellCheck.
fn actionlint(files: &[PathBuf]) -> Vec<Finding> {
    let actionlint = cached(ACTIONLINT, "install-actionlint");
    let shellcheck = cached(SHELLCHECK, "install-shellcheck");
    let output = run(Command::new(&actionlint)
        .args(["-format", "{{json .}}", "-no-color", "-shellcheck"])
        .arg(&shellcheck)
        .args(files));
    let report: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    report
        .iter()
        .map(|e| Finding {
            check: e["kind"].as_str().unwrap_or_default().to_string(),
            subject: format!("{}:{}", e["filepath"].as_str().unwrap_or_default(), e["line"]),
            message: e["message"].as_str().unwrap_or_default().to_string(),
        })
        .collect()
}

/// zizmor's findings over the workflows in `dir`: offline (the audits that ask GitHub, such as
/// impostor commits and known-vulnerable actions, cannot run here), no configuration, every
/// severity and confidence.
fn zizmor(dir: &Path) -> Vec<Finding> {
    let zizmor = cached(ZIZMOR, "install-zizmor");
    let output =
        run(Command::new(&zizmor).args(["--offline", "--no-config", "--no-progress", "--format", "json"]).arg(dir));
    let report: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    report
        .iter()
        .map(|f| {
            let location = &f["locations"][0];
            Finding {
                check: f["ident"].as_str().unwrap_or_default().to_string(),
                subject: format!(
                    "{}:{}",
                    location["symbolic"]["key"]["Local"]["verbatim_path"].as_str().unwrap_or_default(),
                    location["concrete"]["location"]["start_point"]["row"]
                ),
                message: format!(
                    "{}: {}",
                    f["desc"].as_str().unwrap_or_default(),
                    location["symbolic"]["annotation"].as_str().unwrap_or_default()
                ),
            }
        })
        .collect()
}

#[test]
fn actionlint_finds_nothing_in_the_workflows() {
    for (_, dir) in [rendered(), rendered_gitops()] {
        assert_clean("actionlint", &actionlint(&workflows(dir.path())));
    }
}

#[test]
fn zizmor_finds_nothing_in_the_workflows() {
    for (_, dir) in [rendered(), rendered_gitops()] {
        workflows(dir.path());
        assert_clean("zizmor", &zizmor(&dir.path().join("out/.github/workflows")));
    }
}

/// The control: both tools do report what the rendered workflows avoid (a tag-pinned action, a
/// persisted checkout token, workflow-wide `id-token: write`, an unquoted expansion).
#[test]
fn workflow_validators_report_what_the_workflows_avoid() {
    let dir = tempfile::tempdir().unwrap();
    let workflows = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&workflows).unwrap();
    let file = workflows.join("bad.yaml");
    std::fs::write(
        &file,
        "name: bad\non: push\npermissions:\n  id-token: write\n  contents: read\njobs:\n  build:\n    \
         runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: echo $GITHUB_SHA\n  \
         test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo test\n",
    )
    .unwrap();
    let checks = |findings: Vec<Finding>| findings.into_iter().map(|f| f.check).collect::<Vec<_>>();
    let linted = checks(actionlint(std::slice::from_ref(&file)));
    assert!(linted.contains(&"shellcheck".to_string()), "{linted:?}");
    let audited = checks(zizmor(&workflows));
    for check in ["unpinned-uses", "artipacked", "excessive-permissions"] {
        assert!(audited.iter().any(|c| c == check), "zizmor did not report {check}: {audited:?}");
    }
}

/// ShellCheck's findings over every buildspec under `dir/out/aws`: the commands of all phases
/// in order as one bash script, as CodeBuild (buildspec version 0.2, `shell: bash`) runs them in
/// one shell. A command that is not a string fails first: a `: ` in a plain YAML scalar makes
/// it a mapping CodeBuild would refuse.
fn buildspec_shellcheck(dir: &Path) -> Vec<Finding> {
    let shellcheck = cached(SHELLCHECK, "install-shellcheck");
    let scripts = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for path in yaml_files(&dir.join("out/aws")).into_iter().filter(|p| p.to_string_lossy().contains("buildspec.")) {
        let buildspec: Value = serde_norway::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut script = String::from("#!/bin/bash\n");
        for phase in ["install", "pre_build", "build", "post_build"] {
            for command in buildspec["phases"][phase]["commands"].as_array().into_iter().flatten() {
                let command =
                    command.as_str().unwrap_or_else(|| panic!("{}: {command} is not a string", path.display()));
                script.push_str(command);
                script.push('\n');
            }
        }
        let file = scripts.path().join(path.file_name().unwrap()).with_extension("sh");
        std::fs::write(&file, script).unwrap();
        files.push(file);
    }
    assert!(files.len() >= 8, "only {} buildspecs rendered", files.len());
    let output = run(Command::new(&shellcheck).args(["--shell=bash", "--format=json1"]).args(&files));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    report["comments"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| Finding {
            check: format!("SC{}", c["code"]),
            subject: format!("{}:{}", c["file"].as_str().unwrap_or_default(), c["line"]),
            message: c["message"].as_str().unwrap_or_default().to_string(),
        })
        .collect()
}

/// Both deploy paths are checked: the example's pipelines build outside the catalog repository
/// (their deploy clones it), and with the catalog's pipeline building from acme/platform it
/// commits in its own checkout.
#[test]
fn shellcheck_finds_nothing_in_the_buildspecs() {
    let mut inside = glidepath::catalog::load(Path::new("examples/shop")).unwrap();
    let catalog = inside.services.iter_mut().find(|s| s.name == "catalog").unwrap();
    catalog.repo = glidepath::catalog::GitRepo { owner: "acme".into(), name: "platform".into() };
    let inside = rendered_from(inside);
    for (_, dir) in [rendered(), rendered_gitops(), inside] {
        assert_clean("shellcheck", &buildspec_shellcheck(dir.path()));
    }
}
