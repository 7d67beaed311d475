//! The GitOps layout (`DIR/gitops/`), for teams whose rule is "CI never runs kubectl": Kustomize
//! bases and per-environment overlays for every service, an Argo CD ApplicationSet and
//! per-environment AppProjects, and CODEOWNERS so production changes need the platform team.
//!
//! A service's base is its objects as rendered for its first environment (without namespace);
//! each overlay sets the namespace and patches what differs in that environment with merge
//! patches, so `kustomize build overlays/ENV/SERVICE` gives exactly what glidepath applies.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{json, Map, Value};

use super::{traffic, DesiredSet, RenderError, Resource};
use crate::catalog::Model;
use crate::kinds::KubeKind;

/// Namespace of the Argo CD control plane: where the rendered Argo CD objects live, and where `drift` reads the Applications.
pub const ARGOCD_NAMESPACE: &str = "argocd";

/// The repository Argo CD reads: the catalog repository, where the deploy jobs commit each
/// promotion with its re-rendered `gitops/` tree (`Model::catalog_repo`). When the catalog
/// names none and the services build from several repositories there is no right answer:
/// `ORG/PLATFORM-catalog` is rendered and `check` fails (policy::catalog-repo-unwritable).
pub fn gitops_repo(model: &Model) -> String {
    let repo = model
        .catalog_repo()
        .map_or_else(|| format!("{}/{}-catalog", model.platform.github_org, model.platform.name), |r| r.full_name());
    format!("https://github.com/{repo}.git")
}

fn yaml(value: &Value) -> Result<String, RenderError> {
    serde_norway::to_string(value)
        .map_err(|e| RenderError::Template { template: "gitops".into(), reason: e.to_string() })
}

fn file_name(object: &Value) -> String {
    format!(
        "{}.{}.yaml",
        object["kind"].as_str().unwrap_or_default().to_lowercase(),
        object["metadata"]["name"].as_str().unwrap_or_default()
    )
}

/// An RFC 7386 merge patch turning `base` into `target` (null removes a key; lists replace).
pub fn merge_patch(base: &Value, target: &Value) -> Option<Value> {
    match (base, target) {
        (Value::Object(b), Value::Object(t)) => {
            let mut patch = Map::new();
            for (key, value) in t {
                match b.get(key) {
                    Some(old) => {
                        if let Some(p) = merge_patch(old, value) {
                            patch.insert(key.clone(), p);
                        }
                    }
                    None => {
                        patch.insert(key.clone(), value.clone());
                    }
                }
            }
            for key in b.keys().filter(|k| !t.contains_key(*k)) {
                patch.insert(key.clone(), Value::Null);
            }
            (!patch.is_empty()).then_some(Value::Object(patch))
        }
        (b, t) if b == t => None,
        (_, t) => Some(t.clone()),
    }
}

/// Applies an RFC 7386 merge patch (what kustomize does with these patches on custom resources).
pub fn apply_merge_patch(base: &Value, patch: &Value) -> Value {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            let mut out = b.clone();
            for (key, value) in p {
                if value.is_null() {
                    out.remove(key);
                } else {
                    let merged = apply_merge_patch(b.get(key).unwrap_or(&Value::Null), value);
                    out.insert(key.clone(), merged);
                }
            }
            Value::Object(out)
        }
        (_, p) => p.clone(),
    }
}

fn without_namespace(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(metadata) = object["metadata"].as_object_mut() {
        metadata.remove("namespace");
    }
    object
}

/// Argo CD hook annotations of a migration Job: run before each sync, after the previous run's
/// Job is deleted (a Job's pod template is immutable).
pub const SYNC_HOOK: [(&str, &str); 2] =
    [("argocd.argoproj.io/hook", "PreSync"), ("argocd.argoproj.io/hook-delete-policy", "BeforeHookCreation")];

/// An object as Argo CD syncs it. A migration Job becomes a PreSync hook: Argo CD runs it and
/// waits for it before syncing the Rollout, as glidepath's apply does. Its name drops the
/// version digest: BeforeHookCreation replaces the previous run, and one name in every
/// environment keeps each overlay a patch of the base.
pub fn as_synced(body: &Value) -> Value {
    if !super::kube::is_migration_job(body) {
        return body.clone();
    }
    let mut job = body.clone();
    if let Some(service) = job["metadata"]["labels"][super::kube::SERVICE_LABEL].as_str() {
        job["metadata"]["name"] = json!(format!("{service}-migrate"));
    }
    let annotations = job["metadata"].as_object_mut().map(|m| m.entry("annotations").or_insert_with(|| json!({})));
    if let Some(Value::Object(annotations)) = annotations {
        for (key, value) in SYNC_HOOK {
            annotations.insert(key.into(), json!(value));
        }
    }
    job
}

