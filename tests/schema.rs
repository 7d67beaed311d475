//! Every Kubernetes object rendered for the example catalog is valid for the real schemas:
//! the Argo Rollouts v1.9.1 CRDs for Rollout and AnalysisTemplate (checked with a strict
//! structural-schema validator that also reports fields the API server would prune), and the
//! Kubernetes 1.34 API types (k8s-openapi) for core kinds (the migration Jobs among them), the
//! Rollout pod template and the smoke-test Job, checked by a lossless deserialize/serialize round trip.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, PodTemplateSpec, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{json, Value};

use glidepath::render::{KubeObject, Resource};
use support::crd_schema::{self, Crd};
use support::roundtrip::{roundtrip, roundtrip_at};

const CRD_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/crds");
const CRD_FILES: &[&str] = &[
    "argo-rollouts-v1.9.1/rollout-crd.yaml",
    "argo-rollouts-v1.9.1/analysis-template-crd.yaml",
    "istio-v1.32.0/virtualservices.networking.istio.io.yaml",
    "gateway-api-v1.6.3/gateway.networking.k8s.io_httproutes.yaml",
];
/// Catalogs rendered besides examples/shop, for the kinds and shapes it does not use.
const MORE_CATALOGS: &[&str] = &["traffic-istio", "traffic-gateway-api", "traffic-alb"];

/// A rendered Kubernetes object and the address it renders at (for messages).
struct Rendered {
    address: String,
    object: KubeObject,
}

fn render_example() -> Vec<Rendered> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let catalogs = std::iter::once(root.join("examples/shop"))
        .chain(MORE_CATALOGS.iter().map(|f| root.join("tests/fixtures/render").join(f).join("catalog.hcl")));
    let mut rendered = Vec::new();
    for catalog in catalogs {
        let model = glidepath::catalog::load(&catalog).unwrap();
        let desired = glidepath::render::render(&model).unwrap();
        let shown = catalog.strip_prefix(root).unwrap().display().to_string();
        rendered.extend(desired.resources.iter().filter_map(|(address, resource)| match resource {
            Resource::Kube(object) => Some(Rendered { address: format!("{shown}: {address}"), object: object.clone() }),
            Resource::Aws(_) => None,
        }));
    }
    rendered
}

/// The CRDs glidepath renders custom objects for, keyed by kind.
fn crds() -> BTreeMap<String, Crd> {
    assert!(Path::new(CRD_DIR).is_dir(), "the CRDs are expected at {CRD_DIR}");
    CRD_FILES
        .iter()
        .map(|file| {
            let crd = Crd::load(&PathBuf::from(CRD_DIR).join(file));
            (crd.kind.clone(), crd)
        })
        .collect()
}

type RoundTrip = fn(&Value) -> Result<(), String>;

/// The k8s-openapi type each core kind must round-trip through.
fn core_checker(kind: &str) -> Option<RoundTrip> {
    Some(match kind {
        "Namespace" => roundtrip::<Namespace>,
        "ServiceAccount" => roundtrip::<ServiceAccount>,
        "Service" => roundtrip::<Service>,
        "ConfigMap" => roundtrip::<ConfigMap>,
        "PodDisruptionBudget" => roundtrip::<PodDisruptionBudget>,
        "HorizontalPodAutoscaler" => roundtrip::<HorizontalPodAutoscaler>,
        "Ingress" => roundtrip::<Ingress>,
        "Job" => roundtrip::<Job>,
        _ => return None,
    })
}

/// Kinds (among `kinds`) that neither a CRD nor a k8s-openapi type checks.
fn unchecked_kinds<'a>(kinds: impl IntoIterator<Item = &'a str>, crds: &BTreeMap<String, Crd>) -> Vec<String> {
    let mut unchecked: Vec<String> = kinds
        .into_iter()
        .filter(|kind| !crds.contains_key(*kind) && core_checker(kind).is_none())
        .map(str::to_string)
        .collect();
    unchecked.sort();
    unchecked.dedup();
    unchecked
}

