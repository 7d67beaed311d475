//! The rendered example edited the way a hand change or a renderer bug would: each edit must trip
//! the policy check it names. A correct render never breaks these policies, so no catalog fixture
//! can trigger them; these edits are their fixtures (tests/check.rs, tests/rules.rs).

use std::path::Path;

use glidepath::check::{self, Severity};
use glidepath::render::resource::IamRole;
use glidepath::render::{self, AwsResource, DesiredSet, Resource};
use serde_json::{json, Value};

/// One edit of the rendered `examples/shop` and the policy error it must cause.
pub struct Tampering {
    pub expect: &'static str,
    pub what: &'static str,
    pub edit: fn(&mut DesiredSet),
}

/// The policy error codes of the rendered example after `edit`.
pub fn policy_errors(edit: impl Fn(&mut DesiredSet)) -> Vec<&'static str> {
    let model = glidepath::catalog::load(Path::new("examples/shop")).unwrap();
    let mut desired = render::render(&model).unwrap();
    edit(&mut desired);
    check::policy::check(&model, &desired)
        .into_iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.code.as_str())
        .collect()
}

fn kube_body<'a>(desired: &'a mut DesiredSet, address: &str) -> &'a mut Value {
    match desired.resources.get_mut(&address.parse().unwrap()) {
        Some(Resource::Kube(object)) => &mut object.body,
        _ => panic!("{address} is not a rendered cluster object"),
    }
}

fn role<'a>(desired: &'a mut DesiredSet, name: &str) -> &'a mut IamRole {
    match desired.resources.get_mut(&format!("aws/iam_role/{name}").parse().unwrap()) {
        Some(Resource::Aws(AwsResource::IamRole(role))) => role,
        _ => panic!("no role {name}"),
    }
}

/// The statement `sid` of the role's first inline policy.
fn statement(desired: &mut DesiredSet, role_name: &str, sid: &str) -> Value {
    let role = role(desired, role_name);
    let policy = role.inline_policies.values_mut().next().unwrap();
    policy["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == sid).unwrap().clone()
}

/// Adds a statement to the role's first inline policy.
fn add_statement(desired: &mut DesiredSet, role_name: &str, statement: Value) {
    let policy = role(desired, role_name).inline_policies.values_mut().next().unwrap();
    policy["Statement"].as_array_mut().unwrap().push(statement);
}

const SUB: &str = "token.actions.githubusercontent.com:sub";

pub fn cases() -> Vec<Tampering> {
    vec![
        Tampering {
            expect: "policy::wildcard-trust",
            what: "a StringLike wildcard in the CI role's trust",
            edit: |d| {
                let r = role(d, "shop-cart-ci");
                r.trust_policy["Statement"][0]["Condition"] = json!({"StringLike": {SUB: "repo:acme/*"}});
            },
        },
        Tampering {
            expect: "policy::ci-trust-mismatch",
            what: "the CI role trusting another branch",
            edit: |d| {
                role(d, "shop-cart-ci").trust_policy["Statement"][0]["Condition"]["StringEquals"][SUB] =
                    json!("repo:acme/cart:ref:refs/heads/dev");
            },
        },
        Tampering {
            expect: "policy::wildcard-action",
            what: "ecr:* in the CI role",
            edit: |d| {
                role(d, "shop-cart-ci").inline_policies.get_mut("ci-deploy").unwrap()["Statement"][1]["Action"] =
                    json!("ecr:*");
            },
        },
        Tampering {
            expect: "policy::resource-scope",
            what: "the CI role pushing to another service's repository",
            edit: |d| {
                role(d, "shop-cart-ci").inline_policies.get_mut("ci-deploy").unwrap()["Statement"][1]["Resource"] =
                    json!("arn:aws:ecr:eu-west-1:123456789012:repository/shop/payment-service");
            },
        },
        // The CodePipeline path's roles are held to the same scoping: CodeBuild pushing to another
        // service's repository, the pipeline role running any project, the source events role
        // starting more than its own pipeline.
        Tampering {
            expect: "policy::resource-scope",
            what: "CodeBuild pushing to another service's repository",
            edit: |d| {
                let mut push = statement(d, "shop-catalog-codebuild", "EcrPushOwnRepository");
                push["Resource"] = json!("arn:aws:ecr:eu-west-1:123456789012:repository/shop/payment-service");
                add_statement(d, "shop-catalog-codebuild", push);
            },
        },
        Tampering {
            expect: "policy::wildcard-action",
            what: "the pipeline role running any CodeBuild action",
            edit: |d| {
                let mut run = statement(d, "shop-inventory-pipeline", "RunOwnProjects");
                run["Action"] = json!("codebuild:*");
                add_statement(d, "shop-inventory-pipeline", run);
            },
        },
        // The role EventBridge starts inventory's pipeline as: any CodePipeline action, or another
        // service's pipeline.
        Tampering {
            expect: "policy::wildcard-action",
            what: "the source events role allowed any CodePipeline action",
            edit: |d| {
                let mut start = statement(d, "shop-inventory-source-events", "StartOwnPipeline");
                start["Action"] = json!("codepipeline:*");
                add_statement(d, "shop-inventory-source-events", start);
            },
        },
        Tampering {
            expect: "policy::resource-scope",
            what: "the source events role starting another service's pipeline",
            edit: |d| {
                let policy = role(d, "shop-inventory-source-events").inline_policies.values_mut().next().unwrap();
                policy["Statement"][0]["Resource"] = json!("arn:aws:codepipeline:eu-west-1:123456789012:shop-catalog");
            },
        },
        Tampering {
            expect: "policy::mutable-image",
            what: "a rollout running nginx:latest",
            edit: |d| {
                kube_body(d, "prod/cart/k8s/Rollout/cart")["spec"]["template"]["spec"]["containers"][0]["image"] =
                    json!("nginx:latest");
            },
        },
        Tampering {
            expect: "policy::probe-port",
            what: "a readiness probe on another port",
            edit: |d| {
                kube_body(d, "prod/cart/k8s/Rollout/cart")["spec"]["template"]["spec"]["containers"][0]
                    ["readinessProbe"]["httpGet"]["port"] = json!(9999);
            },
        },
        Tampering {
            expect: "policy::promql-selector",
            what: "an analysis query selecting another service",
            edit: |d| {
                let query = &mut kube_body(d, "prod/cart/k8s/AnalysisTemplate/cart-slo")["spec"]["metrics"][0]
                    ["provider"]["prometheus"]["query"];
                *query = json!(query.as_str().unwrap().replace("service=\"cart\"", "service=\"checkout\""));
            },
        },
        Tampering {
            expect: "policy::plaintext-secret",
            what: "an AWS access key id in a rendered annotation",
            edit: |d| {
                kube_body(d, "prod/cart/k8s/Rollout/cart")["metadata"]["annotations"]["leak"] =
                    json!("AKIAIOSFODNN7EXAMPLE");
            },
        },
    ]
}
