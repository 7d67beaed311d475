//! The cluster provider: server-side apply with field manager `glidepath`, through the kube
//! crate. Plans list each kind once per environment; a manifest equal to what glidepath last
//! applied (`applied`, read from the listed object's managed fields) is unchanged, and every
//! other one is compared through the server's dry-run of it, so server defaults and fields
//! other managers own (an HPA's replicas) never show as changes.

mod applied;
mod argocd;
pub(crate) mod controller_fields;
mod listed;
mod migration;
mod normalize;
mod requests;
mod rollback;
mod status;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use futures::stream::FuturesUnordered;
use futures::{stream, FutureExt, StreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::ApiResource;
use serde_json::Value;

use super::{fault, timeout, Answers, CallStats, Conflict, ErrorKind, LiveSet, Provider, ProviderError};
use crate::catalog::Model;
use crate::kinds::{Crd, Kind, KubeApi, KubeKind, ProviderId};
use crate::plan::{Action, Change, Permissions, Selection};
use crate::render::address::SHARED_OWNER;
use crate::render::kube::{CATALOG_LABEL, ENV_LABEL, MANAGED_BY, SERVICE_LABEL};
use crate::render::{Address, DesiredSet, Resource};
use crate::state::State;
use applied::Fallback;
use normalize::normalize;
use requests::{with_backoff, RequestError, IN_FLIGHT, THROTTLED, TIMED_OUT};
pub use rollback::{RollbackOutcome, RolledBack};
pub use status::{AnalysisSummary, MetricSummary, Replicas, RolloutProgress};

pub const FIELD_MANAGER: &str = "glidepath";

/// How to reach the clusters: a kubeconfig file and, optionally, one context for every environment.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// The kubeconfig files, merged as kubectl merges a `KUBECONFIG` list (the first file to set
    /// a value wins).
    pub kubeconfig: Vec<PathBuf>,
    pub context: Option<String>,
    /// Take over fields another field manager owns.
    pub force_conflicts: bool,
}

impl Access {
    /// Whether a kubeconfig is available: the files `KUBECONFIG` lists (`a:b`, as kubectl reads
    /// it), or `~/.kube/config`.
    pub fn from_env(context: Option<String>, force_conflicts: bool) -> Option<Access> {
        let listed: Vec<PathBuf> = std::env::var_os("KUBECONFIG")
            .map(|v| std::env::split_paths(&v).filter(|p| !p.as_os_str().is_empty()).collect())
            .unwrap_or_default();
        let kubeconfig = if listed.is_empty() {
            let default = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".kube/config"))?;
            vec![default].into_iter().filter(|p| p.exists()).collect()
        } else {
            listed
        };
        (!kubeconfig.is_empty()).then_some(Access { kubeconfig, context, force_conflicts })
    }

    /// The files, as `KUBECONFIG` would list them (for messages).
    fn shown(&self) -> String {
        std::env::join_paths(&self.kubeconfig)
            .map(|p| p.to_string_lossy().to_string())
            .unwrap_or_else(|_| format!("{:?}", self.kubeconfig))
    }

    /// The files merged into one kubeconfig. A listed file that does not exist is skipped, as
    /// kubectl skips it; one that exists but does not parse is an error.
    fn load(&self) -> Result<Kubeconfig, ProviderError> {
        let mut merged: Option<Kubeconfig> = None;
        for path in self.kubeconfig.iter().filter(|p| p.exists()) {
            let next = Kubeconfig::read_from(path)
                .map_err(|e| error("cluster", "read kubeconfig", format!("{}: {e}", path.display())))?;
            merged = Some(match merged {
                None => next,
                Some(first) => first
                    .merge(next)
                    .map_err(|e| error("cluster", "read kubeconfig", format!("merging {}: {e}", path.display())))?,
            });
        }
        merged.ok_or_else(|| error("cluster", "read kubeconfig", format!("none of {} exists", self.shown())))
    }
}

struct EnvCluster {
    client: kube::Client,
    namespace: String,
    /// Which context, for messages.
    context: String,
    /// The API server's URL, for messages (which server did not answer).
    server: String,
}

pub struct KubeProvider {
    runtime: tokio::runtime::Runtime,
    catalog: String,
    envs: BTreeMap<String, EnvCluster>,
    /// Predict with `--force-conflicts`: the dry-run takes contested fields back, as apply will.
    force_conflicts: bool,
    /// How long one attempt of a request may take (`providers::timeout`).
    limit: Duration,
    calls: Mutex<BTreeMap<String, u64>>,
}