/// Everything wrong with one custom object: CRD schema, apiVersion/scope, and its metadata
/// (which the CRD schema leaves open but the API server validates as ObjectMeta).
fn custom_object_errors(crd: &Crd, body: &Value) -> Vec<String> {
    let mut errors = crd.validate(body);
    if body["apiVersion"] != crd.api_version().as_str() {
        errors.push(format!("apiVersion: {} is not {}", body["apiVersion"], crd.api_version()));
    }
    if !crd.served {
        errors.push(format!("apiVersion: {} is not served by the CRD", crd.api_version()));
    }
    if crd.scope == "Namespaced" && !body["metadata"]["namespace"].is_string() {
        errors.push("metadata.namespace: missing on a namespaced kind".to_string());
    }
    if let Err(report) = roundtrip_at::<ObjectMeta>(&body["metadata"], "metadata") {
        errors.push(report);
    }
    errors
}

fn by_kind<'a>(rendered: &'a [Rendered], kind: &str) -> Vec<&'a Rendered> {
    rendered.iter().filter(|r| r.object.kind == kind).collect()
}

fn fail_with(failures: &[String], what: &str) {
    assert!(failures.is_empty(), "{} {what}:\n\n{}", failures.len(), failures.join("\n\n"));
}

// ---------------------------------------------------------------------------------------------
// The rendered example against the real schemas
// ---------------------------------------------------------------------------------------------

#[test]
fn every_rendered_kind_has_a_checker() {
    let rendered = render_example();
    let crds = crds();
    assert!(!rendered.is_empty(), "the example renders no Kubernetes objects");

    let unchecked = unchecked_kinds(rendered.iter().map(|r| r.object.kind.as_str()), &crds);
    assert!(unchecked.is_empty(), "rendered kinds without a schema check: {unchecked:?}");

    // Checkers dispatch on `KubeObject::kind`; it must be what the manifest itself says.
    let mut mismatches = Vec::new();
    for r in &rendered {
        let body = &r.object.body;
        if body["kind"] != r.object.kind.as_str() || body["apiVersion"] != r.object.api_version.as_str() {
            mismatches.push(format!(
                "{}: object says {}/{} but body says {}/{}",
                r.address, r.object.api_version, r.object.kind, body["apiVersion"], body["kind"]
            ));
        }
    }
    fail_with(&mismatches, "objects whose kind/apiVersion differ from their body");

    // Every checker is exercised by the example, so none of them passes vacuously.
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &rendered {
        *counts.entry(r.object.kind.as_str()).or_default() += 1;
    }
    for kind in crds.keys().map(String::as_str).chain([
        "Namespace",
        "ServiceAccount",
        "Service",
        "ConfigMap",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
    ]) {
        assert!(counts.get(kind).copied().unwrap_or(0) > 0, "the example renders no {kind}; counts: {counts:?}");
    }
}

#[test]
fn argo_rollouts_objects_match_the_crd_schemas() {
    let rendered = render_example();
    let crds = crds();
    let mut failures = Vec::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for (kind, crd) in &crds {
        let objects = by_kind(&rendered, kind);
        assert!(!objects.is_empty(), "no {kind} rendered");
        for r in objects {
            let body = &r.object.body;
            let variant = match kind.as_str() {
                "Rollout" => body["spec"]["strategy"].as_object().and_then(|s| s.keys().next().cloned()),
                "AnalysisTemplate" => {
                    body["spec"]["metrics"][0]["provider"].as_object().and_then(|p| p.keys().next().cloned())
                }
                _ => None,
            };
            *counts.entry(format!("{kind}/{}", variant.unwrap_or_default())).or_default() += 1;
            let errors = custom_object_errors(crd, &r.object.body);
            if !errors.is_empty() {
                failures.push(format!("{}:\n  {}", r.address, errors.join("\n  ")));
            }
        }
    }
    eprintln!("validated against CRD schemas: {counts:?}");
    // Both strategies and both analysis providers glidepath renders are exercised.
    for variant in ["Rollout/canary", "Rollout/blueGreen", "AnalysisTemplate/prometheus", "AnalysisTemplate/job"] {
        assert!(counts.get(variant).copied().unwrap_or(0) > 0, "no {variant} validated; counts: {counts:?}");
    }
    fail_with(&failures, "custom objects violate their CRD schema");
}

