//! The GitOps path through a real Argo CD: glidepath's rendered `gitops/` tree, committed to a
//! git repository, is synced by Argo CD's ApplicationSet controller, application controller and
//! repo server (`scripts/e2e-tools argocd-up`, beside the end-to-end bed of tests/e2e.rs: control
//! plane, kwok nodes, the real Argo Rollouts controller, Prometheus).
//!
//! 1. the rendered ApplicationSet generates one Application per service and environment, and one
//!    for the environment's shared objects (its Namespace); all become Synced and Healthy, and so
//!    do the Rollouts;
//! 2. a promotion (`glidepath promote` + `render`, committed) is synced and the canary walks its
//!    steps to Healthy while its Application ends Synced on the new commit, without self-heal
//!    fighting the rollouts controller over the Services' selectors.
//!
//! The catalog is tests/fixtures/e2e/catalog.hcl (two services: a canary and a blue/green), not
//! examples/shop: thirty Applications and their pods are too much for the 2-core machines CI runs
//! on. The rendered repoURL (`https://github.com/ORG/CATALOG-gitops.git`) is replaced by the local
//! repository's `file://` URL before the Argo CD objects are applied: nothing else is changed.
//! Measured times are printed (run with --nocapture), never asserted.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Secret, Service};
use kube::api::{Api, DynamicObject, ListParams, PostParams};
use kube::discovery::ApiResource;
use serde_json::{json, Value};
use support::e2e::{self, healthy, Bed, FakeApps};

const PLATFORM: &str = "argo";
const ENV: &str = "e2e";
/// Syncs and rollouts here take about a minute; this is only how long a broken run waits.
const PATIENCE: Duration = Duration::from_secs(300);

/// Argo CD beside the shared bed, started once per test binary; `scripts/e2e-tools down` (run by
/// the bed's watchdog) stops it with the bed.
struct ArgoCd {
    namespace: String,
    git_repo: String,
    controller_log: PathBuf,
}