fn error(target: &str, action: &str, reason: impl Into<String>) -> ProviderError {
    ProviderError::new(ErrorKind::Failed, target, action, reason)
}

fn api_resource(kind: &str, api: KubeApi) -> ApiResource {
    ApiResource {
        group: api.group.to_string(),
        version: api.version.to_string(),
        api_version: api.api_version(),
        kind: kind.to_string(),
        plural: api.plural.to_string(),
    }
}

/// kube errors → one line: the server's own message where there is one, and which server did
/// not answer when none did.
fn diagnose(err: RequestError, target: &str, action: &str, env: &str, cluster: &EnvCluster) -> ProviderError {
    let context = &cluster.context;
    let err = match err {
        RequestError::Kube(err) => err,
        RequestError::TimedOut { limit, attempts } => {
            let reason = format!(
                "the API server of environment {env} ({}, context {context}) did not answer within {} ({attempts} attempt(s); {} sets the limit per attempt)",
                cluster.server,
                timeout::shown(limit),
                timeout::VARIABLE
            );
            return ProviderError::new(ErrorKind::Unreachable, target, action, reason);
        }
    };
    let (kind, reason) = match &err {
        kube::Error::Api(status) => match status.code {
            403 => (ErrorKind::Denied, format!("forbidden in environment {env}: {}", status.message)),
            404 => (ErrorKind::NotFound, format!("not found in environment {env}: {}", status.message)),
            409 => (ErrorKind::Conflict, format!("conflict in environment {env}: {}", status.message)),
            422 | 400 => {
                (ErrorKind::Rejected, format!("rejected by the API server in environment {env}: {}", status.message))
            }
            429 => {
                (ErrorKind::Throttled, format!("throttled by the API server in environment {env}: {}", status.message))
            }
            code => (ErrorKind::Failed, format!("API server answered {code} in environment {env}: {}", status.message)),
        },
        kube::Error::HyperError(_) | kube::Error::Service(_) => (
            ErrorKind::Unreachable,
            format!("cannot reach the cluster of environment {env} ({}, context {context}): {err}", cluster.server),
        ),
        other => (ErrorKind::Failed, format!("{other} (environment {env}, context {context})")),
    };
    ProviderError::new(kind, target, action, reason)
}

