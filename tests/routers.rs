//! Traffic routing on the real Argo Rollouts controller (scripts/e2e-tools up, as tests/e2e.rs).
//!
//! `rendered_routes_…`: glidepath applies its own rendering of tests/fixtures/routers/catalog.hcl
//! (one canary service per router); the controller walks each canary through its steps, and
//! `plan` and `drift` stay empty while it re-weights the routes, adds the Istio header route and
//! writes the ALB action; an abort puts all traffic back on stable and removes the header route.
//!
//! `canary_weights_…`: hand-written canary Rollouts over each router shape (including Istio's
//! subset-level split glidepath does not render), from tests/fixtures/routers/*.yaml, checked by
//! what the controller writes into the router's own objects:
//!
//! - Istio, host-level: the VirtualService route's weights over the stable and canary Services;
//! - Istio, subset-level: the same route's weights over two DestinationRule subsets, whose labels
//!   the controller points at each revision's pod-template hash;
//! - AWS ALB: the forward action in the Ingress annotation `alb.ingress.kubernetes.io/actions.<stable>`;
//! - Gateway API, through the argoproj-labs/gatewayAPI plugin the bed configures: the HTTPRoute's
//!   backendRefs weights (and the plugin's in-progress label).
//!
//! Each Rollout is created at a first image, updated to a second one, and followed through
//! setWeight 20 → pause → (promote) setWeight 50 → pause → (abort) all traffic back on stable.
//! Nothing routes real traffic: no mesh, load balancer or gateway runs; this proves the objects'
//! shapes and what the controller does with them, which is what glidepath renders and plans.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use glidepath::kinds::KubeKind;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiResource, Scope};
use serde_json::{json, Value};
use support::e2e::{self, healthy, Bed};

const NAMESPACE: &str = "routers-e2e";
/// A step takes a few seconds here; this is only how long a broken run waits before failing.
const PATIENCE: Duration = Duration::from_secs(120);
/// How long a Rollout must stay unchanged before the test writes to it (see `wait_all`).
const SETTLE: Duration = Duration::from_secs(1);
const IMAGE: &str = "registry.invalid/routers";
const GATEWAY_IN_PROGRESS: &str = "rollouts.argoproj.io/gatewayapi-canary";

/// Traffic split as the router's object says it: percent to canary and to stable.
type Weights = (i64, i64);

#[derive(Clone, Copy, Debug)]
enum Router {
    IstioHost,
    IstioSubset,
    Alb,
    GatewayApi,
}

impl Router {
    const ALL: [Router; 4] = [Router::IstioHost, Router::IstioSubset, Router::Alb, Router::GatewayApi];

