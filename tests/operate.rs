//! Operating glidepath like Terraform: saved plans refused when stale, one apply at a time
//! (lock, crashed-apply recovery), the audit trail and history, and drift against a real cluster.

mod support;

use std::fs;
use std::path::Path;
use std::process::Output;

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::discovery::ApiResource;
use serde_json::{json, Value};
use support::cluster::{self, CONTEXT};

fn run(cwd: &Path, kubeconfig: Option<&Path>, args: &[&str]) -> Output {
    let mut command = support::glidepath_command();
    command.args(args).current_dir(cwd).env("HOME", cwd).env("NO_COLOR", "1");
    if let Some(kubeconfig) = kubeconfig {
        command.env("KUBECONFIG", kubeconfig);
    }
    command.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

fn catalog_in(dir: &Path, name: &str) -> std::path::PathBuf {
    let text =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/cluster.hcl")).unwrap();
    let path = dir.join("catalog.hcl");
    fs::write(&path, text.replace("name           = \"demo\"", &format!("name           = \"{name}\""))).unwrap();
    path
}

#[test]
fn a_saved_plan_applies_as_saved_and_is_refused_when_stale() {
    let work = tempfile::tempdir().unwrap();
    let catalog = catalog_in(work.path(), "tsaved");
    let c = catalog.to_str().unwrap();
    let plan = run(work.path(), None, &["plan", "-c", c, "--out", "tfplan.json"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan.stderr));
    let saved: Value = serde_json::from_str(&fs::read_to_string(work.path().join("tfplan.json")).unwrap()).unwrap();
    assert_eq!(saved["format"], "glidepath-plan/2");
    assert!(saved["changes"].as_array().unwrap().iter().all(|c| c["after"].is_object()), "bodies are saved");

    // The catalog changes after the plan was reviewed: the saved plan no longer describes it.
    fs::write(
        &catalog,
        fs::read_to_string(&catalog).unwrap().replace("image_tag = \"2.0.0\"", "image_tag = \"2.0.1\""),
    )
    .unwrap();
    let stale = run(work.path(), None, &["apply", "tfplan.json"]);
    assert_eq!(stale.status.code(), Some(1));
    assert!(
        text(&stale.stderr).contains("the saved plan is stale: the catalog renders differently"),
        "{}",
        text(&stale.stderr)
    );
    assert!(!work.path().join(".glidepath/state.json").exists(), "nothing was applied");

    let again = run(work.path(), None, &["plan", "-c", c, "--out", "tfplan.json"]);
    assert_eq!(again.status.code(), Some(0));
    let apply = run(work.path(), None, &["apply", "tfplan.json"]);
    assert_eq!(apply.status.code(), Some(0), "a saved plan applies without a prompt: {}", text(&apply.stderr));
    // The recorded state moved on: the same saved plan is stale now.
    let twice = run(work.path(), None, &["apply", "tfplan.json"]);
    assert_eq!(twice.status.code(), Some(1));
    assert!(text(&twice.stderr).contains("the live state changed since the plan was made"), "{}", text(&twice.stderr));
}

#[test]
fn one_apply_at_a_time_and_a_crashed_apply_is_recoverable() {
    let work = tempfile::tempdir().unwrap();
    let catalog = catalog_in(work.path(), "tlock");
    let c = catalog.to_str().unwrap();
    let state = work.path().join(".glidepath/state.json");
    let held = glidepath::state::lock::acquire(&state, "apply").unwrap();
    let blocked = run(work.path(), None, &["apply", "-c", c, "--auto-approve"]);
    assert_eq!(blocked.status.code(), Some(1));
    let stderr = text(&blocked.stderr);
    assert!(
        stderr.contains("is locked: held by")
            && stderr.contains(&held.info.id)
            && stderr.contains(&format!("pid {}", std::process::id())),
        "{stderr}"
    );
    // The lock names who holds it and where: for the owner only.
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &fs::metadata(glidepath::state::lock::lock_path(&state)).unwrap().permissions(),
    ) & 0o777;
    assert_eq!(mode, 0o600, "lock file mode {mode:o}");
    drop(held);

    // A lock left by a process that no longer exists (an apply killed halfway).
    let lock = glidepath::state::lock::LockInfo {
        id: "deadbeef0000".into(),
        who: "ci".into(),
        host: glidepath::state::lock::host(),
        pid: 4_000_000,
        operation: "apply".into(),
        created: "2026-11-25T00:00:00Z".into(),
    };
    fs::write(glidepath::state::lock::lock_path(&state), serde_json::to_string(&lock).unwrap()).unwrap();
    let crashed = run(work.path(), None, &["apply", "-c", c, "--auto-approve"]);
    assert_eq!(crashed.status.code(), Some(1));
    assert!(text(&crashed.stderr).contains("glidepath force-unlock deadbeef0000"), "{}", text(&crashed.stderr));
    assert_eq!(run(work.path(), None, &["force-unlock", "wrong"]).status.code(), Some(1));
    assert_eq!(run(work.path(), None, &["force-unlock", "deadbeef0000"]).status.code(), Some(0));
    let apply = run(work.path(), None, &["apply", "-c", c, "--auto-approve"]);
    assert_eq!(apply.status.code(), Some(0), "{}", text(&apply.stderr));
    assert!(!glidepath::state::lock::lock_path(&state).exists(), "the lock is released after apply");
}

