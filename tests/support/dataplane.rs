//! The data plane of the end-to-end bed (tests/dataplane.rs): what turns kwok's fake pods into
//! endpoints that answer, and the real proxy in front of them.
//!
//! - `PodServers`: for every Running and Ready pod of a namespace, an HTTP server on the pod's own
//!   IP and `http` container port (the bed routes its pod CIDR to the loopback device, see
//!   `scripts/e2e-tools up`, so the address is bindable here). It answers like the pod's image tag
//!   says (`e2e::Behaviour`, as `FakeApps` exports it: a tag containing `bad` fails every second
//!   request with 500 after 1.5 s, any other answers 200 after 50 ms). The body names the pod and
//!   its revision (`rollouts-pod-template-hash`), so a client can tell stable from canary. A deleted
//!   pod keeps serving for its `preStop` sleep, like its container would, then stops; a pod that is
//!   no longer Ready stops at once.
//! - `Exporter`: what those servers really answered, as the Prometheus metrics the rendered
//!   AnalysisTemplates query (requests by status, a latency histogram), so the analysis that
//!   decides the rollout judges the very requests the test sends — not a model of them.
//! - `Traefik`: the real proxy, Traefik with its Kubernetes Gateway API provider, reading the bed's
//!   apiserver through KUBECONFIG and routing HTTPRoutes attached to Gateways of its GatewayClass to
//!   the Services' EndpointSlices. Started by the test, stopped (by its PID) when dropped.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};

use super::e2e::{respond, Bed, Behaviour, LATENCY_BUCKETS};

/// What one pod's server has answered, with the labels its metrics carry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Served {
    pub namespace: String,
    pub service: String,
    pub hash: String,
    pub ok: u64,
    pub failed: u64,
    /// Requests answered within each of `e2e::LATENCY_BUCKETS` (cumulative, as Prometheus wants).
    pub within: [u64; LATENCY_BUCKETS.len()],
}

impl Served {
    fn record(&mut self, failed: bool, took: Duration) {
        if failed {
            self.failed += 1;
        } else {
            self.ok += 1;
        }
        for (count, le) in self.within.iter_mut().zip(LATENCY_BUCKETS) {
            *count += u64::from(took.as_secs_f64() <= le);
        }
    }

    /// The pod's series in the Prometheus text format.
    fn exposition(&self, pod: &str) -> String {
        let series = format!(
            "namespace=\"{}\",service=\"{}\",rollouts_pod_template_hash=\"{}\",pod=\"{pod}\"",
            self.namespace, self.service, self.hash
        );
        let total = self.ok + self.failed;
        let mut out = format!("http_requests_total{{{series},status=\"200\"}} {}\n", self.ok);
        // Like a real client library: a label set exists once it has been used.
        if self.failed > 0 {
            out += &format!("http_requests_total{{{series},status=\"500\"}} {}\n", self.failed);
        }
        for (count, le) in self.within.iter().zip(LATENCY_BUCKETS) {
            out += &format!("http_request_duration_seconds_bucket{{{series},le=\"{le}\"}} {count}\n");
        }
        out += &format!("http_request_duration_seconds_bucket{{{series},le=\"+Inf\"}} {total}\n");
        out += &format!("http_request_duration_seconds_count{{{series}}} {total}\n");
        out
    }
}

type ServedByPod = Arc<Mutex<BTreeMap<String, Served>>>;

/// The bed's one scrape target for this test binary: the metrics of every `PodServers`.
pub struct Exporter {
    sources: Arc<Mutex<Vec<ServedByPod>>>,
}

impl Exporter {
    /// Started on first use and registered as the bed's (only) Prometheus target.
    pub fn shared(bed: &Bed) -> &'static Exporter {
        static SHARED: OnceLock<Exporter> = OnceLock::new();
        SHARED.get_or_init(|| {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let sources: Arc<Mutex<Vec<ServedByPod>>> = Arc::new(Mutex::new(Vec::new()));
            let scraped = Arc::clone(&sources);
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let mut body = String::from(
                        "# TYPE http_requests_total counter\n# TYPE http_request_duration_seconds histogram\n",
                    );
                    for source in scraped.lock().unwrap().iter() {
                        for (pod, served) in source.lock().unwrap().iter() {
                            body += &served.exposition(pod);
                        }
                    }
                    respond(stream, "200 OK", "text/plain; version=0.0.4", &body);
                }
            });
            let targets = serde_json::json!([{ "targets": [format!("127.0.0.1:{port}")] }]);
            std::fs::write(&bed.prometheus_targets, targets.to_string()).unwrap();
            Exporter { sources }
        })
    }

    fn register(&self, served: ServedByPod) {
        self.sources.lock().unwrap().push(served);
    }
}

