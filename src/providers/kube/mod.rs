//! The cluster provider: server-side apply with field manager `glidepath`, through the kube
//! crate. Plans compare the server's dry-run of each manifest with the live object, so server
//! defaults and fields other managers own (an HPA's replicas) never show as changes.

mod controller_fields;
mod kinds;
mod normalize;
mod rollback;
mod status;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::Value;

use super::{CallStats, Conflict, LiveSet, Provider, ProviderError};
use crate::catalog::Model;
use crate::plan::{Action, Change, Selection};
use crate::render::address::SHARED_OWNER;
use crate::render::kube::{CATALOG_LABEL, ENV_LABEL, MANAGED_BY, SERVICE_LABEL};
use crate::render::{Address, DesiredSet, Resource};
use crate::state::State;
use kinds::Kind;
pub use kinds::KINDS;
use normalize::normalize;
pub use rollback::RolledBack;
pub use status::{AnalysisSummary, MetricSummary, Replicas, RolloutProgress};

pub const FIELD_MANAGER: &str = "glidepath";

/// How to reach the clusters: a kubeconfig file and, optionally, one context for every environment.
#[derive(Debug, Clone, Default)]
pub struct Access {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    /// Take over fields another field manager owns.
    pub force_conflicts: bool,
}

impl Access {
    /// Whether a kubeconfig is available: `--kubeconfig`/`KUBECONFIG`, or `~/.kube/config`.
    pub fn from_env(context: Option<String>, force_conflicts: bool) -> Option<Access> {
        let kubeconfig = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()).map(PathBuf::from).or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".kube/config")).filter(|p| p.exists())
        })?;
        Some(Access { kubeconfig: Some(kubeconfig), context, force_conflicts })
    }
}

struct EnvCluster {
    client: kube::Client,
    namespace: String,
    /// Which context, for messages.
    context: String,
}

pub struct KubeProvider {
    runtime: tokio::runtime::Runtime,
    catalog: String,
    envs: BTreeMap<String, EnvCluster>,
    force_conflicts: bool,
    /// The manifests to apply, by address (plans carry the server's dry-run result instead).
    manifests: BTreeMap<Address, Value>,
    /// Objects with fields another field manager owns, and the server's account of them.
    contested: BTreeMap<Address, String>,
    /// The live state `resolve` read, handed out by `read`.
    read_result: Option<LiveSet>,
    calls: Mutex<BTreeMap<String, u64>>,
}

fn error(target: &str, action: &str, reason: impl Into<String>) -> ProviderError {
    ProviderError { target: target.to_string(), action: action.to_string(), reason: reason.into() }
}

/// kube errors → one line: the server's own message where there is one.
fn diagnose(err: kube::Error, target: &str, action: &str, env: &str, context: &str) -> ProviderError {
    let reason = match &err {
        kube::Error::Api(status) => match status.code {
            403 => format!("forbidden in environment {env}: {}", status.message),
            404 => format!("not found in environment {env}: {}", status.message),
            409 => format!("conflict in environment {env}: {}", status.message),
            422 | 400 => format!("rejected by the API server in environment {env}: {}", status.message),
            code => format!("API server answered {code} in environment {env}: {}", status.message),
        },
        kube::Error::HyperError(_) | kube::Error::Service(_) => {
            format!("cannot reach the cluster of environment {env} (context {context}): {err}")
        }
        other => format!("{other} (environment {env}, context {context})"),
    };
    error(target, action, reason)
}

