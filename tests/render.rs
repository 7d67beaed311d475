//! Rendered output of every example, snapshotted per environment and service under
//! snapshots/render, so a catalog edit shows up in review as a snapshot diff.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use glidepath::catalog;
use glidepath::render::{self, output};

fn examples() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        fs::read_dir("examples").unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    assert!(!dirs.is_empty());
    dirs
}

fn rendered_files(example: &Path) -> BTreeMap<PathBuf, String> {
    let model = catalog::load(example).unwrap_or_else(|e| panic!("{}: {e:?}", example.display()));
    output::files(&model, &render::render(&model).unwrap()).unwrap()
}

#[test]
fn rendered_examples_match_snapshots() {
    for example in examples() {
        let name = example.file_name().unwrap().to_string_lossy().to_string();
        // One snapshot per top-level group: `aws`, or `<env>/<owner>`.
        let mut groups: BTreeMap<String, String> = BTreeMap::new();
        for (path, text) in rendered_files(&example) {
            let parts: Vec<String> = path.iter().map(|p| p.to_string_lossy().to_string()).collect();
            let group = if parts[0] == "aws" { "aws".to_string() } else { format!("{}__{}", parts[0], parts[1]) };
            let body = groups.entry(group).or_default();
            body.push_str(&format!("# ---- {} ----\n{text}", path.display()));
        }
        for (group, body) in groups {
            insta::with_settings!({ snapshot_path => "../snapshots/render", prepend_module_to_snapshot => false }, {
                insta::assert_snapshot!(format!("{name}__{group}"), body);
            });
        }
    }
}

#[test]
fn rendering_is_deterministic() {
    for example in examples() {
        assert_eq!(rendered_files(&example), rendered_files(&example), "{}", example.display());
    }
}

#[test]
fn every_resource_carries_ownership_labels_or_tags() {
    let model = catalog::load(Path::new("examples/shop")).unwrap();
    let desired = render::render(&model).unwrap();
    for (address, resource) in &desired.resources {
        let body = resource.body();
        match resource {
            render::Resource::Kube(_) => {
                let labels = &body["metadata"]["labels"];
                assert_eq!(labels["app.kubernetes.io/managed-by"], "glidepath", "{address}");
                assert_eq!(labels["glidepath.dev/catalog"], "shop", "{address}");
            }
            render::Resource::Aws(aws) => {
                match aws {
                    // Subscriptions belong to their (tagged) topic.
                    render::AwsResource::SnsSubscription(_) => {}
                    // Shared by every catalog in the account: owned by glidepath, no catalog.
                    render::AwsResource::OidcProvider(_) => {
                        assert_eq!(body["tags"], serde_json::json!({"managed-by": "glidepath"}), "{address}")
                    }
                    _ => {
                        assert_eq!(body["tags"]["managed-by"], "glidepath", "{address}");
                        assert_eq!(body["tags"]["glidepath:catalog"], "shop", "{address}");
                    }
                }
            }
        }
    }
}

#[test]
fn canary_and_blue_green_follow_the_catalog() {
    let model = catalog::load(Path::new("examples/shop")).unwrap();
    let desired = render::render(&model).unwrap();
    let body = |address: &str| desired.resources[&address.parse().unwrap()].body();

    let rollout = body("prod/payment-service/k8s/Rollout/payment-service");
    let steps = rollout["spec"]["strategy"]["canary"]["steps"].as_array().unwrap();
    let weights: Vec<i64> = steps.iter().filter_map(|s| s["setWeight"].as_i64()).collect();
    assert_eq!(weights, [5, 20, 50, 100]);
    assert_eq!(steps[1]["pause"]["duration"], "5m");
    assert_eq!(steps[steps.len() - 2]["pause"], serde_json::json!({}), "prod requires approval before 100%");
    assert_eq!(rollout["spec"]["strategy"]["canary"]["analysis"]["startingStep"], 0);
    let dev = body("dev/payment-service/k8s/Rollout/payment-service");
    let dev_steps = dev["spec"]["strategy"]["canary"]["steps"].as_array().unwrap();
    assert!(dev_steps.iter().all(|s| s["pause"] != serde_json::json!({})), "dev needs no approval");
    assert_eq!(rollout["spec"]["replicas"], 20);
    assert_eq!(
        rollout["spec"]["strategy"]["canary"]["maxUnavailable"], 0,
        "zero downtime: never below desired capacity"
    );
    // The migration runs once per version, as a Job before the Rollout, not in every pod.
    assert!(rollout["spec"]["template"]["spec"].get("initContainers").is_none());
    let jobs: Vec<_> = desired
        .resources
        .iter()
        .filter(|(a, _)| a.to_string().starts_with("prod/payment-service/k8s/Job/payment-service-migrate-"))
        .map(|(_, r)| r.body())
        .collect();
    assert_eq!(jobs.len(), 1, "one migration Job per service and environment");
    let job = &jobs[0]["spec"]["template"]["spec"];
    assert_eq!(job["containers"][0]["command"][0], "flyway");
    assert_eq!(job["containers"][0]["image"], rollout["spec"]["template"]["spec"]["containers"][0]["image"]);
    assert_eq!(job["containers"][0]["envFrom"][0]["secretRef"]["name"], "payment-db-credentials");
    assert_eq!(job["serviceAccountName"], "payment-service");

    let analysis = body("prod/payment-service/k8s/AnalysisTemplate/payment-service-slo");
    let query = analysis["spec"]["metrics"][0]["provider"]["prometheus"]["query"].as_str().unwrap();
    assert!(query.contains("service=\"payment-service\",namespace=\"shop\""), "{query}");
    assert_eq!(analysis["spec"]["metrics"][0]["successCondition"], "result[0] <= 0.01");
    assert_eq!(analysis["spec"]["metrics"][1]["successCondition"], "result[0] <= 0.5");

    let blue_green = body("staging/user-service/k8s/Rollout/user-service");
    let strategy = &blue_green["spec"]["strategy"]["blueGreen"];
    assert_eq!(strategy["previewService"], "user-service-preview");
    assert_eq!(strategy["prePromotionAnalysis"]["templates"][0]["templateName"], "user-service-smoke");
    assert_eq!(
        body("prod/user-service/k8s/Rollout/user-service")["spec"]["strategy"]["blueGreen"]["autoPromotionEnabled"],
        false,
        "prod requires approval"
    );

    let search = body("prod/search/k8s/Rollout/search");
    assert!(search["spec"].get("replicas").is_none(), "the HPA owns replicas");
    assert_eq!(body("prod/search/k8s/HorizontalPodAutoscaler/search")["spec"]["maxReplicas"], 24);

    let role = body("aws/iam_role/shop-cart-ci");
    let condition = &role["trust_policy"]["Statement"][0]["Condition"]["StringEquals"];
    // The branch, and prod's GitHub environment: in push mode its reviewers are the approval,
    // so the prod deploy job runs there.
    assert_eq!(
        condition["token.actions.githubusercontent.com:sub"],
        serde_json::json!(["repo:acme/cart:ref:refs/heads/main", "repo:acme/cart:environment:prod"])
    );
    assert_eq!(condition["token.actions.githubusercontent.com:aud"], "sts.amazonaws.com");
    let ecr = body("aws/ecr_repository/shop/checkout");
    assert_eq!(ecr["image_tag_mutability"], "IMMUTABLE");
    assert_eq!(ecr["scan_on_push"], true);
}
