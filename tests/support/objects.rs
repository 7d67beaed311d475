//! Any Kubernetes object by apiVersion and kind, the resource found by discovery (no guessed
//! plurals): what end-to-end tests use to create, read and clean up objects glidepath does not
//! manage (Gateways, test Deployments) next to the ones it does.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiResource, Scope};
use serde_json::Value;

pub struct Objects {
    pub runtime: tokio::runtime::Runtime,
    pub client: kube::Client,
    resources: Mutex<BTreeMap<(String, String), (ApiResource, Scope)>>,
}

impl Objects {
    pub fn new(kubeconfig: &Path) -> Objects {
        let (runtime, client) = super::kube_client(kubeconfig);
        Objects { runtime, client, resources: Mutex::new(BTreeMap::new()) }
    }

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

    /// The API of a kind; `namespace` is ignored for cluster-scoped kinds.
    pub fn api(&self, api_version: &str, kind: &str, namespace: &str) -> Api<DynamicObject> {
        match self.resource(api_version, kind) {
            (resource, Scope::Namespaced) => Api::namespaced_with(self.client.clone(), namespace, &resource),
            (resource, Scope::Cluster) => Api::all_with(self.client.clone(), &resource),
        }
    }

    /// Server-side apply of one object (its apiVersion, kind and metadata.namespace say where).
    pub fn apply(&self, object: Value) {
        let (api_version, kind) = (object["apiVersion"].as_str().unwrap(), object["kind"].as_str().unwrap());
        let name = object["metadata"]["name"].as_str().unwrap();
        let api = self.api(api_version, kind, object["metadata"]["namespace"].as_str().unwrap_or_default());
        let body: DynamicObject = serde_json::from_value(object.clone()).unwrap();
        self.runtime
            .block_on(api.patch(name, &PatchParams::apply("glidepath-tests").force(), &Patch::Apply(&body)))
            .unwrap_or_else(|e| panic!("applying {kind} {name}: {e}"));
    }

    pub fn get(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let found = self.runtime.block_on(self.api(api_version, kind, namespace).get_opt(name));
        found
            .unwrap_or_else(|e| panic!("getting {kind} {namespace}/{name}: {e}"))
            .map(|o| serde_json::to_value(o).unwrap())
    }

    /// The objects of a kind in a namespace matching a label selector ("" for all).
    pub fn list(&self, api_version: &str, kind: &str, namespace: &str, labels: &str) -> Vec<Value> {
        let listed =
            self.runtime.block_on(self.api(api_version, kind, namespace).list(&ListParams::default().labels(labels)));
        let listed = listed.unwrap_or_else(|e| panic!("listing {kind} in {namespace}: {e}"));
        listed.items.into_iter().map(|o| serde_json::to_value(o).unwrap()).collect()
    }

    /// Deletes an object if it exists (clean-up: errors are not the test's concern).
    pub fn delete(&self, api_version: &str, kind: &str, namespace: &str, name: &str) {
        let _ = self.runtime.block_on(self.api(api_version, kind, namespace).delete(name, &DeleteParams::default()));
    }
}