impl KubeProvider {
    /// One client per selected environment, from the kubeconfig context the environment's
    /// cluster names (or `access.context` for all of them).
    pub fn connect(model: &Model, selection: &Selection, access: &Access) -> Result<Self, ProviderError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| error("cluster", "start", e.to_string()))?;
        let path = access.kubeconfig.clone().ok_or_else(|| error("cluster", "configure", "no kubeconfig"))?;
        let kubeconfig = Kubeconfig::read_from(&path)
            .map_err(|e| error("cluster", "read kubeconfig", format!("{}: {e}", path.display())))?;
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
                            "kubeconfig {} has no usable context `{context}` ({e}); known contexts: {}; set the cluster's kube_context or pass --kube-context",
                            path.display(),
                            known.join(", ")
                        ),
                    )
                })?;
            let client = kube::Client::try_from(config)
                .map_err(|e| error(&format!("environment {}", env.name), "configure", e.to_string()))?;
            envs.insert(env.name.clone(), EnvCluster { client, namespace: env.namespace.clone(), context });
        }
        Ok(KubeProvider {
            runtime,
            catalog: model.platform.name.clone(),
            envs,
            force_conflicts: access.force_conflicts,
            manifests: BTreeMap::new(),
            contested: BTreeMap::new(),
            read_result: None,
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

    fn api(&self, env: &str, kind: &Kind) -> Api<DynamicObject> {
        let cluster = &self.envs[env];
        let resource = kind.api_resource();
        if kind.namespaced {
            Api::namespaced_with(cluster.client.clone(), &cluster.namespace, &resource)
        } else {
            Api::all_with(cluster.client.clone(), &resource)
        }
    }

    fn env_of(address: &Address) -> Option<&str> {
        address.env()
    }

    /// Argo Rollouts' CRDs must be installed before anything is planned.
    fn check_crds(&self, env: &str) -> Result<(), ProviderError> {
        let cluster = &self.envs[env];
        self.count("get apis/argoproj.io/v1alpha1".into());
        let found = self.runtime.block_on(cluster.client.list_api_group_resources("argoproj.io/v1alpha1"));
        let target = format!("cluster of environment {env}");
        match found {
            Ok(list) => {
                let names: BTreeSet<&str> = list.resources.iter().map(|r| r.name.as_str()).collect();
                if names.contains("rollouts") && names.contains("analysistemplates") {
                    Ok(())
                } else {
                    Err(error(&target, "discovery", crd_hint()))
                }
            }
            Err(kube::Error::Api(status)) if status.code == 404 => Err(error(&target, "discovery", crd_hint())),
            Err(e) => Err(diagnose(e, &target, "discovery", env, &cluster.context)),
        }
    }

    fn namespace_exists(&self, env: &str) -> Result<bool, ProviderError> {
        let kind = kinds::find("Namespace").expect("namespaces are known");
        let name = self.envs[env].namespace.clone();
        self.count("get namespaces".into());
        self.runtime
            .block_on(self.api(env, kind).get_opt(&name))
            .map(|o| o.is_some())
            .map_err(|e| diagnose(e, &format!("Namespace {name}"), "get", env, &self.envs[env].context))
    }

    fn server_side_apply(&self, address: &Address, manifest: &Value, dry_run: bool) -> Result<Value, ProviderError> {
        self.server_side_apply_with(address, manifest, dry_run, self.force_conflicts)
    }

    fn server_side_apply_with(
        &self,
        address: &Address,
        manifest: &Value,
        dry_run: bool,
        force: bool,
    ) -> Result<Value, ProviderError> {
        let env = Self::env_of(address).expect("cluster objects have an environment");
        let kind = kinds::find(address.kind()).ok_or_else(|| error(&address.to_string(), "apply", "unknown kind"))?;
        let mut params = PatchParams::apply(FIELD_MANAGER);
        if dry_run {
            params = params.dry_run();
        }
        if force {
            params = params.force();
        }
        self.count(format!("{} {}", if dry_run { "apply(dry-run)" } else { "apply" }, kind.plural));
        let action = if dry_run { "server-side apply (dry run)" } else { "server-side apply" };
        let applied = self
            .runtime
            .block_on(self.api(env, kind).patch(address.name(), &params, &Patch::Apply(manifest)))
            .map_err(|e| diagnose(e, &address.to_string(), action, env, &self.envs[env].context))?;
        let value = serde_json::to_value(applied).map_err(|e| error(&address.to_string(), action, e.to_string()))?;
        Ok(normalize(value, &kind.api_version(), kind.kind))
    }
}

fn crd_hint() -> String {
    "the Argo Rollouts CRDs are not installed: install Argo Rollouts first (kubectl apply -k \
     'https://github.com/argoproj/argo-rollouts/manifests/crds?ref=v1.9.1')"
        .to_string()
}

fn ownership_selector(catalog: &str, env: &str) -> String {
    format!("{MANAGED_BY}=glidepath,{CATALOG_LABEL}={catalog},{ENV_LABEL}={env}")
}

impl KubeProvider {
    /// Lists each kind once in the environment with the ownership labels; desired objects that
    /// are not among them are looked up by name, and an unlabelled one is a conflict.
    fn read_env(
        &self,
        env: &str,
        namespace_ready: bool,
        desired: &DesiredSet,
        live: &mut LiveSet,
    ) -> Result<(), ProviderError> {
        let selector = ownership_selector(&self.catalog, env);
        for kind in KINDS {
            self.count(format!("list {}", kind.plural));
            let listed = self
                .runtime
                .block_on(self.api(env, kind).list(&ListParams::default().labels(&selector)))
                .map_err(|e| {
                    diagnose(e, &format!("{} in environment {env}", kind.plural), "list", env, &self.envs[env].context)
                })?;
            for item in listed.items {
                let owner = item
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(SERVICE_LABEL).cloned())
                    .unwrap_or_else(|| SHARED_OWNER.to_string());
                let name = item.metadata.name.clone().unwrap_or_default();
                let value = serde_json::to_value(&item).map_err(|e| error(&name, "list", e.to_string()))?;
                live.bodies.insert(
                    Address::kube(env, &owner, kind.kind, name),
                    normalize(value, &kind.api_version(), kind.kind),
                );
            }
        }
        let missing: Vec<&Address> =
            desired.resources.keys().filter(|a| a.env() == Some(env) && !live.bodies.contains_key(*a)).collect();
        for address in missing {
            let Some(kind) = kinds::find(address.kind()) else { continue };
            if kind.namespaced && !namespace_ready {
                continue;
            }
            self.count(format!("get {}", kind.plural));
            let found = self
                .runtime
                .block_on(self.api(env, kind).get_opt(address.name()))
                .map_err(|e| diagnose(e, &address.to_string(), "get", env, &self.envs[env].context))?;
            if found.is_some() {
                live.conflicts.push(Conflict {
                    address: address.clone(),
                    reason: format!(
                        "exists in environment {env} without glidepath's labels; glidepath never touches unlabelled objects (label it {MANAGED_BY}=glidepath, {CATALOG_LABEL}={}, {ENV_LABEL}={env} to adopt it)",
                        self.catalog
                    ),
                });
            }
        }
        Ok(())
    }

    /// Replaces a desired body by the server's dry-run of its manifest. Fields another manager
    /// owns (kubectl edit, another tool) are planned as taken back, noted as needing --force-conflicts.
    fn predict(&mut self, address: &Address, desired: &mut DesiredSet) -> Result<(), ProviderError> {
        let Some(Resource::Kube(object)) = desired.resources.get(address) else { return Ok(()) };
        let manifest = object.body.clone();
        let predicted = match self.server_side_apply(address, &manifest, true) {
            Ok(predicted) => predicted,
            Err(e) if e.reason.starts_with("conflict") => {
                let predicted = self.server_side_apply_with(address, &manifest, true, true)?;
                self.contested.insert(address.clone(), e.reason);
                predicted
            }
            Err(e) => return Err(e),
        };
        if let Some(Resource::Kube(object)) = desired.resources.get_mut(address) {
            object.body = predicted;
        }
        Ok(())
    }
}