    /// The Rollout's name; its fixture's objects start with it.
    fn rollout(self) -> &'static str {
        match self {
            Router::IstioHost => "istio-host",
            Router::IstioSubset => "istio-subset",
            Router::Alb => "alb-demo",
            Router::GatewayApi => "gateway-demo",
        }
    }

    fn fixture(self) -> &'static str {
        match self {
            Router::IstioHost => "istio.yaml",
            Router::IstioSubset => "istio-subset.yaml",
            Router::Alb => "alb.yaml",
            Router::GatewayApi => "gateway-api.yaml",
        }
    }

    /// The object the controller writes weights into: (apiVersion, kind, name).
    fn route(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Router::IstioHost | Router::IstioSubset => ("networking.istio.io/v1", "VirtualService", self.rollout()),
            Router::Alb => ("networking.k8s.io/v1", "Ingress", self.rollout()),
            Router::GatewayApi => ("gateway.networking.k8s.io/v1", "HTTPRoute", self.rollout()),
        }
    }

    /// (canary, stable) weights in the route object, if it has both.
    fn weights(self, route: &Value) -> Option<Weights> {
        let name = self.rollout();
        let (stable_service, canary_service) = (format!("{name}-stable"), format!("{name}-canary"));
        // Each destination by name (Service or subset), with its weight.
        let (by_name, canary, stable): (BTreeMap<String, i64>, &str, &str) = match self {
            Router::IstioHost | Router::IstioSubset => {
                let http = route["spec"]["http"].as_array()?;
                let primary = http.iter().find(|r| r["name"] == "primary")?;
                let subsets = matches!(self, Router::IstioSubset);
                let key = if subsets { "subset" } else { "host" };
                // An absent weight is 0 in Istio.
                let weights = primary["route"]
                    .as_array()?
                    .iter()
                    .map(|d| (string(&d["destination"][key]), d["weight"].as_i64().unwrap_or(0)))
                    .collect();
                if subsets {
                    (weights, "canary", "stable")
                } else {
                    (weights, &canary_service, &stable_service)
                }
            }
            Router::Alb => {
                let key = format!("alb.ingress.kubernetes.io/actions.{stable_service}");
                let action: Value = serde_json::from_str(route["metadata"]["annotations"][key].as_str()?).ok()?;
                let groups = action["ForwardConfig"]["TargetGroups"].as_array()?;
                let weights = groups.iter().map(|g| (string(&g["ServiceName"]), g["Weight"].as_i64().unwrap_or(-1)));
                (weights.collect(), &canary_service, &stable_service)
            }
            Router::GatewayApi => {
                let refs = route["spec"]["rules"][0]["backendRefs"].as_array()?;
                let weights = refs.iter().map(|b| (string(&b["name"]), b["weight"].as_i64().unwrap_or(-1)));
                (weights.collect(), &canary_service, &stable_service)
            }
        };
        Some((*by_name.get(canary)?, *by_name.get(stable)?))
    }
}

