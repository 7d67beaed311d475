//! Issue 13, item 6: the rendered workflow's jobs run here. One service's workflow, rendered by
//! glidepath from a catalog committed to a local git repository standing for the catalog
//! repository (`acme/platform`, the catalog's `catalog_repo`), and committed itself to another
//! standing for the service's repository (`acme/storefront`, where it runs), has its `run:` steps executed
//! with bash (`bash --noprofile --norc -eo pipefail`, GitHub's `shell: bash`) job by job in the
//! order GitHub gives them (the `needs:` graph), with the environment GitHub sets (`GITHUB_*`,
//! `RUNNER_TEMP`, the `GITHUB_ENV`/`GITHUB_PATH`/`GITHUB_OUTPUT` files, `env:` at workflow, job
//! and step level with their `${{ … }}` expressions evaluated), against moto and the end-to-end
//! bed (control plane, kwok nodes, the real Argo Rollouts controller, Prometheus). Both delivery
//! modes: push (the jobs apply) and gitops (a real Argo CD, `scripts/e2e-tools argocd-up`, syncs
//! the commits the jobs push to the repository it reads).
//!
//! What runs for real: the build job's Push step (against moto's ECR, where the image of
//! `GITHUB_SHA` is already pushed, so the step takes the re-run branch and reads its digest: the
//! digest the build outputs is the registry's); in each deploy job, the glidepath install step
//! (curl of the release over a `file://` URL, `sha256sum --check` against the checksum pinned in
//! the catalog), the promotion step (`glidepath promote` (+ `glidepath render` in gitops mode),
//! `git commit`, `git push` to the local bare repository that stands for the catalog repository
//! on GitHub, with the token of the secret the catalog names), `glidepath apply` of the environment against the bed's cluster (push mode), and
//! the wait for the Rollout to run the digest and be Healthy (`kubectl` and `jq`).
//!
//! Local stand-ins, each a step of its own in the workflow so nothing else is touched:
//! - `actions/checkout`: a shallow fetch into `GITHUB_WORKSPACE` of `GITHUB_SHA` from the
//!   service's local bare repository, or of `main` from the one its `repository:` names (the
//!   catalog's, only with the promotion token as `token:`), credentials not kept (as
//!   `persist-credentials: false`);
//! - `aws-actions/configure-aws-credentials`: moto's credentials and endpoint in the job's env;
//! - "Connect to the ENV cluster" (`aws eks update-kubeconfig`): a kubeconfig whose context ENV
//!   is the bed's cluster (moto's EKS has no API server to hand out);
//! - `gh`, GitHub's CLI: a stub script on the PATH that records its arguments and answers like
//!   GitHub's API would (no PR yet; `pr create` prints a URL). It stands in for GitHub's API
//!   only; the branch it is asked to open a PR from is really pushed;
//! - the release's https URL becomes a `file://` URL of the binary under test (same sha256).
//!
//! Not run: the build job's docker build, Trivy scan and ECR login (no Docker engine here; the
//! image is put into moto's ECR by the test instead). The approval environment (prod): in push
//! mode its job runs in the GitHub environment `prod` (its reviewers are the approval; GitHub
//! asks them before the job starts, which nothing here can) and commits, applies and waits like
//! the others, ending at the manual pause approval adds to the canary; in gitops mode it is a
//! pull request whose job changes no cluster: the test merges it as a reviewer would and checks
//! the merged tree is what the merged catalog renders (prod's Applications sync by hand).
//! Measured times are printed (run with --nocapture), never asserted.
//!
//! The CodePipeline path too (the `codepipeline_*` tests): the same catalog with the service
//! built by CodePipeline from its own repository, whose deploy project's rendered buildspec runs
//! with bash as CodeBuild would (see `Prepared::run_deploy_project`) with the variables the
//! rendered pipeline's Deploy action passes and the token read from moto's Secrets Manager: it
//! clones the catalog repository, commits the promotion there and, in push mode, applies and
//! waits with the real `kubectl argo rollouts status`. The only stand-in is `aws eks
//! update-kubeconfig`. In gitops mode it runs up to the commit (see that test for why).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use kube::api::{Api, DynamicObject};
use kube::discovery::ApiResource;
use serde_json::Value as Json;
use serde_norway::Value;
use sha2::{Digest, Sha256};
use support::e2e::{self, FakeApps};
use support::moto::Moto;

const SERVICE: &str = "storefront";
/// The repository the service builds from: its workflow runs here (`GITHUB_REPOSITORY`).
const REPOSITORY: &str = "acme/storefront";
/// The catalog repository (`platform.catalog_repo`): every promotion is committed here, and
/// Argo CD reads it. Another repository than the workflow's, so the jobs push with the token of
/// the secret the catalog names, as GitHub's own token could not.
const CATALOG_REPOSITORY: &str = "acme/platform";
const TOKEN_SECRET: &str = "GLIDEPATH_PROMOTION_TOKEN";
const TOKEN: &str = "ghs_promotion-run-test-app-token";
const ENVS: [&str; 3] = ["dev", "staging", "prod"];

/// The catalog the repository holds: three environments on the bed's cluster, prod with approval.
fn catalog(platform: &str, delivery: &str, prometheus: &str, release_sha256: &str) -> String {
    format!(
        r#"# The catalog of issue 13's promotion run (tests/promotion_run.rs).
platform {{
  name              = "{platform}"
  delivery          = "{delivery}"
  aws_account_id    = "123456789012"
  region            = "eu-west-1"
  github_org        = "acme"
  prometheus        = "{prometheus}"
  scrape_interval   = "1s"
  catalog_repo      = "{CATALOG_REPOSITORY}"
  promotion_token_secret = "{TOKEN_SECRET}"
  # Where deploy jobs download glidepath; the test serves the binary under test in its place.
  glidepath_release = "https://releases.example.com/glidepath/{{version}}/glidepath"
  glidepath_sha256  = "{release_sha256}"
}}

cluster "local" {{
  kube_context = "glidepath-test"
}}

environment "dev" {{
  cluster = "local"
}}

environment "staging" {{
  cluster = "local"
}}

environment "prod" {{
  cluster  = "local"
  approval = true
}}

# A tier-2 profile at test speed (as tests/fixtures/e2e/catalog.hcl).
profile "quick" {{
  tier = 2

  canary {{
    steps              = [50, 100]
    pauses             = ["5s"]
    analysis_from_step = 1
  }}

  slo {{
    max_error_rate = "5%"
    p99_latency    = "500ms"
    interval       = "5s"
    failure_limit  = 1
  }}

  pdb {{
    min_available = "50%"
  }}

  limits {{
    max_rollback    = "1m"
    max_exposure    = "50%"
    max_deploy_time = "5m"
  }}
}}

service "{SERVICE}" {{
  use       = "quick"
  repo      = "{REPOSITORY}"
  team      = "web"
  port      = 3000
  replicas  = 2
  image_tag = "1.0.0" # the first release, before CI built anything

  probes {{
    readiness = "/ready"
    warmup    = "1s"
  }}
}}
"#
    )
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git").arg("-C").arg(dir).args(args).env("GIT_CONFIG_NOSYSTEM", "1").output().unwrap();
    assert!(out.status.success(), "git {args:?} in {}: {}", dir.display(), text(&out.stderr));
    text(&out.stdout).trim().to_string()
}

fn sha256_of(path: &Path) -> String {
    format!("{:x}", Sha256::digest(fs::read(path).unwrap()))
}