/// Every GitOps file, relative to `DIR/gitops/`.
pub fn files(model: &Model, desired: &DesiredSet) -> Result<Vec<(PathBuf, String)>, RenderError> {
    let mut out = Vec::new();
    // Objects by (owner, env) → address-ordered bodies.
    let mut by_owner: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
    for (address, resource) in &desired.resources {
        if let (Some(scope), Resource::Kube(object)) = (&address.scope, resource) {
            by_owner.entry((scope.owner.clone(), scope.env.clone())).or_default().push(as_synced(&object.body));
        }
    }
    let kustomization = |namespace: Option<&str>, resources: Vec<String>, patches: Vec<String>| -> Value {
        let mut k = json!({"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"});
        if let Some(ns) = namespace {
            k["namespace"] = json!(ns);
        }
        k["resources"] = json!(resources);
        if !patches.is_empty() {
            k["patches"] = json!(patches.into_iter().map(|p| json!({"path": p})).collect::<Vec<_>>());
        }
        k
    };

    for env in &model.environments {
        if let Some(shared) = by_owner.get(&(super::address::SHARED_OWNER.to_string(), env.name.clone())) {
            let dir = PathBuf::from("overlays").join(&env.name).join(super::address::SHARED_OWNER);
            let mut names = Vec::new();
            for object in shared {
                names.push(file_name(object));
                out.push((dir.join(file_name(object)), yaml(object)?));
            }
            out.push((dir.join("kustomization.yaml"), yaml(&kustomization(None, names, Vec::new()))?));
        }
    }

    for service in &model.services {
        let Some(first) = service.environments.first() else { continue };
        let Some(base_objects) = by_owner.get(&(service.name.clone(), first.clone())) else { continue };
        let base_dir = PathBuf::from("base").join(&service.name);
        let base: BTreeMap<String, Value> = base_objects.iter().map(|o| (file_name(o), without_namespace(o))).collect();
        for (name, object) in &base {
            out.push((base_dir.join(name), yaml(object)?));
        }
        out.push((
            base_dir.join("kustomization.yaml"),
            yaml(&kustomization(None, base.keys().cloned().collect(), Vec::new()))?,
        ));

        for env_name in &service.environments {
            let Some(env) = model.environment(env_name) else { continue };
            let Some(objects) = by_owner.get(&(service.name.clone(), env_name.clone())) else { continue };
            let dir = PathBuf::from("overlays").join(env_name).join(&service.name);
            let mut resources = vec![format!("../../../base/{}", service.name)];
            let mut patches = Vec::new();
            let wanted: BTreeMap<String, Value> =
                objects.iter().map(|o| (file_name(o), without_namespace(o))).collect();
            for (name, object) in &wanted {
                match base.get(name) {
                    // Only in this environment (a preview Service, an HPA): a resource of the overlay.
                    None => {
                        resources.push(name.clone());
                        out.push((dir.join(name), yaml(object)?));
                    }
                    Some(base_object) => {
                        if let Some(mut patch) = merge_patch(base_object, object) {
                            // Kustomize finds the object a patch is for by these.
                            patch["apiVersion"] = object["apiVersion"].clone();
                            patch["kind"] = object["kind"].clone();
                            patch["metadata"]["name"] = object["metadata"]["name"].clone();
                            let patch_name = name.replace(".yaml", ".patch.yaml");
                            patches.push(patch_name.clone());
                            out.push((dir.join(patch_name), yaml(&patch)?));
                        }
                    }
                }
            }
            for (name, object) in base.iter().filter(|(n, _)| !wanted.contains_key(*n)) {
                // In the base but not here (a canary Service where this environment is blue/green).
                let delete = json!({
                    "apiVersion": object["apiVersion"], "kind": object["kind"],
                    "metadata": {"name": object["metadata"]["name"]}, "$patch": "delete"
                });
                let patch_name = name.replace(".yaml", ".delete.yaml");
                patches.push(patch_name.clone());
                out.push((dir.join(patch_name), yaml(&delete)?));
            }
            out.push((dir.join("kustomization.yaml"), yaml(&kustomization(Some(&env.namespace), resources, patches))?));
        }
    }

    let has_shared = |env: &str| by_owner.contains_key(&(super::address::SHARED_OWNER.to_string(), env.to_string()));
    out.push((PathBuf::from("argocd/applicationset.yaml"), yaml(&application_set(model, has_shared))?));
    for env in &model.environments {
        out.push((PathBuf::from(format!("argocd/appproject.{}.yaml", env.name)), yaml(&app_project(model, env))?));
    }
    out.push((PathBuf::from("CODEOWNERS"), codeowners(model)));
    Ok(out)
}

