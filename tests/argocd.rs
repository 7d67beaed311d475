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
//!    fighting the rollouts controller over the Services' selectors;
//! 3. in a GitOps environment, a bad version aborted by analysis and rolled back with
//!    `glidepath rollback` (catalog restored, image quarantined, committed) stays rolled back
//!    under auto-sync, and the catalog cannot name it again;
//! 4. `glidepath drift` reports the Applications out of step with git (an approval environment
//!    nobody synced yet; a hand edit with self-heal off), and the approval environment's project
//!    loads (a manual sync passes).
//!
//! Each test has its own catalog name, environment and branch of the one repository (Application
//! names are SERVICE-ENV in the one `argocd` namespace), so they can share a bed.
//!
//! The catalog is tests/fixtures/e2e/catalog.hcl (two services: a canary and a blue/green), not
//! examples/shop: thirty Applications and their pods are too much for the 2-core machines CI runs
//! on. The rendered repoURL (the catalog repository, `https://github.com/acme/platform.git`) is replaced by the local
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
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use serde_json::{json, Value};
use support::e2e::{self, healthy, Bed, FakeApps};

/// The first test's catalog and environment; each test has its own (and its own branch of the
/// repository), as Application names are SERVICE-ENV in the one `argocd` namespace.
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

/// Every file under `dir`, concatenated.
fn all_text(dir: &Path) -> String {
    let mut out = String::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out += &all_text(&path);
        } else {
            out += &fs::read_to_string(&path).unwrap_or_default();
        }
    }
    out
}

/// One catalog, its GitOps repository clone, and clients for the bed.
struct GitOps {
    bed: &'static Bed,
    argo: &'static ArgoCd,
    work: tempfile::TempDir,
    platform: String,
    env: String,
    namespace: String,
    runtime: tokio::runtime::Runtime,
    client: kube::Client,
}

impl GitOps {
    /// A catalog named `platform` with its one environment named `env`; `env_settings` are lines
    /// added to the environment block (such as `delivery = "gitops"`).
    fn start(platform: &str, env: &str, env_settings: &str) -> GitOps {
        let bed = e2e::shared();
        // The analysis queries read the fake apps' metrics from the bed's Prometheus.
        FakeApps::shared(bed);
        let argo = argocd(bed);
        let work = tempfile::tempdir().unwrap();
        // No notification routes: no Slack stand-in is needed to prove the sync.
        let catalog = fs::read_to_string(repo().join("tests/fixtures/e2e/catalog.hcl"))
            .unwrap()
            .replace("@NAME@", platform)
            .replace("@PROMETHEUS@", &bed.prometheus_url)
            .replace("  notify = [\"receiver\"]\n", "")
            .replace(
                "environment \"e2e\" {\n  cluster = \"local\"\n",
                &format!("environment \"{env}\" {{\n  cluster = \"local\"\n{env_settings}"),
            );
        assert!(catalog.contains(&format!("environment \"{env}\"")), "the e2e catalog's environment block moved");
        let catalog = match (catalog.find("notification \"receiver\""), catalog.find("# A tier-2 profile")) {
            (Some(from), Some(to)) => format!("{}{}", &catalog[..from], &catalog[to..]),
            _ => panic!("the e2e catalog's notification block moved"),
        };
        fs::create_dir(work.path().join("catalog")).unwrap();
        fs::write(work.path().join("catalog/catalog.hcl"), catalog).unwrap();
        let (runtime, client) = bed.client();
        let gitops = GitOps {
            bed,
            argo,
            work,
            platform: platform.to_string(),
            env: env.to_string(),
            namespace: format!("{platform}-{env}"),
            runtime,
            client,
        };
        let clone = gitops.clone_dir();
        fs::create_dir(&clone).unwrap();
        gitops.git(&["init", "-q", "--initial-branch", platform]);
        gitops.git(&["remote", "add", "origin", &gitops.argo.git_repo]);
        gitops
    }

    fn catalog_file(&self) -> PathBuf {
        self.work.path().join("catalog/catalog.hcl")
    }

    fn clone_dir(&self) -> PathBuf {
        self.work.path().join("gitops-repo")
    }