#[test]
fn core_objects_round_trip_through_the_kubernetes_api_types() {
    let rendered = render_example();
    let mut failures = Vec::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for r in &rendered {
        let Some(check) = core_checker(&r.object.kind) else { continue };
        *counts.entry(r.object.kind.clone()).or_default() += 1;
        if let Err(report) = check(&r.object.body) {
            failures.push(format!("{}: {report}", r.address));
        }
    }
    for kind in
        ["Namespace", "ServiceAccount", "Service", "ConfigMap", "PodDisruptionBudget", "HorizontalPodAutoscaler", "Job"]
    {
        assert!(counts.get(kind).copied().unwrap_or(0) > 0, "no {kind} checked; counts: {counts:?}");
    }
    eprintln!("round-tripped through k8s-openapi types: {counts:?}");
    fail_with(&failures, "core objects are not valid Kubernetes 1.34 objects");
}

#[test]
fn rollout_pod_templates_round_trip_through_pod_template_spec() {
    let rendered = render_example();
    let rollouts = by_kind(&rendered, "Rollout");
    assert!(!rollouts.is_empty(), "no Rollout rendered");
    let mut failures = Vec::new();
    let (mut with_init, mut with_liveness, mut with_tmp) = (0, 0, 0);
    for r in &rollouts {
        let template = &r.object.body["spec"]["template"];
        assert!(template.is_object(), "{}: spec.template is missing", r.address);
        if let Err(report) = roundtrip_at::<PodTemplateSpec>(template, "spec.template") {
            failures.push(format!("{}: {report}", r.address));
        }
        with_init += usize::from(template["spec"]["initContainers"].is_array());
        with_tmp += usize::from(template["spec"]["volumes"][0]["name"] == "tmp");
        with_liveness += usize::from(template["spec"]["containers"][0]["livenessProbe"].is_object());
    }
    // The optional parts of the template are exercised too.
    eprintln!(
        "pod templates checked: {} ({with_tmp} with a /tmp volume, {with_liveness} with livenessProbe)",
        rollouts.len()
    );
    // Migrations run as Jobs (round-tripped with the core objects), never in a Rollout's pods.
    assert_eq!(with_init, 0, "a Rollout renders initContainers");
    assert!(with_tmp > 0, "no Rollout renders its /tmp volume");
    assert!(with_liveness > 0, "no Rollout renders a livenessProbe");
    fail_with(&failures, "Rollout pod templates are not valid PodTemplateSpecs");
}

#[test]
fn analysis_template_jobs_round_trip_through_job_spec() {
    let rendered = render_example();
    let mut failures = Vec::new();
    let mut jobs = 0;
    for r in by_kind(&rendered, "AnalysisTemplate") {
        let metrics = r.object.body["spec"]["metrics"].as_array().cloned().unwrap_or_default();
        for (index, metric) in metrics.iter().enumerate() {
            let Some(job) = metric["provider"].get("job") else { continue };
            jobs += 1;
            let path = format!("spec.metrics[{index}].provider.job");
            if let Err(report) = roundtrip_at::<JobSpec>(&job["spec"], &format!("{path}.spec")) {
                failures.push(format!("{}: {report}", r.address));
            }
            if let Some(metadata) = job.get("metadata") {
                if let Err(report) = roundtrip_at::<ObjectMeta>(metadata, &format!("{path}.metadata")) {
                    failures.push(format!("{}: {report}", r.address));
                }
            }
        }
    }
    eprintln!("analysis job specs checked: {jobs}");
    assert!(jobs > 0, "no AnalysisTemplate with a job provider (smoke test) rendered");
    fail_with(&failures, "analysis jobs are not valid JobSpecs");
}

// ---------------------------------------------------------------------------------------------
// The checkers catch problems
// ---------------------------------------------------------------------------------------------

fn canary_rollout() -> Value {
    let rendered = render_example();
    rendered
        .into_iter()
        .map(|r| r.object.body)
        .find(|body| body["kind"] == "Rollout" && body["spec"]["strategy"]["canary"].is_object())
        .expect("the example renders a canary Rollout")
}

fn pdb() -> Value {
    render_example()
        .into_iter()
        .map(|r| r.object.body)
        .find(|body| body["kind"] == "PodDisruptionBudget")
        .expect("the example renders a PodDisruptionBudget")
}

/// Errors the validator reports for `mutated` that it does not report for `original`.
fn new_errors(crd: &Crd, original: &Value, mutated: &Value) -> Vec<String> {
    let before = crd.validate(original);
    crd.validate(mutated).into_iter().filter(|error| !before.contains(error)).collect()
}