impl KubeProvider {
    /// One client per selected environment, from the kubeconfig context the environment's
    /// cluster names (or `access.context` for all of them).
    pub fn connect(model: &Model, selection: &Selection, access: &Access) -> Result<Self, ProviderError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| error("cluster", "start", e.to_string()))?;
        let limit = timeout::request().map_err(|reason| error("cluster", "configure", reason))?;
        let kubeconfig = access.load()?;
        // Clients spawn their connection workers on the runtime they are made in.
        let _entered = runtime.enter();
        let mut envs = BTreeMap::new();
        for env in model.environments.iter().filter(|e| selection.envs.is_empty() || selection.envs.contains(&e.name)) {
            let context = access
                .context
                .clone()
                .or_else(|| model.cluster(&env.cluster).and_then(|c| c.kube_context.clone()))
                .or_else(|| kubeconfig.current_context.clone())
                .unwrap_or_default();
            let options = KubeConfigOptions { context: Some(context.clone()), ..Default::default() };
            let config = runtime
                .block_on(kube::Config::from_custom_kubeconfig(kubeconfig.clone(), &options))
                .map_err(|e| {
                    let known: Vec<&str> = kubeconfig.contexts.iter().map(|c| c.name.as_str()).collect();
                    error(
                        &format!("environment {}", env.name),
                        "configure",
                        format!(
                            "kubeconfig {} has no usable context `{context}` ({e}); known contexts: {}; set the cluster's kube_context, pass --kube-context, or plan against the state file alone with --offline",
                            access.shown(),
                            known.join(", ")
                        ),
                    )
                })?;
            // Every request, its connection included, is bounded by `with_backoff`'s limit (the
            // client's own connect limit, 30 s, is for a limit longer than that).
            let server = config.cluster_url.to_string();
            let client = kube::Client::try_from(config)
                .map_err(|e| error(&format!("environment {}", env.name), "configure", e.to_string()))?;
            envs.insert(env.name.clone(), EnvCluster { client, namespace: env.namespace.clone(), context, server });
        }
        Ok(KubeProvider {
            runtime,
            catalog: model.platform.name.clone(),
            envs,
            force_conflicts: access.force_conflicts,
            limit,
            calls: Mutex::new(BTreeMap::new()),
        })
    }

    /// `dev: context kind-a, prod: context kind-b`, for plan headers.
    pub fn describe(&self) -> String {
        self.envs.iter().map(|(env, c)| format!("{env}: context {}", c.context)).collect::<Vec<_>>().join(", ")
    }

    fn count(&self, what: String) {
        *self.calls.lock().expect("calls lock").entry(what).or_default() += 1;
    }

    /// Counts a request counted as `what` as throttled instead: the server answered 429.
    fn throttled(&self, what: &str) {
        self.recount(what, THROTTLED);
    }

    /// Counts a request counted as `what` as `instead`: it was sent again.
    fn recount(&self, what: &str, instead: &str) {
        let mut calls = self.calls.lock().expect("calls lock");
        if let Some(n) = calls.get_mut(what) {
            *n -= 1;
            if *n == 0 {
                calls.remove(what);
            }
        }
        *calls.entry(instead.to_string()).or_default() += 1;
    }

    /// One request (made anew for each attempt), counted as `what` for `--stats`, within the
    /// limits of `requests::with_backoff`: 429s waited out, a silent server abandoned in time.
    async fn request<T, F, Fut>(&self, what: &str, mut request: F) -> Result<T, RequestError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        with_backoff(
            self.limit,
            || self.throttled(what),
            || self.recount(what, TIMED_OUT),
            || {
                self.count(what.to_string());
                request()
            },
        )
        .await
    }

    /// A request sent once (rollback's patches, status' lists), within the limit.
    fn once<T>(&self, what: &str, request: impl Future<Output = Result<T, kube::Error>>) -> Result<T, RequestError> {
        self.count(what.to_string());
        // The timer is made inside the runtime (it needs its clock).
        match self.runtime.block_on(async { tokio::time::timeout(self.limit, request).await }) {
            Ok(answer) => answer.map_err(RequestError::Kube),
            Err(_) => Err(RequestError::TimedOut { limit: self.limit, attempts: 1 }),
        }
    }

    fn api(&self, env: &str, kind: KubeKind) -> Api<DynamicObject> {
        self.api_for(env, kind.name(), kind.api())
    }

    /// The API of any kind, including ones glidepath reads but does not manage (AnalysisRuns).
    fn api_for(&self, env: &str, kind: &str, api: KubeApi) -> Api<DynamicObject> {
        let cluster = &self.envs[env];
        let resource = api_resource(kind, api);
        if api.namespaced {
            Api::namespaced_with(cluster.client.clone(), &cluster.namespace, &resource)
        } else {
            Api::all_with(cluster.client.clone(), &resource)
        }
    }

    /// The CRDs of the kinds the registry marks required (Argo Rollouts') must be installed
    /// before anything is planned: one discovery call per API group version.
    /// Fails early, with what to install, when the cluster does not serve a kind the plan needs.
    fn check_crds(&self, env: &str, kinds: &[KubeKind]) -> Result<(), ProviderError> {
        let cluster = &self.envs[env];
        let target = format!("cluster of environment {env}");
        let mut wanted: BTreeMap<String, Vec<KubeKind>> = BTreeMap::new();
        for kind in kinds.iter().filter(|k| k.api().crd != Crd::BuiltIn) {
            wanted.entry(kind.api().api_version()).or_default().push(*kind);
        }
        for (group_version, kinds) in wanted {
            let what = format!("get apis/{group_version}");
            let discovery = self.request(&what, || cluster.client.list_api_group_resources(&group_version));
            let served: BTreeSet<String> = match self.runtime.block_on(discovery) {
                Ok(list) => list.resources.into_iter().map(|r| r.name).collect(),
                Err(RequestError::Kube(kube::Error::Api(status))) if status.code == 404 => BTreeSet::new(),
                Err(e) => return Err(diagnose(e, &target, "discovery", env, cluster)),
            };
            if let Some(kind) = kinds.iter().find(|k| !served.contains(k.api().plural)) {
                return Err(ProviderError::new(ErrorKind::NotFound, &target, "discovery", crd_hint(*kind)));
            }
        }
        Ok(())
    }

    fn namespace_exists(&self, env: &str) -> Result<bool, ProviderError> {
        let name = self.envs[env].namespace.clone();
        let api = self.api(env, KubeKind::Namespace);
        self.runtime
            .block_on(self.request("get namespaces", || api.get_opt(&name)))
            .map(|o| o.is_some())
            .map_err(|e| diagnose(e, &format!("Namespace {name}"), "get", env, &self.envs[env]))
    }

    /// The environment and kind of a cluster object's address.
    fn locate(address: &Address) -> Result<(&str, KubeKind), ProviderError> {
        match (address.env(), address.kind) {
            (Some(env), Kind::Kube(kind)) => Ok((env, kind)),
            _ => Err(ProviderError::new(
                ErrorKind::Rejected,
                &address.to_string(),
                "apply",
                "not a cluster object of an environment",
            )),
        }
    }

    /// One server-side apply, retried with backoff while the server throttles it (429).
    async fn server_side_apply_async(
        &self,
        address: &Address,
        manifest: &Value,
        dry_run: bool,
        force: bool,
    ) -> Result<Value, ProviderError> {
        let (env, kind) = Self::locate(address)?;
        let api = kind.api();
        let mut params = PatchParams::apply(FIELD_MANAGER);
        if dry_run {
            params = params.dry_run();
        }
        if force {
            params = params.force();
        }
        let what = format!("{} {}", if dry_run { "apply(dry-run)" } else { "apply" }, api.plural);
        let action = if dry_run { "server-side apply (dry run)" } else { "server-side apply" };
        let client = self.api(env, kind);
        let patch = Patch::Apply(manifest);
        let applied = self
            .request(&what, || client.patch(address.name(), &params, &patch))
            .await
            .map_err(|e| diagnose(e, &address.to_string(), action, env, &self.envs[env]))?;
        fault::after(&what);
        let value = serde_json::to_value(applied).map_err(|e| error(&address.to_string(), action, e.to_string()))?;
        Ok(normalize(value, kind))
    }
}

