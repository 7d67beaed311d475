//! The GitOps layout: every overlay, built with the real kustomize, gives exactly the objects
//! glidepath renders (and applies) for that environment; the Argo CD objects and CODEOWNERS
//! say what the catalog says.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use glidepath::render::{self, output, Resource};
use serde::Deserialize;
use serde_json::Value;

fn kustomize() -> PathBuf {
    if let Some(path) = std::env::var_os("KUSTOMIZE") {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let cache = std::env::var_os("GLIDEPATH_CACHE").map(PathBuf::from).unwrap_or(home.join(".cache/glidepath"));
    let path = cache.join("bin/kustomize-v5.7.1");
    assert!(
        path.exists(),
        "kustomize not found at {}: run scripts/install-kustomize (or set KUSTOMIZE)",
        path.display()
    );
    path
}

fn rendered_tree() -> (glidepath::catalog::Model, render::DesiredSet, tempfile::TempDir) {
    let model = glidepath::catalog::load(Path::new("examples/shop")).unwrap();
    let desired = render::render(&model).unwrap();
    let dir = tempfile::tempdir().unwrap();
    output::write_tree(&model, &desired, &dir.path().join("out")).unwrap();
    (model, desired, dir)
}

fn key(object: &Value) -> (String, String) {
    (
        object["kind"].as_str().unwrap_or_default().to_string(),
        object["metadata"]["name"].as_str().unwrap_or_default().to_string(),
    )
}

#[test]
fn every_overlay_builds_to_exactly_the_rendered_objects() {
    let (model, desired, dir) = rendered_tree();
    let overlays = dir.path().join("out/gitops/overlays");
    let mut built = 0;
    let mut jobs = 0;
    for env in &model.environments {
        let owners: Vec<String> = std::fs::read_dir(overlays.join(&env.name))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        for owner in owners {
            let out =
                Command::new(kustomize()).arg("build").arg(overlays.join(&env.name).join(&owner)).output().unwrap();
            assert!(
                out.status.success(),
                "kustomize build {}/{owner}: {}",
                env.name,
                String::from_utf8_lossy(&out.stderr)
            );
            let mut got: BTreeMap<(String, String), Value> = BTreeMap::new();
            for document in serde_norway::Deserializer::from_slice(&out.stdout) {
                let object = Value::deserialize(document).unwrap();
                got.insert(key(&object), object);
            }
            let wanted: BTreeMap<(String, String), Value> = desired
                .resources
                .iter()
                .filter_map(|(address, resource)| match (address.env(), address.owner(), resource) {
                    // What Argo CD syncs: a migration Job as a PreSync hook under a stable name.
                    (Some(e), Some(o), Resource::Kube(object)) if e == env.name && o == owner => {
                        let synced = render::gitops::as_synced(&object.body);
                        Some((key(&synced), synced))
                    }
                    _ => None,
                })
                .collect();
            assert_eq!(
                got.keys().collect::<Vec<_>>(),
                wanted.keys().collect::<Vec<_>>(),
                "{}/{owner}: objects",
                env.name
            );
            for ((kind, name), object) in &wanted {
                if kind == "Job" {
                    let annotations = &object["metadata"]["annotations"];
                    assert_eq!(annotations["argocd.argoproj.io/hook"], "PreSync", "{name}");
                    assert_eq!(annotations["argocd.argoproj.io/hook-delete-policy"], "BeforeHookCreation", "{name}");
                    jobs += 1;
                }
            }
            for (k, object) in &wanted {
                assert_eq!(&got[k], object, "{}/{owner}: {k:?} differs from what glidepath applies", env.name);
            }
            built += 1;
        }
    }
    assert_eq!(built, 30 + 3, "one overlay per service and environment, and one shared per environment");
    assert_eq!(jobs, 9, "a PreSync migration Job per service with migrations and environment");
}

#[test]
fn argo_cd_objects_and_codeowners_follow_the_catalog() {
    let (model, _, dir) = rendered_tree();
    let gitops = dir.path().join("out/gitops");
    let read = |p: &str| -> Value { serde_norway::from_str(&std::fs::read_to_string(gitops.join(p)).unwrap()).unwrap() };
    let set = read("argocd/applicationset.yaml");
    let elements = set["spec"]["generators"][0]["list"]["elements"].as_array().unwrap();
    let pairs: usize = model.services.iter().map(|s| s.environments.len()).sum();
    // One Application per service and environment, and one per environment for its shared
    // objects (the Namespace and notification ConfigMap no service's overlay holds).
    assert_eq!(elements.len(), pairs + model.environments.len());
    for env in &model.environments {
        let shared = elements.iter().find(|e| e["env"] == env.name.as_str() && e["dir"] == "_shared").unwrap();
        assert_eq!(shared["app"], format!("{}-{}", model.platform.name, env.name));
        assert!(gitops.join("overlays").join(&env.name).join("_shared/kustomization.yaml").exists());
    }
    for element in elements {
        let automated = element["automated"].as_str().unwrap();
        assert_eq!(automated, if element["env"] == "prod" { "false" } else { "true" }, "prod syncs by hand: {element}");
    }
    let ignored = &set["spec"]["template"]["spec"]["ignoreDifferences"];
    assert_eq!(ignored[0]["jsonPointers"][0], "/spec/replicas");
    // The hash the rollouts controller adds to the Services' (atomic) selectors: self-heal must
    // neither see it as drift nor strip it (tests/argocd.rs proves it through a canary).
    assert_eq!(ignored[1]["kind"], "Service");
    assert_eq!(ignored[1]["jsonPointers"][0], "/spec/selector/rollouts-pod-template-hash");
    let options = set["spec"]["template"]["spec"]["syncPolicy"]["syncOptions"].as_array().unwrap();
    assert!(options.iter().any(|o| o == "RespectIgnoreDifferences=true"), "{options:?}");
    let patch = set["spec"]["templatePatch"].as_str().unwrap();
    assert!(patch.contains("selfHeal: true") && patch.contains("retry:"), "{patch}");
    let prod = read("argocd/appproject.prod.yaml");
    assert_eq!(prod["spec"]["syncWindows"][0]["manualSync"], true);
    assert_eq!(prod["spec"]["destinations"][0]["namespace"], "shop");
    assert!(read("argocd/appproject.dev.yaml")["spec"].get("syncWindows").is_none());
    let owners = std::fs::read_to_string(gitops.join("CODEOWNERS")).unwrap();
    assert!(owners.contains("/gitops/overlays/prod/ @acme/platform"), "{owners}");
    assert!(owners.contains("/gitops/overlays/dev/payment-service/ @acme/payments @acme/platform"), "{owners}");
}