fn string(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

struct Routers {
    bed: &'static Bed,
    runtime: tokio::runtime::Runtime,
    client: kube::Client,
    resources: Mutex<BTreeMap<(String, String), (ApiResource, Scope)>>,
    /// Cluster-scoped objects the fixtures created, deleted at the end with the namespace.
    cluster_scoped: Mutex<Vec<(String, String, String)>>,
}

impl Routers {
    fn start() -> Routers {
        let bed = e2e::shared();
        let (runtime, client) = bed.client();
        let routers = Routers {
            bed,
            runtime,
            client,
            resources: Mutex::new(BTreeMap::new()),
            cluster_scoped: Mutex::new(Vec::new()),
        };
        routers.create(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}));
        routers
    }

    /// The API resource of a kind, looked up once through discovery.
    fn resource(&self, api_version: &str, kind: &str) -> (ApiResource, Scope) {
        let key = (api_version.to_string(), kind.to_string());
        if let Some(found) = self.resources.lock().unwrap().get(&key) {
            return found.clone();
        }
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (resource, capabilities) = self
            .runtime
            .block_on(kube::discovery::pinned_kind(&self.client, &gvk))
            .unwrap_or_else(|e| panic!("discovering {api_version} {kind}: {e}"));
        let found = (resource, capabilities.scope);
        self.resources.lock().unwrap().insert(key, found.clone());
        found
    }

    fn api(&self, api_version: &str, kind: &str) -> Api<DynamicObject> {
        match self.resource(api_version, kind) {
            (resource, Scope::Namespaced) => Api::namespaced_with(self.client.clone(), NAMESPACE, &resource),
            (resource, Scope::Cluster) => Api::all_with(self.client.clone(), &resource),
        }
    }

    fn create(&self, object: &Value) {
        let (api_version, kind) = (object["apiVersion"].as_str().unwrap(), object["kind"].as_str().unwrap());
        let name = object["metadata"]["name"].as_str().unwrap();
        let body: DynamicObject = serde_json::from_value(object.clone()).unwrap();
        self.runtime
            .block_on(self.api(api_version, kind).create(&PostParams::default(), &body))
            .unwrap_or_else(|e| panic!("creating {kind} {name}: {e}"));
        if matches!(self.resource(api_version, kind).1, Scope::Cluster) && kind != "Namespace" {
            self.cluster_scoped.lock().unwrap().push((api_version.into(), kind.into(), name.into()));
        }
    }

    /// Creates every object of a fixture, in file order.
    fn apply_fixture(&self, file: &str) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/routers").join(file);
        let text = fs::read_to_string(&path).unwrap();
        for document in serde_norway::Deserializer::from_str(&text) {
            let object: Value = serde::Deserialize::deserialize(document).unwrap();
            if !object.is_null() {
                self.create(&object);
            }
        }
    }

    fn get(&self, api_version: &str, kind: &str, name: &str) -> Value {
        let found = self.runtime.block_on(self.api(api_version, kind).get(name));
        serde_json::to_value(found.unwrap_or_else(|e| panic!("getting {kind} {name}: {e}"))).unwrap()
    }

    fn rollout(&self, router: Router) -> Value {
        self.get("argoproj.io/v1alpha1", "Rollout", router.rollout())
    }

    fn route(&self, router: Router) -> Value {
        let (api_version, kind, name) = router.route();
        self.get(api_version, kind, name)
    }

    fn patch_rollout(&self, router: Router, status: bool, patch: Value) {
        let rollouts = self.api("argoproj.io/v1alpha1", "Rollout");
        let params = PatchParams::default();
        let name = router.rollout();
        let done = if status {
            self.runtime.block_on(rollouts.patch_status(name, &params, &Patch::Merge(&patch)))
        } else {
            self.runtime.block_on(rollouts.patch(name, &params, &Patch::Merge(&patch)))
        };
        done.unwrap_or_else(|e| panic!("patching Rollout {name} with {patch}: {e}"));
    }

    /// Waits until every router's probe gives a value for a Rollout the controller has left alone
    /// for `SETTLE` (same resourceVersion); on timeout shows each Rollout's status and route.
    ///
    /// Settled, because the next step writes to the Rollout: the controller (v1.9.1) writes each
    /// object it has just patched back into its informer cache, and a write of ours landing between
    /// its patch and that write-back is lost to it (the cache goes back to the older object, and
    /// no event follows): a promote sent the moment a pause appeared left the Gateway API rollout
    /// (the slowest to reconcile, through the plugin) paused for good. Upstream:
    /// argoproj/argo-rollouts#4073 and #4694, fixed by #4786 after v1.9.1.
    fn wait_all<T>(&self, what: &str, mut probe: impl FnMut(Router, &Value, &Value) -> Option<T>) -> Vec<T> {
        let mut done: BTreeMap<usize, T> = BTreeMap::new();
        let mut versions: BTreeMap<usize, (String, Instant)> = BTreeMap::new();
        let started = Instant::now();
        self.bed.wait_until(
            what,
            PATIENCE,
            || {
                for (i, router) in Router::ALL.into_iter().enumerate() {
                    if done.contains_key(&i) {
                        continue;
                    }
                    let rollout = self.rollout(router);
                    let version = rollout["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_string();
                    if versions.get(&i).is_none_or(|(seen, _)| *seen != version) {
                        versions.insert(i, (version, Instant::now()));
                    }
                    if versions[&i].1.elapsed() < SETTLE {
                        continue;
                    }
                    if let Some(value) = probe(router, &rollout, &self.route(router)) {
                        println!("routers: {router:?}: {what} after {:.1}s", started.elapsed().as_secs_f64());
                        done.insert(i, value);
                    }
                }
                (done.len() == Router::ALL.len()).then_some(())
            },
            || self.describe(),
        );
        done.into_values().collect()
    }

    fn describe(&self) -> String {
        let mut out = String::new();
        for router in Router::ALL {
            let rollout = self.rollout(router);
            let status = &rollout["status"];
            let route = self.route(router);
            out += &format!(
                "\n{router:?}: phase {} ({}), step {}, pauseConditions {}, controllerPause {}, abort {}, stableRS {}, currentPodHash {}; weights {:?}; {} {}",
                status["phase"],
                status["message"],
                status["currentStepIndex"],
                status["pauseConditions"],
                status["controllerPause"],
                status["abort"],
                status["stableRS"],
                status["currentPodHash"],
                router.weights(&route),
                route["kind"].as_str().unwrap_or_default(),
                match router {
                    Router::Alb => route["metadata"]["annotations"].to_string(),
                    _ => route["spec"].to_string(),
                }
            );
        }
        out
    }

    /// Deletes the namespace and the fixtures' cluster-scoped objects; waits (bounded) for the
    /// namespace to be gone.
    fn cleanup(&self) {
        for (api_version, kind, name) in self.cluster_scoped.lock().unwrap().drain(..) {
            let _ = self.runtime.block_on(self.api(&api_version, &kind).delete(&name, &DeleteParams::default()));
        }
        let namespaces = self.api("v1", "Namespace");
        let _ = self.runtime.block_on(namespaces.delete(NAMESPACE, &DeleteParams::default()));
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if matches!(self.runtime.block_on(namespaces.get_opt(NAMESPACE)), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        eprintln!(
            "routers: namespace {NAMESPACE} still terminating after 60s (the bed goes down with the test binary)"
        );
    }
}

impl Drop for Routers {
    /// A failed test cleans up too (the bed itself is stopped when the test binary ends).
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.cleanup();
        }
    }
}

