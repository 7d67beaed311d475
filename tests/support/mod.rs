//! Helpers shared by integration tests. Each test binary uses a subset of them.
#![allow(dead_code)]

pub mod aws_bed;
pub mod cluster;
pub mod crd_schema;
pub mod dataplane;
pub mod e2e;
pub mod moto;
pub mod objects;
pub mod roundtrip;
pub mod shop;
pub mod tamper;

/// A tool a `scripts/install-*` script built or installed into the cache (`~/.cache/glidepath`,
/// or `$GLIDEPATH_CACHE`); a missing one fails the test with `how` to get it.
pub fn cached_tool(relative: &str, how: &str) -> std::path::PathBuf {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from).unwrap_or_default();
    let cache =
        std::env::var_os("GLIDEPATH_CACHE").map(std::path::PathBuf::from).unwrap_or(home.join(".cache/glidepath"));
    let path = cache.join(relative);
    assert!(path.exists(), "{} not found: {how}", path.display());
    path
}

/// Copies the directory `from` to `to`, subdirectories included.
pub fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The glidepath binary, without the AWS or cluster settings of the shell that runs the tests:
/// a test says which live systems glidepath sees.
pub fn glidepath_command() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_glidepath"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AWS_") || name == "KUBECONFIG" {
            command.env_remove(name);
        }
    }
    // Nor the developer's ~/.aws files or an instance profile: AWS is live only where a test
    // says so (the SDK's default chain would find them).
    command
        .env("AWS_CONFIG_FILE", "/nonexistent/glidepath-tests/aws-config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/glidepath-tests/aws-credentials")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    command
}

/// Runs `SCRIPT down DIR` once this test process is gone: test binaries end without running
/// static destructors, so servers shared by a binary's tests are stopped from outside.
pub fn stop_when_gone(script: &std::path::Path, dir: &std::path::Path) {
    let watchdog = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; exec '{script}' down '{dir}'",
        pid = std::process::id(),
        script = script.display(),
        dir = dir.display()
    );
    // Never waited for: it is meant to outlive this process.
    #[allow(clippy::zombie_processes)]
    std::process::Command::new("setsid")
        .args(["bash", "-c", &watchdog])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the watchdog");
}

/// An admin client for a test cluster, with the runtime that drives it.
pub fn kube_client(kubeconfig: &std::path::Path) -> (tokio::runtime::Runtime, kube::Client) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let client = {
        // The client spawns its connection worker on the runtime it is made in.
        let _entered = runtime.enter();
        let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
        let config = runtime.block_on(kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())).unwrap();
        kube::Client::try_from(config).unwrap()
    };
    (runtime, client)
}

/// Fixture catalogs in `dir`: `.hcl`/`.yaml` files and directory catalogs, sorted.
pub fn fixture_catalogs(dir: &str) -> Vec<std::path::PathBuf> {
    let mut paths: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() || matches!(p.extension().and_then(|e| e.to_str()), Some("hcl" | "yaml")))
        .collect();
    paths.sort();
    paths
}

/// A process stopped with SIGSTOP (a frozen server: its port still accepts connections, nothing
/// answers) until this guard drops, which sends SIGCONT, also when the test fails.
pub struct Frozen {
    pid: u32,
}

impl Frozen {
    pub fn stop(pid: u32) -> Frozen {
        signal("-STOP", pid);
        Frozen { pid }
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        signal("-CONT", self.pid);
    }
}

fn signal(which: &str, pid: u32) {
    let status = std::process::Command::new("kill").args([which, &pid.to_string()]).status().expect("run kill");
    assert!(status.success(), "kill {which} {pid} failed");
}

/// A child process that is killed if the test ends (or fails) before it does.
pub struct Running(pub std::process::Child);

impl Running {
    /// Waits for the child, at most `limit`: a child still running then is killed and the test
    /// fails (the failure criterion of "it returned", not a timing threshold: the limit is far
    /// beyond what the behaviour under test needs).
    pub fn wait_at_most(&mut self, limit: std::time::Duration, what: &str) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.0.kill();
                let _ = self.0.wait();
                panic!("{what} still running after {limit:?}: it hangs");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}