    fn glidepath(&self, args: &[&str]) -> Output {
        support::glidepath_command().args(args).current_dir(self.work.path()).env("NO_COLOR", "1").output().unwrap()
    }

    /// glidepath with the bed's kubeconfig: commands that read or change the cluster.
    fn glidepath_live(&self, args: &[&str]) -> Output {
        support::glidepath_command()
            .args(args)
            .current_dir(self.work.path())
            .env("NO_COLOR", "1")
            .env("KUBECONFIG", &self.bed.kubeconfig)
            .output()
            .unwrap()
    }

    /// Renders, commits, applies the Argo CD objects and waits until every Application is
    /// Synced and Healthy on that commit; returns it.
    fn first_sync(&self) -> String {
        let first = self.render_and_commit("glidepath render: first revision");
        self.register_cluster();
        self.apply_argocd_objects();
        self.wait_until("every Application Synced and Healthy on the first commit", || {
            let apps = self.applications();
            (apps.len() == 3 && apps.values().all(|a| synced_healthy_at(a, &first))).then_some(())
        });
        first
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
        self.commit_rendered(message)
    }

    /// `out/gitops` as it stands, committed and pushed to this test's branch; returns the commit.
    fn commit_rendered(&self, message: &str) -> String {
        let tree = self.clone_dir().join("gitops");
        if tree.exists() {
            fs::remove_dir_all(&tree).unwrap();
        }
        support::copy_tree(&self.work.path().join("out/gitops"), &tree);
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
        self.git(&["push", "-q", "origin", &format!("HEAD:{}", self.platform)]);
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
        match self.runtime.block_on(secrets.create(&PostParams::default(), &secret)) {
            // Another test of this binary registered it.
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(e) => panic!("registering the cluster: {e}"),
        }
    }

    /// The rendered AppProjects and ApplicationSet, pointed at the local repository and this
    /// test's branch.
    fn apply_argocd_objects(&self) {
        // The catalog repository (the e2e catalog's `platform.catalog_repo`): what Argo CD reads.
        let rendered_repo = "https://github.com/acme/platform.git";
        let dir = self.work.path().join("out/gitops/argocd");
        let mut files: Vec<PathBuf> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        // The projects first: an Application of a project that does not exist yet is refused.
        files.sort_by_key(|p| !p.to_string_lossy().contains("appproject"));
        for file in files {
            let yaml = fs::read_to_string(&file).unwrap();
            assert!(yaml.contains(rendered_repo), "{} names no {rendered_repo}", file.display());
            let yaml = yaml.replace(rendered_repo, &self.argo.git_repo);
            let yaml = yaml.replace("targetRevision: main", &format!("targetRevision: {}", self.platform));
            let object: Value = serde_norway::from_str(&yaml).unwrap();
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
        self.applications_in(&self.env)
    }

    fn applications_in(&self, env: &str) -> BTreeMap<String, Value> {
        let api: Api<DynamicObject> = Api::namespaced_with(
            self.client.clone(),
            &self.argo.namespace,
            &argo_resource("Application", "applications"),
        );
        let list = self.runtime.block_on(api.list(&ListParams::default())).unwrap();
        list.items
            .into_iter()
            .map(|a| (a.metadata.name.clone().unwrap_or_default(), serde_json::to_value(a).unwrap()))
            .filter(|(_, a)| a["metadata"]["labels"]["glidepath.dev/environment"] == env)
            .collect()
    }

    /// A merge patch to an object of Argo CD's namespace.
    fn patch_argo(&self, resource: &ApiResource, name: &str, patch: Value) {
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), &self.argo.namespace, resource);
        let params = PatchParams::default();
        self.runtime.block_on(api.patch(name, &params, &Patch::Merge(&patch))).unwrap();
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
    status["sync"]["status"] == "Synced"
        && status["health"]["status"] == "Healthy"
        && status["sync"]["revision"] == revision
}

fn image(rollout: &Value) -> String {
    rollout["spec"]["template"]["spec"]["containers"][0]["image"].as_str().unwrap_or_default().to_string()
}