/// `${{ … }}` expressions as the workflows use them: dotted context paths, `'literal'` strings
/// and `a || b` (the first non-empty). An expression the contexts cannot answer fails the test:
/// a workflow that reads something GitHub would not give it must not pass here.
fn evaluate(text: &str, contexts: &Json) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end =
            rest[start..].find("}}").map(|e| start + e).unwrap_or_else(|| panic!("unclosed expression in {text}"));
        let expression = rest[start + 3..end].trim();
        let value = expression
            .split("||")
            .map(str::trim)
            .map(|part| match part.strip_prefix('\'').and_then(|p| p.strip_suffix('\'')) {
                Some(literal) => literal.to_string(),
                // An unset secret or variable is empty on GitHub too.
                None if part.starts_with("vars.") || part.starts_with("secrets.") => contexts
                    .pointer(&format!("/{}", part.replace('.', "/")))
                    .and_then(Json::as_str)
                    .unwrap_or("")
                    .to_string(),
                None => {
                    let mut value = contexts;
                    for key in part.split('.') {
                        value = value.get(key).unwrap_or_else(|| panic!("`{part}` is not in the contexts: {contexts}"));
                    }
                    value.as_str().map(String::from).unwrap_or_else(|| value.to_string())
                }
            })
            .find(|v| !v.is_empty())
            .unwrap_or_default();
        out.push_str(&value);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// The jobs in the order GitHub runs them: a job once every job it needs has finished, ties in
/// the order the file lists them (this graph is a chain, so the order is the only one).
fn job_order(jobs: &serde_norway::Mapping) -> Vec<String> {
    let ids: Vec<String> = jobs.keys().map(|k| k.as_str().unwrap().to_string()).collect();
    let needs = |id: &str| -> Vec<String> {
        match jobs[id].get("needs") {
            None => Vec::new(),
            Some(Value::String(one)) => vec![one.clone()],
            Some(Value::Sequence(list)) => list.iter().map(|v| v.as_str().unwrap().to_string()).collect(),
            Some(other) => panic!("needs: {other:?}"),
        }
    };
    let mut done: Vec<String> = Vec::new();
    while done.len() < ids.len() {
        let next = ids
            .iter()
            .find(|id| !done.contains(id) && needs(id).iter().all(|n| done.contains(n)))
            .unwrap_or_else(|| panic!("a cycle in needs: {done:?}"));
        done.push(next.clone());
    }
    done
}