fn script() -> PathBuf {
    repo().join("scripts/e2e-tools")
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn argocd(bed: &Bed) -> &'static ArgoCd {
    static SHARED: OnceLock<ArgoCd> = OnceLock::new();
    SHARED.get_or_init(|| {
        let dir = bed.kubeconfig.parent().expect("the kubeconfig lies in the bed's state directory");
        let out = Command::new(script())
            .arg("argocd-up")
            .arg(dir)
            .stderr(Stdio::inherit())
            .output()
            .expect("run scripts/e2e-tools argocd-up");
        assert!(out.status.success(), "scripts/e2e-tools argocd-up failed (see stderr above)");
        let vars: BTreeMap<String, String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
            .collect();
        let var = |k: &str| vars.get(k).unwrap_or_else(|| panic!("argocd-up printed no {k}")).clone();
        ArgoCd {
            namespace: var("ARGOCD_NAMESPACE"),
            git_repo: var("ARGOCD_GIT_REPO"),
            controller_log: PathBuf::from(var("ARGOCD_CONTROLLER_LOG")),
        }
    })
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
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

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// One catalog, its GitOps repository clone, and clients for the bed.
struct GitOps {
    bed: &'static Bed,
    argo: &'static ArgoCd,
    work: tempfile::TempDir,
    namespace: String,
    runtime: tokio::runtime::Runtime,
    client: kube::Client,
}

impl GitOps {
    fn start() -> GitOps {
        let bed = e2e::shared();
        // The analysis queries read the fake apps' metrics from the bed's Prometheus.
        FakeApps::shared(bed);
        let argo = argocd(bed);
        let work = tempfile::tempdir().unwrap();
        // No notification routes: no Slack stand-in is needed to prove the sync.
        let catalog = fs::read_to_string(repo().join("tests/fixtures/e2e/catalog.hcl"))
            .unwrap()
            .replace("@NAME@", PLATFORM)
            .replace("@PROMETHEUS@", &bed.prometheus_url)
            .replace("  notify = [\"receiver\"]\n", "");
        let catalog = match (catalog.find("notification \"receiver\""), catalog.find("# A tier-2 profile")) {
            (Some(from), Some(to)) => format!("{}{}", &catalog[..from], &catalog[to..]),
            _ => panic!("the e2e catalog's notification block moved"),
        };
        fs::create_dir(work.path().join("catalog")).unwrap();
        fs::write(work.path().join("catalog/catalog.hcl"), catalog).unwrap();
        let (runtime, client) = bed.client();
        let gitops = GitOps { bed, argo, work, namespace: format!("{PLATFORM}-{ENV}"), runtime, client };
        let clone = gitops.clone_dir();
        fs::create_dir(&clone).unwrap();
        gitops.git(&["init", "-q", "--initial-branch=main"]);
        gitops.git(&["remote", "add", "origin", &gitops.argo.git_repo]);
        gitops
    }

    fn clone_dir(&self) -> PathBuf {
        self.work.path().join("gitops-repo")
    }

    fn glidepath(&self, args: &[&str]) -> Output {
        support::glidepath_command().args(args).current_dir(self.work.path()).env("NO_COLOR", "1").output().unwrap()
    }

    fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(["-c", "user.name=glidepath tests", "-c", "user.email=tests@glidepath.invalid"])
            .args(args)
            .current_dir(self.clone_dir())
            .env("HOME", self.work.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
        text(&out.stdout).trim().to_string()
    }

    /// `glidepath render`, its `gitops/` tree committed and pushed as the repository's `gitops/`;
    /// returns the commit.
    fn render_and_commit(&self, message: &str) -> String {
        let out = self.glidepath(&["render", "--out", "out"]);
        assert_eq!(out.status.code(), Some(0), "render failed: {}", text(&out.stderr));
        let tree = self.clone_dir().join("gitops");
        if tree.exists() {
            fs::remove_dir_all(&tree).unwrap();
        }
        copy_dir(&self.work.path().join("out/gitops"), &tree);
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
        self.git(&["push", "-q", "origin", "HEAD:main"]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// The bed's apiserver as the Argo CD cluster the rendered destinations name (the catalog's
    /// cluster `local`), with the bed's admin credentials.
    fn register_cluster(&self) {
        let kubeconfig: Value = serde_norway::from_str(&fs::read_to_string(&self.bed.kubeconfig).unwrap()).unwrap();
        let cluster = &kubeconfig["clusters"][0]["cluster"];
        let user = &kubeconfig["users"][0]["user"];
        let config = json!({"tlsClientConfig": {
            "caData": cluster["certificate-authority-data"],
            "certData": user["client-certificate-data"],
            "keyData": user["client-key-data"],
        }});
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": "cluster-local", "labels": {"argocd.argoproj.io/secret-type": "cluster"}},
            "stringData": {"name": "local", "server": cluster["server"], "config": config.to_string()},
        }))
        .unwrap();
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &self.argo.namespace);
        self.runtime.block_on(secrets.create(&PostParams::default(), &secret)).unwrap();
    }

    /// The rendered AppProjects and ApplicationSet, pointed at the local repository.
    fn apply_argocd_objects(&self) {
        let rendered_repo = format!("https://github.com/acme/{PLATFORM}-gitops.git");
        let dir = self.work.path().join("out/gitops/argocd");
        let mut files: Vec<PathBuf> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        // The projects first: an Application of a project that does not exist yet is refused.
        files.sort_by_key(|p| !p.to_string_lossy().contains("appproject"));
        for file in files {
            let yaml = fs::read_to_string(&file).unwrap();
            assert!(yaml.contains(&rendered_repo), "{} names no {rendered_repo}", file.display());
            let object: Value = serde_norway::from_str(&yaml.replace(&rendered_repo, &self.argo.git_repo)).unwrap();
            let resource = match object["kind"].as_str().unwrap() {
                "AppProject" => argo_resource("AppProject", "appprojects"),
                "ApplicationSet" => argo_resource("ApplicationSet", "applicationsets"),
                other => panic!("unexpected {other} in gitops/argocd"),
            };
            let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), &self.argo.namespace, &resource);
            let object: DynamicObject = serde_json::from_value(object).unwrap();
            self.runtime.block_on(api.create(&PostParams::default(), &object)).unwrap();
        }
    }

    fn applications(&self) -> BTreeMap<String, Value> {
        let api: Api<DynamicObject> = Api::namespaced_with(
            self.client.clone(),
            &self.argo.namespace,
            &argo_resource("Application", "applications"),
        );
        let list = self.runtime.block_on(api.list(&ListParams::default())).unwrap();
        list.items
            .into_iter()
            .map(|a| (a.metadata.name.clone().unwrap_or_default(), serde_json::to_value(a).unwrap()))
            .filter(|(_, a)| a["metadata"]["labels"]["glidepath.dev/environment"] == ENV)
            .collect()
    }

    fn rollout(&self, service: &str) -> Option<Value> {
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), &self.namespace, &argo_resource("Rollout", "rollouts"));
        let found = self.runtime.block_on(api.get_opt(service)).unwrap();
        found.map(|r| serde_json::to_value(r).unwrap())
    }

    fn selector(&self, service: &str) -> BTreeMap<String, String> {
        let services: Api<Service> = Api::namespaced(self.client.clone(), &self.namespace);
        let found = self.runtime.block_on(services.get(service)).unwrap();
        found.spec.and_then(|s| s.selector).unwrap_or_default()
    }

    /// Polls every 200 ms until `probe` gives a value; fails with Argo CD's view if it never does.
    fn wait_until<T>(&self, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(value) = probe() {
                return value;
            }
            if Instant::now() > deadline {
                let apps: Vec<String> = self.applications().values().map(summary).collect();
                let log = fs::read_to_string(&self.argo.controller_log).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(30).collect();
                panic!(
                    "timed out waiting for {what}\napplications:\n{}\nArgo CD controller log (newest first):\n{}\nrollouts controller log (newest first):\n{}",
                    apps.join("\n"),
                    tail.join("\n"),
                    self.bed.controller_log_tail(20)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// An Application's state in one line, for failure messages.
fn summary(app: &Value) -> String {
    let status = &app["status"];
    format!(
        "{}: sync={} health={} revision={} operation={} conditions={}",
        app["metadata"]["name"].as_str().unwrap_or_default(),
        status["sync"]["status"],
        status["health"]["status"],
        status["sync"]["revision"],
        status["operationState"]["message"],
        status["conditions"]
    )
}

fn synced_healthy_at(app: &Value, revision: &str) -> bool {
    let status = &app["status"];
    status["sync"]["status"] == "Synced" && status["health"]["status"] == "Healthy" && status["sync"]["revision"] == revision
}

fn image(rollout: &Value) -> String {
    rollout["spec"]["template"]["spec"]["containers"][0]["image"].as_str().unwrap_or_default().to_string()
}

#[test]
fn the_rendered_tree_syncs_through_argo_cd_and_a_promotion_walks_the_canary() {
    let gitops = GitOps::start();
    let first = gitops.render_and_commit("glidepath render: first revision");
    gitops.register_cluster();
    let started = Instant::now();
    gitops.apply_argocd_objects();

    // 1. One Application per service and environment, plus the environment's shared objects.
    let wanted: BTreeSet<String> =
        [format!("{PLATFORM}-{ENV}"), format!("checkout-{ENV}"), format!("storefront-{ENV}")].into();
    gitops.wait_until("the ApplicationSet's Applications", || {
        (gitops.applications().keys().cloned().collect::<BTreeSet<_>>() == wanted).then_some(())
    });
    let generated = started.elapsed();
    for (name, app) in gitops.applications() {
        let dir = if name == format!("{PLATFORM}-{ENV}") { "_shared".to_string() } else { name.replace("-e2e", "") };
        assert_eq!(app["spec"]["source"]["path"], format!("gitops/overlays/{ENV}/{dir}"), "{name}");
        assert_eq!(app["spec"]["project"], format!("{PLATFORM}-{ENV}"), "{name}");
        assert_eq!(app["spec"]["syncPolicy"]["automated"]["selfHeal"], true, "{name}");
    }
    gitops.wait_until("every Application Synced and Healthy on the first commit", || {
        let apps = gitops.applications();
        apps.values().all(|a| synced_healthy_at(a, &first)).then_some(())
    });
    let synced = started.elapsed();
    for service in ["checkout", "storefront"] {
        let rollout = gitops.rollout(service).expect("Argo CD created the Rollout");
        assert!(healthy(&rollout), "{service}: {}", rollout["status"]);
        assert!(image(&rollout).ends_with(":1.0.0"), "{service} runs {}", image(&rollout));
    }
    // The project's roles and the Applications loaded without errors.
    for app in gitops.applications().values() {
        assert!(app["status"]["conditions"].is_null(), "{}", summary(app));
    }
    println!(
        "Argo CD: {} Applications generated after {:.1}s, all Synced/Healthy {:.1}s after the ApplicationSet was applied",
        wanted.len(),
        generated.as_secs_f64(),
        synced.as_secs_f64()
    );

    // 2. A promotion, committed: the canary walks its steps; its Application ends Synced.
    let before_commit = gitops.applications()[&format!("checkout-{ENV}")]["status"]["operationState"]["startedAt"]
        .as_str()
        .map(str::to_string);
    let out = gitops.glidepath(&["promote", "checkout", "--to", ENV, "--tag", "1.1.0"]);
    assert_eq!(out.status.code(), Some(0), "promote failed: {}", text(&out.stderr));
    let second = gitops.render_and_commit("glidepath promote checkout --to e2e --tag 1.1.0");
    let committed = Instant::now();
    let app_name = format!("checkout-{ENV}");
    gitops.wait_until("Argo CD syncing the promotion into the Rollout", || {
        gitops.rollout("checkout").filter(|r| image(r).ends_with(":1.1.0")).map(|_| ())
    });
    let picked_up = committed.elapsed();
    // Watched at every poll: the steps the canary passes; the Services' selectors, which the
    // rollouts controller points at a revision (once pointed, a selector losing its hash means
    // something applied the rendered selector over the controller's: self-heal fighting it, and
    // the Service sending traffic to every revision at once); the sync operations Argo CD starts
    // (one for the commit; more would be self-heal re-applying).
    let mut watch = Watch { before_commit, ..Watch::default() };
    gitops.wait_until("the canary Healthy on 1.1.0 and its Application Synced on the new commit", || {
        let rollout = gitops.rollout("checkout")?;
        let app = gitops.applications().remove(&app_name)?;
        watch.poll(&gitops, &rollout, &app);
        (healthy(&rollout) && image(&rollout).ends_with(":1.1.0") && synced_healthy_at(&app, &second)).then_some(())
    });
    let walked = committed.elapsed();
    // And it stays so once the canary is done (no perpetual OutOfSync, no late self-heal).
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_secs(15) {
        let (rollout, app) = (gitops.rollout("checkout").unwrap(), gitops.applications().remove(&app_name).unwrap());
        watch.poll(&gitops, &rollout, &app);
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "promotion: picked up {:.1}s after the commit, canary Healthy and Application Synced {:.1}s after it; \
         steps seen {:?}; OutOfSync in {} of {} polls; sync operations started {:?}",
        picked_up.as_secs_f64(),
        walked.as_secs_f64(),
        watch.steps,
        watch.out_of_sync,
        watch.polls,
        watch.operations
    );
    assert!(watch.steps.len() > 1, "the canary walked its steps: saw {:?}", watch.steps);
    for service in ["checkout", "checkout-canary"] {
        assert!(watch.pointed.contains(service), "the rollouts controller pointed {service} at a revision");
    }
    assert!(watch.lost_hash.is_empty(), "selectors lost the controller's hash (self-heal fought it): {:?}", watch.lost_hash);
    assert_eq!(watch.operations.len(), 1, "one sync of the commit, no self-heal: {:?}", watch.operations);
    let app = &gitops.applications()[&app_name];
    assert!(synced_healthy_at(app, &second), "{}", summary(app));
    assert_eq!(gitops.rollout("checkout").map(|r| image(&r)).unwrap_or_default().rsplit(':').next(), Some("1.1.0"));
}

/// What the promotion test sees at each poll.
#[derive(Default)]
struct Watch {
    polls: usize,
    out_of_sync: usize,
    steps: BTreeSet<i64>,
    /// Services whose selector the controller has pointed at a revision.
    pointed: BTreeSet<String>,
    /// (Service, poll) where a pointed selector had lost the hash.
    lost_hash: Vec<(String, usize)>,
    /// Start times of the sync operations of the Application since the commit.
    operations: BTreeSet<String>,
    /// The start time of the last operation before the commit (the first revision's sync).
    before_commit: Option<String>,
}

impl Watch {
    fn poll(&mut self, gitops: &GitOps, rollout: &Value, app: &Value) {
        self.polls += 1;
        if let Some(step) = rollout["status"]["currentStepIndex"].as_i64() {
            self.steps.insert(step);
        }
        for service in ["checkout", "checkout-canary"] {
            if gitops.selector(service).contains_key("rollouts-pod-template-hash") {
                self.pointed.insert(service.to_string());
            } else if self.pointed.contains(service) {
                self.lost_hash.push((service.to_string(), self.polls));
            }
        }
        if app["status"]["sync"]["status"] == "OutOfSync" {
            self.out_of_sync += 1;
        }
        if let Some(started) = app["status"]["operationState"]["startedAt"].as_str() {
            if Some(started) != self.before_commit.as_deref() {
                self.operations.insert(started.to_string());
            }
        }
    }
}