#[test]
fn every_apply_is_in_the_audit_trail() {
    let work = tempfile::tempdir().unwrap();
    let catalog = catalog_in(work.path(), "taudit");
    let c = catalog.to_str().unwrap();
    assert_eq!(run(work.path(), None, &["apply", "-c", c, "--auto-approve"]).status.code(), Some(0));
    fs::write(
        &catalog,
        fs::read_to_string(&catalog).unwrap().replace("image_tag = \"2.0.0\"", "image_tag = \"2.0.1\""),
    )
    .unwrap();
    assert_eq!(run(work.path(), None, &["apply", "-c", c, "--auto-approve"]).status.code(), Some(0));

    let history = run(work.path(), None, &["history", "--format", "json"]);
    let records: Value = serde_json::from_slice(&history.stdout).unwrap();
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), 2);
    let latest = &records[0];
    assert_eq!(latest["result"], "applied");
    assert!(latest["plan_digest"].as_str().unwrap().starts_with("sha256:"));
    let changes = latest["changes"].as_array().unwrap();
    let web = changes.iter().find(|c| c["address"] == "prod/web/k8s/Rollout/web").unwrap();
    assert_eq!(web["outcome"], "recorded");
    assert!(
        web["image"].as_str().unwrap().ends_with("/demo/web:2.0.1")
            || web["image"].as_str().unwrap().ends_with(":2.0.1"),
        "{web}"
    );
    let human = text(&run(work.path(), None, &["history"]).stdout);
    assert_eq!(human.lines().filter(|l| l.contains("applied 0, recorded")).count(), 2, "{human}");
}

#[test]
fn drift_reports_edits_behind_glidepaths_back_and_unpromoted_images() {
    let plane = cluster::shared();
    let work = tempfile::tempdir().unwrap();
    let catalog = catalog_in(work.path(), "tdriftcmd");
    let c = catalog.to_str().unwrap();
    let kubeconfig = Some(plane.kubeconfig.as_path());
    let common = ["-c", c, "--only", "cluster", "--kube-context", CONTEXT];
    let apply = run(work.path(), kubeconfig, &[&["apply", "--auto-approve"][..], &common].concat());
    assert_eq!(apply.status.code(), Some(0), "{}", text(&apply.stderr));
    let quiet = run(work.path(), kubeconfig, &[&["drift", "--detailed-exitcode"][..], &common].concat());
    assert_eq!(quiet.status.code(), Some(0), "{}{}", text(&quiet.stdout), text(&quiet.stderr));

    // Someone edits a Service behind glidepath's back.
    let (runtime, client) = plane.client();
    let services = ApiResource {
        group: "".into(),
        version: "v1".into(),
        api_version: "v1".into(),
        kind: "Service".into(),
        plural: "services".into(),
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client, "tdriftcmd-dev", &services);
    let patch = json!({"metadata": {"annotations": {"edited-by": "someone"}}});
    runtime
        .block_on(api.patch(
            "api",
            &PatchParams { field_manager: Some("kubectl-annotate".into()), ..Default::default() },
            &Patch::Merge(&patch),
        ))
        .unwrap();

    // And prod gets a hotfix image that dev never ran.
    fs::write(
        &catalog,
        fs::read_to_string(&catalog)
            .unwrap()
            .replace("  image_tag = \"1.0.0\"\n", "  image_tag = { dev = \"1.0.0\", prod = \"1.0.1-hotfix\" }\n"),
    )
    .unwrap();
    let hotfix = run(work.path(), kubeconfig, &[&["apply", "--auto-approve", "--env", "prod"][..], &common].concat());
    assert_eq!(hotfix.status.code(), Some(0), "{}", text(&hotfix.stderr));

    let out = run(work.path(), kubeconfig, &[&["drift", "--detailed-exitcode"][..], &common].concat());
    assert_eq!(out.status.code(), Some(2), "{}{}", text(&out.stdout), text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("~ dev/api/k8s/Service/api") && stdout.contains("edited-by"), "{stdout}");
    assert!(stdout.contains("api in prod runs") && stdout.contains("1.0.1-hotfix, which dev never ran"), "{stdout}");
    let json_out = run(work.path(), kubeconfig, &[&["drift", "--format", "json"][..], &common].concat());
    let document: Value = serde_json::from_slice(&json_out.stdout).unwrap();
    assert_eq!(document["unpromoted"][0]["previous"], "dev");
}