/// A `KEY=value` file GitHub reads after a step (`GITHUB_ENV`, `GITHUB_OUTPUT`).
fn read_pairs(path: &Path) -> Vec<(String, String)> {
    let body = fs::read_to_string(path).unwrap_or_default();
    body.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or_else(|| panic!("{}: `{l}` is not KEY=value", path.display()));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// What happened to each step: ran (its exit code), stood in for, or skipped.
#[derive(Debug)]
struct StepRecord {
    job: String,
    step: String,
    how: String,
}

struct Run {
    work: PathBuf,
    /// The bare repositories standing for GitHub's: the service's and the catalog's, by name.
    repositories: BTreeMap<String, PathBuf>,
    sha: String,
    moto_url: String,
    /// The bed's kubeconfig with a context per environment (what `update-kubeconfig --alias` makes).
    kubeconfig: PathBuf,
    /// Where the stub `gh` lives (first on the PATH) and the file it records calls in.
    stubs: PathBuf,
    gh_log: PathBuf,
    release_url: String,
    records: Vec<StepRecord>,
}

impl Run {
    /// Runs every job of `workflow`, in order; returns the jobs' outputs.
    fn workflow(&mut self, workflow: &Value) -> BTreeMap<String, Json> {
        let jobs = workflow["jobs"].as_mapping().unwrap();
        let mut needs_outputs: BTreeMap<String, Json> = BTreeMap::new();
        for id in job_order(jobs) {
            let outputs = self.job(workflow, &id, &jobs[id.as_str()], &needs_outputs);
            needs_outputs.insert(id, serde_json::json!({ "outputs": outputs, "result": "success" }));
        }
        needs_outputs
    }

    fn contexts(
        &self,
        needs: &BTreeMap<String, Json>,
        steps: &BTreeMap<String, Json>,
        env: &BTreeMap<String, String>,
    ) -> Json {
        serde_json::json!({
            "github": {
                // The job's GITHUB_TOKEN: what `${{ github.token }}` gives. Nothing here checks it.
                "token": "ghs_promotion-run-test-token",
                "sha": self.sha,
                "repository": REPOSITORY,
                "ref": "refs/heads/main",
            },
            "secrets": { TOKEN_SECRET: TOKEN },
            "vars": {},
            "needs": needs,
            "steps": steps,
            "env": env,
        })
    }

    fn job(&mut self, workflow: &Value, id: &str, job: &Value, needs: &BTreeMap<String, Json>) -> Json {
        let root = self.work.join("jobs").join(id);
        let (workspace, temp, home) = (root.join("workspace"), root.join("temp"), root.join("home"));
        for dir in [&workspace, &temp, &home] {
            fs::create_dir_all(dir).unwrap();
        }
        // What the runner sets for every step (GitHub's "Default environment variables").
        let mut env: BTreeMap<String, String> = [
            ("CI", "true".to_string()),
            ("GITHUB_ACTIONS", "true".to_string()),
            ("GITHUB_REPOSITORY", REPOSITORY.to_string()),
            ("GITHUB_REPOSITORY_OWNER", "acme".to_string()),
            ("GITHUB_SHA", self.sha.clone()),
            ("GITHUB_REF", "refs/heads/main".to_string()),
            ("GITHUB_REF_NAME", "main".to_string()),
            ("GITHUB_EVENT_NAME", "push".to_string()),
            ("GITHUB_JOB", id.to_string()),
            ("GITHUB_RUN_ID", "4242".to_string()),
            ("GITHUB_RUN_ATTEMPT", "1".to_string()),
            ("GITHUB_SERVER_URL", "https://github.com".to_string()),
            ("GITHUB_WORKSPACE", workspace.display().to_string()),
            ("RUNNER_TEMP", temp.display().to_string()),
            ("RUNNER_OS", "Linux".to_string()),
            ("HOME", home.display().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let mut steps: BTreeMap<String, Json> = BTreeMap::new();
        for scope in [&workflow["env"], &job["env"]] {
            for (k, v) in scope.as_mapping().into_iter().flatten() {
                let contexts = self.contexts(needs, &steps, &env);
                env.insert(k.as_str().unwrap().to_string(), evaluate(&yaml_scalar(v), &contexts));
            }
        }
        let mut path_entries: Vec<String> = Vec::new();
        for step in job["steps"].as_sequence().unwrap() {
            let name = step["name"].as_str().unwrap_or("(unnamed)").to_string();
            let record = |how: String| StepRecord { job: id.to_string(), step: name.clone(), how };
            if let Some(uses) = step.get("uses").and_then(Value::as_str) {
                let action = uses.split('@').next().unwrap();
                let how = match action {
                    "actions/checkout" => {
                        assert_eq!(step["with"]["persist-credentials"], Value::Bool(false), "{id}: {name}");
                        // As actions/checkout: the workflow's repository at GITHUB_SHA, or another
                        // one (`repository:`) at its default branch, read with `token:`.
                        let repository = step["with"].get("repository").and_then(Value::as_str).unwrap_or(REPOSITORY);
                        let origin = self
                            .repositories
                            .get(repository)
                            .unwrap_or_else(|| panic!("{id}: no repository {repository}"));
                        git(&workspace, &["init", "--quiet"]);
                        git(&workspace, &["remote", "add", "origin", origin.to_str().unwrap()]);
                        if repository == REPOSITORY {
                            git(&workspace, &["fetch", "--quiet", "--depth=1", "origin", &self.sha]);
                        } else {
                            // GitHub's own token cannot read another private repository.
                            let token = step["with"].get("token").map(yaml_scalar).unwrap_or_default();
                            let contexts = self.contexts(needs, &steps, &env);
                            assert_eq!(
                                evaluate(&token, &contexts),
                                TOKEN,
                                "{id}: checkout of {repository} without its token"
                            );
                            git(&workspace, &["fetch", "--quiet", "--depth=1", "origin", "main"]);
                        }
                        git(&workspace, &["checkout", "--quiet", "--detach", "FETCH_HEAD"]);
                        "stand-in: shallow fetch from the local bare repository"
                    }
                    "aws-actions/configure-aws-credentials" => {
                        let region = step["with"]["aws-region"].as_str().unwrap();
                        for (k, v) in [
                            ("AWS_ACCESS_KEY_ID", "testing"),
                            ("AWS_SECRET_ACCESS_KEY", "testing"),
                            ("AWS_SESSION_TOKEN", "testing"),
                            ("AWS_REGION", region),
                            ("AWS_DEFAULT_REGION", region),
                            ("AWS_ENDPOINT_URL", &self.moto_url),
                        ] {
                            env.insert(k.to_string(), v.to_string());
                        }
                        "stand-in: moto's credentials and endpoint"
                    }
                    "aws-actions/amazon-ecr-login" | "aquasecurity/trivy-action" => {
                        "skipped: no Docker engine here (the image is in moto's ECR already)"
                    }
                    other => panic!("{id}: no stand-in for action {other}"),
                };
                self.records.push(record(how.to_string()));
                continue;
            }
            let script = step["run"].as_str().unwrap_or_else(|| panic!("{id}: {name} has neither uses nor run"));
            if id == "build" && script.contains("docker build") {
                self.records.push(record("skipped: docker build (no Docker engine here)".into()));
                continue;
            }
            let mut step_env = env.clone();
            for (k, v) in step.get("env").and_then(Value::as_mapping).into_iter().flatten() {
                let contexts = self.contexts(needs, &steps, &env);
                step_env.insert(k.as_str().unwrap().to_string(), evaluate(&yaml_scalar(v), &contexts));
            }
            if name.starts_with("Connect to the ") && script.contains("aws eks update-kubeconfig") {
                assert!(step_env.contains_key("EKS_CLUSTER") && step_env.contains_key("CLUSTER_REGION"), "{name}");
                env.insert("KUBECONFIG".into(), self.kubeconfig.display().to_string());
                self.records.push(record("stand-in: a kubeconfig whose context ENV is the bed's cluster".into()));
                continue;
            }
            let mut stand_in = "ran";
            if let Some(url) = step_env.get_mut("GLIDEPATH_URL") {
                assert!(url.starts_with("https://releases.example.com/glidepath/"), "{url}");
                *url = self.release_url.clone();
                stand_in = "ran (the release URL served as file://)";
            }
            let (env_file, path_file, output_file) =
                (temp.join("_github_env"), temp.join("_github_path"), temp.join("_github_output"));
            for file in [&env_file, &path_file, &output_file] {
                fs::write(file, "").unwrap();
            }
            let script_file = temp.join("_step.sh");
            fs::write(&script_file, script).unwrap();
            let host_path = std::env::var("PATH").unwrap_or_default();
            let path = [self.stubs.display().to_string()]
                .into_iter()
                .chain(path_entries.iter().rev().cloned())
                .chain([host_path])
                .collect::<Vec<_>>()
                .join(":");
            let out = Command::new("bash")
                .args(["--noprofile", "--norc", "-eo", "pipefail"])
                .arg(&script_file)
                .current_dir(&workspace)
                .env_clear()
                .envs(&step_env)
                .env("PATH", path)
                .env("GITHUB_ENV", &env_file)
                .env("GITHUB_PATH", &path_file)
                .env("GITHUB_OUTPUT", &output_file)
                .env("GH_STUB_LOG", &self.gh_log)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .output()
                .unwrap();
            eprintln!("── {id} / {name}: exit {:?}\n{}{}", out.status.code(), text(&out.stdout), text(&out.stderr));
            assert!(out.status.success(), "{id} / {name} failed:\n{}\n{}", text(&out.stdout), text(&out.stderr));
            self.records.push(record(stand_in.to_string()));
            env.extend(read_pairs(&env_file));
            path_entries.extend(fs::read_to_string(&path_file).unwrap().lines().map(String::from));
            if let Some(step_id) = step.get("id").and_then(Value::as_str) {
                let outputs: serde_json::Map<String, Json> =
                    read_pairs(&output_file).into_iter().map(|(k, v)| (k, Json::String(v))).collect();
                steps.insert(step_id.to_string(), serde_json::json!({ "outputs": outputs }));
            }
        }
        let mut outputs = serde_json::Map::new();
        for (k, v) in job.get("outputs").and_then(Value::as_mapping).into_iter().flatten() {
            let contexts = self.contexts(needs, &steps, &env);
            outputs.insert(k.as_str().unwrap().to_string(), Json::String(evaluate(&yaml_scalar(v), &contexts)));
        }
        // A job's files go with its runner; the release binary copy is the big one.
        let _ = fs::remove_dir_all(&temp);
        Json::Object(outputs)
    }
}

fn yaml_scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

/// The bed's kubeconfig with one more context per environment, each the bed's cluster and user.
fn kubeconfig_with_contexts(bed_kubeconfig: &Path, to: &Path) {
    let mut config: Value = serde_norway::from_str(&fs::read_to_string(bed_kubeconfig).unwrap()).unwrap();
    let contexts = config["contexts"].as_sequence_mut().unwrap();
    let first = contexts[0].clone();
    for env in ENVS {
        let mut context = first.clone();
        context["name"] = Value::String(env.into());
        contexts.push(context);
    }
    fs::write(to, serde_norway::to_string(&config).unwrap()).unwrap();
}

fn rollout(kubeconfig: &Path, namespace: &str) -> Option<Json> {
    let (runtime, client) = support::kube_client(kubeconfig);
    let resource = ApiResource {
        group: "argoproj.io".into(),
        version: "v1alpha1".into(),
        api_version: "argoproj.io/v1alpha1".into(),
        kind: "Rollout".into(),
        plural: "rollouts".into(),
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client, namespace, &resource);
    runtime.block_on(api.get_opt(SERVICE)).unwrap().map(|r| serde_json::to_value(r).unwrap())
}

fn glidepath_in(dir: &Path, kubeconfig: &Path, args: &[&str]) -> Output {
    support::glidepath_command()
        .args(args)
        .current_dir(dir)
        .env("KUBECONFIG", kubeconfig)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// One scenario's catalog repository, registry, stubs and runner, ready to run the workflow.
struct Prepared {
    work: tempfile::TempDir,
    _moto: Moto,
    platform: String,
    /// The catalog repository, where the promotions land.
    origin: PathBuf,
    seed: PathBuf,
    kubeconfig: PathBuf,
    digest: String,
    gh_log: PathBuf,
    workflow: Value,
    run: Run,
}

/// The catalog of `platform` in `delivery` mode committed (with its workflow, and in gitops mode
/// its rendered `gitops/` tree) to `origin` (a bare repository, created when it does not exist);
/// the image of that commit in moto's ECR; the `gh` stub.
fn prepare(bed: &e2e::Bed, platform: &str, delivery: &str, origin: Option<PathBuf>) -> Prepared {
    prepare_with(bed, platform, delivery, origin, |catalog| catalog)
}

/// [`prepare`] of the catalog as `edit` changes it. A service built by CodePipeline has no
/// workflow: its repository then holds its code only (`workflow` is null).
fn prepare_with(
    bed: &e2e::Bed,
    platform: &str,
    delivery: &str,
    origin: Option<PathBuf>,
    edit: fn(String) -> String,
) -> Prepared {
    let moto = Moto::start();
    let work_dir = tempfile::tempdir().unwrap();
    let work = work_dir.path();

    // The release: the binary under test and its sha256, pinned in the catalog.
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_glidepath"));
    let release_sha256 = sha256_of(&binary);

    // The catalog repository on "GitHub": a bare repository with the catalog (and its gitops/
    // tree); the service's repository: its workflow (and, on GitHub, its code).
    let bare = |name: &str| {
        let path = work.join(name);
        git(work, &["init", "--quiet", "--bare", "--initial-branch=main", path.to_str().unwrap()]);
        path
    };
    let origin = origin.unwrap_or_else(|| bare("platform.git"));
    let service_origin = bare("storefront.git");
    git(&service_origin, &["config", "uploadpack.allowAnySHA1InWant", "true"]);
    let seed = work.join("seed");
    git(work, &["clone", "--quiet", origin.to_str().unwrap(), seed.to_str().unwrap()]);
    git(&seed, &["checkout", "--quiet", "-B", "main"]);
    fs::create_dir_all(seed.join("catalog")).unwrap();
    fs::write(
        seed.join("catalog/catalog.hcl"),
        edit(catalog(platform, delivery, &bed.prometheus_url, &release_sha256)),
    )
    .unwrap();
    let out = glidepath_in(&seed, &bed.kubeconfig, &["render", "-c", "catalog", "--out", "../rendered"]);
    assert!(out.status.success(), "render: {}", text(&out.stderr));
    if delivery == "gitops" {
        support::copy_tree(&work.join("rendered/gitops"), &seed.join("gitops"));
    }
    let commit_and_push = |dir: &Path, message: &str| {
        for args in [
            &["add", "--all"][..],
            &["-c", "user.name=dev", "-c", "user.email=dev@example.com", "commit", "--quiet", "-m", message],
            &["push", "--quiet", "origin", "HEAD:refs/heads/main"],
        ] {
            git(dir, args);
        }
    };
    commit_and_push(&seed, "the catalog");
    let service_seed = work.join("service");
    git(work, &["clone", "--quiet", service_origin.to_str().unwrap(), service_seed.to_str().unwrap()]);
    git(&service_seed, &["checkout", "--quiet", "-B", "main"]);
    let workflow_path = format!(".github/workflows/{SERVICE}.yaml");
    let rendered_workflow = work.join("rendered").join(&workflow_path);
    if rendered_workflow.exists() {
        fs::create_dir_all(service_seed.join(".github/workflows")).unwrap();
        fs::copy(&rendered_workflow, service_seed.join(&workflow_path)).unwrap();
    }
    fs::write(service_seed.join("Dockerfile"), "FROM scratch\n").unwrap();
    commit_and_push(&service_seed, "the service and its workflow");
    let sha = git(&service_seed, &["rev-parse", "HEAD"]);
    let kubeconfig = work.join("kubeconfig");
    kubeconfig_with_contexts(&bed.kubeconfig, &kubeconfig);

    // The build's push, as ECR has it: the image of GITHUB_SHA, its digest the registry's.
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2, "digest": format!("sha256:{}", "c".repeat(64))},
        "layers": []
    })
    .to_string();
    let aws = |args: &[&str]| {
        let out = Command::new("aws")
            .args(args)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", "eu-west-1")
            .env("AWS_ENDPOINT_URL", moto.url())
            .output()
            .unwrap();
        assert!(out.status.success(), "aws {args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    let ecr_repository = format!("{platform}/{SERVICE}");
    aws(&["ecr", "create-repository", "--repository-name", &ecr_repository]);
    let pushed: Json = serde_json::from_str(&aws(&[
        "ecr",
        "put-image",
        "--repository-name",
        &ecr_repository,
        "--image-tag",
        &sha,
        "--image-manifest",
        &manifest,
    ]))
    .unwrap();
    let digest = pushed["image"]["imageId"]["imageDigest"].as_str().unwrap().to_string();
    assert!(digest.starts_with("sha256:"), "{pushed}");

    // The stub for GitHub's API: `gh` records its calls; no PR exists yet, `pr create` opens one.
    let stubs = work.join("stubs");
    fs::create_dir_all(&stubs).unwrap();
    let gh_log = work.join("gh.log");
    fs::write(
        stubs.join("gh"),
        "#!/bin/bash\n# Stands in for GitHub's API only (tests/promotion_run.rs).\n\
         test -n \"$GH_TOKEN\" || { echo 'gh: GH_TOKEN is not set' >&2; exit 4; }\n\
         printf '%s\\n' \"$*\" >> \"$GH_STUB_LOG\"\n\
         if [ \"$1 $2\" = 'pr view' ]; then echo 'no pull requests found' >&2; exit 1; fi\n\
         if [ \"$1 $2\" = 'pr create' ]; then echo \"https://github.com/$GITHUB_REPOSITORY/pull/1\"; exit 0; fi\n\
         echo \"gh stub: unexpected call: $*\" >&2; exit 2\n",
    )
    .unwrap();
    Command::new("chmod").arg("0755").arg(stubs.join("gh")).status().unwrap();

    let workflow: Value = match fs::read_to_string(service_seed.join(&workflow_path)) {
        Ok(text) => serde_norway::from_str(&text).unwrap(),
        Err(_) => Value::Null,
    };
    let run = Run {
        work: work.to_path_buf(),
        repositories: [(REPOSITORY.to_string(), service_origin), (CATALOG_REPOSITORY.to_string(), origin.clone())]
            .into_iter()
            .collect(),
        sha,
        moto_url: moto.url(),
        kubeconfig: kubeconfig.clone(),
        stubs,
        gh_log: gh_log.clone(),
        release_url: format!("file://{}", binary.display()),
        records: Vec::new(),
    };
    Prepared {
        work: work_dir,
        _moto: moto,
        platform: platform.to_string(),
        origin,
        seed,
        kubeconfig,
        digest,
        gh_log,
        workflow,
        run,
    }
}

impl Prepared {
    fn namespace(&self, env: &str) -> String {
        format!("{}-{env}", self.platform)
    }

    fn image(&self) -> String {
        format!("123456789012.dkr.ecr.eu-west-1.amazonaws.com/{}/{SERVICE}@{}", self.platform, self.digest)
    }

    fn wait_healthy(&self, bed: &e2e::Bed, env: &str, what: &str) {
        bed.wait_until(
            &format!("{SERVICE} Healthy in {env} ({what})"),
            Duration::from_secs(300),
            || rollout(&self.kubeconfig, &self.namespace(env)).filter(e2e::healthy).map(|_| ()),
            || format!("{:?}", rollout(&self.kubeconfig, &self.namespace(env)).map(|r| r["status"].clone())),
        );
    }

    /// Runs the workflow and checks what every mode records: the build's digest, the steps that
    /// ran, a commit on the catalog repository's main per environment promoted directly (in
    /// order: dev, staging, and in push mode prod, whose approval is its GitHub environment's
    /// reviewers), in gitops mode a branch and a PR for prod, and dev and staging running the
    /// digest, Healthy. Returns the PR branch (gitops mode).
    fn run_and_check(&mut self, push: bool, cluster_steps: &[&str]) -> Option<String> {
        let jobs = self.run.workflow(&self.workflow);
        for record in &self.run.records {
            eprintln!("{:<16} {:<55} {}", record.job, record.step, record.how);
        }
        assert_eq!(jobs.keys().collect::<Vec<_>>(), ["build", "deploy-dev", "deploy-prod", "deploy-staging"]);
        let digest = self.digest.clone();
        assert_eq!(jobs["build"]["outputs"]["digest"], digest.as_str(), "the build's output is the registry's digest");
        let ran: BTreeSet<(String, String)> = self
            .run
            .records
            .iter()
            .filter(|r| r.how.starts_with("ran"))
            .map(|r| (r.job.clone(), r.step.clone()))
            .collect();
        assert!(ran.contains(&("build".into(), "Push".into())));
        let direct: &[&str] = if push { &ENVS } else { &ENVS[..2] };
        for env in direct {
            let mut steps = vec![format!("Promote the built digest to {env} (commit)")];
            steps.extend(cluster_steps.iter().map(|s| s.replace("ENV", env)));
            for step in steps {
                assert!(ran.contains(&(format!("deploy-{env}"), step.clone())), "{step} did not run: {ran:?}");
            }
        }
        let order: Vec<&str> = self.run.records.iter().map(|r| r.job.as_str()).collect();
        let first = |job: &str| order.iter().position(|j| *j == job).unwrap();
        assert!(first("build") < first("deploy-dev") && first("deploy-dev") < first("deploy-staging"));
        assert!(first("deploy-staging") < first("deploy-prod"), "GitHub's order: {order:?}");

        // Every promotion is recorded in the catalog repository: a commit on main per direct
        // promotion, in order, each changing the service's one catalog line.
        let log = git(&self.origin, &["log", "--format=%s", "main"]);
        let subjects: Vec<String> = log.lines().map(String::from).collect();
        let mut expected: Vec<String> =
            direct.iter().rev().map(|env| format!("promote {SERVICE} to {env}: {digest}")).collect();
        expected.push("the catalog".into());
        assert_eq!(subjects, expected);
        for n in 0..direct.len() {
            let commit = format!("main~{n}");
            let stat = git(&self.origin, &["show", "--format=", "--numstat", &commit]);
            assert!(stat.lines().any(|l| l == "1\t1\tcatalog/catalog.hcl"), "{commit}: {stat}");
        }
        // The service's repository, where the workflow runs, gets none.
        let service_log = git(&self.run.repositories[REPOSITORY], &["log", "--format=%s", "main"]);
        assert_eq!(service_log, "the service and its workflow");

        // The cluster: dev and staging run the digest, Healthy (the jobs' wait saw it; read it again).
        for env in ["dev", "staging"] {
            let r = rollout(&self.kubeconfig, &self.namespace(env)).unwrap();
            assert_eq!(r["spec"]["template"]["spec"]["containers"][0]["image"], self.image().as_str(), "{env}");
            assert!(e2e::healthy(&r), "{env}: {}", r["status"]);
        }
        if push {
            return None;
        }
        // gitops: a branch and a PR for prod, on the catalog repository.
        let head = format!("glidepath/promote-{SERVICE}-prod-{}", &digest[7..19]);
        let branches = git(&self.origin, &["branch", "--list", "--format=%(refname:short)"]);
        assert!(branches.lines().any(|b| b == head), "no PR branch {head}: {branches}");
        assert_eq!(
            git(&self.origin, &["log", "--format=%s", "-1", &head]),
            format!("promote {SERVICE} to prod: {digest}")
        );
        assert_eq!(git(&self.origin, &["rev-parse", &format!("{head}~1")]), git(&self.origin, &["rev-parse", "main"]));
        let gh_calls = fs::read_to_string(&self.gh_log).unwrap();
        assert!(
            gh_calls.contains(&format!(
                "pr create --repo {CATALOG_REPOSITORY} --base main --head {head} --title promote {SERVICE} to prod: {digest}"
            )),
            "{gh_calls}"
        );
        Some(head)
    }

    /// The reviewer merges the PR (GitHub's merge button: a merge commit on main); returns the
    /// merged clone, whose catalog must name the digest in every environment.
    fn merge(&self, head: &str) -> PathBuf {
        let merged = self.work.path().join("merged");
        git(self.work.path(), &["clone", "--quiet", self.origin.to_str().unwrap(), merged.to_str().unwrap()]);
        let branch = format!("origin/{head}");
        let identity = ["-c", "user.name=reviewer", "-c", "user.email=r@example.com"];
        git(
            &merged,
            &[&identity[..], &["merge", "--quiet", "--no-ff", "-m", "Merge the prod promotion", &branch]].concat(),
        );
        git(&merged, &["push", "--quiet", "origin", "HEAD:refs/heads/main"]);
        let model = glidepath::catalog::load(&merged.join("catalog")).unwrap();
        let service = model.services.iter().find(|s| s.name == SERVICE).unwrap();
        for env in ENVS {
            assert_eq!(service.per_env[env].image_tag, self.digest, "the catalog names the digest in {env}");
        }
        merged
    }
}

#[test]
fn push_mode_one_digest_travels_dev_staging_prod_through_the_rendered_workflow() {
    let bed = e2e::shared();
    FakeApps::shared(bed);
    let mut prepared = prepare(bed, "promo", "push", None);

    // The platform's first apply (before CI): namespaces and version 1.0.0 everywhere.
    let out = glidepath_in(
        &prepared.seed,
        &prepared.kubeconfig,
        &["apply", "-c", "catalog", "--only", "cluster", "--auto-approve"],
    );
    assert!(out.status.success(), "first apply: {}\n{}", text(&out.stdout), text(&out.stderr));
    for env in ENVS {
        prepared.wait_healthy(bed, env, "1.0.0");
    }

    let steps = ["Apply storefront in ENV", "Wait for the storefront rollout in ENV"];
    assert!(prepared.run_and_check(true, &steps).is_none());
    for commit in ["main", "main~1", "main~2"] {
        let stat = git(&prepared.origin, &["show", "--format=", "--numstat", commit]);
        assert_eq!(stat, "1\t1\tcatalog/catalog.hcl", "{commit}: in push mode one line of the catalog changes");
    }
    assert!(!fs::read_to_string(&prepared.gh_log).unwrap_or_default().contains("pr create"), "no PR in push mode");
    // prod: its job ran in the GitHub environment `prod` (whose reviewers are the approval),
    // committed, applied and waited until the rollout ran the digest and stopped at the manual
    // pause approval adds before the last step, where a person promotes it.
    assert_eq!(prepared.workflow["jobs"]["deploy-prod"]["environment"].as_str(), Some("prod"));
    let prod = rollout(&prepared.kubeconfig, &prepared.namespace("prod")).unwrap();
    assert_eq!(prod["spec"]["template"]["spec"]["containers"][0]["image"], prepared.image().as_str(), "prod");
    assert_eq!(prod["status"]["phase"], "Paused", "prod waits at its manual pause: {}", prod["status"]);
    let step = prod["status"]["currentStepIndex"].as_u64().unwrap() as usize;
    let pause = &prod["spec"]["strategy"]["canary"]["steps"][step]["pause"];
    assert!(pause.is_object() && pause.get("duration").is_none(), "the manual pause: {}", prod["spec"]["strategy"]);
}

/// Argo CD beside the shared bed (`scripts/e2e-tools argocd-up`, as tests/argocd.rs starts it):
/// its namespace and the `file://` repository its repo server reads.
fn argocd(bed: &e2e::Bed) -> (String, String) {
    let dir = bed.kubeconfig.parent().expect("the kubeconfig lies in the bed's state directory");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/e2e-tools");
    let out = Command::new(script).arg("argocd-up").arg(dir).stderr(std::process::Stdio::inherit()).output().unwrap();
    assert!(out.status.success(), "scripts/e2e-tools argocd-up failed (see stderr above)");
    let vars: BTreeMap<String, String> = text(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    (vars["ARGOCD_NAMESPACE"].clone(), vars["ARGOCD_GIT_REPO"].clone())
}

fn argo_resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: "argoproj.io".into(),
        version: "v1alpha1".into(),
        api_version: "argoproj.io/v1alpha1".into(),
        kind: kind.into(),
        plural: plural.into(),
    }
}

/// Registers the bed's apiserver as the catalog's cluster `local` and applies the rendered
/// AppProjects and ApplicationSet, their repoURL pointed at the local repository (as
/// tests/argocd.rs does; nothing else is changed).
fn start_argocd_for(bed: &e2e::Bed, prepared: &Prepared, namespace: &str, git_repo: &str) {
    use k8s_openapi::api::core::v1::Secret;
    use kube::api::PostParams;
    let (runtime, client) = bed.client();
    let kubeconfig: Value = serde_norway::from_str(&fs::read_to_string(&bed.kubeconfig).unwrap()).unwrap();
    let cluster = &kubeconfig["clusters"][0]["cluster"];
    let user = &kubeconfig["users"][0]["user"];
    let config = serde_json::json!({"tlsClientConfig": {
        "caData": cluster["certificate-authority-data"].as_str(),
        "certData": user["client-certificate-data"].as_str(),
        "keyData": user["client-key-data"].as_str(),
    }});
    let secret: Secret = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "cluster-local", "labels": {"argocd.argoproj.io/secret-type": "cluster"}},
        "stringData": {"name": "local", "server": cluster["server"].as_str(), "config": config.to_string()},
    }))
    .unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    runtime.block_on(secrets.create(&PostParams::default(), &secret)).unwrap();

    // The catalog repository: what the jobs push to is what Argo CD reads.
    let rendered_repo = format!("https://github.com/{CATALOG_REPOSITORY}.git");
    let dir = prepared.seed.join("gitops/argocd");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    // The projects first: an Application of a project that does not exist yet is refused.
    files.sort_by_key(|p| !p.to_string_lossy().contains("appproject"));
    for file in files {
        let yaml = fs::read_to_string(&file).unwrap();
        assert!(yaml.contains(&rendered_repo), "{} names no {rendered_repo}", file.display());
        let object: Json = serde_norway::from_str(&yaml.replace(&rendered_repo, git_repo)).unwrap();
        let resource = match object["kind"].as_str().unwrap() {
            "AppProject" => argo_resource("AppProject", "appprojects"),
            "ApplicationSet" => argo_resource("ApplicationSet", "applicationsets"),
            other => panic!("unexpected {other} in gitops/argocd"),
        };
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
        let object: DynamicObject = serde_json::from_value(object).unwrap();
        runtime.block_on(api.create(&PostParams::default(), &object)).unwrap();
    }
}