fn project_name(model: &Model, env: &str) -> String {
    format!("{}-{env}", model.platform.name)
}

/// One Application per service and environment (`SERVICE-ENV`), and one per environment for its
/// shared objects (`PLATFORM-ENV`: the Namespace and the notification ConfigMap, which no
/// service's overlay holds): automated sync with prune and self-heal where no approval is
/// required, manual sync where it is; the autoscaler's replicas are ignored.
fn application_set(model: &Model, has_shared: impl Fn(&str) -> bool) -> Value {
    let mut elements = Vec::new();
    for env in &model.environments {
        let cluster = model.cluster(&env.cluster).map(|c| c.eks_name.clone()).unwrap_or_default();
        let element = |app: String, service: &str, dir: &str| {
            json!({
                "app": app, "service": service, "dir": dir, "env": env.name, "namespace": env.namespace,
                "cluster": cluster, "project": project_name(model, &env.name),
                "automated": if env.approval { "false" } else { "true" },
            })
        };
        if has_shared(&env.name) {
            elements.push(element(format!("{}-{}", model.platform.name, env.name), "", super::address::SHARED_OWNER));
        }
        for service in model.services.iter().filter(|s| s.environments.contains(&env.name)) {
            elements.push(element(format!("{}-{}", service.name, env.name), &service.name, &service.name));
        }
    }
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": model.platform.name, "namespace": ARGOCD_NAMESPACE, "labels": {"app.kubernetes.io/managed-by": "glidepath"}},
        "spec": {
            "goTemplate": true,
            "goTemplateOptions": ["missingkey=error"],
            "generators": [{"list": {"elements": elements}}],
            "template": {
                "metadata": {"name": "{{.app}}", "labels": {"glidepath.dev/environment": "{{.env}}", "glidepath.dev/service": "{{.service}}"}},
                "spec": {
                    "project": "{{.project}}",
                    "source": {"repoURL": gitops_repo(model), "targetRevision": super::workflow::CATALOG_BRANCH, "path": "gitops/overlays/{{.env}}/{{.dir}}"},
                    "destination": {"name": "{{.cluster}}", "namespace": "{{.namespace}}"},
                    // RespectIgnoreDifferences: a sync keeps the live value of an ignored field
                    // instead of resetting it (a sync mid-rollout must not reset the weights).
                    "syncPolicy": {"syncOptions": ["ServerSideApply=true", "PruneLast=true", "RespectIgnoreDifferences=true"]},
                    "ignoreDifferences": ignore_differences(),
                }
            },
            // retry: Applications sync in no set order, so a service's first sync may come before
            // its environment's Namespace exists; without a retry, auto-sync never tries the same
            // commit again and the Application stays failed until the next commit.
            "templatePatch": "{{- if eq .automated \"true\" }}\nspec:\n  syncPolicy:\n    automated:\n      prune: true\n      selfHeal: true\n    retry:\n      limit: 10\n      backoff:\n        duration: 5s\n        factor: 2\n        maxDuration: 3m\n{{- end }}\n",
        }
    })
}

/// Fields other controllers own in the objects of an Application. With an HPA, the autoscaler
/// owns a Rollout's replicas; during a canary the Argo Rollouts controller owns the router's
/// weights and the routes it adds (the same fields glidepath's own plan leaves out).
///
/// And the `rollouts-pod-template-hash` the controller adds to the selector of every Service a
/// Rollout names. A selector is an atomic map for server-side apply: without this entry Argo CD
/// sees the Service OutOfSync the moment a rollout starts, self-heal applies the rendered selector
/// without the hash, the canary (or preview) Service selects every revision at once, the
/// controller puts the hash back, and so on (argoproj/argo-rollouts#3437). Ignored, and with
/// `RespectIgnoreDifferences=true`, each sync carries the live hash into what it applies, as
/// glidepath's own apply does (tests/argocd.rs watches the selectors through a canary).
fn ignore_differences() -> Value {
    let managed_routes = format!(
        ".spec.http[] | select(.name == \"{}\" or .name == \"{}\")",
        traffic::HEADER_ROUTE,
        traffic::MIRROR_ROUTE
    );
    let api = |kind: KubeKind| kind.api().group;
    let selector_hash = format!("/spec/selector/{}", crate::providers::kube::controller_fields::POD_TEMPLATE_HASH);
    json!([
        {"group": api(KubeKind::Rollout), "kind": KubeKind::Rollout.name(), "jsonPointers": ["/spec/replicas"]},
        {"group": api(KubeKind::Service), "kind": KubeKind::Service.name(), "jsonPointers": [selector_hash]},
        {"group": api(KubeKind::VirtualService), "kind": KubeKind::VirtualService.name(),
         "jqPathExpressions": [".spec.http[].route[].weight", managed_routes]},
        {"group": api(KubeKind::HttpRoute), "kind": KubeKind::HttpRoute.name(),
         "jqPathExpressions": [".spec.rules[].backendRefs[].weight"],
         "jsonPointers": ["/metadata/labels/rollouts.argoproj.io~1gatewayapi-canary"]},
        {"group": api(KubeKind::Ingress), "kind": KubeKind::Ingress.name(),
         "jsonPointers": ["/metadata/annotations/alb.ingress.kubernetes.io~1actions.{{.service}}",
                          "/metadata/annotations/rollouts.argoproj.io~1managed-alb-annotations"]},
    ])
}