/// What to install when the cluster does not serve `kind`.
fn crd_hint(kind: KubeKind) -> String {
    let api = kind.api();
    let missing = format!("the cluster does not serve {} ({})", api.plural, api.api_version());
    let install = match kind {
        KubeKind::AnalysisTemplate | KubeKind::Rollout => {
            "install Argo Rollouts first (kubectl apply -k \
             'https://github.com/argoproj/argo-rollouts/manifests/crds?ref=v1.9.1')"
        }
        KubeKind::VirtualService => {
            "the catalog routes traffic with Istio here: install Istio (istioctl install, or its base \
             Helm chart for the CRDs) or choose another `traffic.router`"
        }
        KubeKind::HttpRoute => {
            "the catalog routes traffic with the Gateway API here: install its CRDs (kubectl apply -f \
             https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.2.1/standard-install.yaml), \
             a Gateway controller and the Argo Rollouts gatewayAPI plugin, or choose another `traffic.router`"
        }
        KubeKind::Namespace
        | KubeKind::ServiceAccount
        | KubeKind::ConfigMap
        | KubeKind::Service
        | KubeKind::PodDisruptionBudget
        | KubeKind::HorizontalPodAutoscaler
        | KubeKind::Ingress
        | KubeKind::Job => "it is a built-in kind: check the cluster's Kubernetes version",
    };
    format!("{missing}: {install}")
}

/// A listed object reduced to what the plan needs, as soon as its list is read: a listed object
/// with its managed fields is several times its body, and holding an environment's lists (or
/// every extraction until the last list came in) held them all at once.
struct Listed {
    address: Address,
    kind: KubeKind,
    /// The object as `normalize` leaves it: what the plan compares.
    body: Value,
    /// What glidepath last applied to it (`applied::extract_from`), or why it cannot be told
    /// without the server.
    applied: Result<Value, Fallback>,
    /// The spec as the server returned it, before `normalize` drops what controllers write, for
    /// the kinds whose controller-written fields an apply carries over (`carry_over` reads it).
    controller_spec: Option<Value>,
    /// A migration Job's verdict: failed (an error), or not finished (why apply waits for it).
    job: Option<Result<Option<String>, ProviderError>>,
}

/// Why each listed object of an environment that is not unchanged goes to the server's
/// dry-run (for the debug log); the unchanged ones are settled as they are listed.
type Fallbacks = BTreeMap<Address, Fallback>;

/// Whether an object carries the ownership labels `ownership_selector` lists by.
fn is_owned(item: &DynamicObject, catalog: &str, env: &str) -> bool {
    let Some(labels) = item.metadata.labels.as_ref() else { return false };
    let is = |key: &str, value: &str| labels.get(key).map(String::as_str) == Some(value);
    is(MANAGED_BY, "glidepath") && is(CATALOG_LABEL, catalog) && is(ENV_LABEL, env)
}