#[test]
fn rollback_aborts_an_update_in_flight_and_undoes_a_finished_one() {
    let plane = cluster::shared();
    let work = tempfile::tempdir().unwrap();
    let catalog = catalog_in(work.path(), "trollback");
    let c = catalog.to_str().unwrap();
    let kubeconfig = Some(plane.kubeconfig.as_path());
    let apply = run(
        work.path(),
        kubeconfig,
        &["apply", "-c", c, "--only", "cluster", "--env", "dev", "--kube-context", CONTEXT, "--auto-approve"],
    );
    assert_eq!(apply.status.code(), Some(0), "{}", text(&apply.stderr));

    let (runtime, client) = plane.client();
    let resource = |group: &str, version: &str, kind: &str, plural: &str| ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: if group.is_empty() { version.into() } else { format!("{group}/{version}") },
        kind: kind.into(),
        plural: plural.into(),
    };
    let rollouts: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "trollback-dev",
        &resource("argoproj.io", "v1alpha1", "Rollout", "rollouts"),
    );
    let sets: Api<DynamicObject> =
        Api::namespaced_with(client, "trollback-dev", &resource("apps", "v1", "ReplicaSet", "replicasets"));
    let controller = PatchParams { field_manager: Some("argo-rollouts".into()), ..Default::default() };
    let rollback = |service: &str| {
        run(work.path(), kubeconfig, &["rollback", service, "--env", "dev", "-c", c, "--kube-context", CONTEXT])
    };

    // In flight (what the controller reports mid-canary): rollback aborts.
    let status = json!({"status": {"currentPodHash": "bbbbbbb", "stableRS": "aaaaaaa"}});
    runtime.block_on(rollouts.patch_status("api", &controller, &Patch::Merge(&status))).unwrap();
    let out = rollback("api");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("aborted the update in flight"), "{}", text(&out.stdout));
    // api has a migration: the rollback says it is not undone.
    assert!(
        text(&out.stdout)
            .contains("Not undone: the migration (./migrate) already ran when the new version was applied"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(runtime.block_on(rollouts.get("api")).unwrap().data["status"]["abort"], true);

    // Finished: two revisions as the controller leaves them; rollback restores the older template.
    let web = runtime.block_on(rollouts.get("web")).unwrap();
    let uid = web.metadata.uid.clone().unwrap();
    for (revision, hash, image) in
        [("1", "1111111", "registry.example/web:1.9.0"), ("2", "2222222", "registry.example/web:2.0.0")]
    {
        let set: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {
                "name": format!("web-{hash}"),
                "annotations": {"rollout.argoproj.io/revision": revision},
                "ownerReferences": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "web", "uid": uid, "controller": true}]
            },
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app.kubernetes.io/name": "web", "rollouts-pod-template-hash": hash}},
                "template": {
                    "metadata": {"labels": {"app.kubernetes.io/name": "web", "rollouts-pod-template-hash": hash}},
                    "spec": {"containers": [{"name": "app", "image": image}]}
                }
            }
        }))
        .unwrap();
        runtime.block_on(sets.create(&Default::default(), &set)).unwrap();
    }
    let status = json!({"status": {"currentPodHash": "2222222", "stableRS": "2222222"}});
    runtime.block_on(rollouts.patch_status("web", &controller, &Patch::Merge(&status))).unwrap();
    let out = rollback("web");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("returned from revision 2 to revision 1"), "{}", text(&out.stdout));
    assert!(!text(&out.stdout).contains("migration"), "web has none: {}", text(&out.stdout));
    let web = runtime.block_on(rollouts.get("web")).unwrap();
    assert_eq!(web.data["spec"]["template"]["spec"]["containers"][0]["image"], "registry.example/web:1.9.0");
    assert!(web.data["spec"]["template"]["metadata"]["labels"].get("rollouts-pod-template-hash").is_none());

    let history = text(&run(work.path(), None, &["history"]).stdout);
    assert!(history.contains("rollback: rolled back"), "{history}");
}