struct PodServer {
    ip: String,
    stop: Arc<AtomicBool>,
    /// The pod's preStop sleep, read when it started (kwok removes a deleted pod at once).
    grace: Duration,
    /// When the pod went away (deleted): it stops serving once its preStop sleep is over.
    stop_at: Option<Instant>,
    thread: Option<JoinHandle<()>>,
}

impl PodServer {
    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// HTTP servers standing in for the containers of one namespace's pods.
pub struct PodServers {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    served: ServedByPod,
    log: Arc<Mutex<Vec<String>>>,
}

impl PodServers {
    /// Servers for `namespace`'s pods, their answers exported to the bed's Prometheus.
    pub fn start(bed: &Bed, namespace: &str) -> PodServers {
        let stop = Arc::new(AtomicBool::new(false));
        let served: ServedByPod = Arc::new(Mutex::new(BTreeMap::new()));
        Exporter::shared(bed).register(Arc::clone(&served));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (kubeconfig, namespace) = (bed.kubeconfig.clone(), namespace.to_string());
        let (stop2, served2, log2) = (Arc::clone(&stop), Arc::clone(&served), Arc::clone(&log));
        let thread = std::thread::spawn(move || {
            let (runtime, client) = super::kube_client(&kubeconfig);
            let pods: Api<Pod> = Api::namespaced(client, &namespace);
            let mut servers: BTreeMap<String, PodServer> = BTreeMap::new();
            let note = |line: String| log2.lock().unwrap().push(line);
            while !stop2.load(Ordering::SeqCst) {
                let listed = match runtime.block_on(pods.list(&ListParams::default())) {
                    Ok(list) => list.items,
                    Err(e) => {
                        note(format!("listing pods failed: {e}"));
                        std::thread::sleep(Duration::from_millis(200));
                        continue;
                    }
                };
                let mut seen = BTreeMap::new();
                for pod in &listed {
                    let name = pod.metadata.name.clone().unwrap_or_default();
                    seen.insert(name.clone(), pod);
                }
                // Stop servers whose pod is gone, deleting (after its preStop sleep) or not Ready.
                for (name, server) in servers.iter_mut() {
                    let pod = seen.get(name);
                    let deleting = pod.is_none_or(|p| p.metadata.deletion_timestamp.is_some());
                    if deleting {
                        let grace = server.grace;
                        let at = *server.stop_at.get_or_insert_with(|| Instant::now() + grace);
                        if Instant::now() >= at && server.thread.is_some() {
                            server.stop();
                            note(format!("{name} ({}): deleted, stopped serving", server.ip));
                        }
                    } else if !pod.is_some_and(|p| serving(p).is_some()) && server.thread.is_some() {
                        server.stop();
                        note(format!("{name} ({}): not Ready, stopped serving", server.ip));
                    }
                }
                servers.retain(|_, s| s.thread.is_some());
                // A pod that no longer serves has no metrics (Prometheus marks its series stale).
                served2.lock().unwrap().retain(|pod, _| servers.contains_key(pod));
                // Start a server for each Ready pod without one.
                for pod in &listed {
                    let name = pod.metadata.name.clone().unwrap_or_default();
                    if servers.contains_key(&name) || pod.metadata.deletion_timestamp.is_some() {
                        continue;
                    }
                    let Some(Serving { ip, port, image, hash, service }) = serving(pod) else { continue };
                    // kwok reuses a deleted pod's IP: wait until the previous holder stopped.
                    if servers.values().any(|s| s.ip == ip) {
                        continue;
                    }
                    let addr: SocketAddr = match format!("{ip}:{port}").parse() {
                        Ok(a) => a,
                        Err(_) => continue,
                    };
                    let listener = match TcpListener::bind(addr) {
                        Ok(l) => l,
                        Err(e) => {
                            note(format!("{name}: binding {addr} failed: {e} (retrying)"));
                            continue;
                        }
                    };
                    let stop = Arc::new(AtomicBool::new(false));
                    let grace = pre_stop_sleep(pod);
                    served2.lock().unwrap().insert(
                        name.clone(),
                        Served { namespace: namespace.clone(), service, hash, ..Served::default() },
                    );
                    let thread = serve(listener, Arc::clone(&stop), name.clone(), image.clone(), Arc::clone(&served2));
                    note(format!("{name}: serving {image} on {addr}"));
                    servers.insert(name, PodServer { ip, stop, grace, stop_at: None, thread: Some(thread) });
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            for (_, mut s) in servers {
                s.stop();
            }
        });
        PodServers { stop, thread: Some(thread), served, log }
    }

    /// Requests answered so far, by pod name.
    pub fn served(&self) -> BTreeMap<String, Served> {
        self.served.lock().unwrap().clone()
    }

    /// What the servers did (started, stopped, bind failures), in order.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for PodServers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The app container's `preStop: sleep` (glidepath renders one: keep serving while endpoints and
/// proxies stop sending traffic here).
fn pre_stop_sleep(pod: &Pod) -> Duration {
    let seconds = pod
        .spec
        .as_ref()
        .and_then(|s| s.containers.iter().find(|c| c.name == "app").or(s.containers.first()))
        .and_then(|c| c.lifecycle.as_ref()?.pre_stop.as_ref()?.sleep.as_ref().map(|s| s.seconds))
        .unwrap_or(0);
    Duration::from_secs(seconds.max(0) as u64)
}

/// What a Running and Ready pod serves with.
struct Serving {
    ip: String,
    port: i32,
    image: String,
    /// The revision (`rollouts-pod-template-hash`).
    hash: String,
    /// `app.kubernetes.io/name`, as the metrics label it.
    service: String,
}

fn serving(pod: &Pod) -> Option<Serving> {
    let status = pod.status.as_ref()?;
    if status.phase.as_deref() != Some("Running") {
        return None;
    }
    status.conditions.as_ref()?.iter().find(|c| c.type_ == "Ready" && c.status == "True")?;
    let ip = status.pod_ip.clone().filter(|ip| !ip.is_empty())?;
    let spec = pod.spec.as_ref()?;
    let container = spec.containers.iter().find(|c| c.name == "app").or(spec.containers.first())?;
    let ports = container.ports.clone().unwrap_or_default();
    let port = ports.iter().find(|p| p.name.as_deref() == Some("http")).or(ports.first())?.container_port;
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    let hash =
        labels.get("rollouts-pod-template-hash").or(labels.get("pod-template-hash")).cloned().unwrap_or_default();
    let service = labels.get("app.kubernetes.io/name").or(labels.get("app")).cloned().unwrap_or_default();
    Some(Serving { ip, port, image: container.image.clone().unwrap_or_default(), hash, service })
}

fn serve(
    listener: TcpListener,
    stop: Arc<AtomicBool>,
    pod: String,
    image: String,
    served: ServedByPod,
) -> JoinHandle<()> {
    listener.set_nonblocking(true).unwrap();
    let behaviour = Behaviour::of_image(&image);
    let count = Arc::new(AtomicU64::new(0));
    std::thread::spawn(move || {
        let mut connections = Vec::new();
        while !stop.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((stream, _)) => {
                    let (stop, count, served) = (Arc::clone(&stop), Arc::clone(&count), Arc::clone(&served));
                    let (pod, image) = (pod.clone(), image.clone());
                    connections.push(std::thread::spawn(move || {
                        connection(stream, &stop, &count, behaviour, &pod, &image, &served)
                    }));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
            connections.retain(|c: &JoinHandle<()>| !c.is_finished());
        }
        drop(listener);
        for c in connections {
            let _ = c.join();
        }
    })
}

/// One keep-alive connection: answers requests until the client closes or the pod stops.
#[allow(clippy::too_many_arguments)]
fn connection(
    stream: TcpStream,
    stop: &AtomicBool,
    count: &AtomicU64,
    behaviour: Behaviour,
    pod: &str,
    image: &str,
    served: &Mutex<BTreeMap<String, Served>>,
) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut writer = stream;
    let mut line = String::new();
    'requests: loop {
        // The request line (waiting, while the pod serves, for the next request on the connection).
        line.clear();
        loop {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            match reader.read_line(&mut line) {
                Ok(0) => return,
                Ok(_) if line.ends_with('\n') => break,
                Ok(_) => continue,
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => continue,
                Err(_) => return,
            }
        }
        if line.trim().is_empty() {
            continue 'requests;
        }
        let (mut length, mut close) = (0usize, false);
        loop {
            let mut header = String::new();
            match reader.read_line(&mut header) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    continue;
                }
                Err(_) => return,
            }
            let trimmed = header.trim_end();
            if trimmed.is_empty() {
                break;
            }
            if let Some((name, value)) = trimmed.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                } else if name.eq_ignore_ascii_case("connection") {
                    close = value.trim().eq_ignore_ascii_case("close");
                }
            }
        }
        let received = Instant::now();
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let n = count.fetch_add(1, Ordering::SeqCst);
        // error_fraction of the requests fail, evenly spread (0.5: every second one).
        let fraction = behaviour.error_fraction;
        let fail = ((n + 1) as f64 * fraction).floor() > (n as f64 * fraction).floor();
        std::thread::sleep(Duration::from_secs_f64(behaviour.latency_seconds));
        let status = if fail { "500 Internal Server Error" } else { "200 OK" };
        let hash = served.lock().unwrap().get(pod).map(|s| s.hash.clone()).unwrap_or_default();
        let text = format!("pod={pod} hash={hash} image={image}\n");
        let written = write!(
            writer,
            "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nX-Pod: {pod}\r\n{}\r\n{text}",
            text.len(),
            if close { "Connection: close\r\n" } else { "" }
        );
        if written.is_err() {
            return;
        }
        if let Some(entry) = served.lock().unwrap().get_mut(pod) {
            entry.record(fail, received.elapsed());
        }
        if close {
            return;
        }
    }
}

