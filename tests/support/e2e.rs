//! The end-to-end test bed (`scripts/e2e-tools up`): a control plane with the workload
//! controllers, kube-scheduler, kwok (pods on a fake node become Running and Ready), the real Argo
//! Rollouts controller and a real Prometheus. Around it, two things the tests control:
//! - `FakeApps`, the metrics every glidepath-managed pod would export: request counters and a
//!   latency histogram per pod, labelled like the rendered analysis queries expect. How a pod
//!   behaves is decided by its image tag: a tag containing `bad` answers half of its requests with
//!   500 and takes 1.5 s; any other tag answers 200 in 50 ms.
//! - `Receiver`, an HTTP endpoint standing in for Slack: it records every notification the
//!   controller sends through the webhook route of the rendered notification ConfigMap.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use serde_json::Value;

pub struct Bed {
    pub kubeconfig: PathBuf,
    pub prometheus_url: String,
    pub prometheus_targets: PathBuf,
    pub controller_log: PathBuf,
    /// The /24 kwok gives pod IPs from, routed to the loopback device (empty: pods' IPs cannot be
    /// bound here; see `scripts/e2e-tools up`).
    pub pod_cidr: String,
    /// Where `scripts/e2e-tools build` puts Traefik (built on first use by tests/dataplane.rs).
    pub traefik: PathBuf,
    /// Where it puts the Argo Rollouts kubectl plugin (built on first use by
    /// tests/promotion_run.rs, which runs the CodePipeline deploy buildspec).
    pub kubectl_argo_rollouts: PathBuf,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/e2e-tools")
}

/// The bed shared by every test in this binary, started on first use and stopped by a watchdog
/// when the test process is gone.
pub fn shared() -> &'static Bed {
    static SHARED: OnceLock<Bed> = OnceLock::new();
    SHARED.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("glidepath-e2e-{}", std::process::id()));
        let out = Command::new(script())
            .arg("up")
            .arg(&dir)
            .stderr(Stdio::inherit())
            .output()
            .expect("run scripts/e2e-tools up");
        assert!(out.status.success(), "scripts/e2e-tools up failed (see stderr above)");
        super::stop_when_gone(&script(), &dir);
        let vars: BTreeMap<String, String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
            .collect();
        let var = |k: &str| vars.get(k).unwrap_or_else(|| panic!("e2e-tools up printed no {k}")).clone();
        Bed {
            kubeconfig: PathBuf::from(var("KUBECONFIG")),
            prometheus_url: var("PROMETHEUS_URL"),
            prometheus_targets: PathBuf::from(var("PROMETHEUS_TARGETS")),
            controller_log: PathBuf::from(var("ROLLOUTS_CONTROLLER_LOG")),
            pod_cidr: vars.get("POD_CIDR").cloned().unwrap_or_default(),
            traefik: PathBuf::from(var("TRAEFIK")),
            kubectl_argo_rollouts: PathBuf::from(var("KUBECTL_ARGO_ROLLOUTS")),
        }
    })
}

impl Bed {
    /// Traefik's binary, built (once, cached by version) by `scripts/e2e-tools build` if missing.
    pub fn traefik(&self) -> &Path {
        if !self.traefik.exists() {
            let status = Command::new(script()).arg("build").stderr(Stdio::inherit()).status().unwrap();
            assert!(status.success() && self.traefik.exists(), "scripts/e2e-tools build did not build Traefik");
        }
        &self.traefik
    }

    /// The Argo Rollouts kubectl plugin of the controller's release, built (once, cached by
    /// version) by `scripts/e2e-tools build` if missing.
    pub fn kubectl_argo_rollouts(&self) -> &Path {
        if !self.kubectl_argo_rollouts.exists() {
            let status = Command::new(script()).arg("build").stderr(Stdio::inherit()).status().unwrap();
            assert!(
                status.success() && self.kubectl_argo_rollouts.exists(),
                "scripts/e2e-tools build did not build kubectl-argo-rollouts"
            );
        }
        &self.kubectl_argo_rollouts
    }

    /// A client for the bed (admin), with the runtime that drives it.
    pub fn client(&self) -> (tokio::runtime::Runtime, kube::Client) {
        super::kube_client(&self.kubeconfig)
    }