fn app_project(model: &Model, env: &crate::catalog::Environment) -> Value {
    let name = project_name(model, &env.name);
    let cluster = model.cluster(&env.cluster).map(|c| c.eks_name.clone()).unwrap_or_default();
    // Exactly the kinds glidepath renders, from the registry: cluster-wide ones and namespaced ones.
    let whitelist = |namespaced: bool| -> Vec<Value> {
        KubeKind::ALL
            .iter()
            .map(|k| (k.name(), k.api()))
            .filter(|(_, api)| api.namespaced == namespaced)
            .map(|(kind, api)| json!({"group": api.group, "kind": kind}))
            .collect()
    };
    let mut teams: Vec<&str> =
        model.services.iter().filter(|s| s.environments.contains(&env.name)).map(|s| s.team.as_str()).collect();
    teams.sort();
    teams.dedup();
    let mut spec = json!({
        "description": format!("{} services in {}", model.platform.name, env.name),
        "sourceRepos": [gitops_repo(model)],
        "destinations": [{"name": cluster, "namespace": env.namespace}],
        "clusterResourceWhitelist": whitelist(false),
        "namespaceResourceWhitelist": whitelist(true),
        "roles": [{
            "name": "deployers",
            "description": "service teams may sync their applications",
            "policies": [format!("p, proj:{name}:deployers, applications, sync, {name}/*, allow"), format!("p, proj:{name}:deployers, applications, get, {name}/*, allow")],
            "groups": teams.iter().map(|t| format!("{}:{t}", model.platform.github_org)).collect::<Vec<_>>(),
        }],
    });
    if env.approval {
        // Production syncs only in working hours, and only when someone syncs by hand.
        spec["syncWindows"] = json!([{"kind": "allow", "schedule": "0 8 * * 1-5", "duration": "10h", "applications": ["*"], "manualSync": true}]);
    }
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": name, "namespace": ARGOCD_NAMESPACE, "labels": {"app.kubernetes.io/managed-by": "glidepath"}},
        "spec": spec,
    })
}

/// Service teams own their non-production overlays; production and the Argo CD objects need the platform team.
fn codeowners(model: &Model) -> String {
    let org = &model.platform.github_org;
    let mut lines = vec![
        "# Written by glidepath render: production changes need the platform team.".to_string(),
        format!("/gitops/ @{org}/platform"),
    ];
    for env in model.environments.iter().filter(|e| !e.approval) {
        for service in model.services.iter().filter(|s| s.environments.contains(&env.name)) {
            lines.push(format!(
                "/gitops/overlays/{}/{}/ @{org}/{} @{org}/platform",
                env.name, service.name, service.team
            ));
        }
    }
    for env in model.environments.iter().filter(|e| e.approval) {
        lines.push(format!("/gitops/overlays/{}/ @{org}/platform", env.name));
    }
    lines.push(format!("/gitops/argocd/ @{org}/platform"));
    lines.join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patches_round_trip() {
        let base = json!({"a": 1, "b": {"c": [1, 2], "d": "x"}, "gone": true});
        let target = json!({"a": 1, "b": {"c": [3], "d": "x", "e": null}, "new": {"k": "v"}});
        let patch = merge_patch(&base, &target).unwrap();
        assert_eq!(patch, json!({"b": {"c": [3], "e": null}, "new": {"k": "v"}, "gone": null}));
        // (A null in the target is not expressible in a merge patch; our bodies never hold one.)
        let target = json!({"a": 1, "b": {"c": [3], "d": "x"}, "new": {"k": "v"}});
        assert_eq!(apply_merge_patch(&base, &merge_patch(&base, &target).unwrap()), target);
        assert!(merge_patch(&target, &target).is_none());
    }
}