/// Where a listed object belongs: its environment, its service label's owner, kind and name.
fn owned_address(env: &str, kind: KubeKind, metadata: &ObjectMeta) -> Address {
    let owner = metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(SERVICE_LABEL).cloned())
        .unwrap_or_else(|| SHARED_OWNER.to_string());
    Address::scoped(env, &owner, kind, metadata.name.clone().unwrap_or_default())
}

/// Whether `address` (or an object of the same kind and name in its environment, listed under
/// another service's address) has been read already, settled or not.
fn already_read(live: &LiveSet, address: &Address) -> bool {
    let same = |a: &Address| a.env() == address.env() && a.kind == address.kind && a.name() == address.name();
    live.bodies.keys().any(same) || live.as_desired.iter().any(same)
}

impl KubeProvider {
    /// Reduces an owned object read from the cluster (see `Listed`), at `address` or, when none
    /// is given, where its labels place it.
    fn reduce(
        &self,
        env: &str,
        kind: KubeKind,
        item: Value,
        address: Option<&Address>,
    ) -> Result<Listed, ProviderError> {
        let unreadable =
            |e: serde_json::Error| error(&format!("{} in environment {env}", kind.api().plural), "list", e.to_string());
        // The managed fields are taken out before anything else is made of the object: they are
        // most of a listed object, and only what glidepath applied is kept of them.
        let (value, metadata, entries) = listed::as_typed(item).map_err(unreadable)?;
        let address = address.cloned().unwrap_or_else(|| owned_address(env, kind, &metadata));
        drop(metadata);
        let job = (kind == KubeKind::Job)
            .then(|| self.refuse_failed_job(&address, &value).map(|()| self.unfinished_job(&address, &value)));
        // Comparisons leave controller-written fields out; the apply must send them back.
        let controller_spec =
            controller_fields::carries(kind).then(|| serde_json::json!({ "spec": value["spec"].clone() }));
        let applied = applied::extract_from(entries, &value, FIELD_MANAGER, &kind.api().api_version());
        // Made anew, each map and list of exactly its size: as parsed, they keep the room they
        // grew into, and the body is kept for the whole plan.
        let body = serde_json::to_value(normalize(value, kind)).map_err(unreadable)?;
        Ok(Listed { body, address, kind, applied, controller_spec, job })
    }

    /// One kind's list in `env`, each object reduced and taken as it is parsed
    /// (`listed::each_item`).
    async fn list_taken(
        &self,
        env: &str,
        kind: KubeKind,
        params: &ListParams,
        taking: &RefCell<Taking<'_>>,
    ) -> Result<(), ProviderError> {
        let (api, plural) = (self.api(env, kind), kind.api().plural);
        let cluster = &self.envs[env];
        let target = format!("{plural} in environment {env}");
        let text = self
            .request(&format!("list {plural}"), || {
                let request = kube::core::Request::new(api.resource_url()).list(params);
                let client = cluster.client.clone();
                async move { client.request_text(request.map_err(kube::Error::BuildRequest)?).await }
            })
            .await
            .map_err(|e| diagnose(e, &target, "list", env, cluster))?;
        let read = listed::each_item(&text, |item| taking.borrow_mut().take(self.reduce(env, kind, item, None)?));
        match read {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e),
            Err(e) => Err(diagnose(RequestError::Kube(kube::Error::SerdeError(e)), &target, "list", env, cluster)),
        }
    }
}

/// Where an environment's read objects go, each as soon as it is parsed (`take`): the lists
/// being read share it, one object at a time (the runtime runs one request's code at a time, and
/// `take` never waits), so neither a list's objects nor their extractions are ever held together.
struct Taking<'a> {
    namespace_ready: bool,
    desired: &'a mut DesiredSet,
    live: &'a mut LiveSet,
    /// Why each object read and not unchanged goes to the server's dry-run (for the debug log).
    fallbacks: Fallbacks,
}

