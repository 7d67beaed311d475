//! End to end: glidepath applies its own rendering to a cluster where the real Argo Rollouts
//! controller runs it (scripts/e2e-tools up: control plane, kube-scheduler, kwok nodes, the
//! controller, Prometheus). Fake apps export metrics by image tag (`bad` = 50 % errors, slow);
//! a local receiver stands in for Slack.
//!
//! 1. a good canary walks every step to Healthy, and the receiver hears "completed";
//! 2. a bad canary is aborted by its analysis after failureLimit + 1 failed measurements, the
//!    stable version keeps serving (never below the PDB), the receiver hears the rollback with the
//!    service and its SLO; the time to abort is measured against `glidepath check`'s bound;
//! 3. blue/green: the preview comes up, the smoke test passes, the active Service switches;
//!    with a failing smoke test it never switches;
//! 4. `glidepath status` reports phase, step, weight and analysis along the way.
//! 5. a migration runs as one Job per version, awaited before the Rollout changes; a failing one
//!    stops apply (exit 1) and leaves the Rollout as it was, also on the next apply.
//!
//! Each test has its own catalog name, so its own namespace; they run in parallel on one bed.
//! Measured times are printed (run with --nocapture, as scripts/e2e does), never asserted.

mod support;

use std::fs;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret, Service};
use kube::api::{Api, DynamicObject, ListParams, PostParams};
use kube::discovery::ApiResource;
use serde_json::{json, Value};
use support::e2e::{self, healthy, Bed, FakeApps, Receiver};

const ENV: &str = "e2e";
/// Rollouts here take about a minute; this is only how long a broken run waits before failing.
const PATIENCE: Duration = Duration::from_secs(240);

struct Scenario {
    bed: &'static Bed,
    work: tempfile::TempDir,
    namespace: String,
    runtime: tokio::runtime::Runtime,
    client: kube::Client,
}

impl Scenario {
    /// A catalog of its own, applied, with its notification secret; its Rollouts Healthy.
    fn start(name: &str) -> Scenario {
        Scenario::start_with(name, |catalog| catalog)
    }

    /// `start`, with the catalog edited first.
    fn start_with(name: &str, edit: impl FnOnce(String) -> String) -> Scenario {
        let bed = e2e::shared();
        FakeApps::shared(bed);
        let work = tempfile::tempdir().unwrap();
        let catalog = edit(
            fs::read_to_string(repo().join("tests/fixtures/e2e/catalog.hcl"))
                .unwrap()
                .replace("@NAME@", name)
                .replace("@PROMETHEUS@", &bed.prometheus_url),
        );
        fs::create_dir(work.path().join("catalog")).unwrap();
        fs::write(work.path().join("catalog/catalog.hcl"), catalog).unwrap();
        let (runtime, client) = bed.client();
        let scenario = Scenario { bed, work, namespace: format!("{name}-{ENV}"), runtime, client };
        scenario.apply();
        scenario.create_notification_secret();
        for service in ["checkout", "storefront"] {
            scenario.wait_until(&format!("{service} Healthy (first revision)"), || {
                let r = scenario.rollout(service);
                healthy(&r).then_some(())
            });
        }
        scenario
    }

    fn glidepath(&self, args: &[&str]) -> Output {
        support::glidepath_command()
            .args(args)
            .current_dir(self.work.path())
            .env("KUBECONFIG", &self.bed.kubeconfig)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    }

    fn apply(&self) {
        let out = self.glidepath(&["apply", "-c", "catalog", "--only", "cluster", "--auto-approve"]);
        assert_eq!(out.status.code(), Some(0), "apply failed:\n{}\n{}", text(&out.stdout), text(&out.stderr));
    }

    /// Replaces the first `from` after the start of a service's block in the catalog.
    fn edit_service(&self, service: &str, from: &str, to: &str) {
        let path = self.work.path().join("catalog/catalog.hcl");
        let catalog = fs::read_to_string(&path).unwrap();
        let block = catalog.find(&format!("service \"{service}\"")).expect("service in catalog");
        let at = block + catalog[block..].find(from).unwrap_or_else(|| panic!("{service} has no {from:?}"));
        fs::write(&path, format!("{}{to}{}", &catalog[..at], &catalog[at + from.len()..])).unwrap();
    }