/// One answer through the proxy: status and body, or why there was none.
pub fn get(addr: &str, host: &str, path: &str, timeout: Duration) -> Result<(u16, String), String> {
    let mut stream = TcpStream::connect_timeout(&addr.parse().map_err(|e| format!("{e}"))?, timeout)
        .map_err(|e| format!("connect: {e}"))?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    stream.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(|e| format!("read: {e}"))?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status line in {response:?}"))?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}

/// One request through the proxy.
#[derive(Debug, Clone)]
pub struct Sample {
    pub sent: Instant,
    pub answered: Instant,
    /// The HTTP status (0: no answer at all, `error` says why).
    pub status: u16,
    /// The revision (pod-template hash) that answered.
    pub hash: String,
    pub error: String,
}

impl Sample {
    pub fn failed(&self) -> bool {
        self.status != 200
    }
}

/// Open-loop traffic through the proxy: `rate` requests a second at fixed times, whatever the
/// answers take, each on a connection of its own (k6's constant-arrival-rate executor; a closed
/// loop would send fewer requests exactly while a slow canary is live, and hide its errors).
pub struct Load {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<Sample>>>,
    scheduler: Option<JoinHandle<Vec<JoinHandle<()>>>>,
    pub rate: f64,
}

impl Load {
    pub fn start(addr: &str, host: &str, rate: f64) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (stop2, samples2, addr, host) =
            (Arc::clone(&stop), Arc::clone(&samples), addr.to_string(), host.to_string());
        let scheduler = std::thread::spawn(move || {
            let (start, every) = (Instant::now(), Duration::from_secs_f64(1.0 / rate));
            let mut requests = Vec::new();
            let mut n = 0u32;
            while !stop2.load(Ordering::SeqCst) {
                let due = start + every * n;
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                n += 1;
                let (samples, addr, host) = (Arc::clone(&samples2), addr.clone(), host.clone());
                requests.push(std::thread::spawn(move || {
                    let sent = Instant::now();
                    let result = get(&addr, &host, "/", Duration::from_secs(5));
                    let answered = Instant::now();
                    let sample = match result {
                        Ok((status, body)) => Sample {
                            sent,
                            answered,
                            status,
                            hash: body
                                .split_whitespace()
                                .find_map(|w| w.strip_prefix("hash="))
                                .unwrap_or_default()
                                .to_string(),
                            error: if status == 200 { String::new() } else { body.trim().chars().take(200).collect() },
                        },
                        Err(error) => Sample { sent, answered, status: 0, hash: String::new(), error },
                    };
                    samples.lock().unwrap().push(sample);
                }));
                requests.retain(|r| !r.is_finished());
            }
            requests
        });
        Load { stop, samples, scheduler: Some(scheduler), rate }
    }

    /// Stops sending, waits for the answers still due, and returns every request in send order.
    pub fn stop(mut self) -> Vec<Sample> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(scheduler) = self.scheduler.take() {
            for request in scheduler.join().unwrap_or_default() {
                let _ = request.join();
            }
        }
        let mut samples = std::mem::take(&mut *self.samples.lock().unwrap());
        samples.sort_by_key(|s| s.sent);
        samples
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// The GatewayClass controller name Traefik's Gateway API provider answers to.
pub const TRAEFIK_CONTROLLER: &str = "traefik.io/gateway-controller";

/// Traefik, started by a test and stopped (by PID) when dropped.
pub struct Traefik {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Traefik {
    /// Traefik with one entry point on 127.0.0.1:`port`: a Gateway listener must use the same port.
    pub fn start(bin: &Path, kubeconfig: &Path, log: &Path) -> Traefik {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let out = std::fs::File::create(log).unwrap();
        let child = Command::new(bin)
            .args([
                &format!("--entryPoints.web.address=127.0.0.1:{port}"),
                "--providers.kubernetesgateway=true",
                "--global.checkNewVersion=false",
                "--global.sendAnonymousUsage=false",
                "--log.level=INFO",
                "--accesslog=false",
            ])
            .env("KUBECONFIG", kubeconfig)
            .env_remove("KUBERNETES_SERVICE_HOST")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        Traefik { child, port, log: log.to_path_buf() }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Traefik {
    fn drop(&mut self) {
        // SIGTERM by PID, then SIGKILL if it has not gone within 10 s.
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