impl Taking<'_> {
    /// Takes a read object into the live set. A desired one gets the controller's fields carried
    /// over, and when it is exactly what glidepath last applied (`applied`), the server would
    /// keep it as it is: its live body is the prediction, and it moves into the desired set in
    /// place of the manifest (the plan finds them the same without a second copy of every
    /// unchanged object). The manifest is kept only where the plan may still send it: an
    /// unchanged object is a no-op, which sends nothing, unless apply must wait for it
    /// (`Plan::wait_for` makes that an update). Any other one is left to the server's dry-run.
    fn take(&mut self, listed: Listed) -> Result<(), ProviderError> {
        let Listed { address, kind, body, applied, controller_spec, job } = listed;
        let live = &mut *self.live;
        let Some(Resource::Kube(object)) = self.desired.resources.get_mut(&address) else {
            live.bodies.insert(address, body);
            return Ok(());
        };
        if let Some(why) = job.transpose()?.flatten() {
            live.unfinished.insert(address.clone(), why);
        }
        if let Some(spec) = &controller_spec {
            controller_fields::carry_over(kind, &mut object.body, spec);
        }
        // An owned object is never in conflict; a namespaced one in a namespace not there yet
        // is created as rendered (`read`).
        if kind.api().namespaced && !self.namespace_ready {
            live.bodies.insert(address, body);
            return Ok(());
        }
        match applied.and_then(|applied| applied::compare(&object.body, &applied)) {
            Ok(()) => {
                let manifest = std::mem::replace(&mut object.body, body);
                object.manifest = live.unfinished.contains_key(&address).then_some(manifest);
                live.as_desired.insert(address);
            }
            Err(fallback) => {
                self.fallbacks.insert(address.clone(), fallback);
                live.bodies.insert(address, body);
            }
        }
        Ok(())
    }
}

fn ownership_selector(catalog: &str, env: &str) -> String {
    format!("{MANAGED_BY}=glidepath,{CATALOG_LABEL}={catalog},{ENV_LABEL}={env}")
}

impl KubeProvider {
    /// The kinds to list in `env`: every kind whose API is always there or required, and an
    /// optional-CRD kind only when the catalog renders it there or the state recorded one, so a
    /// cluster without that CRD is never asked about it.
    fn kinds_to_list(env: &str, desired: &DesiredSet, state: &State) -> Vec<KubeKind> {
        let used = |kind: KubeKind| {
            desired
                .resources
                .keys()
                .chain(state.resources.keys())
                .any(|a| a.env() == Some(env) && a.kind == Kind::Kube(kind))
        };
        KubeKind::ALL
            .into_iter()
            .filter(|k| match k.api().crd {
                Crd::BuiltIn | Crd::Required => true,
                Crd::Optional => used(*k),
            })
            .collect()
    }

    /// Lists each kind once in the environment with the ownership labels, settling each listed
    /// object as it comes (`take`); desired objects that are not among them are looked up by
    /// name, and an unlabelled one is a conflict. Returns why each read object left unsettled
    /// goes to the dry-run.
    fn read_env(
        &self,
        env: &str,
        namespace_ready: bool,
        desired: &mut DesiredSet,
        state: &State,
        live: &mut LiveSet,
    ) -> Result<Fallbacks, ProviderError> {
        let selector = ownership_selector(&self.catalog, env);
        let params = ListParams::default().labels(&selector);
        let kinds = Self::kinds_to_list(env, desired, state);
        let taking = RefCell::new(Taking { namespace_ready, desired, live, fallbacks: Fallbacks::new() });
        // The lists go out together (IN_FLIGHT at a time) and each object is taken as it is
        // parsed, whichever list answered first: taking is keyed by address, so the result does
        // not depend on the order; of several errors, the one of the first kind is returned, as
        // in kind order.
        let mut lists = stream::iter(
            kinds
                .iter()
                .enumerate()
                .map(|(i, kind)| self.list_taken(env, *kind, &params, &taking).map(move |r| (i, r))),
        )
        .buffer_unordered(IN_FLIGHT);
        let mut first_error: Option<(usize, ProviderError)> = None;
        while let Some((i, listed)) = self.runtime.block_on(lists.next()) {
            if let Err(e) = listed {
                if first_error.as_ref().is_none_or(|(first, _)| i < *first) {
                    first_error = Some((i, e));
                }
            }
        }
        drop(lists);
        if let Some((_, e)) = first_error {
            return Err(e);
        }
        let mut taking = taking.into_inner();
        let missing: Vec<Address> = taking
            .desired
            .resources
            .keys()
            .filter(|a| {
                a.env() == Some(env) && !taking.live.bodies.contains_key(*a) && !taking.live.as_desired.contains(*a)
            })
            .cloned()
            .collect();
        for address in missing {
            let Kind::Kube(kind) = address.kind else { continue };
            let api = kind.api();
            if api.namespaced && !namespace_ready {
                continue;
            }
            let (what, client) = (format!("get {}", api.plural), self.api(env, kind));
            let found = self
                .runtime
                .block_on(self.request(&what, || client.get_opt(address.name())))
                .map_err(|e| diagnose(e, &address.to_string(), "get", env, &self.envs[env]))?;
            // Created since the list (an apply running now): ours if it carries our labels.
            if let Some(item) = found.as_ref().filter(|item| is_owned(item, &self.catalog, env)) {
                // Listed under another service's address already: that entry speaks for it.
                if !already_read(taking.live, &address) {
                    let item = serde_json::to_value(item).map_err(|e| error(address.name(), "get", e.to_string()))?;
                    taking.take(self.reduce(env, kind, item, Some(&address))?)?;
                }
            } else if found.is_some() {
                taking.live.conflicts.push(Conflict {
                    address: address.clone(),
                    reason: format!(
                        "exists in environment {env} without glidepath's labels; glidepath never touches unlabelled objects (label it {MANAGED_BY}=glidepath, {CATALOG_LABEL}={}, {ENV_LABEL}={env} to adopt it)",
                        self.catalog
                    ),
                });
            }
        }
        Ok(taking.fallbacks)
    }