    /// The controller log's last `lines` lines, newest first.
    pub fn controller_log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(&self.controller_log).unwrap_or_default();
        log.lines().rev().take(lines).collect::<Vec<_>>().join("\n")
    }

    /// Polls `probe` every 100 ms until it gives a value. After `patience`, fails naming `what`,
    /// with `context()` (the state that explains it) and the controller's last log lines.
    pub fn wait_until<T>(
        &self,
        what: &str,
        patience: Duration,
        mut probe: impl FnMut() -> Option<T>,
        context: impl FnOnce() -> String,
    ) -> T {
        let deadline = Instant::now() + patience;
        loop {
            if let Some(value) = probe() {
                return value;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what} {}\ncontroller log (last lines, newest first):\n{}",
                    context(),
                    self.controller_log_tail(30)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Healthy for the current spec: phase Healthy with the spec's generation observed, the stable
/// revision being the current one, every replica available.
pub fn healthy(rollout: &Value) -> bool {
    let status = &rollout["status"];
    status["phase"] == "Healthy"
        && status["observedGeneration"].as_str().map(str::to_string)
            == rollout["metadata"]["generation"].as_i64().map(|g| g.to_string())
        && status["stableRS"].is_string()
        && status["stableRS"] == status["currentPodHash"]
        && status["availableReplicas"] == rollout["spec"]["replicas"]
}

/// How a fake app behaves, by its image tag.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Behaviour {
    pub requests_per_second: f64,
    pub error_fraction: f64,
    pub latency_seconds: f64,
}

impl Behaviour {
    pub fn of_image(image: &str) -> Behaviour {
        let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or_default();
        if tag.contains("bad") {
            Behaviour { requests_per_second: 20.0, error_fraction: 0.5, latency_seconds: 1.5 }
        } else {
            Behaviour { requests_per_second: 20.0, error_fraction: 0.0, latency_seconds: 0.05 }
        }
    }
}

pub const LATENCY_BUCKETS: [f64; 6] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// The metrics endpoint of every Running and Ready glidepath pod in the bed, scraped by its
/// Prometheus. Counters grow with the time a pod has been Ready, so they are monotonic and a
/// scrape needs no memory of earlier ones.
pub struct FakeApps {
    pub port: u16,
    /// When a pod first reported failed requests, by namespace: "the first bad sample".
    first_errors: Arc<Mutex<BTreeMap<String, Instant>>>,
}

impl FakeApps {
    /// The exporter shared by the tests of this binary, registered as the bed's scrape target.
    pub fn shared(bed: &Bed) -> &'static FakeApps {
        static SHARED: OnceLock<FakeApps> = OnceLock::new();
        SHARED.get_or_init(|| {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let first_errors = Arc::new(Mutex::new(BTreeMap::new()));
            let (kubeconfig, errors) = (bed.kubeconfig.clone(), Arc::clone(&first_errors));
            std::thread::spawn(move || {
                let (runtime, client) = super::kube_client(&kubeconfig);
                let pods: Api<Pod> = Api::all(client);
                for stream in listener.incoming().flatten() {
                    let listed = runtime
                        .block_on(pods.list(&ListParams::default().labels("app.kubernetes.io/managed-by=glidepath")));
                    let body = match listed {
                        Ok(list) => exposition(&list.items, SystemTime::now(), &errors),
                        Err(e) => {
                            eprintln!("fake apps: listing pods failed: {e}");
                            continue;
                        }
                    };
                    respond(stream, "200 OK", "text/plain; version=0.0.4", &body);
                }
            });
            let targets = serde_json::json!([{ "targets": [format!("127.0.0.1:{port}")] }]);
            std::fs::write(&bed.prometheus_targets, targets.to_string()).unwrap();
            FakeApps { port, first_errors }
        })
    }

    pub fn first_error_sample(&self, namespace: &str) -> Option<Instant> {
        self.first_errors.lock().unwrap().get(namespace).copied()
    }
}