/// The Rollout is paused by its own pause step `step` of the current spec.
fn paused_at(rollout: &Value, step: i64) -> bool {
    let status = &rollout["status"];
    status["observedGeneration"].as_str().map(str::to_string)
        == rollout["metadata"]["generation"].as_i64().map(|g| g.to_string())
        && status["currentStepIndex"] == step
        && status["pauseConditions"].as_array().is_some_and(|c| c.iter().any(|c| c["reason"] == "CanaryPauseStep"))
        && status["stableRS"] != status["currentPodHash"]
}

/// What the subset-level Istio route's DestinationRule says: each subset's pod-template hash.
fn subset_hashes(routers: &Routers) -> BTreeMap<String, String> {
    let rule = routers.get("networking.istio.io/v1", "DestinationRule", Router::IstioSubset.rollout());
    rule["spec"]["subsets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let hash = s["labels"]["rollouts-pod-template-hash"].as_str().unwrap_or_default();
            (s["name"].as_str().unwrap().to_string(), hash.to_string())
        })
        .collect()
}

#[test]
fn canary_weights_reach_istio_alb_and_gateway_api_routes() {
    let routers = Routers::start();
    for router in Router::ALL {
        routers.apply_fixture(router.fixture());
    }

    // First revision: Healthy, all traffic on stable.
    let stable_hashes = routers.wait_all("Healthy on the first image", |_, rollout, _| {
        healthy(rollout).then(|| rollout["status"]["stableRS"].as_str().unwrap().to_string())
    });
    for router in Router::ALL {
        let route = routers.route(router);
        // The controller may or may not have written anything yet: what is there says 0/100.
        assert_eq!(router.weights(&route).unwrap_or((0, 100)), (0, 100), "{router:?}: {route:#}");
    }

    // Second revision: the first step's weight reaches every router, and the rollout pauses.
    for router in Router::ALL {
        let containers = json!([{"name": "app", "image": format!("{IMAGE}:2")}]);
        routers.patch_rollout(router, false, json!({"spec": {"template": {"spec": {"containers": containers}}}}));
    }
    routers.wait_all("paused at step 1 with 20% on the canary", |router, rollout, route| {
        (paused_at(rollout, 1) && router.weights(route) == Some((20, 80))).then_some(())
    });
    let hashes = subset_hashes(&routers);
    let subset = routers.rollout(Router::IstioSubset);
    assert_eq!(hashes["stable"], subset["status"]["stableRS"].as_str().unwrap(), "{hashes:?}");
    assert_eq!(hashes["canary"], subset["status"]["currentPodHash"].as_str().unwrap(), "{hashes:?}");
    let httproute = routers.route(Router::GatewayApi);
    assert_eq!(httproute["metadata"]["labels"][GATEWAY_IN_PROGRESS], "in-progress", "{httproute:#}");

    // Promote as `kubectl argo rollouts promote` does at a pause step: clear the pause conditions.
    for router in Router::ALL {
        routers.patch_rollout(router, true, json!({"status": {"pauseConditions": null}}));
    }
    routers.wait_all("paused at step 3 with 50% on the canary", |router, rollout, route| {
        (paused_at(rollout, 3) && router.weights(route) == Some((50, 50))).then_some(())
    });

    // Abort as `kubectl argo rollouts abort` (and `glidepath rollback`) do: all traffic to stable.
    for router in Router::ALL {
        routers.patch_rollout(router, true, json!({"status": {"abort": true}}));
    }
    routers.wait_all("aborted with all traffic back on stable", |router, rollout, route| {
        let status = &rollout["status"];
        (status["abort"] == true && status["phase"] == "Degraded" && router.weights(route) == Some((0, 100)))
            .then_some(())
    });
    for (router, stable) in Router::ALL.into_iter().zip(&stable_hashes) {
        assert_eq!(routers.rollout(router)["status"]["stableRS"], stable.as_str(), "{router:?}: stable unchanged");
    }
    assert_eq!(subset_hashes(&routers)["stable"], stable_hashes[1], "subset stable still the first revision");
    let httproute = routers.route(Router::GatewayApi);
    assert!(httproute["metadata"]["labels"].get(GATEWAY_IN_PROGRESS).is_none(), "{httproute:#}");

    // What the controller left in each router's objects, for whoever renders and plans them.
    for router in Router::ALL {
        let mut objects = vec![routers.route(router)];
        if let Router::IstioSubset = router {
            objects.push(routers.get("networking.istio.io/v1", "DestinationRule", router.rollout()));
        }
        for object in objects {
            let metadata = &object["metadata"];
            let shown =
                json!({"labels": metadata["labels"], "annotations": metadata["annotations"], "spec": object["spec"]});
            println!("routers: {router:?} {} after abort: {shown}", object["kind"].as_str().unwrap_or_default());
        }
    }
    routers.cleanup();
}