impl Provider for KubeProvider {
    fn manages(&self, address: &Address) -> bool {
        address.env().is_some_and(|env| self.envs.contains_key(env))
    }

    /// Reads each environment (CRDs, labelled objects, conflicts), then replaces each desired
    /// body by the server's dry-run of it, keeping the manifest to apply.
    fn resolve(&mut self, desired: &mut DesiredSet) -> Result<(), ProviderError> {
        let mut live = LiveSet::default();
        let envs: Vec<String> = self.envs.keys().cloned().collect();
        for env in &envs {
            self.check_crds(env)?;
            // A new environment's namespace does not exist yet: its objects cannot be dry-run,
            // and are created as rendered.
            let namespace_ready = self.namespace_exists(env)?;
            self.read_env(env, namespace_ready, desired, &mut live)?;
            let addresses: Vec<Address> =
                desired.resources.keys().filter(|a| a.env() == Some(env.as_str())).cloned().collect();
            for address in addresses {
                if let (Some(Resource::Kube(object)), Some(live_body)) =
                    (desired.resources.get_mut(&address), live.bodies.get(&address))
                {
                    controller_fields::carry_over(address.kind(), &mut object.body, live_body);
                }
                if let Some(Resource::Kube(object)) = desired.resources.get(&address) {
                    self.manifests.insert(address.clone(), object.body.clone());
                }
                let namespaced = kinds::find(address.kind()).is_none_or(|k| k.namespaced);
                let in_conflict = live.conflicts.iter().any(|c| c.address == address);
                if (namespace_ready || !namespaced) && !in_conflict {
                    self.predict(&address, desired)?;
                }
            }
        }
        for (address, reason) in &self.contested {
            live.notes
                .insert(address.clone(), format!("{reason} — apply needs --force-conflicts to take these fields back"));
        }
        self.read_result = Some(live);
        Ok(())
    }

    /// What `resolve` read.
    fn read(&mut self, _desired: &DesiredSet, _state: &State) -> Result<LiveSet, ProviderError> {
        Ok(self.read_result.take().unwrap_or_default())
    }

    fn apply(&mut self, change: &Change) -> Result<Option<Value>, ProviderError> {
        let address = &change.address;
        match change.action {
            Action::NoOp => Ok(None),
            Action::Create | Action::Update | Action::Replace => {
                if let (Some(reason), false) = (self.contested.get(address), self.force_conflicts) {
                    return Err(error(
                        &address.to_string(),
                        "server-side apply",
                        format!("{reason}; pass --force-conflicts to take these fields back"),
                    ));
                }
                let manifest =
                    self.manifests.get(address).cloned().ok_or_else(|| {
                        error(&address.to_string(), "apply", "no manifest was planned for this object")
                    })?;
                self.server_side_apply(address, &manifest, false).map(Some)
            }
            Action::Delete => {
                let env = address.env().expect("cluster objects have an environment");
                let kind =
                    kinds::find(address.kind()).ok_or_else(|| error(&address.to_string(), "delete", "unknown kind"))?;
                self.count(format!("delete {}", kind.plural));
                match self.runtime.block_on(self.api(env, kind).delete(address.name(), &DeleteParams::background())) {
                    Ok(_) => Ok(None),
                    Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
                    Err(e) => Err(diagnose(e, &address.to_string(), "delete", env, &self.envs[env].context)),
                }
            }
        }
    }

    fn import(&mut self, address: &Address) -> Result<(), ProviderError> {
        Err(error(
            &address.to_string(),
            "import",
            "cluster objects are adopted by labelling them (see the plan's message)",
        ))
    }

    fn stats(&self) -> CallStats {
        CallStats { calls: self.calls.lock().expect("calls lock").clone() }
    }
}
