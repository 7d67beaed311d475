//! AWS resources as data: the GitHub OIDC provider, per-service CI roles, IRSA roles, ECR
//! repositories, SNS topics and their subscriptions. Policies are built as JSON documents so a
//! plan can compare them structurally.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::arn::Arns;
use crate::catalog::names;
use crate::catalog::{CiSystem, CiTrust, Model, Service};

use super::resource::{AwsResource, EcrRepository, IamRole, OidcProvider, SnsSubscription, SnsTopic, Tags};

/// The tag of AWS resources made for one environment (IRSA roles): `--env` selects them with it.
pub const ENVIRONMENT_TAG: &str = "glidepath:environment";

pub const GITHUB_OIDC_HOST: &str = "token.actions.githubusercontent.com";
pub const STS_AUDIENCE: &str = "sts.amazonaws.com";
/// GitHub's published certificate thumbprints; AWS no longer checks them for GitHub, but older
/// accounts and some tools still expect the list to be present.
const GITHUB_THUMBPRINTS: [&str; 2] =
    ["1c58a3a8518e8759bf075b76b750d4f2df264fcd", "6938fd4d98bab03faadb97b34396831e3780aea1"];
/// Exact ECR actions a CI job needs to push an image (and read it back for multi-stage caches).
pub const ECR_PUSH_ACTIONS: [&str; 8] = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:CompleteLayerUpload",
    "ecr:DescribeImages",
    "ecr:GetDownloadUrlForLayer",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
];

pub fn render(model: &Model) -> Vec<AwsResource> {
    let mut out = Vec::new();
    // Only GitHub Actions authenticate with GitHub's tokens; CodeBuild runs as an AWS role.
    if model.services.iter().any(uses_github_actions) {
        out.push(AwsResource::OidcProvider(OidcProvider {
            url: format!("https://{GITHUB_OIDC_HOST}"),
            client_ids: vec![STS_AUDIENCE.into()],
            thumbprints: GITHUB_THUMBPRINTS.iter().map(|s| s.to_string()).collect(),
            // Shared by every catalog in the account, so it carries no catalog tag.
            tags: Tags::from([("managed-by".into(), "glidepath".into())]),
        }));
    }
    for service in &model.services {
        out.push(AwsResource::EcrRepository(ecr_repository(model, service)));
        if uses_github_actions(service) {
            out.push(AwsResource::IamRole(ci_role(model, service)));
        }
        if !service.aws_policies.is_empty() {
            for env in &service.environments {
                out.push(AwsResource::IamRole(irsa_role(model, service, env)));
            }
        }
    }
    for route in &model.notifications {
        let topic = names::sns_topic(&model.platform, &route.name);
        let mut tags = catalog_tags(model);
        tags.insert("glidepath:route".into(), route.name.clone());
        out.push(AwsResource::SnsTopic(SnsTopic {
            name: topic.clone(),
            display_name: format!("glidepath {}", route.name),
            policy: topic_policy(model, &route.name),
            tags,
        }));
        for (protocol, endpoints) in [("email", &route.email), ("https", &route.https)] {
            for endpoint in endpoints {
                out.push(AwsResource::SnsSubscription(SnsSubscription {
                    topic: topic.clone(),
                    protocol: protocol.into(),
                    endpoint: endpoint.clone(),
                }));
            }
        }
    }
    out
}

pub fn uses_github_actions(service: &Service) -> bool {
    service.ci.system == CiSystem::GithubActions
}

pub fn topic_arn(model: &Model, topic: &str) -> String {
    Arns::of(model).sns_topic(topic)
}