    /// Gives a service a new image tag in the catalog and applies it; returns when apply returned.
    fn deploy(&self, service: &str, tag: &str) -> Instant {
        let catalog = fs::read_to_string(self.work.path().join("catalog/catalog.hcl")).unwrap();
        let block = &catalog[catalog.find(&format!("service \"{service}\"")).unwrap()..];
        let current = block.split("image_tag = \"").nth(1).and_then(|rest| rest.split('"').next()).unwrap();
        self.edit_service(service, &format!("image_tag = \"{current}\""), &format!("image_tag = \"{tag}\""));
        let started = Instant::now();
        self.apply();
        started
    }

    /// The route `$receiver-url` of the catalog reads its URL from this secret, as in production.
    fn create_notification_secret(&self) {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &self.namespace);
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": "argo-rollouts-notification-secret"},
            "stringData": {"receiver-url": Receiver::shared().url()},
        }))
        .unwrap();
        self.runtime.block_on(secrets.create(&PostParams::default(), &secret)).unwrap();
    }

    fn api(&self, kind: &str, plural: &str) -> Api<DynamicObject> {
        let resource = ApiResource {
            group: "argoproj.io".into(),
            version: "v1alpha1".into(),
            api_version: "argoproj.io/v1alpha1".into(),
            kind: kind.into(),
            plural: plural.into(),
        };
        Api::namespaced_with(self.client.clone(), &self.namespace, &resource)
    }

    fn rollout(&self, service: &str) -> Value {
        let found = self.runtime.block_on(self.api("Rollout", "rollouts").get(service)).unwrap();
        serde_json::to_value(found).unwrap()
    }

    /// The AnalysisRuns of a revision (pod-template hash).
    fn analysis_runs(&self, hash: &str) -> Vec<Value> {
        let params = ListParams::default().labels(&format!("rollouts-pod-template-hash={hash}"));
        let list = self.runtime.block_on(self.api("AnalysisRun", "analysisruns").list(&params)).unwrap();
        list.items.into_iter().map(|r| serde_json::to_value(r).unwrap()).collect()
    }

    fn replica_set(&self, service: &str, hash: &str) -> Option<ReplicaSet> {
        let sets: Api<ReplicaSet> = Api::namespaced(self.client.clone(), &self.namespace);
        self.runtime.block_on(sets.get_opt(&format!("{service}-{hash}"))).unwrap()
    }

    /// Pods of a service (every revision) that are Ready and not terminating: what serves.
    fn serving_pods(&self, service: &str) -> u64 {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        let params = ListParams::default().labels(&format!("app.kubernetes.io/name={service}"));
        let list = self.runtime.block_on(pods.list(&params)).unwrap();
        list.items
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter(|p| {
                let conditions = p.status.as_ref().and_then(|s| s.conditions.as_ref());
                conditions.is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
            })
            .count() as u64
    }

    fn service_selector_hash(&self, name: &str) -> Option<String> {
        let services: Api<Service> = Api::namespaced(self.client.clone(), &self.namespace);
        let service = self.runtime.block_on(services.get(name)).unwrap();
        service.spec?.selector?.get("rollouts-pod-template-hash").cloned()
    }

    fn status_json(&self) -> Value {
        let out = self.glidepath(&["status", "--env", ENV, "-c", "catalog", "--format", "json"]);
        assert_eq!(out.status.code(), Some(0), "status failed: {}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn status_of(&self, service: &str) -> Value {
        let status = self.status_json();
        status["rollouts"].as_array().unwrap().iter().find(|r| r["service"] == service).cloned().unwrap()
    }

    /// The safety report's numbers for a service here (`glidepath check --format json`).
    fn safety_report(&self, service: &str) -> Value {
        let out = self.glidepath(&["check", "-c", "catalog", "--format", "json"]);
        assert_eq!(out.status.code(), Some(0), "check failed: {}", text(&out.stderr));
        let check: Value = serde_json::from_slice(&out.stdout).unwrap();
        check["reports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["service"] == service && r["environment"] == ENV)
            .cloned()
            .unwrap()
    }

    /// Polls every 100 ms until `probe` gives a value; fails with the controller's view if not.
    fn wait_until<T>(&self, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
        // scripts/demo rollback: show what a user would watch with `glidepath status`.
        let narrate = std::env::var_os("E2E_NARRATE").is_some();
        let mut narrated = Instant::now();
        if narrate {
            println!("\n== waiting for {what} ({})", self.namespace);
        }
        let show_status = || {
            let out = self.glidepath(&["status", "--env", ENV, "-c", "catalog"]);
            println!("$ glidepath status --env {ENV}\n{}", text(&out.stdout));
        };
        let probe = || {
            let value = probe();
            if narrate && (value.is_some() || narrated.elapsed() > Duration::from_secs(3)) {
                show_status();
                narrated = Instant::now();
            }
            value
        };
        self.bed.wait_until(what, PATIENCE, probe, || {
            format!("in {}; status:\n{}", self.namespace, serde_json::to_string_pretty(&self.status_json()).unwrap())
        })
    }
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

fn seconds(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// The report's duration fields serialize as milliseconds.
fn report_bound(report: &Value) -> Option<Duration> {
    report["rollback"]["within"]["millis"].as_u64().map(Duration::from_millis)
}

fn metric<'a>(run: &'a Value, name: &str) -> &'a Value {
    run["status"]["metricResults"].as_array().unwrap().iter().find(|m| m["name"] == name).unwrap()
}

#[test]
fn good_canary_walks_every_step_to_healthy_and_notifies_completion() {
    let s = Scenario::start("good");
    let before = s.rollout("checkout")["status"]["stableRS"].as_str().unwrap().to_string();
    let started = s.deploy("checkout", "1.1.0");

    // Scenario 4 along the way: status at the first pause.
    let paused = s.wait_until("checkout paused at step 1 (25%)", || {
        let status = s.status_of("checkout");
        (status["phase"] == "Paused" && status["step"] == json!([1, 5])).then_some(status)
    });
    assert_eq!(paused["weight"], 25, "{paused:#}");
    assert_eq!(paused["analysis"][0]["kind"], "Background", "{paused:#}");
    assert_eq!(paused["analysis"][0]["phase"], "Running", "{paused:#}");

    let mut steps_seen = Vec::new();
    let rollout = s.wait_until("checkout Healthy on 1.1.0", || {
        let r = s.rollout("checkout");
        if let Some(i) = r["status"]["currentStepIndex"].as_u64() {
            if steps_seen.last() != Some(&i) {
                steps_seen.push(i);
            }
        }
        (healthy(&r) && r["status"]["stableRS"] != before.as_str()).then_some(r)
    });
    let promoted = started.elapsed();
    let hash = rollout["status"]["stableRS"].as_str().unwrap();
    assert!(steps_seen.contains(&3) && steps_seen.last() == Some(&5), "steps seen: {steps_seen:?}");
    assert!(rollout["spec"]["template"]["spec"]["containers"][0]["image"].as_str().unwrap().ends_with(":1.1.0"));
    let runs = s.analysis_runs(hash);
    assert_eq!(runs.len(), 1, "one background analysis run");
    for name in ["error-rate", "p99-latency"] {
        let m = metric(&runs[0], name);
        assert!(m["successful"].as_u64().unwrap() >= 1 && m["failed"].as_u64().unwrap_or(0) == 0, "{name}: {m:#}");
    }
    let completed = Receiver::shared()
        .wait_for(&s.namespace, "checkout", "1.1.0", "rollout-completed")
        .expect("the receiver got the rollout-completed notification");
    assert_eq!(completed.body["slo"], "error rate <= 5%, p99 latency <= 500ms", "{:#}", completed.body);

    let status = s.status_of("checkout");
    assert_eq!((status["phase"].as_str(), status["weight"].as_u64()), (Some("Healthy"), Some(100)));
    // With the controller at work (Services repointed, ReplicaSets and status written), a second
    // plan shows no changes and nothing has drifted from the last apply.
    let plan = s.glidepath(&["plan", "-c", "catalog", "--only", "cluster", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}{}", text(&plan.stdout), text(&plan.stderr));
    let drift = s.glidepath(&["drift", "-c", "catalog", "--only", "cluster", "--detailed-exitcode"]);
    assert_eq!(drift.status.code(), Some(0), "{}{}", text(&drift.stdout), text(&drift.stderr));
    let report = s.safety_report("checkout");
    println!(
        "e2e good canary: promoted in {} (report: automated promotion {}s); steps seen {steps_seen:?}; \
         analysis error-rate {} successful measurements",
        seconds(promoted),
        report["promotion"]["millis"].as_u64().unwrap_or(0) / 1000,
        metric(&runs[0], "error-rate")["successful"]
    );
}

#[test]
fn bad_canary_is_aborted_by_analysis_and_stable_keeps_serving() {
    let s = Scenario::start("bad");
    let stable = s.rollout("checkout")["status"]["stableRS"].as_str().unwrap().to_string();
    let pdb_min = 3; // min_available 75 % of 4 replicas
    let bound = report_bound(&s.safety_report("checkout")).expect("the report bounds checkout's rollback");
    let started = s.deploy("checkout", "1.1.0-bad");

    // Watched every 100 ms until the abort has settled: pods serving (all revisions, what the PDB
    // counts), the stable ReplicaSet's available pods, and the steps the rollout went through.
    let (mut serving_min, mut stable_min, mut steps) = (u64::MAX, u64::MAX, Vec::<(u64, Duration)>::new());
    let mut watch = |s: &Scenario| -> Value {
        serving_min = serving_min.min(s.serving_pods("checkout"));
        if let Some(rs) = s.replica_set("checkout", &stable) {
            stable_min = stable_min.min(rs.status.and_then(|st| st.available_replicas).unwrap_or(0) as u64);
        }
        let r = s.rollout("checkout");
        if let Some(i) = r["status"]["currentStepIndex"].as_u64() {
            if steps.last().map(|(step, _)| *step) != Some(i) {
                steps.push((i, started.elapsed()));
            }
        }
        r
    };
    let rollout = s.wait_until("checkout aborted", || {
        let r = watch(&s);
        (r["status"]["abort"] == true).then_some(r)
    });
    let aborted_at = Instant::now();
    let first_bad = FakeApps::shared(s.bed).first_error_sample(&s.namespace).expect("bad samples were exported");
    assert_eq!(rollout["status"]["stableRS"], stable.as_str(), "the stable revision did not change");

    // Abort scales the canary away and gives stable every replica back.
    let degraded = s.wait_until("checkout Degraded with stable fully available", || {
        let r = watch(&s);
        let available = s.replica_set("checkout", &stable)?.status?.available_replicas.unwrap_or(0);
        (r["status"]["phase"] == "Degraded" && available == 4).then_some(r)
    });
    assert!(serving_min >= pdb_min, "only {serving_min} pods served at one point, below the PDB's {pdb_min}");
    let canary_hash = degraded["status"]["currentPodHash"].as_str().unwrap();
    let runs = s.analysis_runs(canary_hash);
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0]["status"]["phase"], "Failed");
    let errors = metric(&runs[0], "error-rate");
    // failure_limit = 1: the metric fails on its second failed measurement, not before.
    assert_eq!(errors["phase"], "Failed", "{errors:#}");
    assert_eq!(errors["failed"], 2, "{errors:#}");
    // The rendered initialDelay waited for the canary's metrics: no measurement found no data
    // (the safety report's bound counts no error retries).
    assert_eq!(errors["error"].as_u64().unwrap_or(0), 0, "{errors:#}");

    let notification = Receiver::shared()
        .wait_for(&s.namespace, "checkout", "1.1.0-bad", "rollout-aborted")
        .expect("the receiver got the rollout-aborted notification");
    assert_eq!(notification.body["slo"], "error rate <= 5%, p99 latency <= 500ms", "{:#}", notification.body);

    let status = s.status_of("checkout");
    assert_eq!(status["aborted"], true, "{status:#}");
    assert_eq!(status["weight"], 0, "{status:#}");
    assert_eq!(status["analysis"][0]["phase"], "Failed", "{status:#}");

    let measurements: Vec<String> = errors["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| format!("{} {} {}", m["startedAt"].as_str().unwrap_or("?"), m["phase"], m["value"]))
        .collect();
    println!(
        "e2e bad canary: error-rate measurements (run started {}): {measurements:#?}",
        runs[0]["status"]["startedAt"]
    );
    println!(
        "e2e bad canary: aborted {} after the first bad sample, {} after apply returned; glidepath check bound {}; \
         serving pods never below {serving_min} of 4 (PDB {pdb_min}), stable ReplicaSet never below {stable_min}; \
         steps (index, since apply) {steps:?}; notification {} after abort",
        seconds(aborted_at.duration_since(first_bad)),
        seconds(aborted_at.duration_since(started)),
        seconds(bound),
        seconds(notification.received.saturating_duration_since(aborted_at)),
    );
}

#[test]
fn blue_green_switches_after_the_smoke_test_and_not_when_it_fails() {
    let s = Scenario::start("bluegreen");
    let active = s.service_selector_hash("storefront").expect("active Service selects a revision");
    let started = s.deploy("storefront", "1.1.0");
    let preview = s.wait_until("storefront preview up", || {
        let hash = s.service_selector_hash("storefront-preview")?;
        (hash != active).then_some(hash)
    });
    assert_eq!(
        s.service_selector_hash("storefront").as_deref(),
        Some(active.as_str()),
        "active waits for the smoke test"
    );
    let rollout = s.wait_until("storefront Healthy on the new revision", || {
        let r = s.rollout("storefront");
        (healthy(&r) && r["status"]["stableRS"] == preview.as_str()).then_some(r)
    });
    let switched = started.elapsed();
    assert_eq!(s.service_selector_hash("storefront"), Some(preview.clone()), "active switched");
    let runs = s.analysis_runs(rollout["status"]["currentPodHash"].as_str().unwrap());
    let kinds: Vec<(&str, &str)> = runs
        .iter()
        .map(|r| (r["metadata"]["labels"]["rollout-type"].as_str().unwrap(), r["status"]["phase"].as_str().unwrap()))
        .collect();
    assert!(kinds.contains(&("PrePromotion", "Successful")), "{kinds:?}");
    println!("e2e blue/green: switched and Healthy {} after apply; analysis {kinds:?}", seconds(switched));

    // A version that fails its smoke test (the bed's Job pods fail for paths ending in /e2e-fail):
    // its preview comes up, and the active Service never leaves the good version.
    let good = preview;
    s.edit_service(
        "storefront",
        "notify = [\"receiver\"]",
        "notify = [\"receiver\"]\n  blue_green {\n    smoke_test {\n      path = \"/e2e-fail\"\n    }\n  }",
    );
    s.deploy("storefront", "1.2.0");
    let mut active_seen = std::collections::BTreeSet::new();
    let rollout = s.wait_until("storefront aborted after the failed smoke test", || {
        active_seen.insert(s.service_selector_hash("storefront"));
        let r = s.rollout("storefront");
        (r["status"]["abort"] == true).then_some(r)
    });
    active_seen.insert(s.service_selector_hash("storefront"));
    assert_eq!(active_seen.into_iter().collect::<Vec<_>>(), [Some(good.clone())], "active never switched");
    let failed = rollout["status"]["currentPodHash"].as_str().unwrap();
    assert_ne!(failed, good);
    let runs = s.analysis_runs(failed);
    let pre =
        runs.iter().find(|r| r["metadata"]["labels"]["rollout-type"] == "PrePromotion").expect("a pre-promotion run");
    assert_eq!(pre["status"]["phase"], "Failed", "{pre:#}");
    let notification = Receiver::shared()
        .wait_for(&s.namespace, "storefront", "1.2.0", "rollout-aborted")
        .expect("the receiver got the rollout-aborted notification");
    assert_eq!(notification.body["slo"], "error rate <= 5%, p99 latency <= 500ms", "{:#}", notification.body);
}

/// 5. Migrations: a service's migration runs as one Job per version, applied and awaited before
/// its Rollout changes. kwok ends the Job's pod as its command says (tests/fixtures/e2e/
/// kwok-job-stages.yaml: a command ending in /e2e-fail fails), and the real Job controller turns
/// that into Complete or Failed.
#[test]
fn a_migration_job_gates_the_rollout_and_a_failing_one_leaves_it_untouched() {
    let s = Scenario::start_with("mig", |catalog| {
        let at = catalog.find("service \"checkout\"").unwrap();
        let at = at + catalog[at..].find("notify").unwrap();
        let migrations =
            "migrations {\n    command             = [\"migrate\", \"/v1\"]\n    backward_compatible = true\n  }\n\n  ";
        format!("{}{migrations}{}", &catalog[..at], &catalog[at..])
    });
    let jobs: Api<Job> = Api::namespaced(s.client.clone(), &s.namespace);
    let migration_jobs = || -> Vec<Job> {
        let params = ListParams::default().labels("glidepath.dev/service=checkout");
        let mut list = s.runtime.block_on(jobs.list(&params)).unwrap().items;
        list.sort_by_key(|j| j.metadata.creation_timestamp.clone().map(|t| t.0));
        list
    };
    let completed_at = |job: &Job| job.status.as_ref().and_then(|st| st.completion_time.clone()).map(|t| t.0);
    // When glidepath last applied the Rollout (its field manager's entry).
    let rollout_applied_at = || {
        let rollout = s.rollout("checkout");
        let entries = rollout["metadata"]["managedFields"].as_array().unwrap().clone();
        let entry = entries.iter().find(|e| e["manager"] == "glidepath" && e["operation"] == "Apply").unwrap().clone();
        entry["time"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap()
    };
    let image =
        |rollout: &Value| rollout["spec"]["template"]["spec"]["containers"][0]["image"].as_str().unwrap().to_string();

    // The first apply ran the migration once, to completion, before the Rollout was created.
    let first = migration_jobs();
    assert_eq!(first.len(), 1, "one migration Job");
    let first_name = first[0].metadata.name.clone().unwrap();
    assert!(first_name.starts_with("checkout-migrate-"), "{first_name}");
    let done = completed_at(&first[0]).expect("apply returned before the migration completed");
    let rollout_created =
        s.rollout("checkout")["metadata"]["creationTimestamp"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap();
    assert!(
        rollout_created.as_second() >= done.as_second(),
        "Rollout created {rollout_created} before the migration completed {done:?}"
    );
    assert!(s.rollout("checkout")["spec"]["template"]["spec"].get("initContainers").is_none());

    // A new version: a new Job, awaited before the Rollout changes; the old Job is pruned.
    s.edit_service("checkout", "image_tag = \"1.0.0\"", "image_tag = \"1.1.0\"");
    let out = s.glidepath(&["apply", "-c", "catalog", "--only", "cluster", "--auto-approve", "--allow-delete"]);
    assert_eq!(out.status.code(), Some(0), "apply failed:\n{}\n{}", text(&out.stdout), text(&out.stderr));
    let second = migration_jobs();
    assert_eq!(
        second.len(),
        1,
        "the previous version's Job is pruned: {:?}",
        second.iter().map(|j| j.metadata.name.clone()).collect::<Vec<_>>()
    );
    let second_name = second[0].metadata.name.clone().unwrap();
    assert_ne!(second_name, first_name, "a new version is a new Job");
    let done = completed_at(&second[0]).expect("apply returned before the new migration completed");
    let applied = rollout_applied_at();
    assert!(
        applied.as_second() >= done.as_second(),
        "Rollout applied at {applied} before the migration completed at {done:?}"
    );
    assert!(image(&s.rollout("checkout")).ends_with(":1.1.0"));
    let plan = s.glidepath(&["plan", "-c", "catalog", "--only", "cluster", "--detailed-exitcode"]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "plan after apply is not empty:\n{}\n{}",
        text(&plan.stdout),
        text(&plan.stderr)
    );

    // A failing migration stops the apply: exit 1, the Job named with how to read its logs, and
    // the Rollout not changed.
    s.wait_until("checkout Healthy (1.1.0)", || healthy(&s.rollout("checkout")).then_some(()));
    let before = s.rollout("checkout");
    s.edit_service("checkout", "\"/v1\"", "\"/e2e-fail\"");
    s.edit_service("checkout", "image_tag = \"1.1.0\"", "image_tag = \"1.2.0\"");
    let started = Instant::now();
    let out = s.glidepath(&["apply", "-c", "catalog", "--only", "cluster", "--auto-approve", "--allow-delete"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "apply of a failing migration:\n{}\n{stderr}", text(&out.stdout));
    let failed = migration_jobs();
    let failed_job =
        failed.iter().find(|j| j.metadata.name.as_deref() != Some(second_name.as_str())).expect("the new Job");
    let failed_name = failed_job.metadata.name.clone().unwrap();
    let all = format!("{}{stderr}", text(&out.stdout));
    assert!(all.contains(&format!("migration Job {failed_name} failed")), "{all}");
    assert!(
        all.contains(&format!("kubectl logs --context glidepath-test -n {} job/{failed_name}", s.namespace)),
        "{all}"
    );
    assert!(all.contains("the Rollout was not changed"), "{all}");
    let after = s.rollout("checkout");
    assert_eq!(image(&after), image(&before), "the Rollout changed after a failed migration");
    assert_eq!(after["metadata"]["generation"], before["metadata"]["generation"]);
    println!("failing migration stopped apply after {}", seconds(started.elapsed()));

    // Applying again does not roll the version out past its failed migration: the failed Job
    // (unchanged, so not awaited) stops the plan itself.
    let again = s.glidepath(&["apply", "-c", "catalog", "--only", "cluster", "--auto-approve", "--allow-delete"]);
    let all = format!("{}{}", text(&again.stdout), text(&again.stderr));
    assert_eq!(again.status.code(), Some(1), "{all}");
    assert!(all.contains(&format!("migration Job {failed_name} failed")) && all.contains("delete job"), "{all}");
    assert_eq!(image(&s.rollout("checkout")), image(&before), "the Rollout changed on a second apply");
}
