//! Emergency rollback through the Argo Rollouts API, as `kubectl argo rollouts abort/undo` do:
//! an update in flight is aborted (traffic back to stable at once); a completed one is undone by
//! putting the previous revision's pod template back.

use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::{json, Value};

use super::{diagnose, error, KubeProvider};
use crate::kinds::KubeKind;
use crate::providers::ProviderError;
use crate::render::kube::app_image;

/// What a rollback did, and the images it moved between.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackOutcome {
    pub done: RolledBack,
    /// The image rolled back from: the Rollout's template image before the rollback.
    pub bad_image: Option<String>,
    /// The image now serving: the stable (aborted) or previous (undone) revision's. GitOps mode
    /// writes it back into the catalog, so it is read from the cluster, not guessed from git.
    pub good_image: Option<String>,
}

/// What a rollback did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolledBack {
    /// An update in flight was aborted; the stable version takes all traffic again.
    Aborted,
    /// The previous revision's template was restored.
    Undone { from_revision: String, to_revision: String },
}

const REVISION: &str = "rollout.argoproj.io/revision";
const MANAGER: &str = "glidepath-rollback";
const HASH: &str = "rollouts-pod-template-hash";

impl KubeProvider {
    pub fn rollback(&mut self, env: &str, name: &str) -> Result<RollbackOutcome, ProviderError> {
        let target = format!("Rollout {name} in environment {env}");
        let cluster =
            self.envs.get(env).ok_or_else(|| error(&target, "rollback", "the environment is not selected"))?;
        let rollouts = self.api(env, KubeKind::Rollout);
        let rollout = self
            .once("get rollouts", rollouts.get_opt(name))
            .map_err(|e| diagnose(e, &target, "get", env, cluster))?
            .ok_or_else(|| error(&target, "rollback", "no such Rollout"))?;
        let status = &rollout.data["status"];
        let in_flight =
            status["currentPodHash"].as_str().is_some_and(|current| Some(current) != status["stableRS"].as_str());
        let bad_image = app_image(&rollout.data);
        let uid = rollout.metadata.uid.clone().unwrap_or_default();
        let resource = kube::discovery::ApiResource {
            group: "apps".into(),
            version: "v1".into(),
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            plural: "replicasets".into(),
        };
        let namespace = cluster.namespace.clone();
        let sets: Api<DynamicObject> = Api::namespaced_with(cluster.client.clone(), &namespace, &resource);
        let listed = self
            .once("list replicasets", sets.list(&ListParams::default()))
            .map_err(|e| diagnose(e, &format!("ReplicaSets of {target}"), "list", env, cluster))?;
        let mut revisions: Vec<(u64, DynamicObject)> = listed
            .items
            .into_iter()
            .filter(|rs| rs.metadata.owner_references.iter().flatten().any(|o| o.uid == uid))
            .filter_map(|rs| {
                let revision = rs.metadata.annotations.as_ref()?.get(REVISION)?.parse().ok()?;
                Some((revision, rs))
            })
            .collect();
        if in_flight {
            // The stable ReplicaSet is the one labelled with the stable hash.
            let stable = status["stableRS"].as_str().unwrap_or_default();
            let good_image = revisions
                .iter()
                .find(|(_, rs)| {
                    rs.metadata.labels.as_ref().and_then(|l| l.get(HASH)).map(String::as_str) == Some(stable)
                })
                .and_then(|(_, rs)| app_image(&rs.data));
            let patch = json!({"status": {"abort": true}});
            let params = PatchParams { field_manager: Some(MANAGER.into()), ..Default::default() };
            self.once("patch rollouts/status", rollouts.patch_status(name, &params, &Patch::Merge(&patch)))
                .map_err(|e| diagnose(e, &target, "abort", env, cluster))?;
            return Ok(RollbackOutcome { done: RolledBack::Aborted, bad_image, good_image });
        }
        revisions.sort_by_key(|(revision, _)| std::cmp::Reverse(*revision));
        let [(current, _), (previous, previous_set), ..] = revisions.as_slice() else {
            return Err(error(
                &target,
                "undo",
                "there is no previous revision to return to (and no update in flight to abort)",
            ));
        };
        let good_image = app_image(&previous_set.data);
        let mut template: Value = previous_set.data["spec"]["template"].clone();
        if let Some(labels) = template["metadata"]["labels"].as_object_mut() {
            // The controller adds the hash; the Rollout's own template never carries it.
            labels.remove(HASH);
        }
        let patch = json!({"spec": {"template": template}});
        let params = PatchParams { field_manager: Some(MANAGER.into()), ..Default::default() };
        self.once("patch rollouts", rollouts.patch(name, &params, &Patch::Merge(&patch)))
            .map_err(|e| diagnose(e, &target, "undo", env, cluster))?;
        Ok(RollbackOutcome {
            done: RolledBack::Undone { from_revision: current.to_string(), to_revision: previous.to_string() },
            bad_image,
            good_image,
        })
    }
}