// ---------------------------------------------------------------------------------------------
// glidepath's own rendering of the three routers (tests/fixtures/routers/catalog.hcl)
// ---------------------------------------------------------------------------------------------

/// The rendered services, each on its own router: (service, apiVersion and kind of its route).
const RENDERED: [(&str, &str, &str); 3] = [
    ("mesh", "networking.istio.io/v1", "VirtualService"),
    ("edge", "networking.k8s.io/v1", "Ingress"),
    ("gateway", "gateway.networking.k8s.io/v1", "HTTPRoute"),
];

/// (canary, stable) weights in a rendered route object: the stable Service is the service's
/// name, the canary Service `NAME-canary`.
fn rendered_weights(service: &str, route: &Value) -> Option<Weights> {
    let canary = format!("{service}-canary");
    let pairs: Vec<(String, i64)> = match route["kind"].as_str()? {
        "VirtualService" => {
            let primary = route["spec"]["http"].as_array()?.iter().find(|r| r["name"] == "primary")?;
            let dests = primary["route"].as_array()?;
            dests.iter().map(|d| (string(&d["destination"]["host"]), d["weight"].as_i64().unwrap_or(0))).collect()
        }
        "Ingress" => {
            let key = format!("alb.ingress.kubernetes.io/actions.{service}");
            let action: Value = serde_json::from_str(route["metadata"]["annotations"][key].as_str()?).ok()?;
            let groups = action["ForwardConfig"]["TargetGroups"].as_array()?;
            groups.iter().map(|g| (string(&g["ServiceName"]), g["Weight"].as_i64().unwrap_or(-1))).collect()
        }
        _ => {
            let refs = route["spec"]["rules"][0]["backendRefs"].as_array()?;
            refs.iter().map(|b| (string(&b["name"]), b["weight"].as_i64().unwrap_or(-1))).collect()
        }
    };
    let weight = |name: &str| pairs.iter().find(|(n, _)| n == name).map(|(_, w)| *w);
    Some((weight(&canary)?, weight(service)?))
}