    /// The server's dry-run of a manifest. Fields another manager owns (kubectl edit, another
    /// tool) are planned as taken back, and reported as contested (the returned reason):
    /// applying them needs --force-conflicts.
    async fn predict(&self, address: &Address, manifest: &Value) -> Result<(Value, Option<String>), ProviderError> {
        match self.server_side_apply_async(address, manifest, true, self.force_conflicts).await {
            Ok(predicted) => Ok((predicted, None)),
            Err(e) if e.kind == ErrorKind::Conflict => {
                let predicted = self.server_side_apply_async(address, manifest, true, true).await?;
                Ok((predicted, Some(e.reason)))
            }
            Err(e) => Err(e),
        }
    }

    /// Replaces each desired body of `addresses` by the server's dry-run of its manifest, keeping
    /// the manifest for apply: IN_FLIGHT at a time, results taken in address order, so the plan
    /// (and the first error, if any) does not depend on which answer came first.
    fn predict_all(
        &self,
        addresses: &[Address],
        desired: &mut DesiredSet,
        live: &mut LiveSet,
    ) -> Result<(), ProviderError> {
        let manifests: Vec<(&Address, Value)> = addresses
            .iter()
            .filter_map(|a| match desired.resources.get(a) {
                Some(Resource::Kube(object)) => Some((a, object.body.clone())),
                _ => None,
            })
            .collect();
        let predictions = self.runtime.block_on(
            stream::iter(manifests.iter().map(|(address, manifest)| self.predict(address, manifest)))
                .buffered(IN_FLIGHT)
                .collect::<Vec<_>>(),
        );
        for ((address, manifest), prediction) in manifests.into_iter().zip(predictions) {
            let (predicted, contested) = prediction?;
            if let Some(reason) = contested {
                live.contested.insert(address.clone(), reason);
            }
            if let Some(Resource::Kube(object)) = desired.resources.get_mut(address) {
                object.body = predicted;
                object.manifest = Some(manifest);
            }
        }
        Ok(())
    }
}

impl KubeProvider {
    async fn apply_async(&self, change: &Change, permissions: Permissions) -> Result<Option<Value>, ProviderError> {
        let address = &change.address;
        match change.action {
            Action::NoOp => Ok(None),
            Action::Create | Action::Update | Action::Replace => {
                let manifest = change.send.as_ref().ok_or_else(|| {
                    ProviderError::new(
                        ErrorKind::Rejected,
                        &address.to_string(),
                        "apply",
                        "the plan carries no manifest for this object",
                    )
                })?;
                let stored =
                    self.server_side_apply_async(address, manifest, false, permissions.force_conflicts).await?;
                // A migration gates what comes after it (its service's Rollout): wait for it.
                if Self::locate(address)?.1 == KubeKind::Job {
                    return self.await_job(address).await.map(|job| Some(normalize(job, KubeKind::Job)));
                }
                Ok(Some(stored))
            }
            Action::Delete => {
                let (env, kind) = Self::locate(address)?;
                let api = self.api(env, kind);
                let params = DeleteParams::background();
                let what = format!("delete {}", kind.api().plural);
                let deleted = self.request(&what, || api.delete(address.name(), &params)).await;
                match deleted {
                    Ok(_) => Ok(None),
                    Err(RequestError::Kube(kube::Error::Api(status))) if status.code == 404 => Ok(None),
                    Err(e) => Err(diagnose(e, &address.to_string(), "delete", env, &self.envs[env])),
                }
            }
        }
    }
}