#[test]
fn remote_state_in_s3_with_a_dynamodb_lock() {
    let moto = support::moto::Moto::start();
    let work = tempfile::tempdir().unwrap();
    let catalog = catalog_in(work.path(), "tremote");
    let c = catalog.to_str().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (s3, dynamodb) = support::moto::state_backend(&moto, &runtime, "eu-west-1", "tfstate", "glidepath-locks");
    let state = "s3://tfstate/tremote/glidepath.json?lock_table=glidepath-locks";
    let remote = |args: &[&str]| {
        let mut command = support::glidepath_command();
        command
            .args(args)
            .current_dir(work.path())
            .env("HOME", work.path())
            .env("AWS_ENDPOINT_URL", moto.url())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "eu-west-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .output()
            .unwrap()
    };
    let apply = remote(&["apply", "-c", c, "--only", "cluster", "--state", state, "--auto-approve"]);
    assert_eq!(apply.status.code(), Some(0), "{}{}", text(&apply.stdout), text(&apply.stderr));
    assert!(!work.path().join(".glidepath").exists(), "nothing is kept locally");
    let stored = runtime.block_on(s3.get_object().bucket("tfstate").key("tremote/glidepath.json").send()).unwrap();
    let body: Value = serde_json::from_slice(&runtime.block_on(stored.body.collect()).unwrap().into_bytes()).unwrap();
    assert_eq!(body["catalog"], "tremote");
    // The fixture renders 54 resources; 8 are AWS (not selected): 46 cluster objects (api's
    // migration Job in each of its two environments included).
    assert_eq!(body["resources"].as_object().unwrap().len(), 46);
    let plan = remote(&["plan", "-c", c, "--only", "cluster", "--state", state, "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan.stdout));

    // Another apply holds the lock: this one fails at once, naming it.
    let other = glidepath::state::lock::LockInfo::new("apply");
    let item = serde_json::to_string(&other).unwrap();
    use aws_sdk_dynamodb::types::AttributeValue;
    runtime
        .block_on(
            dynamodb
                .put_item()
                .table_name("glidepath-locks")
                .item("LockID", AttributeValue::S("tfstate/tremote/glidepath.json".into()))
                .item("Info", AttributeValue::S(item))
                .send(),
        )
        .unwrap();
    let blocked = remote(&["apply", "-c", c, "--only", "cluster", "--state", state, "--auto-approve"]);
    assert_eq!(blocked.status.code(), Some(1));
    assert!(text(&blocked.stderr).contains(&format!("lock id {}", other.id)), "{}", text(&blocked.stderr));
    let unlocked = remote(&["force-unlock", &other.id, "--state", state]);
    assert_eq!(unlocked.status.code(), Some(0), "{}", text(&unlocked.stderr));
    fs::write(
        &catalog,
        fs::read_to_string(&catalog).unwrap().replace("image_tag = \"2.0.0\"", "image_tag = \"2.0.1\""),
    )
    .unwrap();
    let again = remote(&["apply", "-c", c, "--only", "cluster", "--state", state, "--auto-approve"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));

    let history = remote(&["history", "--state", state, "--format", "json"]);
    let records: Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(records.as_array().unwrap().len(), 2, "both applies are audited in S3: {records}");
    let locks = runtime.block_on(dynamodb.scan().table_name("glidepath-locks").send()).unwrap();
    assert_eq!(locks.count(), 0, "the lock is released after apply");
}

#[test]
fn a_saved_plan_is_refused_when_the_cluster_changed_since() {
    let plane = cluster::shared();
    let work = tempfile::tempdir().unwrap();
    let catalog = catalog_in(work.path(), "tstale");
    let c = catalog.to_str().unwrap();
    let kubeconfig = Some(plane.kubeconfig.as_path());
    let common = ["-c", c, "--only", "cluster", "--env", "dev", "--kube-context", CONTEXT];
    let apply = run(work.path(), kubeconfig, &[&["apply", "--auto-approve"][..], &common].concat());
    assert_eq!(apply.status.code(), Some(0), "{}", text(&apply.stderr));
    fs::write(
        &catalog,
        fs::read_to_string(&catalog).unwrap().replace("image_tag = \"2.0.0\"", "image_tag = \"2.0.1\""),
    )
    .unwrap();
    let plan = run(work.path(), kubeconfig, &[&["plan", "--out", "tfplan.json"][..], &common].concat());
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan.stderr));

    // Between review and apply, someone changes a live object.
    let (runtime, client) = plane.client();
    let config_maps = ApiResource {
        group: "".into(),
        version: "v1".into(),
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        plural: "configmaps".into(),
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client, "tstale-dev", &config_maps);
    let patch = json!({"data": {"service.slack": "token: $another-token\n"}});
    runtime
        .block_on(api.patch(
            "argo-rollouts-notification-configmap",
            &PatchParams { field_manager: Some("someone".into()), ..Default::default() },
            &Patch::Merge(&patch),
        ))
        .unwrap();

    let stale = run(work.path(), kubeconfig, &["apply", "tfplan.json", "--kube-context", CONTEXT]);
    assert_eq!(stale.status.code(), Some(1), "{}", text(&stale.stdout));
    assert!(text(&stale.stderr).contains("the live state changed since the plan was made"), "{}", text(&stale.stderr));
}