#[test]
fn the_rendered_tree_syncs_through_argo_cd_and_a_promotion_walks_the_canary() {
    let gitops = GitOps::start(PLATFORM, ENV, "");
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
    assert!(
        watch.lost_hash.is_empty(),
        "selectors lost the controller's hash (self-heal fought it): {:?}",
        watch.lost_hash
    );
    assert_eq!(watch.operations.len(), 1, "one sync of the commit, no self-heal: {:?}", watch.operations);
    let app = &gitops.applications()[&app_name];
    assert!(synced_healthy_at(app, &second), "{}", summary(app));
    assert_eq!(gitops.rollout("checkout").map(|r| image(&r)).unwrap_or_default().rsplit(':').next(), Some("1.1.0"));
}

/// Issue 14 item 3: a bad version, promoted and committed, is synced by Argo CD and aborted by
/// its analysis; `glidepath rollback` in the GitOps environment aborts it in the cluster and
/// puts the version now serving back into the catalog (and, with `--out`, the rendered tree) with
/// the bad one quarantined; once that is committed, auto-sync (self-heal on) keeps the good
/// version, and nothing can bring the bad one back through the catalog.
#[test]
fn a_gitops_rollback_is_kept_by_auto_sync_and_the_bad_image_stays_quarantined() {
    let gitops = GitOps::start("argorb", "rb", "  delivery = \"gitops\"\n");
    let env = gitops.env.clone();
    let app_name = format!("checkout-{env}");
    gitops.first_sync();

    // A bad version (the fake apps answer half its requests with 500), promoted and committed.
    let out = gitops.glidepath(&["promote", "checkout", "--to", &env, "--tag", "1.1.0-bad"]);
    assert_eq!(out.status.code(), Some(0), "promote failed: {}", text(&out.stderr));
    let bad_commit = gitops.render_and_commit("glidepath promote checkout --to rb --tag 1.1.0-bad");
    let committed = Instant::now();
    gitops.wait_until("Argo CD syncing the bad version into the Rollout", || {
        gitops.rollout("checkout").filter(|r| image(r).ends_with(":1.1.0-bad")).map(|_| ())
    });
    let synced_bad = committed.elapsed();
    // Its analysis aborts it (the real Argo Rollouts controller, the bed's Prometheus).
    gitops.wait_until("the analysis aborting the bad canary", || {
        gitops.rollout("checkout").filter(|r| r["status"]["abort"] == true).map(|_| ())
    });
    let aborted = committed.elapsed();
    let app = &gitops.applications()[&app_name];
    assert_eq!(app["status"]["sync"]["revision"], bad_commit.as_str(), "{}", summary(app));

    // The GitOps rollback: the cluster, the catalog and the rendered tree.
    let started = Instant::now();
    let out = gitops.glidepath_live(&["rollback", "checkout", "--env", &env, "--out", "out"]);
    let rolled_back = started.elapsed();
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "rollback failed: {said}{}", text(&out.stderr));
    assert!(said.contains("aborted the update in flight"), "{said}");
    assert!(said.contains("now names 1.0.0 for checkout in rb again and quarantines 1.1.0-bad there"), "{said}");
    assert!(
        said.contains("git commit -m 'rollback checkout in rb: 1.1.0-bad -> 1.0.0, 1.1.0-bad quarantined'"),
        "{said}"
    );
    let catalog = fs::read_to_string(gitops.catalog_file()).unwrap();
    let model = glidepath::catalog::load(&gitops.catalog_file()).unwrap();
    let checkout = model.services.iter().find(|s| s.name == "checkout").unwrap();
    assert_eq!(checkout.per_env[&env].image_tag, "1.0.0", "{catalog}");
    assert!(
        catalog.contains("quarantine \"1.1.0-bad\" {\n  service      = \"checkout\"\n  environments = [\"rb\"]\n"),
        "{catalog}"
    );
    let tree = all_text(&gitops.work.path().join("out/gitops"));
    assert!(!tree.contains("1.1.0-bad"), "the re-rendered tree names no bad image");
    assert!(tree.contains("argorb/checkout:1.0.0"), "the re-rendered tree names the good image");

    // Committed as printed (rollback rendered the tree itself: committed as it left it).
    let good_commit = gitops.commit_rendered("rollback checkout in rb: 1.1.0-bad -> 1.0.0, 1.1.0-bad quarantined");
    let committed = Instant::now();
    gitops.wait_until("the rollback commit synced and the Rollout Healthy on 1.0.0", || {
        let rollout = gitops.rollout("checkout")?;
        let app = gitops.applications().remove(&app_name)?;
        (healthy(&rollout) && image(&rollout).ends_with(":1.0.0") && synced_healthy_at(&app, &good_commit))
            .then_some(())
    });
    let stable = committed.elapsed();

    // Auto-sync keeps it: for three of Argo CD's 10 s reconciliations (and repo polls) the
    // Rollout's template stays the good image and the Application Synced on the rollback commit.
    let hold = Instant::now();
    let (mut polls, mut images) = (0, BTreeSet::new());
    while hold.elapsed() < Duration::from_secs(30) {
        let (rollout, app) = (gitops.rollout("checkout").unwrap(), gitops.applications().remove(&app_name).unwrap());
        images.insert(image(&rollout).rsplit(':').next().unwrap_or_default().to_string());
        assert_eq!(app["status"]["sync"]["revision"], good_commit.as_str(), "{}", summary(&app));
        polls += 1;
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(images, BTreeSet::from(["1.0.0".to_string()]), "the Rollout's image over {polls} polls");
    let app = &gitops.applications()[&app_name];
    assert!(synced_healthy_at(app, &good_commit), "{}", summary(app));

    // And the catalog cannot bring it back: promote refuses it, a hand edit does not render.
    let again = gitops.glidepath(&["promote", "checkout", "--to", &env, "--tag", "1.1.0-bad"]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again.stdout));
    assert!(text(&again.stderr).contains("1.1.0-bad of checkout is quarantined in rb"), "{}", text(&again.stderr));
    let by_hand = catalog.replacen("rb = \"1.0.0\"", "rb = \"1.1.0-bad\"", 1);
    assert_ne!(by_hand, catalog);
    fs::write(gitops.catalog_file(), by_hand).unwrap();
    let render = gitops.glidepath(&["render", "--out", "out"]);
    assert_eq!(render.status.code(), Some(1), "{}", text(&render.stdout));
    assert!(text(&render.stderr).contains("catalog::quarantined-image"), "{}", text(&render.stderr));
    println!(
        "GitOps rollback: bad version synced {:.1}s and aborted by analysis {:.1}s after its commit; \
         glidepath rollback took {:.1}s; the rollback commit synced and the Rollout Healthy on 1.0.0 {:.1}s after it; \
         then {polls} polls over 30 s saw only 1.0.0",
        synced_bad.as_secs_f64(),
        aborted.as_secs_f64(),
        rolled_back.as_secs_f64(),
        stable.as_secs_f64()
    );
}