impl Provider for KubeProvider {
    fn id(&self) -> ProviderId {
        ProviderId::KUBE
    }

    fn manages(&self, address: &Address) -> bool {
        address.provider() == ProviderId::KUBE && address.env().is_some_and(|env| self.envs.contains_key(env))
    }

    /// Reads each environment (CRDs, labelled objects, conflicts), then replaces each desired
    /// body by the server's dry-run of it, keeping the manifest to apply beside it.
    fn read(&mut self, desired: &mut DesiredSet, state: &State) -> Result<LiveSet, ProviderError> {
        let mut live = LiveSet::default();
        let envs: Vec<String> = self.envs.keys().cloned().collect();
        for env in &envs {
            self.check_crds(env, &Self::kinds_to_list(env, desired, state))?;
            // A new environment's namespace does not exist yet: its objects cannot be dry-run,
            // and are created as rendered.
            let namespace_ready = self.namespace_exists(env)?;
            let mut fallbacks = self.read_env(env, namespace_ready, desired, state, &mut live)?;
            // What is left of the environment's desired objects goes to the server's dry-run:
            // those read and not unchanged, and those not there (created as the dry-run predicts).
            let to_predict: Vec<Address> = desired
                .resources
                .keys()
                .filter(|a| a.env() == Some(env.as_str()) && !live.as_desired.contains(*a))
                .filter(|a| match a.kind {
                    Kind::Kube(kind) => {
                        let in_conflict = live.conflicts.iter().any(|c| c.address == **a);
                        !in_conflict && (namespace_ready || !kind.api().namespaced)
                    }
                    _ => false,
                })
                .cloned()
                .collect();
            for address in &to_predict {
                let reason = fallbacks.remove(address).unwrap_or(Fallback::NotApplied);
                tracing::debug!(%address, %reason, "dry-run");
            }
            self.predict_all(&to_predict, desired, &mut live)?;
        }
        for (address, reason) in &live.contested {
            live.notes
                .insert(address.clone(), format!("{reason} — apply needs --force-conflicts to take these fields back"));
        }
        Ok(live)
    }

    /// Sends the manifest the plan carries; contested fields are taken back only when the plan's
    /// permissions say so (the executor refuses contested changes otherwise).
    fn apply(&mut self, change: &Change, permissions: Permissions) -> Result<Option<Value>, ProviderError> {
        self.runtime.block_on(self.apply_async(change, permissions))
    }

    /// One rank's changes, IN_FLIGHT at a time (a migration Job's wait holds its place, so the
    /// other services' objects go on meanwhile). Whenever answers are in, every answer already
    /// in is reported and then settled once, before the freed slots are filled: a change is sent
    /// only after every change answered before it is durable, and answers that came in together
    /// share one sync. After a failure, or when `answers` says stop, nothing more is sent; what
    /// is in flight finishes and is reported.
    fn apply_many(&mut self, changes: &[&Change], permissions: Permissions, answers: &mut dyn Answers) {
        let this = &*self;
        this.runtime.block_on(async {
            let mut to_send = changes.iter().enumerate();
            let mut in_flight = FuturesUnordered::new();
            let mut stop = false;
            loop {
                while !stop && in_flight.len() < IN_FLIGHT {
                    let Some((i, change)) = to_send.next() else { break };
                    in_flight.push(async move { (i, this.apply_async(change, permissions).await) });
                }
                let Some(first) = in_flight.next().await else { break };
                let mut report = |(i, result): (usize, Result<Option<Value>, ProviderError>)| {
                    let failed = result.is_err();
                    if !answers.answer(i, result) || failed {
                        stop = true;
                    }
                };
                report(first);
                // The other answers already in (polling in-flight requests only: nothing new
                // is sent before the settle below).
                while let Some(Some(next)) = in_flight.next().now_or_never() {
                    report(next);
                }
                if !answers.settle() {
                    stop = true;
                }
            }
        });
    }

    fn import(&mut self, address: &Address) -> Result<(), ProviderError> {
        Err(ProviderError::new(
            ErrorKind::Rejected,
            &address.to_string(),
            "import",
            "cluster objects are adopted by labelling them (see the plan's message)",
        ))
    }

    fn stats(&self) -> CallStats {
        CallStats { calls: self.calls.lock().expect("calls lock").clone() }
    }
}