#[test]
fn validator_reports_unknown_fields_and_wrong_types_in_a_rollout() {
    let crds = crds();
    let crd = &crds["Rollout"];
    let original = canary_rollout();

    let mut mutated = original.clone();
    mutated["spec"]["strategy"]["canary"]["stepz"] = mutated["spec"]["strategy"]["canary"]["steps"].clone();
    mutated["spec"]["replicas"] = json!("three");
    let errors = new_errors(crd, &original, &mutated);
    assert_eq!(errors.len(), 2, "expected exactly two new errors, got {errors:#?}");
    assert!(
        errors.iter().any(|e| e.starts_with("spec.strategy.canary.stepz: unknown field")),
        "unknown field not reported: {errors:#?}"
    );
    assert!(
        errors.iter().any(|e| e == "spec.replicas: expected integer, found string \"three\""),
        "wrong type not reported: {errors:#?}"
    );
}

#[test]
fn validator_reports_problems_deep_in_a_rollout() {
    let crds = crds();
    let crd = &crds["Rollout"];
    let original = canary_rollout();
    let mut mutated = original.clone();

    let steps = mutated["spec"]["strategy"]["canary"]["steps"].as_array_mut().unwrap();
    let pause = steps.iter().position(|step| step.get("pause").is_some()).expect("a pause step");
    steps[pause]["pause"]["duration"] = json!(1.5);
    let container = &mut mutated["spec"]["template"]["spec"]["containers"][0];
    container["readinessProbe"]["httpGet"]["pth"] = json!("/ready");
    container["ports"][0]["containerPort"] = json!("8080");
    let duplicate = container["ports"][0].clone();
    container["ports"].as_array_mut().unwrap().push(duplicate);
    mutated["spec"]["template"]["metadata"]["labels"]["tier"] = json!(1);
    mutated["spec"]["selector"] = Value::Null;

    let errors = new_errors(crd, &original, &mutated);
    let expect = [
        format!("spec.strategy.canary.steps[{pause}].pause.duration: expected integer or string, found number 1.5"),
        "spec.template.spec.containers[0].readinessProbe.httpGet.pth: unknown field".to_string(),
        "spec.template.spec.containers[0].ports[0].containerPort: expected integer, found string".to_string(),
        "spec.template.spec.containers[0].ports[1]: duplicate entry".to_string(),
        "spec.template.metadata.labels.tier: expected string, found integer 1".to_string(),
        "spec.selector: null is not allowed".to_string(),
    ];
    for wanted in &expect {
        assert!(errors.iter().any(|e| e.starts_with(wanted.as_str())), "missing {wanted:?} in {errors:#?}");
    }
}

#[test]
fn pod_template_round_trip_catches_unknown_fields_and_wrong_types() {
    let original = canary_rollout()["spec"]["template"].clone();
    assert_eq!(roundtrip::<PodTemplateSpec>(&original), Ok(()), "baseline: the rendered template round-trips");

    let mut unknown = original.clone();
    unknown["spec"]["containers"][0]["lifecycle"]["preStop"]["slep"] = json!({ "seconds": 10 });
    let report = roundtrip::<PodTemplateSpec>(&unknown).expect_err("unknown field must fail");
    assert!(report.contains("spec.containers[0].lifecycle.preStop.slep: dropped"), "{report}");

    let mut wrong = original.clone();
    wrong["spec"]["terminationGracePeriodSeconds"] = json!("45");
    let report = roundtrip::<PodTemplateSpec>(&wrong).expect_err("wrong type must fail");
    assert!(report.contains("does not deserialize"), "{report}");
}

#[test]
fn pdb_round_trip_catches_unknown_fields_and_wrong_types() {
    let original = pdb();
    assert_eq!(roundtrip::<PodDisruptionBudget>(&original), Ok(()), "baseline: the rendered PDB round-trips");

    let mut unknown = original.clone();
    unknown["spec"]["unhealthyPodEvictionPolicyy"] = json!("AlwaysAllow");
    let report = roundtrip::<PodDisruptionBudget>(&unknown).expect_err("unknown field must fail");
    assert!(report.contains("spec.unhealthyPodEvictionPolicyy: dropped (unknown to the type)"), "{report}");

    let mut misplaced = original.clone();
    let selector = misplaced["spec"]["selector"]["matchLabels"].clone();
    misplaced["spec"]["selector"] = json!({ "matchLabel": selector });
    let report = roundtrip::<PodDisruptionBudget>(&misplaced).expect_err("misspelt selector must fail");
    assert!(report.contains("spec.selector.matchLabel: dropped"), "{report}");

    let mut wrong = original.clone();
    wrong["spec"]["selector"]["matchLabels"] = json!("app=payment-service");
    let report = roundtrip::<PodDisruptionBudget>(&wrong).expect_err("wrong type must fail");
    assert!(report.contains("does not deserialize"), "{report}");

    let mut wrong_kind = original.clone();
    wrong_kind["apiVersion"] = json!("policy/v1beta1");
    assert!(roundtrip::<PodDisruptionBudget>(&wrong_kind).is_err(), "wrong apiVersion must fail");
}