struct Rendered {
    bed: &'static Bed,
    work: tempfile::TempDir,
    namespace: String,
    runtime: tokio::runtime::Runtime,
    client: kube::Client,
}

impl Rendered {
    fn start(name: &str) -> Rendered {
        let bed = e2e::shared();
        e2e::FakeApps::shared(bed);
        let work = tempfile::tempdir().unwrap();
        let catalog =
            fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/routers/catalog.hcl"))
                .unwrap()
                .replace("@NAME@", name)
                .replace("@PROMETHEUS@", &bed.prometheus_url);
        fs::create_dir(work.path().join("catalog")).unwrap();
        fs::write(work.path().join("catalog/catalog.hcl"), catalog).unwrap();
        let (runtime, client) = bed.client();
        Rendered { bed, work, namespace: format!("{name}-e2e"), runtime, client }
    }

    fn glidepath(&self, args: &[&str]) -> std::process::Output {
        let mut all = vec![args[0], "-c", "catalog", "--only", "cluster"];
        all.extend_from_slice(&args[1..]);
        support::glidepath_command()
            .args(&all)
            .current_dir(self.work.path())
            .env("KUBECONFIG", &self.bed.kubeconfig)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    }

    fn apply(&self) {
        let out = self.glidepath(&["apply", "--auto-approve"]);
        let shown = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(0), "apply failed:\n{shown}");
    }

    /// `plan` and `drift` both find nothing to do (exit 0 with --detailed-exitcode).
    fn assert_quiet(&self, when: &str) {
        for command in ["plan", "drift"] {
            let out = self.glidepath(&[command, "--detailed-exitcode"]);
            let shown = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert_eq!(out.status.code(), Some(0), "{command} {when} must be empty:\n{shown}");
        }
    }

    /// The API of a kind glidepath manages, addressed as its registry declares it.
    fn api(&self, api_version: &str, kind: &str) -> Api<DynamicObject> {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let plural = KubeKind::parse(kind).unwrap_or_else(|| panic!("{kind} is not a registered kind")).api().plural;
        let resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
        Api::namespaced_with(self.client.clone(), &self.namespace, &resource)
    }

    fn get(&self, api_version: &str, kind: &str, name: &str) -> Value {
        let found = self.runtime.block_on(self.api(api_version, kind).get(name));
        serde_json::to_value(found.unwrap_or_else(|e| panic!("getting {kind} {name}: {e}"))).unwrap()
    }

    fn rollout(&self, service: &str) -> Value {
        self.get("argoproj.io/v1alpha1", "Rollout", service)
    }

    /// Waits for every service's Rollout and route to satisfy `probe`, once the Rollout has
    /// stayed unchanged for `SETTLE` (see `Routers::wait_all` for why).
    fn wait_all(&self, what: &str, probe: impl Fn(&str, &Value, &Value) -> bool) {
        let mut versions: BTreeMap<&str, (String, Instant)> = BTreeMap::new();
        self.bed.wait_until(
            what,
            PATIENCE,
            || {
                let mut all = true;
                for (service, api_version, kind) in RENDERED {
                    let rollout = self.rollout(service);
                    let version = rollout["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_string();
                    if versions.get(service).is_none_or(|(seen, _)| *seen != version) {
                        versions.insert(service, (version, Instant::now()));
                    }
                    let settled = versions[service].1.elapsed() >= SETTLE;
                    all &= settled && probe(service, &rollout, &self.get(api_version, kind, service));
                }
                all.then_some(())
            },
            || {
                RENDERED
                    .iter()
                    .map(|(service, api_version, kind)| {
                        let status = &self.rollout(service)["status"];
                        let route = self.get(api_version, kind, service);
                        format!(
                            "\n{service}: phase {} step {} pause {} abort {} weights {:?}",
                            status["phase"],
                            status["currentStepIndex"],
                            status["pauseConditions"],
                            status["abort"],
                            rendered_weights(service, &route)
                        )
                    })
                    .collect()
            },
        );
    }

    fn patch_status(&self, service: &str, patch: Value) {
        let rollouts = self.api("argoproj.io/v1alpha1", "Rollout");
        self.runtime
            .block_on(rollouts.patch_status(service, &PatchParams::default(), &Patch::Merge(&patch)))
            .unwrap_or_else(|e| panic!("patching {service}'s status with {patch}: {e}"));
    }

    fn cleanup(&self) {
        let namespaces: Api<DynamicObject> =
            Api::all_with(self.client.clone(), &ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "Namespace")));
        let _ = self.runtime.block_on(namespaces.delete(&self.namespace, &DeleteParams::default()));
    }
}

