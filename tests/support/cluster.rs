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
        plane
    })
}

/// A control plane of one's own, stopped when dropped (for tests that break it).
pub fn dedicated() -> ControlPlane {
    let mut plane = up();
    plane.dedicated = true;
    plane
}

impl ControlPlane {
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