/// The topic's access policy: the account administers it, and EventBridge may publish to it only
/// for the pipeline rules of services that notify this route.
fn topic_policy(model: &Model, route: &str) -> Value {
    let arn = topic_arn(model, &names::sns_topic(&model.platform, route));
    let mut statements = vec![json!({
        "Sid": "AccountAdministers",
        "Effect": "Allow",
        "Principal": { "AWS": Arns::of(model).root() },
        "Action": [
            "sns:AddPermission", "sns:DeleteTopic", "sns:GetTopicAttributes", "sns:ListSubscriptionsByTopic",
            "sns:Publish", "sns:RemovePermission", "sns:SetTopicAttributes", "sns:Subscribe"
        ],
        "Resource": arn,
    })];
    let rules: Vec<String> = model
        .services
        .iter()
        .filter(|s| s.ci.system == CiSystem::Codepipeline && s.notify.iter().any(|r| r == route))
        .map(|s| super::pipeline::events_rule_arn(model, s))
        .collect();
    if !rules.is_empty() {
        statements.push(json!({
            "Sid": "PipelineEvents",
            "Effect": "Allow",
            "Principal": { "Service": "events.amazonaws.com" },
            "Action": "sns:Publish",
            "Resource": arn,
            "Condition": { "ArnEquals": { "aws:SourceArn": one_or_many(rules) } }
        }));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// Tags that mark a resource as glidepath's, for this catalog; deletes only ever touch these.
pub fn catalog_tags(model: &Model) -> Tags {
    Tags::from([("managed-by".into(), "glidepath".into()), ("glidepath:catalog".into(), model.platform.name.clone())])
}

pub fn service_tags(model: &Model, service: &Service) -> Tags {
    let mut tags = catalog_tags(model);
    tags.insert("glidepath:service".into(), service.name.clone());
    tags.insert("team".into(), service.team.clone());
    tags
}

pub fn ecr_repository_uri(model: &Model, service: &Service) -> String {
    format!(
        "{}.dkr.ecr.{}.amazonaws.com/{}",
        model.platform.aws_account_id, model.platform.region, service.ecr_repository
    )
}

pub fn irsa_role_arn(model: &Model, env: &str, service: &str) -> String {
    Arns::of(model).role(&names::iam_path(&model.platform), &names::irsa_role(&model.platform, env, service))
}

fn ecr_repository(model: &Model, service: &Service) -> EcrRepository {
    let lifecycle = json!({
        "rules": [
            {
                "rulePriority": 1,
                "description": format!("expire untagged images after {} days", model.platform.ecr_untagged_days),
                "selection": { "tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": model.platform.ecr_untagged_days },
                "action": { "type": "expire" }
            },
            {
                "rulePriority": 2,
                "description": format!("keep the last {} images", model.platform.ecr_keep_images),
                "selection": { "tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": model.platform.ecr_keep_images },
                "action": { "type": "expire" }
            }
        ]
    });
    EcrRepository {
        name: service.ecr_repository.clone(),
        image_tag_mutability: "IMMUTABLE".into(),
        scan_on_push: true,
        encryption: "AES256".into(),
        lifecycle_policy: lifecycle,
        tags: service_tags(model, service),
    }
}

pub fn ecr_repository_arn(model: &Model, service: &Service) -> String {
    Arns::of(model).ecr_repository(&service.ecr_repository)
}

/// ARNs of the EKS clusters a service is deployed to, sorted and without duplicates.
pub fn cluster_arns(model: &Model, service: &Service) -> Vec<String> {
    let clusters: BTreeSet<String> = service
        .environments
        .iter()
        .filter_map(|e| model.environment(e))
        .filter_map(|e| model.cluster(&e.cluster))
        .map(|c| Arns::of(model).eks_cluster(&c.region, &c.eks_name))
        .collect();
    clusters.into_iter().collect()
}

/// Token subjects allowed to assume the CI role: one branch (and the GitHub environment of each
/// push-mode environment with approval), or one GitHub environment per glidepath environment
/// the service deploys to.
pub fn ci_subjects(model: &Model, service: &Service) -> Vec<String> {
    let repo = format!("repo:{}", service.repo.full_name());
    match &service.ci.trust {
        // A push-mode approval environment's deploy job runs in its GitHub environment (the
        // reviewers are the approval): that subject too (`workflow::deploy_environment`).
        CiTrust::Branch(branch) => std::iter::once(format!("{repo}:ref:refs/heads/{branch}"))
            .chain(
                service
                    .environments
                    .iter()
                    .filter_map(|e| model.environment(e))
                    .filter(|e| super::workflow::deploy_environment(service, e))
                    .map(|e| format!("{repo}:environment:{}", e.name)),
            )
            .collect(),
        CiTrust::Environment => service
            .environments
            .iter()
            .filter(|e| model.environment(e).is_some())
            .map(|e| format!("{repo}:environment:{e}"))
            .collect(),
    }
}

pub fn one_or_many(values: Vec<String>) -> Value {
    if values.len() == 1 {
        json!(values[0])
    } else {
        json!(values)
    }
}

fn ci_role(model: &Model, service: &Service) -> IamRole {
    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "GitHubActions",
            "Effect": "Allow",
            "Principal": { "Federated": Arns::of(model).oidc_provider(GITHUB_OIDC_HOST) },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    format!("{GITHUB_OIDC_HOST}:aud"): STS_AUDIENCE,
                    format!("{GITHUB_OIDC_HOST}:sub"): one_or_many(ci_subjects(model, service)),
                }
            }
        }]
    });
    let clusters = cluster_arns(model, service);
    let repository_arn = ecr_repository_arn(model, service);
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            { "Sid": "EcrLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*" },
            { "Sid": "EcrPushOwnRepository", "Effect": "Allow", "Action": ECR_PUSH_ACTIONS, "Resource": repository_arn },
            { "Sid": "DescribeOwnClusters", "Effect": "Allow", "Action": "eks:DescribeCluster", "Resource": one_or_many(clusters) }
        ]
    });
    IamRole {
        name: names::ci_role(&model.platform, &service.name),
        path: names::iam_path(&model.platform),
        description: format!("CI for {}: push to its ECR repository, describe its clusters", service.repo.full_name()),
        max_session_duration: 3600,
        trust_policy: trust,
        inline_policies: [("ci-deploy".to_string(), policy)].into_iter().collect(),
        managed_policy_arns: Vec::new(),
        tags: service_tags(model, service),
    }
}