/// Issue 14 item 4, and the approval environment's AppProject (sync window, roles) as Argo CD
/// loads it: `glidepath drift` in GitOps environments reads the Application objects. A second
/// environment needing approval gets manual-sync Applications in a project with a sync window;
/// the controller accepts the project (an Application of it syncs when asked to, by hand), and
/// drift reports the Applications nobody has synced yet. In the automated environment, with
/// self-heal off (the ApplicationSet's automated-sync patch removed), a hand edit of a live
/// object makes the Application OutOfSync, and drift reports it, with the object, exit 2.
#[test]
fn drift_reports_applications_out_of_step_with_git() {
    let gitops = GitOps::start("argodr", "dr", "  delivery = \"gitops\"\n");
    let (env, prod) = (gitops.env.clone(), "drprod");
    let catalog = fs::read_to_string(gitops.catalog_file()).unwrap().replacen(
        "# A tier-2 profile",
        &format!("environment \"{prod}\" {{\n  cluster  = \"local\"\n  approval = true\n  delivery = \"gitops\"\n}}\n\n# A tier-2 profile"),
        1,
    );
    fs::write(gitops.catalog_file(), catalog).unwrap();
    let first = gitops.first_sync();
    let drift = |format: &str| {
        gitops.glidepath_live(&["drift", "--only", "cluster", "--env", &env, "--detailed-exitcode", "--format", format])
    };
    let out = drift("human");
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("No drift"), "{}", text(&out.stdout));

    // The approval environment: its project (syncWindows, the deployers role) loads, and its
    // Applications have manual sync: none has synced; asked to, the shared one syncs.
    let prod_apps = gitops.wait_until("the approval environment's Applications", || {
        let apps = gitops.applications_in(prod);
        (apps.len() == 3 && apps.values().all(|a| a["status"]["sync"]["status"] == "OutOfSync")).then_some(apps)
    });
    for (name, app) in &prod_apps {
        assert!(app["spec"]["syncPolicy"]["automated"].is_null(), "{name} syncs by hand only");
        assert!(app["status"]["conditions"].is_null(), "Argo CD loaded {name} and its project: {}", summary(app));
    }
    let shared = format!("argodr-{prod}");
    gitops.patch_argo(
        &argo_resource("Application", "applications"),
        &shared,
        json!({"operation": {"initiatedBy": {"username": "glidepath-tests"}, "sync": {"revision": first}}}),
    );
    let synced = gitops.wait_until("a manual sync of the approval environment's shared Application", || {
        let app = gitops.applications_in(prod).remove(&shared)?;
        (app["status"]["operationState"]["phase"] == "Succeeded" && app["status"]["sync"]["status"] == "Synced")
            .then_some(app)
    });
    println!("{prod}: manual sync {}", synced["status"]["operationState"]["message"]);
    let out = gitops.glidepath_live(&["drift", "--only", "cluster", "--env", prod, "--detailed-exitcode"]);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{said}{}", text(&out.stderr));
    for service in ["checkout", "storefront"] {
        assert!(
            said.contains(&format!("~ Application {service}-{prod} in {prod}: OutOfSync, health Missing (Argo CD)")),
            "{said}"
        );
    }
    assert!(said.contains("~ Rollout checkout: OutOfSync") && !said.contains(&shared), "{said}");

    // Self-heal off in the automated environment: the ApplicationSet's automated-sync patch goes.
    let app_name = format!("checkout-{env}");
    gitops.patch_argo(
        &argo_resource("ApplicationSet", "applicationsets"),
        "argodr",
        json!({"spec": {"templatePatch": null}}),
    );
    gitops.wait_until("the ApplicationSet controller turning automated sync off", || {
        let app = gitops.applications().remove(&app_name)?;
        app["spec"]["syncPolicy"]["automated"].is_null().then_some(())
    });
    // A hand edit of a field the rendered tree sets.
    let rollouts: Api<DynamicObject> =
        Api::namespaced_with(gitops.client.clone(), &gitops.namespace, &argo_resource("Rollout", "rollouts"));
    let edit = PatchParams { field_manager: Some("kubectl-edit".into()), ..Default::default() };
    gitops
        .runtime
        .block_on(rollouts.patch("checkout", &edit, &Patch::Merge(&json!({"spec": {"revisionHistoryLimit": 2}}))))
        .unwrap();
    let edited = Instant::now();
    gitops.wait_until("Argo CD seeing the hand edit", || {
        let app = gitops.applications().remove(&app_name)?;
        (app["status"]["sync"]["status"] == "OutOfSync").then_some(())
    });
    let seen = edited.elapsed();
    let out = drift("human");
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{said}{}", text(&out.stderr));
    assert!(said.contains(&format!("~ Application {app_name} in {env}: OutOfSync, health Healthy (Argo CD)\n    ~ Rollout checkout: OutOfSync\n")), "{said}");
    assert!(said.contains("1 Application(s) out of step with git"), "{said}");
    let out = drift("json");
    let document: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(document["applications"][0]["application"], app_name.as_str(), "{document:#}");
    assert_eq!(document["applications"][0]["resources"], json!(["Rollout checkout: OutOfSync"]), "{document:#}");
    assert_eq!(gitops.rollout("checkout").unwrap()["spec"]["revisionHistoryLimit"], 2, "nothing healed it");
    println!(
        "drift: Argo CD reported the hand edit OutOfSync {:.1}s after it; drift read it from the Application",
        seen.as_secs_f64()
    );
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