#[test]
fn rendered_routes_are_reweighted_by_the_controller_and_plans_stay_empty() {
    let rendered = Rendered::start("rrouted");
    rendered.apply();
    rendered.wait_all("every service Healthy on its first image", |_, rollout, _| healthy(rollout));
    rendered.assert_quiet("after the first apply");

    // A new image for every service: each router gets the first step's weight, and pauses.
    let catalog = rendered.work.path().join("catalog/catalog.hcl");
    let text = fs::read_to_string(&catalog).unwrap().replace("image_tag = \"1.0.0\"", "image_tag = \"1.1.0\"");
    fs::write(&catalog, text).unwrap();
    rendered.apply();
    // Steps: 0 setHeaderRoute (Istio only), then setWeight 20, pause, setWeight 50, pause, 100.
    let first_pause = |service: &str| if service == "mesh" { 2 } else { 1 };
    rendered.wait_all("paused at 20% on the canary", |service, rollout, route| {
        paused_at(rollout, first_pause(service)) && rendered_weights(service, route) == Some((20, 80))
    });
    let mesh = rendered.get("networking.istio.io/v1", "VirtualService", "mesh");
    assert_eq!(mesh["spec"]["http"][0]["name"], "canary-header", "the header route is in place: {mesh:#}");
    // The controller now owns weights, the header route and the ALB action: nothing to plan.
    rendered.assert_quiet("while the controller holds 20% on each canary");

    for (service, _, _) in RENDERED {
        rendered.patch_status(service, json!({"status": {"pauseConditions": null}}));
    }
    rendered.wait_all("paused at 50% on the canary", |service, rollout, route| {
        paused_at(rollout, first_pause(service) + 2) && rendered_weights(service, route) == Some((50, 50))
    });
    rendered.assert_quiet("at 50%");

    for (service, _, _) in RENDERED {
        rendered.patch_status(service, json!({"status": {"abort": true}}));
    }
    rendered.wait_all("aborted, all traffic back on stable", |service, rollout, route| {
        rollout["status"]["abort"] == true && rendered_weights(service, route) == Some((0, 100))
    });
    let mesh = rendered.get("networking.istio.io/v1", "VirtualService", "mesh");
    assert!(mesh["spec"]["http"].as_array().unwrap().iter().all(|r| r["name"] == "primary"), "{mesh:#}");
    rendered.assert_quiet("after the abort");
    rendered.cleanup();
}