#[test]
fn gitops_mode_one_digest_travels_dev_staging_prod_and_argo_cd_syncs_each_commit() {
    let bed = e2e::shared();
    FakeApps::shared(bed);
    let (argocd_namespace, git_repo) = argocd(bed);
    let origin = PathBuf::from(git_repo.strip_prefix("file://").expect("a file:// repository"));
    let mut prepared = prepare(bed, "promogit", "gitops", Some(origin));
    start_argocd_for(bed, &prepared, &argocd_namespace, &git_repo);
    // Argo CD syncs the first revision (prod's Applications sync by hand: they stay empty).
    for env in ["dev", "staging"] {
        prepared.wait_healthy(bed, env, "1.0.0, synced by Argo CD");
    }

    // No job applies: the promotion commit is what Argo CD syncs, and the job waits for it.
    let head = prepared.run_and_check(false, &["Wait for the storefront rollout in ENV"]).unwrap();
    let apply_steps: Vec<&StepRecord> = prepared.run.records.iter().filter(|r| r.step.starts_with("Apply")).collect();
    assert!(apply_steps.is_empty(), "{apply_steps:?}");
    // Each promotion commit is the catalog line and the service's re-rendered files: its base
    // (rendered from the first environment) and overlays, nothing of any other service.
    for commit in ["main", "main~1"] {
        let stat = git(&prepared.origin, &["show", "--format=", "--name-only", commit]);
        let files: Vec<&str> = stat.lines().collect();
        assert!(files.contains(&"catalog/catalog.hcl"), "{commit}: {files:?}");
        let of_service = |f: &&str| {
            f.strip_prefix("gitops/")
                .is_some_and(|rest| rest.split('/').nth(if rest.starts_with("base/") { 1 } else { 2 }) == Some(SERVICE))
        };
        assert!(files.iter().any(of_service), "{commit} re-renders nothing of {SERVICE}: {files:?}");
        assert!(files.iter().all(|f| *f == "catalog/catalog.hcl" || of_service(f)), "{commit}: {files:?}");
    }
    assert!(rollout(&prepared.kubeconfig, &prepared.namespace("prod")).is_none(), "prod syncs only by hand");
    // The PR carries prod's promotion in the catalog and the tree rendered from it: merged, the
    // committed tree is exactly what the merged catalog renders, and prod's Rollout in it runs
    // the digest (Argo CD syncs it when someone syncs prod).
    let merged = prepared.merge(&head);
    let out = glidepath_in(&merged, &prepared.kubeconfig, &["render", "-c", "catalog", "--out", "../fresh"]);
    assert!(out.status.success(), "render: {}", text(&out.stderr));
    let fresh = prepared.work.path().join("fresh/gitops");
    assert_eq!(
        tree_files(&merged.join("gitops")),
        tree_files(&fresh),
        "the committed gitops/ tree is the merged catalog's"
    );
    let model = glidepath::catalog::load(&merged.join("catalog")).unwrap();
    let desired = glidepath::render::render(&model).unwrap();
    let address = format!("prod/{SERVICE}/k8s/Rollout/{SERVICE}").parse().unwrap();
    let rollout = desired.resources[&address].body();
    assert_eq!(rollout["spec"]["template"]["spec"]["containers"][0]["image"], prepared.image().as_str());
}