/// The Prometheus text exposition of all pods' counters at `now`.
fn exposition(pods: &[Pod], now: SystemTime, first_errors: &Mutex<BTreeMap<String, Instant>>) -> String {
    let mut out = String::from("# TYPE http_requests_total counter\n# TYPE http_request_duration_seconds histogram\n");
    for pod in pods {
        let Some(ready_since) = ready_since(pod) else { continue };
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        let (Some(service), Some(hash)) =
            (labels.get("app.kubernetes.io/name"), labels.get("rollouts-pod-template-hash"))
        else {
            continue;
        };
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let image = pod
            .spec
            .as_ref()
            .and_then(|s| s.containers.iter().find(|c| c.name == "app"))
            .and_then(|c| c.image.clone())
            .unwrap_or_default();
        let behaviour = Behaviour::of_image(&image);
        let up = now.duration_since(ready_since).unwrap_or_default().as_secs_f64();
        let total = (behaviour.requests_per_second * up).floor();
        let errors = (total * behaviour.error_fraction).floor();
        let series = format!(
            "namespace=\"{namespace}\",service=\"{service}\",rollouts_pod_template_hash=\"{hash}\",pod=\"{}\"",
            pod.metadata.name.clone().unwrap_or_default()
        );
        out += &format!("http_requests_total{{{series},status=\"200\"}} {}\n", total - errors);
        // Like a real client library: a label set exists once it has been used.
        if errors > 0.0 {
            out += &format!("http_requests_total{{{series},status=\"500\"}} {errors}\n");
            first_errors.lock().unwrap().entry(namespace.clone()).or_insert_with(Instant::now);
        }
        for le in LATENCY_BUCKETS {
            let count = if behaviour.latency_seconds <= le { total } else { 0.0 };
            out += &format!("http_request_duration_seconds_bucket{{{series},le=\"{le}\"}} {count}\n");
        }
        out += &format!("http_request_duration_seconds_bucket{{{series},le=\"+Inf\"}} {total}\n");
        out += &format!("http_request_duration_seconds_count{{{series}}} {total}\n");
    }
    out
}

/// When the pod became Ready (it serves from then on), if it is Running and Ready now.
fn ready_since(pod: &Pod) -> Option<SystemTime> {
    let status = pod.status.as_ref()?;
    if status.phase.as_deref() != Some("Running") || pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let ready = status.conditions.as_ref()?.iter().find(|c| c.type_ == "Ready" && c.status == "True")?;
    let since = ready.last_transition_time.as_ref()?.0;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(since.as_second().max(0) as u64))
}

/// One notification the controller sent.
#[derive(Debug, Clone)]
pub struct Notification {
    pub received: Instant,
    pub body: Value,
}

/// The webhook receiver standing in for Slack.
pub struct Receiver {
    pub port: u16,
    received: Arc<Mutex<Vec<Notification>>>,
}

impl Receiver {
    pub fn shared() -> &'static Receiver {
        static SHARED: OnceLock<Receiver> = OnceLock::new();
        SHARED.get_or_init(|| {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let received = Arc::new(Mutex::new(Vec::new()));
            let store = Arc::clone(&received);
            std::thread::spawn(move || {
                for mut stream in listener.incoming().flatten() {
                    let Some(body) = read_request_body(&mut stream) else { continue };
                    let body = serde_json::from_slice(&body)
                        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into()));
                    store.lock().unwrap().push(Notification { received: Instant::now(), body });
                    respond(stream, "200 OK", "text/plain", "ok");
                }
            });
            Receiver { port, received }
        })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/glidepath", self.port)
    }

    /// Notifications about `namespace`, in arrival order.
    pub fn for_namespace(&self, namespace: &str) -> Vec<Notification> {
        self.received.lock().unwrap().iter().filter(|n| n.body["namespace"] == namespace).cloned().collect()
    }

    /// Waits up to `timeout` for a notification of `event` about `service` in `namespace` running
    /// an image with `tag` (the first revision's notifications may arrive late).
    pub fn wait_for(&self, namespace: &str, service: &str, tag: &str, event: &str) -> Option<Notification> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let image_suffix = format!(":{tag}");
        loop {
            let mut about = self.for_namespace(namespace).into_iter();
            if let Some(n) = about.find(|n| {
                n.body["event"] == event
                    && n.body["service"] == service
                    && n.body["image"].as_str().is_some_and(|i| i.ends_with(&image_suffix))
            }) {
                return Some(n);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Reads one HTTP/1.1 request and returns its body.
fn read_request_body(stream: &mut TcpStream) -> Option<Vec<u8>> {
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut length = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(body)
}

pub fn respond(mut stream: TcpStream, status: &str, content_type: &str, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}