/// Issue 17: what may be a secret (a webhook URL with a token, an SNS https endpoint with
/// `?token=`) is redacted in every plan view, saved plan, state, audit trail and address, and the
/// files glidepath keeps are readable by their owner only. A second plan still finds no changes.
#[test]
fn planted_secrets_appear_in_no_output_state_or_plan_file() {
    use std::os::unix::fs::PermissionsExt;
    let work = tempfile::tempdir().unwrap();
    let catalog = catalog_in(work.path(), "tsecret");
    let planted = fs::read_to_string(&catalog)
        .unwrap()
        .replace("webhook = \"$oncall-webhook\"", "webhook = \"https://hooks.example.com/in?token=PLANTED1webhook\"")
        .replace(
            "notification \"oncall\" {",
            "notification \"pager\" {\n  https = [\"https://alerts.example.com/in?token=PLANTED2sns\"]\n}\n\nnotification \"oncall\" {",
        )
        .replace("notify = [\"oncall\"]", "notify = [\"oncall\", \"pager\"]\n  env = { API_TOKEN = { secret = \"api\", key = \"token\" } }");
    fs::write(&catalog, planted).unwrap();
    let c = catalog.to_str().unwrap();
    let mut shown = String::new();
    let mut ran = |args: &[&str], expect: i32| {
        let out = run(work.path(), None, args);
        assert_eq!(out.status.code(), Some(expect), "{args:?}: {}{}", text(&out.stdout), text(&out.stderr));
        shown.push_str(&text(&out.stdout));
        shown.push_str(&text(&out.stderr));
    };
    ran(&["validate", "-c", c], 0);
    for format in ["human", "json", "markdown"] {
        ran(&["plan", "-c", c, "--format", format], 0);
    }
    ran(&["plan", "-c", c, "--out", "tfplan.json"], 0);
    ran(&["apply", "tfplan.json"], 0);
    // Redacted state must not look changed: the recorded digest is of the applied body.
    ran(&["plan", "-c", c, "--detailed-exitcode"], 0);
    // An update of the webhook's token shows that it changed, not to what.
    let rotated = fs::read_to_string(&catalog).unwrap().replace("PLANTED1webhook", "PLANTED3rotated");
    fs::write(&catalog, rotated).unwrap();
    for format in ["human", "json", "markdown"] {
        ran(&["plan", "-c", c, "--format", format, "--detailed-exitcode"], 2);
    }
    ran(&["apply", "-c", c, "--auto-approve"], 0);
    for format in ["human", "json", "markdown"] {
        ran(&["history", "--format", format], 0);
    }
    ran(&["state", "list"], 0);
    assert!(shown.contains("(redacted)"), "the changed token is shown as redacted:\n{shown}");
    assert!(shown.contains("https://alerts.example.com/redacted-"), "the SNS address has a stand-in:\n{shown}");

    let mut files = vec![work.path().join("tfplan.json")];
    files.extend(fs::read_dir(work.path().join(".glidepath")).unwrap().map(|e| e.unwrap().path()));
    let mut stored = String::new();
    for file in &files {
        stored.push_str(&fs::read_to_string(file).unwrap());
        let mode = fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} is mode {mode:o}", file.display());
    }
    assert!(stored.contains("sns_subscription"), "the state records the subscription");
    for secret in ["PLANTED1webhook", "PLANTED2sns", "PLANTED3rotated"] {
        assert!(!shown.contains(secret), "{secret} was shown:\n{shown}");
        assert!(!stored.contains(secret), "{secret} was stored in one of {files:?}");
    }
}