/// Every file under `dir` (relative path → contents).
fn tree_files(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        for entry in fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path.strip_prefix(dir).unwrap().display().to_string();
                out.insert(relative, fs::read_to_string(&path).unwrap());
            }
        }
    }
    assert!(!out.is_empty(), "{} is empty", dir.display());
    out
}

// ─── The CodePipeline deploy project (issue 13: a pipeline building outside the catalog repository) ───

/// The Secrets Manager secret the catalog names for CodePipeline deploys, and the token in it.
const PIPELINE_TOKEN_SECRET: &str = "glidepath/promotion-token";
const PIPELINE_TOKEN: &str = "github_pat_codebuild-promotion-run-test";

/// The same catalog with the service built by CodePipeline from its own repository (through the
/// CodeStar connection), and the Secrets Manager secret its deploy project pushes with.
fn built_by_codepipeline(catalog: String) -> String {
    let platform = format!(
        "  codestar_connection = \"arn:aws:codestar-connections:eu-west-1:123456789012:connection/0c9e2d4a-7b1f-4c3e-9a2d-5f6e7d8c9b0a\"\n  \
         pipeline_image = \"123456789012.dkr.ecr.eu-west-1.amazonaws.com/glidepath-deployer:1.0.0\"\n  \
         pipeline_promotion_token_secret = \"{PIPELINE_TOKEN_SECRET}\"\n  catalog_repo      = "
    );
    let edited = catalog.replacen("  catalog_repo      = ", &platform, 1).replacen(
        "  probes {",
        "  ci {\n    system = \"codepipeline\"\n  }\n\n  probes {",
        1,
    );
    assert!(
        edited.contains("pipeline_promotion_token_secret") && edited.contains("system = \"codepipeline\""),
        "{edited}"
    );
    edited
}

