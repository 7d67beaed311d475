//! A real Kubernetes control plane for tests (etcd + kube-apiserver + kube-controller-manager,
//! Argo Rollouts CRDs installed) from `scripts/control-plane`. One is shared by a test binary;
//! a watchdog runs `scripts/control-plane down` when the test process is gone.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

pub struct ControlPlane {
    pub dir: PathBuf,
    pub kubeconfig: PathBuf,
    /// Only dedicated planes are stopped on drop; the shared one by its watchdog.
    dedicated: bool,
}

pub const CONTEXT: &str = "glidepath-test";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/control-plane")
}

fn up() -> ControlPlane {
    let dir = std::env::temp_dir().join(format!("glidepath-cp-{}-{}", std::process::id(), unique()));
    let out = Command::new(script())
        .arg("up")
        .arg(&dir)
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/control-plane up");
    assert!(out.status.success(), "scripts/control-plane up failed (see stderr above)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let kubeconfig =
        PathBuf::from(last.strip_prefix("KUBECONFIG=").unwrap_or_else(|| panic!("unexpected last line: {last}")));
    ControlPlane { dir, kubeconfig, dedicated: false }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::SeqCst)
}

/// The control plane shared by every test in this binary, started on first use.
pub fn shared() -> &'static ControlPlane {
    static SHARED: OnceLock<ControlPlane> = OnceLock::new();
    SHARED.get_or_init(|| {
        let plane = up();
        super::stop_when_gone(&script(), &plane.dir);
        complete_migrations(&plane.kubeconfig);
        plane
    })
}

/// This plane runs no workload controllers and no nodes, so a migration Job glidepath applies
/// would never finish and apply would wait for it. This thread plays the Job controller's part
/// for them: each glidepath Job without a condition is marked Complete, as the controller
/// writes it. (tests/e2e.rs runs them for real, with the Job controller and kwok.)
pub fn complete_migrations(kubeconfig: &Path) {
    let kubeconfig = kubeconfig.to_path_buf();
    std::thread::spawn(move || {
        use k8s_openapi::api::batch::v1::Job;
        use kube::api::{Api, ListParams, Patch, PatchParams};
        let (runtime, client) = super::kube_client(&kubeconfig);
        let jobs: Api<Job> = Api::all(client.clone());
        let params = ListParams::default().labels("app.kubernetes.io/managed-by=glidepath");
        loop {
            if let Ok(list) = runtime.block_on(jobs.list(&params)) {
                for job in list.items {
                    let finished =
                        job.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|c| !c.is_empty());
                    let (Some(name), Some(namespace)) = (job.metadata.name, job.metadata.namespace) else { continue };
                    if finished {
                        continue;
                    }
                    let now = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second()).unwrap().to_string();
                    let condition = |kind: &str| {
                        serde_json::json!({"type": kind, "status": "True", "reason": "CompletionsReached",
                            "message": "Reached expected number of succeeded pods", "lastProbeTime": now, "lastTransitionTime": now})
                    };
                    let status = serde_json::json!({"status": {
                        "startTime": now, "completionTime": now, "succeeded": 1, "ready": 0, "terminating": 0,
                        "uncountedTerminatedPods": {},
                        "conditions": [condition("SuccessCriteriaMet"), condition("Complete")],
                    }});
                    let api: Api<Job> = Api::namespaced(client.clone(), &namespace);
                    let patch =
                        PatchParams { field_manager: Some("job-controller-stand-in".into()), ..Default::default() };
                    if let Err(e) = runtime.block_on(api.patch_status(&name, &patch, &Patch::Merge(&status))) {
                        eprintln!("marking Job {namespace}/{name} complete: {e}");
                    }
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    });
}

/// A control plane of one's own, stopped when dropped (for tests that break it).
pub fn dedicated() -> ControlPlane {
    let mut plane = up();
    plane.dedicated = true;
    plane
}

impl ControlPlane {
    /// The PID of one of the plane's servers (`kube-apiserver`, `etcd`), from the script's record.
    pub fn pid(&self, server: &str) -> u32 {
        let record = std::fs::read_to_string(self.dir.join("pids").join(server)).unwrap();
        record
            .split_whitespace()
            .next()
            .and_then(|pid| pid.parse().ok())
            .unwrap_or_else(|| panic!("pid of {server}: {record}"))
    }

    /// A client for the plane (admin), with the runtime that drives it.
    pub fn client(&self) -> (tokio::runtime::Runtime, kube::Client) {
        super::kube_client(&self.kubeconfig)
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if self.dedicated {
            let _ =
                Command::new(script()).arg("down").arg(&self.dir).stdout(Stdio::null()).stderr(Stdio::null()).status();
        }
    }
}