/// The EKS OIDC issuer of an environment's cluster; when the catalog does not pin it, a
/// placeholder that the AWS provider resolves with eks:DescribeCluster at plan time.
pub fn oidc_issuer(model: &Model, env: &str) -> String {
    let cluster = model.environment(env).and_then(|e| model.cluster(&e.cluster));
    match cluster {
        Some(c) => c.oidc_issuer.clone().unwrap_or_else(|| format!("${{eks:{}:oidc_issuer}}", c.eks_name)),
        None => String::new(),
    }
}

fn irsa_role(model: &Model, service: &Service, env: &str) -> IamRole {
    let issuer = oidc_issuer(model, env);
    let namespace = model.environment(env).map(|e| e.namespace.clone()).unwrap_or_default();
    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ServiceAccount",
            "Effect": "Allow",
            "Principal": { "Federated": Arns::of(model).oidc_provider(&issuer) },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    format!("{issuer}:aud"): STS_AUDIENCE,
                    format!("{issuer}:sub"): format!("system:serviceaccount:{namespace}:{}", service.name),
                }
            }
        }]
    });
    let mut tags = service_tags(model, service);
    tags.insert(ENVIRONMENT_TAG.into(), env.to_string());
    IamRole {
        name: names::irsa_role(&model.platform, env, &service.name),
        path: names::iam_path(&model.platform),
        description: format!("IRSA for {} in {env}", service.name),
        max_session_duration: 3600,
        trust_policy: trust,
        inline_policies: Default::default(),
        // Sorted, as AWS lists them in no particular order.
        managed_policy_arns: {
            let mut arns = service.aws_policies.clone();
            arns.sort();
            arns.dedup();
            arns
        },
        tags,
    }
}