/// What one CodeBuild run of a project printed, and where its shell kept files.
struct BuildRun {
    output: Output,
    /// The run's HOME and TMPDIR (where `mktemp -d` makes the catalog clone).
    home: PathBuf,
    tmp: PathBuf,
}

impl Prepared {
    /// The rendered deploy project's buildspec and the variables the pipeline's `Deploy-ENV`
    /// action passes it (the build's digest put in for `#{BuildVariables.IMAGE_DIGEST}`).
    fn deploy_project(&self, env: &str) -> (Value, BTreeMap<String, String>) {
        let aws = self.work.path().join("rendered/aws");
        let project = format!("{}-{SERVICE}-deploy", self.platform);
        let buildspec: Value =
            serde_norway::from_str(&fs::read_to_string(aws.join(format!("buildspec.{project}.yaml"))).unwrap())
                .unwrap();
        let declared: Json =
            serde_json::from_str(&fs::read_to_string(aws.join(format!("codebuild_project.{project}.json"))).unwrap())
                .unwrap();
        let mut variables: BTreeMap<String, String> = declared["environment_variables"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        let pipeline: Json = serde_json::from_str(
            &fs::read_to_string(aws.join(format!("codepipeline.{}-{SERVICE}.json", self.platform))).unwrap(),
        )
        .unwrap();
        let stage = pipeline["pipeline"]["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == format!("Deploy-{env}"))
            .unwrap_or_else(|| panic!("no Deploy-{env} stage"));
        let action = &stage["actions"][0]["configuration"];
        assert_eq!(action["ProjectName"], project.as_str());
        let passed: Json = serde_json::from_str(action["EnvironmentVariables"].as_str().unwrap()).unwrap();
        for variable in passed.as_array().unwrap() {
            let value = variable["value"].as_str().unwrap().replace("#{BuildVariables.IMAGE_DIGEST}", &self.digest);
            variables.insert(variable["name"].as_str().unwrap().to_string(), value);
        }
        (buildspec, variables)
    }

    /// Runs the deploy project for `env` as CodeBuild would, in a checkout of the pipeline's
    /// source (the service's repository at the built commit, `CODEBUILD_SRC_DIR`): the buildspec
    /// (version 0.2, `shell: bash`) has every phase's commands run in order in one bash instance
    /// (variables, functions and the working directory carry over), each checked for its exit
    /// status, the first failure ending the build. The environment is what CodeBuild sets: the
    /// buildspec's `variables`, each `secrets-manager` variable read from (moto's) Secrets
    /// Manager, the project's and the action's variables, AWS credentials. The one stand-in,
    /// first on the PATH: `aws eks update-kubeconfig` writes, as the real one would, a kubeconfig
    /// whose context `--alias` is the bed's cluster (moto's EKS has no API server to hand out).
    /// git's global configuration (`GIT_CONFIG_GLOBAL`) sends `https://github.com/OWNER/NAME.git`
    /// of the local repositories to them (`url.file://<path>.insteadOf`). `probe` runs last, in the
    /// same shell.
    fn run_deploy_project(&self, bed: &e2e::Bed, env: &str, probe: &str) -> BuildRun {
        let (buildspec, _) = self.deploy_project(env);
        self.run_buildspec(bed, env, &buildspec, probe)
    }

    /// [`Prepared::run_deploy_project`] with this buildspec in place of the rendered one.
    fn run_buildspec(&self, bed: &e2e::Bed, env: &str, buildspec: &Value, probe: &str) -> BuildRun {
        let (_, variables) = self.deploy_project(env);
        let root = self.work.path().join(format!("codebuild-{env}"));
        let (source, home, tmp, bin) = (root.join("src"), root.join("home"), root.join("tmp"), root.join("bin"));
        for dir in [&home, &tmp, &bin] {
            fs::create_dir_all(dir).unwrap();
        }
        // The pipeline's source: CODEBUILD_CLONE_REF, a clone of the service's repository.
        let service_origin = &self.run.repositories[REPOSITORY];
        git(self.work.path(), &["clone", "--quiet", service_origin.to_str().unwrap(), source.to_str().unwrap()]);
        git(&source, &["checkout", "--quiet", "--detach", &self.run.sha]);

        // The deployer image's tools, the real ones: glidepath under test, kubectl, the plugin.
        let kubectl = ["kubectl-v1.34.1"]
            .iter()
            .map(|name| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/glidepath/bin").join(name))
            .find(|p| p.exists())
            .unwrap_or_else(|| PathBuf::from("/usr/bin/kubectl"));
        let mut tools = vec![("glidepath", PathBuf::from(env!("CARGO_BIN_EXE_glidepath"))), ("kubectl", kubectl)];
        // Built on first use: only for a buildspec that runs it.
        if serde_norway::to_string(buildspec).unwrap().contains("kubectl argo rollouts") {
            tools.push(("kubectl-argo-rollouts", bed.kubectl_argo_rollouts().to_path_buf()));
        }
        for (name, target) in tools {
            std::os::unix::fs::symlink(target, bin.join(name)).unwrap();
        }
        let bed_kubeconfig = self.kubeconfig.display().to_string();
        fs::write(
            bin.join("aws"),
            format!(
                "#!/bin/bash\n# Stands in for `aws eks update-kubeconfig` only (tests/promotion_run.rs).\n\
                 set -euo pipefail\n\
                 [ \"$1 $2\" = 'eks update-kubeconfig' ] || {{ echo \"aws stand-in: unexpected call: $*\" >&2; exit 2; }}\n\
                 shift 2; alias=''\n\
                 while [ $# -gt 0 ]; do case $1 in --alias) alias=$2; shift 2 ;; --name|--region) shift 2 ;; *) echo \"aws stand-in: $1?\" >&2; exit 2 ;; esac; done\n\
                 mkdir -p \"$HOME/.kube\"\n\
                 KUBECONFIG={bed_kubeconfig:?} kubectl config view --flatten --minify --context \"$alias\" > \"$HOME/.kube/config\"\n\
                 kubectl config use-context \"$alias\" >/dev/null\n\
                 echo \"Added new context $alias to $HOME/.kube/config\"\n"
            ),
        )
        .unwrap();
        Command::new("chmod").arg("0755").arg(bin.join("aws")).status().unwrap();
        let gitconfig = root.join("gitconfig");
        let mut rewrites = String::new();
        for (name, path) in &self.run.repositories {
            // file://, not a path: a local path would ignore the buildspec's `--depth`.
            rewrites.push_str(&format!(
                "[url \"file://{}\"]\n\tinsteadOf = https://github.com/{name}.git\n",
                path.display()
            ));
        }
        fs::write(&gitconfig, rewrites).unwrap();

        let mut env_vars: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in buildspec["env"]["variables"].as_mapping().unwrap() {
            env_vars.insert(k.as_str().unwrap().to_string(), yaml_scalar(v));
        }
        // CodeBuild resolves `secrets-manager` variables with GetSecretValue as the project's role.
        for (k, v) in buildspec["env"].get("secrets-manager").and_then(Value::as_mapping).into_iter().flatten() {
            let secret = self.aws(&["secretsmanager", "get-secret-value", "--secret-id", v.as_str().unwrap()]);
            let secret: Json = serde_json::from_str(&secret).unwrap();
            env_vars.insert(k.as_str().unwrap().to_string(), secret["SecretString"].as_str().unwrap().to_string());
        }
        env_vars.extend(variables);
        for (k, v) in [
            ("CODEBUILD_SRC_DIR", source.display().to_string()),
            ("CODEBUILD_BUILD_ID", format!("{}-{SERVICE}-deploy:0000-{env}", self.platform)),
            ("CODEBUILD_RESOLVED_SOURCE_VERSION", self.run.sha.clone()),
            ("HOME", home.display().to_string()),
            ("TMPDIR", tmp.display().to_string()),
            ("PATH", format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display())),
            ("GIT_CONFIG_GLOBAL", gitconfig.display().to_string()),
            ("GIT_CONFIG_NOSYSTEM", "1".to_string()),
            ("AWS_ACCESS_KEY_ID", "testing".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
            ("AWS_ENDPOINT_URL", self._moto.url()),
            ("NO_COLOR", "1".to_string()),
        ] {
            env_vars.insert(k.to_string(), v);
        }

        let mut script = String::new();
        let mut n = 0;
        for phase in ["install", "pre_build", "build", "post_build"] {
            for command in buildspec["phases"][phase]["commands"].as_sequence().into_iter().flatten() {
                n += 1;
                script.push_str(command.as_str().unwrap_or_else(|| panic!("{phase}: not a string: {command:?}")));
                script.push_str(&format!(
                    "\nstatus=$?; if [ \"$status\" -ne 0 ]; then echo \"[codebuild] {phase} command {n} exited $status\" >&2; exit \"$status\"; fi\n"
                ));
            }
        }
        script.push_str(probe);
        let script_file = root.join("buildspec.sh");
        fs::write(&script_file, &script).unwrap();
        let output = Command::new("bash")
            .args(["--noprofile", "--norc"])
            .arg(&script_file)
            .current_dir(&source)
            .env_clear()
            .envs(&env_vars)
            .output()
            .unwrap();
        eprintln!(
            "── CodeBuild {}-{SERVICE}-deploy for {env}: exit {:?}\n{}{}",
            self.platform,
            output.status.code(),
            text(&output.stdout),
            text(&output.stderr)
        );
        BuildRun { output, home, tmp }
    }

    /// The promotion token, in moto's Secrets Manager under the name the catalog gives.
    fn store_pipeline_token(&self) {
        self.aws(&["secretsmanager", "create-secret", "--name", PIPELINE_TOKEN_SECRET, "--secret-string", PIPELINE_TOKEN]);
    }

    /// The AWS CLI against this scenario's moto.
    fn aws(&self, args: &[&str]) -> String {
        let out = Command::new("aws")
            .args(args)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", "eu-west-1")
            .env("AWS_ENDPOINT_URL", self._moto.url())
            .output()
            .unwrap();
        assert!(out.status.success(), "aws {args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    }
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        for entry in fs::read_dir(&next).into_iter().flatten() {
            let path = entry.unwrap().path();
            if path.is_symlink() {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if fs::read(&path).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes())) {
                out.push(path);
            }
        }
    }
    out
}

/// After the buildspec, in its shell: would git send the token to the catalog repository on
/// github.com? (Locally the URL is rewritten to a path, which sends no header.)
const HEADER_PROBE: &str = r#"
expected="AUTHORIZATION: basic $(printf 'x-access-token:%s' "$CATALOG_TOKEN" | base64 --wrap=0)"
if [ "$(git config --get-urlmatch http.extraheader "https://github.com/$CATALOG_REPOSITORY.git")" = "$expected" ]; then
  echo "[probe] git sends the promotion token to https://github.com/$CATALOG_REPOSITORY.git"
fi
echo "[probe] working directory: $PWD"
"#;

/// Checks what a deploy project run left: the promotion a commit on the catalog repository's
/// main (not in the service's repository), the token nowhere in the output or on disk (the
/// clone's .git/config included), git sending it to github.com from its environment.
fn assert_promoted_in_the_catalog_repository(prepared: &Prepared, run: &BuildRun, env: &str) -> PathBuf {
    let (stdout, stderr) = (text(&run.output.stdout), text(&run.output.stderr));
    assert!(run.output.status.success(), "the deploy project failed:\n{stdout}\n{stderr}");
    let subjects: Vec<String> =
        git(&prepared.origin, &["log", "--format=%s", "main"]).lines().map(String::from).collect();
    assert_eq!(subjects, [format!("promote {SERVICE} to {env}: {}", prepared.digest), "the catalog".to_string()]);
    let stat = git(&prepared.origin, &["show", "--format=", "--numstat", "main"]);
    assert!(stat.lines().any(|l| l == "1\t1\tcatalog/catalog.hcl"), "{stat}");
    assert_eq!(
        git(&prepared.run.repositories[REPOSITORY], &["log", "--format=%s", "--all"]),
        "the service and its workflow",
        "the pipeline's source repository gets no promotion"
    );

    let auth = Command::new("bash")
        .args(["-c", "printf 'x-access-token:%s' \"$1\" | base64 --wrap=0", "-", PIPELINE_TOKEN])
        .output()
        .unwrap();
    let auth = text(&auth.stdout);
    assert!(auth.len() > PIPELINE_TOKEN.len(), "{auth}");
    for secret in [PIPELINE_TOKEN, auth.as_str()] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret), "the token is in the build's output");
        for dir in [&run.home, &run.tmp] {
            assert_eq!(files_containing(dir, secret), Vec::<PathBuf>::new(), "the token is on disk");
        }
    }
    assert!(
        stdout
            .contains(&format!("[probe] git sends the promotion token to https://github.com/{CATALOG_REPOSITORY}.git")),
        "{stdout}"
    );
    // The clone the build promoted in: a checkout of the catalog repository under TMPDIR whose
    // remote is the plain https URL, with no credentials in its configuration.
    let clone = PathBuf::from(
        stdout.lines().find_map(|l| l.strip_prefix("[probe] working directory: ")).expect("the probe ran"),
    );
    assert!(clone.starts_with(&run.tmp), "{}", clone.display());
    let config = fs::read_to_string(clone.join(".git/config")).unwrap();
    assert!(config.contains(&format!("url = https://github.com/{CATALOG_REPOSITORY}.git")), "{config}");
    assert!(!config.contains("extraheader") && !config.contains("x-access-token"), "{config}");
    assert_eq!(git(&clone, &["rev-parse", "HEAD"]), git(&prepared.origin, &["rev-parse", "main"]));
    assert_eq!(git(&clone, &["rev-parse", "--is-shallow-repository"]), "true", "a --depth=1 clone, pushed from");
    clone
}

/// Push mode: the deploy project of a pipeline whose source (acme/storefront) is not the
/// catalog repository (acme/platform) clones the catalog repository with the token Secrets
/// Manager holds, commits the promotion there, applies the environment from that clone and
/// waits with `kubectl argo rollouts status` until the Rollout runs the digest, Healthy.
#[test]
fn codepipeline_push_mode_deploy_promotes_in_the_catalog_repository_and_applies_from_it() {
    let bed = e2e::shared();
    FakeApps::shared(bed);
    let prepared = prepare_with(bed, "cppush", "push", None, built_by_codepipeline);
    assert!(prepared.workflow.is_null(), "a CodePipeline service has no workflow");
    prepared.store_pipeline_token();
    let out = glidepath_in(
        &prepared.seed,
        &prepared.kubeconfig,
        &["apply", "-c", "catalog", "--only", "cluster", "--env", "dev", "--auto-approve"],
    );
    assert!(out.status.success(), "first apply: {}\n{}", text(&out.stdout), text(&out.stderr));
    prepared.wait_healthy(bed, "dev", "1.0.0");

    let (buildspec, variables) = prepared.deploy_project("dev");
    assert_eq!(buildspec["env"]["secrets-manager"]["CATALOG_TOKEN"].as_str(), Some(PIPELINE_TOKEN_SECRET));
    assert_eq!(buildspec["env"]["variables"]["CATALOG_REPOSITORY"].as_str(), Some(CATALOG_REPOSITORY));
    assert_eq!(variables["DELIVERY"], "push");

    let run = prepared.run_deploy_project(bed, "dev", HEADER_PROBE);
    assert_promoted_in_the_catalog_repository(&prepared, &run, "dev");
    let stdout = text(&run.output.stdout);
    assert!(stdout.contains("Added new context dev"), "{stdout}");
    let r = rollout(&prepared.kubeconfig, &prepared.namespace("dev")).unwrap();
    assert_eq!(r["spec"]["template"]["spec"]["containers"][0]["image"], prepared.image().as_str());
    assert!(e2e::healthy(&r), "{}", r["status"]);
}

/// GitOps mode, as far as it runs without Argo CD: the shared bed has one Argo CD whose one
/// repository the GitHub workflow's gitops test owns (tests in this binary run concurrently), so
/// here the buildspec runs up to and including the promotion commit (with the re-rendered
/// gitops/ tree) in the catalog repository; the wait for Argo CD's sync and the rollout status
/// after it are not run.
#[test]
fn codepipeline_gitops_mode_deploy_commits_the_promotion_and_tree_to_the_catalog_repository() {
    let bed = e2e::shared();
    let prepared = prepare_with(bed, "cpgit", "gitops", None, built_by_codepipeline);
    prepared.store_pipeline_token();
    let (buildspec, variables) = prepared.deploy_project("dev");
    assert_eq!(variables["DELIVERY"], "gitops");
    // Up to the commit: the apply-or-wait command and the rollout status are left out.
    let build = buildspec["phases"]["build"]["commands"].as_sequence().unwrap();
    let commit = build.iter().position(|c| c.as_str().unwrap().contains("git push --quiet origin")).unwrap();
    assert_eq!(commit + 3, build.len(), "after the commit: the wait for Argo CD and the rollout status");
    let mut truncated = buildspec.clone();
    truncated["phases"]["build"]["commands"] = Value::Sequence(build[..=commit].to_vec());
    let run = prepared.run_buildspec(bed, "dev", &truncated, HEADER_PROBE);
    let clone = assert_promoted_in_the_catalog_repository(&prepared, &run, "dev");
    let files = git(&prepared.origin, &["show", "--format=", "--name-only", "main"]);
    assert!(files.lines().any(|f| f.starts_with("gitops/") && f.contains(SERVICE)), "{files}");
    // The committed tree is what the promoted catalog renders.
    let out = glidepath_in(&clone, &prepared.kubeconfig, &["render", "-c", "catalog", "--out", "../fresh"]);
    assert!(out.status.success(), "render: {}", text(&out.stderr));
    assert_eq!(tree_files(&clone.join("gitops")), tree_files(&clone.parent().unwrap().join("fresh/gitops")));
}
