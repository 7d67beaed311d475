//! Argo CD's view of a GitOps environment, read from the live Application objects (the
//! application controller writes each one's sync and health status there): no Argo CD API
//! server or token is needed, only read access to `applications.argoproj.io` in `argocd`.

use kube::api::{Api, DynamicObject, ListParams};
use kube::discovery::ApiResource;
use serde_json::Value;

use super::{diagnose, KubeProvider};
use crate::providers::{ErrorKind, ProviderError};
use crate::render::gitops::ARGOCD_NAMESPACE;
use crate::render::kube::ENV_LABEL;

impl KubeProvider {
    /// The Application objects labelled with `env` in the `argocd` namespace of the
    /// environment's cluster; `None` when that cluster has no Argo CD (no Application API).
    pub fn applications(&mut self, env: &str) -> Result<Option<Vec<Value>>, ProviderError> {
        let target = format!("Argo CD Applications of environment {env}");
        let cluster =
            self.envs.get(env).ok_or_else(|| super::error(&target, "list", "the environment is not selected"))?;
        let resource = ApiResource {
            group: "argoproj.io".into(),
            version: "v1alpha1".into(),
            api_version: "argoproj.io/v1alpha1".into(),
            kind: "Application".into(),
            plural: "applications".into(),
        };
        let api: Api<DynamicObject> = Api::namespaced_with(cluster.client.clone(), ARGOCD_NAMESPACE, &resource);
        let params = ListParams::default().labels(&format!("{ENV_LABEL}={env}"));
        match self.once("list applications", api.list(&params)) {
            Ok(list) => {
                Ok(Some(list.items.into_iter().map(|a| serde_json::to_value(a).expect("objects serialize")).collect()))
            }
            Err(e) => {
                let error = diagnose(e, &target, "list", env, cluster);
                if error.kind == ErrorKind::NotFound {
                    return Ok(None);
                }
                Err(error)
            }
        }
    }
}