#[test]
fn validator_reports_problems_in_an_analysis_template() {
    let crds = crds();
    let crd = &crds["AnalysisTemplate"];
    let original = render_example()
        .into_iter()
        .map(|r| r.object.body)
        .find(|body| {
            body["kind"] == "AnalysisTemplate" && body["spec"]["metrics"][0]["provider"]["prometheus"].is_object()
        })
        .expect("the example renders a Prometheus AnalysisTemplate");
    assert_eq!(crd.validate(&original), Vec::<String>::new(), "baseline: the rendered template is valid");

    let mut missing = original.clone();
    missing["spec"]["metrics"][0].as_object_mut().unwrap().remove("provider");
    assert_eq!(crd.validate(&missing), vec![r#"spec.metrics[0]: missing required field "provider""#.to_string()]);

    let mut mutated = original.clone();
    let metric = &mut mutated["spec"]["metrics"][0];
    let condition = metric.as_object_mut().unwrap().remove("successCondition").unwrap();
    metric["successCondtion"] = condition;
    metric["provider"]["prometheus"]["timeout"] = json!("30s");
    metric["provider"]["datadog"] = json!({ "query": "avg:x", "aggregator": "median" });
    let errors = crd.validate(&mutated);
    let expect = [
        "spec.metrics[0].successCondtion: unknown field",
        "spec.metrics[0].provider.prometheus.timeout: expected integer, found string \"30s\"",
        "spec.metrics[0].provider.datadog.aggregator: \"median\" is not one of",
    ];
    for wanted in expect {
        assert!(errors.iter().any(|e| e.starts_with(wanted)), "missing {wanted:?} in {errors:#?}");
    }
    assert_eq!(errors.len(), expect.len(), "{errors:#?}");
}

#[test]
fn crd_objects_metadata_is_checked_as_object_meta() {
    let crds = crds();
    let original = canary_rollout();
    let mut mutated = original.clone();
    mutated["metadata"]["label"] = json!({ "app": "x" });
    let errors = custom_object_errors(&crds["Rollout"], &mutated);
    assert!(errors.iter().any(|e| e.contains("\n  metadata.label: dropped")), "{errors:#?}");
}

#[test]
fn coverage_check_flags_kinds_without_a_checker() {
    let crds = crds();
    assert_eq!(
        unchecked_kinds(["Rollout", "Deployment", "Service", "CronJob", "Deployment"], &crds),
        vec!["CronJob".to_string(), "Deployment".to_string()]
    );
    assert!(unchecked_kinds(["AnalysisTemplate", "ConfigMap", "HorizontalPodAutoscaler"], &crds).is_empty());
}

/// The validator's semantics on small schemas, independent of the CRDs.
#[test]
fn validator_semantics() {
    use crd_schema::validate_fragment as check;

    let closed = json!({ "type": "object", "properties": { "a": { "type": "string" } }, "required": ["a"] });
    assert!(check(&closed, &json!({ "a": "x" })).is_empty());
    assert_eq!(check(&closed, &json!({})), vec![r#"<root>: missing required field "a""#]);
    assert_eq!(check(&closed, &json!({ "a": "x", "b": 1 })).len(), 1);
    assert!(check(&closed, &json!({ "a": "x", "b": 1 }))[0].starts_with("b: unknown field"));

    // An object schema without properties prunes everything, unless it preserves unknown fields.
    let empty = json!({ "type": "object" });
    assert!(check(&empty, &json!({})).is_empty());
    assert_eq!(check(&empty, &json!({ "x": 1 })).len(), 1);
    let open = json!({ "type": "object", "properties": { "a": { "type": "string" } }, "x-kubernetes-preserve-unknown-fields": true });
    assert!(check(&open, &json!({ "a": "x", "b": { "c": [1, null] } })).is_empty());
    assert_eq!(check(&open, &json!({ "a": 1 })), vec!["a: expected string, found integer 1"]);
    let anything = json!({ "x-kubernetes-preserve-unknown-fields": true });
    assert!(check(&anything, &json!([1, "two", { "three": 3 }])).is_empty());

    let map = json!({ "type": "object", "additionalProperties": { "type": "string" } });
    assert!(check(&map, &json!({ "app.kubernetes.io/name": "x" })).is_empty());
    assert_eq!(
        check(&map, &json!({ "app.kubernetes.io/name": 1 })),
        vec![r#"["app.kubernetes.io/name"]: expected string, found integer 1"#]
    );

    let int_or_string =
        json!({ "anyOf": [{ "type": "integer" }, { "type": "string" }], "x-kubernetes-int-or-string": true });
    assert!(check(&int_or_string, &json!(3)).is_empty());
    assert!(check(&int_or_string, &json!("25%")).is_empty());
    assert_eq!(check(&int_or_string, &json!(true)), vec!["<root>: expected integer or string, found boolean true"]);
    assert_eq!(check(&int_or_string, &json!(2.5)).len(), 1);

    let list = json!({ "type": "array", "items": { "type": "string", "enum": ["a", "b"] } });
    assert!(check(&list, &json!(["a", "b"])).is_empty());
    assert_eq!(check(&list, &json!(["a", "c"])), vec![r#"[1]: "c" is not one of ["a", "b"]"#]);
    assert_eq!(check(&list, &json!({})), vec!["<root>: expected array, found object {}"]);

    let int32 = json!({ "type": "integer", "format": "int32" });
    assert!(check(&int32, &json!(2147483647)).is_empty());
    assert_eq!(check(&int32, &json!(2147483648u64)).len(), 1);
    assert_eq!(check(&json!({ "type": "boolean" }), &json!("true")).len(), 1);
    assert_eq!(check(&json!({ "type": "number" }), &json!(0.5)).len(), 0);
    assert_eq!(
        check(&json!({ "type": "string" }), &Value::Null),
        vec!["<root>: null is not allowed here (the field is not nullable)"]
    );
    assert!(check(&json!({ "type": "string", "nullable": true }), &Value::Null).is_empty());
    // The bounds and patterns the Gateway API and Istio CRDs use.
    let name = json!({ "type": "string", "minLength": 1, "maxLength": 5, "pattern": "^[a-z]+$" });
    assert!(check(&name, &json!("api")).is_empty());
    assert_eq!(check(&name, &json!("Api")), vec![r#"<root>: "Api" does not match pattern "^[a-z]+$""#]);
    assert_eq!(check(&name, &json!("")).len(), 2, "empty: below minLength and not matching");
    assert_eq!(check(&name, &json!("abcdef")), vec![r#"<root>: "abcdef" is longer than maxLength 5"#]);
    let weight = json!({ "type": "integer", "minimum": 0, "maximum": 100 });
    assert_eq!(check(&weight, &json!(101)), vec!["<root>: 101 is above the maximum 100"]);
    let refs = json!({ "type": "array", "maxItems": 1, "items": { "type": "string" } });
    assert_eq!(check(&refs, &json!(["a", "b"])), vec!["<root>: 2 items, more than maxItems 1"]);
    assert_eq!(
        check(&json!({ "type": "string", "multipleOf": 3 }), &json!("x")).len(),
        1,
        "unknown keywords are reported"
    );

    // Top level: metadata may hold anything, the rest is checked.
    let root =
        json!({ "type": "object", "properties": { "metadata": { "type": "object" }, "spec": { "type": "object" } } });
    assert!(crd_schema::validate(&root, &json!({ "metadata": { "name": "x", "labels": { "a": "b" } }, "spec": {} }))
        .is_empty());
    assert_eq!(crd_schema::validate(&root, &json!({ "metadata": {}, "spec": { "x": 1 } })).len(), 1);

    for quantity in ["1", "250m", "1.5Gi", "512Mi", ".5", "1e3", "+2k", "1E-2"] {
        assert!(crd_schema::is_quantity(quantity), "{quantity}");
    }
    for not_quantity in ["", "1.5 Gi", "abc", "1Gb", "1e", ".", "--1", "1ki"] {
        assert!(!crd_schema::is_quantity(not_quantity), "{not_quantity}");
    }
}
