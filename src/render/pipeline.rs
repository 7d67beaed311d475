//! The AWS-native path: per CodePipeline service a pipeline (Source → Build → Deploy-ENV …, with
//! integration tests after the first environment, a k6 load test before the last and a manual
//! approval before every environment that requires one), its CodeBuild projects with buildspecs
//! from `templates/aws/` and the CloudWatch Logs group they write to, a CodeBuild role and a pipeline role with least-privilege inline
//! policies, and an EventBridge rule sending pipeline events to the service's SNS topics. A
//! pipeline whose source is CodeCommit is started by a second rule, on pushes to its branch, as a
//! role that may start only that pipeline. The image is built once; every deploy stage gets the
//! same digest through the build's variables.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use minijinja::Environment;
use serde_json::{json, Value};

use crate::arn::Arns;
use crate::catalog::values::trim_float;
use crate::catalog::{names, CiSource, CiSystem, GitRepo, Model, Service};

use super::aws::{self, cluster_arns, ecr_repository_arn, one_or_many, service_tags, ECR_PUSH_ACTIONS};
use super::resource::{
    ActionDeclaration, ActionTypeId, ArtifactName, ArtifactStore, AwsResource, CodebuildProject, EventsRule,
    EventsTarget, GitConfiguration, GitIncludes, GitPushFilter, IamRole, LogGroup, Pipeline, PipelineDeclaration,
    PipelineTrigger, S3Bucket, StageDeclaration,
};
use super::{tools, RenderError};

/// The CodeBuild projects of a pipeline, by the suffix of their name, with their templates.
const PROJECTS: [(Stage, &str, &str); 4] = [
    (Stage::Build, "aws/buildspec-build.yaml.j2", include_str!("../../templates/aws/buildspec-build.yaml.j2")),
    (Stage::Deploy, "aws/buildspec-deploy.yaml.j2", include_str!("../../templates/aws/buildspec-deploy.yaml.j2")),
    (
        Stage::IntegrationTests,
        "aws/buildspec-integration-tests.yaml.j2",
        include_str!("../../templates/aws/buildspec-integration-tests.yaml.j2"),
    ),
    (
        Stage::LoadTest,
        "aws/buildspec-load-test.yaml.j2",
        include_str!("../../templates/aws/buildspec-load-test.yaml.j2"),
    ),
];

/// Standard CodeBuild image of the image build (docker, python and the AWS CLI included).
pub const BUILD_IMAGE: &str = "aws/codebuild/amazonlinux-x86_64-standard:5.0";
/// How long a deploy waits for its rollout, and the deploy project's own limit above it.
const ROLLOUT_TIMEOUT: &str = "60m";
/// How long a deploy to a GitOps environment waits for Argo CD to sync the promotion (its default
/// polling is three minutes) before the rollout's own wait: both fit in the project's limit.
const SYNC_TIMEOUT_SECONDS: &str = "1200";
const DEPLOY_TIMEOUT_MINUTES: u32 = 90;
/// Where the deploy step finds the catalog in the repository (the monorepo layout the GitHub
/// workflow assumes too: catalog and services side by side).
pub const CATALOG_DIR: &str = "catalog";
/// Where a deploy to a GitOps environment commits the re-rendered tree Argo CD reads.
const GITOPS_DIR: &str = "gitops";
/// Pipeline variable namespaces of the source and build actions.
const SOURCE_NAMESPACE: &str = "SourceVariables";
const BUILD_NAMESPACE: &str = "BuildVariables";
const SOURCE_ARTIFACT: &str = "source";
const IMAGE_ARTIFACT: &str = "image";

/// The CodeBuild projects of a service's pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Build,
    Deploy,
    IntegrationTests,
    LoadTest,
}

impl Stage {
    /// The suffix of the project's name and its log stream.
    pub fn suffix(self) -> &'static str {
        match self {
            Stage::Build => "build",
            Stage::Deploy => "deploy",
            Stage::IntegrationTests => "integration-tests",
            Stage::LoadTest => "load-test",
        }
    }
}

pub fn uses_codepipeline(service: &Service) -> bool {
    service.ci.system == CiSystem::Codepipeline
}

/// The catalog repository when it is not the pipeline's own source, so the deploy step clones it
/// (with the token of `platform.pipeline_promotion_token_secret`) to commit the promotion there:
/// a CodeCommit source is never the catalog repository (that one is on GitHub, where Argo CD
/// and the workflows read it), a GitHub source is when it names the same OWNER/NAME. `None`: the
/// deploy step commits to its own checkout, the catalog repository itself, or, when the catalog
/// has none, the pipeline's source (`check` refuses that where it matters:
/// policy::catalog-repo-unwritable).
pub fn catalog_elsewhere(model: &Model, service: &Service) -> Option<GitRepo> {
    let catalog = model.catalog_repo()?;
    match service.ci.source {
        CiSource::Github if service.repo.same_repository(&catalog) => None,
        _ => Some(catalog),
    }
}

/// The ARN of the promotion token's secret, which the CodeBuild role of a service whose deploy
/// step clones the catalog repository may read, and no other.
pub fn promotion_secret_arn(model: &Model, service: &Service) -> Option<String> {
    catalog_elsewhere(model, service)?;
    let name = model.platform.pipeline_promotion_token_secret.as_deref()?;
    Some(Arns::of(model).secretsmanager_secret(name))
}

/// Every AWS resource of the AWS-native path: the artifact bucket (once, when any service uses
/// CodePipeline), then per service its roles, log group, projects, pipeline and events rules.
pub fn render(model: &Model) -> Result<Vec<AwsResource>, RenderError> {
    let services: Vec<&Service> = model.services.iter().filter(|s| uses_codepipeline(s)).collect();
    let mut out = Vec::new();
    if services.is_empty() {
        return Ok(out);
    }
    out.push(AwsResource::S3Bucket(S3Bucket {
        name: names::artifact_bucket(&model.platform),
        tags: aws::catalog_tags(model),
    }));
    let templates = environment();
    for service in services {
        out.push(AwsResource::IamRole(codebuild_role(model, service)));
        out.push(AwsResource::IamRole(pipeline_role(model, service)));
        let mut projects = Vec::new();
        for (stage, name, _) in PROJECTS {
            let text = buildspec_text(&templates, name, model, service)?;
            let buildspec = super::yaml_subset::from_str(&text).map_err(|e| RenderError::Yaml {
                template: name.into(),
                reason: e.to_string(),
                text: text.clone(),
            })?;
            projects.push(project(model, service, stage, buildspec));
        }
        // One group per name the projects log to (all four share the pipeline's, each with a
        // stream of its own).
        let groups: BTreeSet<&str> = projects.iter().map(|p| p.log_group.as_str()).collect();
        for group in groups {
            out.push(AwsResource::LogGroup(LogGroup {
                name: group.to_string(),
                retention_in_days: Some(model.platform.log_retention_days),
                tags: service_tags(model, service),
            }));
        }
        out.extend(projects.into_iter().map(AwsResource::CodebuildProject));
        out.push(AwsResource::Codepipeline(pipeline(model, service)));
        if let Some(rule) = events_rule(model, service) {
            out.push(AwsResource::EventsRule(rule));
        }
        if service.ci.source == CiSource::Codecommit {
            out.push(AwsResource::IamRole(source_events_role(model, service)));
            out.push(AwsResource::EventsRule(source_events_rule(model, service)));
        }
    }
    Ok(out)
}

/// The buildspecs as written, `aws/buildspec.PROJECT.yaml`, beside the project JSON files.
pub fn buildspecs(model: &Model) -> Result<Vec<(PathBuf, String)>, RenderError> {
    let templates = environment();
    let mut out = Vec::new();
    for service in model.services.iter().filter(|s| uses_codepipeline(s)) {
        for (stage, name, _) in PROJECTS {
            let project = names::codebuild_project(&model.platform, &service.name, stage.suffix());
            let mut text = buildspec_text(&templates, name, model, service)?;
            if !text.ends_with('\n') {
                text.push('\n');
            }
            out.push((PathBuf::from("aws").join(format!("buildspec.{project}.yaml")), text));
        }
    }
    Ok(out)
}

fn environment() -> Environment<'static> {
    let templates: Vec<(&'static str, &'static str)> = PROJECTS.iter().map(|(_, name, text)| (*name, *text)).collect();
    super::templates::text_environment(&templates)
}

fn buildspec_text(
    templates: &Environment<'static>,
    name: &str,
    model: &Model,
    service: &Service,
) -> Result<String, RenderError> {
    // A deploy step whose source is not the catalog repository clones that one, on its `main`
    // (the revision the ApplicationSet reads), and pushes with the token Secrets Manager holds.
    let elsewhere = catalog_elsewhere(model, service);
    let branch = match &elsewhere {
        Some(_) => super::workflow::CATALOG_BRANCH,
        None => service.ci.branch(),
    };
    let context = json!({
        "catalog_repository": elsewhere.as_ref().map(GitRepo::full_name),
        "promotion_token_secret": model.platform.pipeline_promotion_token_secret,
        "service": service.name,
        "ecr_repository": service.ecr_repository,
        "image_repository": aws::ecr_repository_uri(model, service),
        "service_dir": service.ci.path,
        "unit_tests": service.ci.unit_tests,
        "integration_tests": service.ci.integration_tests,
        "load_test": service.ci.load_test,
        "port": service.port.to_string(),
        "readiness": service.probes.readiness,
        "max_error_rate": trim_float(service.slo.max_error_rate.fraction),
        "p99_latency_ms": service.slo.p99_latency.millis.to_string(),
        "catalog": CATALOG_DIR,
        "branch": branch,
        // CodeBuild's CodeCommit credential helper, for a deploy step that pushes to its source.
        "codecommit": service.ci.source == CiSource::Codecommit && elsewhere.is_none(),
        "rollout_timeout": ROLLOUT_TIMEOUT,
        "sync_timeout_seconds": SYNC_TIMEOUT_SECONDS,
        // Pinned in templates/tools.yaml.
        "tools": { "semgrep": tools::build_tool("semgrep"), "checkov": tools::build_tool("checkov"), "trivy": tools::build_tool("trivy") },
    });
    let error = |e: minijinja::Error| RenderError::Template { template: name.into(), reason: format!("{e:#}") };
    templates.get_template(name).map_err(error)?.render(context).map_err(error)
}

fn role_arn(model: &Model, name: &str) -> String {
    Arns::of(model).role(&names::iam_path(&model.platform), name)
}

fn project_arn(model: &Model, service: &Service, stage: Stage) -> String {
    Arns::of(model).codebuild_project(&names::codebuild_project(&model.platform, &service.name, stage.suffix()))
}

fn log_group(model: &Model, service: &Service) -> String {
    format!("/aws/codebuild/{}", names::pipeline(&model.platform, &service.name))
}

pub fn events_rule_arn(model: &Model, service: &Service) -> String {
    rule_arn(model, &names::pipeline_events_rule(&model.platform, &service.name))
}

fn rule_arn(model: &Model, rule: &str) -> String {
    Arns::of(model).events_rule(rule)
}

/// The ARN of a service's pipeline, which its source rule starts and its events role may start.
pub fn pipeline_arn(model: &Model, service: &Service) -> String {
    Arns::of(model).codepipeline(&names::pipeline(&model.platform, &service.name))
}

fn codecommit_arn(model: &Model, service: &Service) -> String {
    Arns::of(model).codecommit_repository(&service.repo.name)
}

/// Objects of the catalog's artifact bucket: every pipeline's input and output artifacts.
fn artifact_objects(model: &Model) -> String {
    crate::arn::s3_objects(&names::artifact_bucket(&model.platform))
}

/// Trust for an AWS service principal, only on behalf of this account (no confused deputy).
fn service_trust(model: &Model, principal: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": principal },
            "Action": "sts:AssumeRole",
            "Condition": { "StringEquals": { "aws:SourceAccount": model.platform.aws_account_id } }
        }]
    })
}

/// A role of a service's pipeline: assumed by one AWS service on this account's behalf, with one
/// inline policy and no managed ones, under the catalog's path and tagged as the service's.
fn service_role(
    model: &Model,
    service: &Service,
    name: String,
    description: String,
    principal: &str,
    policy: (&str, Value),
) -> IamRole {
    let (policy_name, document) = policy;
    IamRole {
        name,
        path: names::iam_path(&model.platform),
        description,
        max_session_duration: 3600,
        trust_policy: service_trust(model, principal),
        inline_policies: BTreeMap::from([(policy_name.to_string(), document)]),
        managed_policy_arns: Vec::new(),
        tags: service_tags(model, service),
    }
}

/// Reading the source: the CodeStar connection (GitHub) or the CodeCommit repository, with
/// `codecommit_actions` (the CodeBuild role's include GitPush when the deploy step commits the
/// promotion to its source, the catalog repository).
fn source_statement(model: &Model, service: &Service, codecommit_actions: &[&str]) -> Value {
    match service.ci.source {
        CiSource::Github => json!({
            "Sid": "UseSourceConnection",
            "Effect": "Allow",
            "Action": "codestar-connections:UseConnection",
            "Resource": model.platform.codestar_connection.clone().unwrap_or_default(),
        }),
        CiSource::Codecommit => json!({
            "Sid": "SourceRepository",
            "Effect": "Allow",
            "Action": codecommit_actions,
            "Resource": codecommit_arn(model, service),
        }),
    }
}

/// What every build of the service's pipeline may do, and nothing else: write to its own log
/// group (which glidepath creates, so the role need not), read and write pipeline artifacts, push to its own ECR repository, describe its own clusters
/// (kubectl access itself is an EKS access entry), and read its source, which it also pushes
/// promotions to when that is the catalog repository; when it is not, read the one secret holding
/// the token the deploy step pushes to the catalog repository with.
fn codebuild_role(model: &Model, service: &Service) -> IamRole {
    let group = Arns::of(model).log_group(&log_group(model, service));
    let codecommit: &[&str] = match catalog_elsewhere(model, service) {
        Some(_) => &["codecommit:GitPull"],
        None => &["codecommit:GitPull", "codecommit:GitPush"],
    };
    let mut statements = vec![
        json!({ "Sid": "OwnLogGroup", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": [group.clone(), format!("{group}:log-stream:*")] }),
        json!({ "Sid": "PipelineArtifacts", "Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"], "Resource": artifact_objects(model) }),
        json!({ "Sid": "EcrLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*" }),
        json!({ "Sid": "EcrPushOwnRepository", "Effect": "Allow", "Action": ECR_PUSH_ACTIONS, "Resource": ecr_repository_arn(model, service) }),
        json!({ "Sid": "DescribeOwnClusters", "Effect": "Allow", "Action": "eks:DescribeCluster", "Resource": one_or_many(cluster_arns(model, service)) }),
        source_statement(model, service, codecommit),
    ];
    // The four projects share the role (one per service): the deploy project is the one that
    // reads the secret, through its buildspec's `secrets-manager` mapping.
    if let Some(secret) = promotion_secret_arn(model, service) {
        statements.push(json!({ "Sid": "ReadPromotionToken", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret }));
    }
    let policy = json!({ "Version": "2012-10-17", "Statement": statements });
    service_role(
        model,
        service,
        names::codebuild_role(&model.platform, &service.name),
        format!("CodeBuild for {}: build, push and deploy its image", service.name),
        "codebuild.amazonaws.com",
        ("codebuild", policy),
    )
}

/// What CodePipeline may do for this service: move artifacts, run its own four projects, read
/// its source and announce approvals on the service's first route.
fn pipeline_role(model: &Model, service: &Service) -> IamRole {
    let projects: Vec<String> = PROJECTS.iter().map(|(stage, _, _)| project_arn(model, service, *stage)).collect();
    let mut statements = vec![
        json!({ "Sid": "PipelineArtifacts", "Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"], "Resource": artifact_objects(model) }),
        json!({ "Sid": "ArtifactBucket", "Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:GetBucketVersioning"], "Resource": crate::arn::s3_bucket(&names::artifact_bucket(&model.platform)) }),
        json!({ "Sid": "RunOwnProjects", "Effect": "Allow", "Action": ["codebuild:BatchGetBuilds", "codebuild:StartBuild"], "Resource": projects }),
        source_statement(
            model,
            service,
            &[
                "codecommit:CancelUploadArchive",
                "codecommit:GetBranch",
                "codecommit:GetCommit",
                "codecommit:GetRepository",
                "codecommit:GetUploadArchiveStatus",
                "codecommit:UploadArchive",
            ],
        ),
    ];
    if let Some(topic) = approval_topic(model, service) {
        statements
            .push(json!({ "Sid": "AnnounceApprovals", "Effect": "Allow", "Action": "sns:Publish", "Resource": topic }));
    }
    service_role(
        model,
        service,
        names::pipeline_role(&model.platform, &service.name),
        format!("CodePipeline for {}: run its projects, move its artifacts", service.name),
        "codepipeline.amazonaws.com",
        ("codepipeline", json!({ "Version": "2012-10-17", "Statement": statements })),
    )
}

/// What EventBridge may do when the source rule fires: start this one pipeline, nothing else.
/// Only that rule may have EventBridge assume the role (`aws:SourceArn`), not any rule of the
/// account.
fn source_events_role(model: &Model, service: &Service) -> IamRole {
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "StartOwnPipeline",
            "Effect": "Allow",
            "Action": "codepipeline:StartPipelineExecution",
            "Resource": pipeline_arn(model, service),
        }]
    });
    let name = names::source_events(&model.platform, &service.name);
    let mut role = service_role(
        model,
        service,
        name.clone(),
        format!("EventBridge for {}: start its pipeline on a push to its branch", service.name),
        "events.amazonaws.com",
        ("start-pipeline", policy),
    );
    role.trust_policy["Statement"][0]["Condition"]["ArnEquals"] = json!({ "aws:SourceArn": rule_arn(model, &name) });
    role
}

/// The topic of the service's first route, which manual approvals are announced on.
fn approval_topic(model: &Model, service: &Service) -> Option<String> {
    let needs_approval =
        service.environments.iter().filter_map(|e| model.environment(e)).any(|environment| environment.approval);
    let route = service.notify.first()?;
    needs_approval.then(|| aws::topic_arn(model, &names::sns_topic(&model.platform, route)))
}

fn project(model: &Model, service: &Service, stage: Stage, buildspec: Value) -> CodebuildProject {
    let (image, compute, privileged, timeout, description) = match stage {
        Stage::Build => (
            BUILD_IMAGE.to_string(),
            "BUILD_GENERAL1_MEDIUM",
            true,
            60,
            format!("Builds {}: unit tests, SAST, docker build, Trivy gate, push", service.name),
        ),
        Stage::Deploy => (
            pipeline_image(model),
            "BUILD_GENERAL1_SMALL",
            false,
            DEPLOY_TIMEOUT_MINUTES,
            format!("Deploys the built {} digest to one environment through Argo Rollouts", service.name),
        ),
        Stage::IntegrationTests => {
            (pipeline_image(model), "BUILD_GENERAL1_SMALL", false, 60, format!("Integration tests of {}", service.name))
        }
        Stage::LoadTest => {
            (pipeline_image(model), "BUILD_GENERAL1_SMALL", false, 60, format!("k6 load test of {}", service.name))
        }
    };
    CodebuildProject {
        name: names::codebuild_project(&model.platform, &service.name, stage.suffix()),
        description,
        service_role: role_arn(model, &names::codebuild_role(&model.platform, &service.name)),
        image,
        compute_type: compute.into(),
        privileged_mode: privileged,
        environment_variables: BTreeMap::from([("AWS_REGION".to_string(), model.platform.region.clone())]),
        timeout_minutes: timeout,
        log_group: log_group(model, service),
        log_stream: stage.suffix().into(),
        buildspec,
        tags: service_tags(model, service),
    }
}

fn pipeline_image(model: &Model) -> String {
    // Validation requires it for every CodePipeline service.
    model.platform.pipeline_image.clone().unwrap_or_default()
}

fn codebuild_action(
    name: &str,
    project: String,
    inputs: &[&str],
    outputs: &[&str],
    variables: &[(&str, String)],
) -> ActionDeclaration {
    let mut configuration = BTreeMap::from([("ProjectName".to_string(), project)]);
    if !variables.is_empty() {
        let list: Vec<Value> = variables
            .iter()
            .map(|(name, value)| json!({ "name": name, "value": value, "type": "PLAINTEXT" }))
            .collect();
        configuration.insert("EnvironmentVariables".into(), Value::Array(list).to_string());
    }
    ActionDeclaration {
        name: name.into(),
        action_type_id: action_type("Build", "CodeBuild"),
        run_order: 1,
        configuration,
        input_artifacts: artifacts(inputs),
        output_artifacts: artifacts(outputs),
        namespace: None,
    }
}

fn action_type(category: &str, provider: &str) -> ActionTypeId {
    ActionTypeId { category: category.into(), owner: "AWS".into(), provider: provider.into(), version: "1".into() }
}

fn artifacts(names: &[&str]) -> Vec<ArtifactName> {
    names.iter().map(|n| ArtifactName { name: n.to_string() }).collect()
}

fn stage(name: String, action: ActionDeclaration) -> StageDeclaration {
    StageDeclaration { name, actions: vec![action] }
}

/// The environment's cluster and namespace, which the deploy and test projects act on.
fn target_variables(model: &Model, env: &str) -> Vec<(&'static str, String)> {
    let environment = model.environment(env).expect("services deploy to declared environments");
    let cluster = model.cluster(&environment.cluster).expect("environments name declared clusters");
    vec![
        ("TARGET_ENV", env.to_string()),
        ("NAMESPACE", environment.namespace.clone()),
        ("EKS_CLUSTER", cluster.eks_name.clone()),
        ("CLUSTER_REGION", cluster.region.clone()),
    ]
}

fn source_action(model: &Model, service: &Service) -> ActionDeclaration {
    // A full clone (not a zip): the deploy step commits the promotion back to the branch.
    let mut configuration = BTreeMap::from([
        ("BranchName".to_string(), service.ci.branch().to_string()),
        ("OutputArtifactFormat".to_string(), "CODEBUILD_CLONE_REF".to_string()),
    ]);
    let provider = match service.ci.source {
        CiSource::Github => {
            configuration
                .insert("ConnectionArn".into(), model.platform.codestar_connection.clone().unwrap_or_default());
            configuration.insert("FullRepositoryId".into(), service.repo.full_name());
            "CodeStarSourceConnection"
        }
        CiSource::Codecommit => {
            configuration.insert("RepositoryName".into(), service.repo.name.clone());
            // Pipeline triggers exist for connections only; the service's source rule starts the
            // pipeline instead of polling, which AWS deprecates.
            configuration.insert("PollForSourceChanges".into(), "false".into());
            "CodeCommit"
        }
    };
    ActionDeclaration {
        name: "Source".into(),
        action_type_id: ActionTypeId {
            category: "Source".into(),
            owner: "AWS".into(),
            provider: provider.into(),
            version: "1".into(),
        },
        run_order: 1,
        configuration,
        input_artifacts: Vec::new(),
        output_artifacts: artifacts(&[SOURCE_ARTIFACT]),
        namespace: Some(SOURCE_NAMESPACE.into()),
    }
}

/// The stage names in order: Source, Build, then per environment (in promotion order) an
/// Approval-ENV where the environment requires approval and Deploy-ENV, with IntegrationTests
/// after the first environment and LoadTest after the one before the last.
fn pipeline(model: &Model, service: &Service) -> Pipeline {
    let name = names::pipeline(&model.platform, &service.name);
    let project = |stage: Stage| names::codebuild_project(&model.platform, &service.name, stage.suffix());
    let mut build = codebuild_action("Build", project(Stage::Build), &[SOURCE_ARTIFACT], &[IMAGE_ARTIFACT], &[]);
    build.namespace = Some(BUILD_NAMESPACE.into());
    let mut stages = vec![stage("Source".into(), source_action(model, service)), stage("Build".into(), build)];
    let envs: Vec<&String> = service.environments.iter().filter(|e| model.environment(e).is_some()).collect();
    let digest = format!("#{{{BUILD_NAMESPACE}.IMAGE_DIGEST}}");
    for (i, env) in envs.iter().enumerate() {
        let environment = model.environment(env).expect("filtered above");
        if environment.approval {
            let mut configuration = BTreeMap::from([(
                "CustomData".to_string(),
                format!("Deploy {} {digest} to {env}? Promotes commit #{{{SOURCE_NAMESPACE}.CommitId}}.", service.name),
            )]);
            if let Some(topic) = approval_topic(model, service) {
                configuration.insert("NotificationArn".into(), topic);
            }
            let approval = ActionDeclaration {
                name: "Approve".into(),
                action_type_id: ActionTypeId {
                    category: "Approval".into(),
                    owner: "AWS".into(),
                    provider: "Manual".into(),
                    version: "1".into(),
                },
                run_order: 1,
                configuration,
                input_artifacts: Vec::new(),
                output_artifacts: Vec::new(),
                namespace: None,
            };
            stages.push(stage(format!("Approval-{env}"), approval));
        }
        let mut variables = target_variables(model, env);
        variables.push(("IMAGE_DIGEST", digest.clone()));
        // One deploy project serves every environment: the action says whether it applies (push)
        // or commits the re-rendered gitops/ tree for Argo CD to sync (GitOps).
        variables.push(("DELIVERY", environment.delivery.name().to_string()));
        stages.push(stage(
            format!("Deploy-{env}"),
            codebuild_action("Deploy", project(Stage::Deploy), &[SOURCE_ARTIFACT], &[], &variables),
        ));
        if i == 0 {
            let action = codebuild_action(
                "IntegrationTests",
                project(Stage::IntegrationTests),
                &[SOURCE_ARTIFACT],
                &[],
                &target_variables(model, env),
            );
            stages.push(stage("IntegrationTests".into(), action));
        }
        if envs.len() >= 2 && i + 2 == envs.len() {
            let action = codebuild_action(
                "LoadTest",
                project(Stage::LoadTest),
                &[SOURCE_ARTIFACT],
                &[],
                &target_variables(model, env),
            );
            stages.push(stage("LoadTest".into(), action));
        }
    }
    let triggers = match service.ci.source {
        CiSource::Github => vec![PipelineTrigger {
            provider_type: "CodeStarSourceConnection".into(),
            git_configuration: GitConfiguration {
                source_action_name: "Source".into(),
                // The deploy step's promotion commits touch only the catalog and the rendered
                // gitops/ tree: excluded, so they do not start another run (a repository per
                // service has no includes to keep them out).
                push: vec![GitPushFilter {
                    branches: GitIncludes { includes: vec![service.ci.branch().to_string()], excludes: Vec::new() },
                    file_paths: Some(GitIncludes {
                        includes: service.ci.path_filters().unwrap_or_default(),
                        excludes: vec![format!("{CATALOG_DIR}/**"), format!("{GITOPS_DIR}/**")],
                    }),
                }],
            },
        }],
        CiSource::Codecommit => Vec::new(),
    };
    Pipeline {
        pipeline: PipelineDeclaration {
            role_arn: role_arn(model, &names::pipeline_role(&model.platform, &service.name)),
            name,
            artifact_store: ArtifactStore {
                store_type: "S3".into(),
                location: names::artifact_bucket(&model.platform),
            },
            pipeline_type: "V2".into(),
            // One run at a time, in order: a newer commit waits instead of overtaking a deploy.
            execution_mode: "QUEUED".into(),
            stages,
            triggers,
        },
        tags: service_tags(model, service),
    }
}

/// Pipeline runs that fail, stop, succeed or are superseded, to the topic of every route of
/// the service. A service without routes gets no rule.
fn events_rule(model: &Model, service: &Service) -> Option<EventsRule> {
    if service.notify.is_empty() {
        return None;
    }
    let targets = service
        .notify
        .iter()
        .map(|route| {
            let topic = names::sns_topic(&model.platform, route);
            (route.clone(), EventsTarget::arn(aws::topic_arn(model, &topic)))
        })
        .collect();
    Some(EventsRule {
        name: names::pipeline_events_rule(&model.platform, &service.name),
        description: format!("CodePipeline events of {} to its notification routes", service.name),
        event_pattern: json!({
            "source": ["aws.codepipeline"],
            "detail-type": ["CodePipeline Pipeline Execution State Change"],
            "detail": {
                "pipeline": [names::pipeline(&model.platform, &service.name)],
                "state": ["FAILED", "STOPPED", "SUCCEEDED", "SUPERSEDED"]
            }
        }),
        state: "ENABLED".into(),
        targets,
        tags: service_tags(model, service),
    })
}

/// Pushes to the service's branch of its CodeCommit repository start its pipeline, except the
/// pushes its own deploy step makes: those promotion commits change only the catalog (and the
/// rendered gitops/ tree), and the
/// source events of CodeCommit carry no paths to filter on (a GitHub trigger's path filter does
/// that job), so without the exception every promotion would start the pipeline again.
fn source_events_rule(model: &Model, service: &Service) -> EventsRule {
    let name = names::source_events(&model.platform, &service.name);
    // An assumed role's sessions are `sts` ARNs of its name, without the role's IAM path.
    let own_pushes = Arns::of(model).assumed_role_sessions(&names::codebuild_role(&model.platform, &service.name));
    let target = EventsTarget { arn: pipeline_arn(model, service), role_arn: Some(role_arn(model, &name)) };
    EventsRule {
        name,
        description: format!("Starts the pipeline of {} on a push to {}", service.name, service.ci.branch()),
        event_pattern: json!({
            "source": ["aws.codecommit"],
            "detail-type": ["CodeCommit Repository State Change"],
            "resources": [codecommit_arn(model, service)],
            "detail": {
                "event": ["referenceCreated", "referenceUpdated"],
                "referenceType": ["branch"],
                "referenceName": [service.ci.branch()],
                "callerUserArn": [{ "anything-but": { "prefix": own_pushes } }]
            }
        }),
        state: "ENABLED".into(),
        targets: BTreeMap::from([(names::pipeline(&model.platform, &service.name), target)]),
        tags: service_tags(model, service),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shop() -> Model {
        crate::catalog::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/shop"))).unwrap()
    }

    fn strings(value: &Value) -> Vec<String> {
        match value {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
            _ => Vec::new(),
        }
    }

    /// (actions, resources) of every statement of a role's inline policies.
    fn statements(role: &IamRole) -> Vec<(Vec<String>, Vec<String>)> {
        role.inline_policies
            .values()
            .flat_map(|p| p["Statement"].as_array().cloned().unwrap_or_default())
            .map(|s| (strings(&s["Action"]), strings(&s["Resource"])))
            .collect()
    }

    #[test]
    fn roles_reach_only_the_services_own_resources() {
        let model = shop();
        for service in model.services.iter().filter(|s| uses_codepipeline(s)) {
            let build = codebuild_role(&model, service);
            for (actions, resources) in statements(&build) {
                if resources.iter().any(|r| r == "*") {
                    assert_eq!(
                        actions,
                        ["ecr:GetAuthorizationToken"],
                        "{}: only the ECR login is unscoped",
                        build.name
                    );
                }
                assert!(actions.iter().all(|a| !a.contains('*')), "{}: wildcard action in {actions:?}", build.name);
                if actions.iter().any(|a| a.starts_with("ecr:") && a != "ecr:GetAuthorizationToken") {
                    assert_eq!(resources, [ecr_repository_arn(&model, service)]);
                }
                if actions.iter().any(|a| a.starts_with("eks:")) {
                    assert_eq!(resources, cluster_arns(&model, service));
                }
                if actions.iter().any(|a| a.starts_with("logs:")) {
                    assert!(resources
                        .iter()
                        .all(|r| r.contains(&format!(":log-group:/aws/codebuild/shop-{}", service.name))));
                }
            }
            let pipeline = pipeline_role(&model, service);
            let runs: Vec<String> = statements(&pipeline)
                .into_iter()
                .filter(|(actions, _)| actions.iter().any(|a| a == "codebuild:StartBuild"))
                .flat_map(|(_, resources)| resources)
                .collect();
            assert_eq!(runs.len(), 4, "{}: its four projects", pipeline.name);
            assert!(runs.iter().all(|r| r.contains(&format!(":project/shop-{}-", service.name))), "{runs:?}");
            assert!(statements(&pipeline).iter().all(|(_, resources)| !resources.iter().any(|r| r == "*")));
            if service.ci.source == CiSource::Codecommit {
                let events = source_events_role(&model, service);
                assert_eq!(
                    statements(&events),
                    [(vec!["codepipeline:StartPipelineExecution".to_string()], vec![pipeline_arn(&model, service)])],
                    "{}: starts its own pipeline and does nothing else",
                    events.name
                );
                let only_from = &events.trust_policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"];
                assert_eq!(only_from, &json!(rule_arn(&model, &events.name)), "only its source rule may use it");
            }
        }
    }

    /// Every group a project logs to is rendered, once, with the platform's retention and the
    /// service's tags, so CodeBuild never creates one itself (its role may not).
    #[test]
    fn every_project_logs_to_a_group_glidepath_creates() {
        let mut model = shop();
        model.platform.log_retention_days = 90;
        let rendered = render(&model).unwrap();
        let groups: BTreeMap<&str, &LogGroup> = rendered
            .iter()
            .filter_map(|r| match r {
                AwsResource::LogGroup(group) => Some((group.name.as_str(), group)),
                _ => None,
            })
            .collect();
        let mut projects = 0;
        for resource in &rendered {
            let AwsResource::CodebuildProject(project) = resource else { continue };
            projects += 1;
            let group = groups.get(project.log_group.as_str()).unwrap_or_else(|| panic!("{}", project.log_group));
            assert_eq!(group.retention_in_days, Some(90));
            assert_eq!(group.tags, project.tags, "{}: tagged as the project's service", group.name);
        }
        assert_eq!(projects, 8);
        assert_eq!(
            groups.keys().copied().collect::<Vec<_>>(),
            ["/aws/codebuild/shop-catalog", "/aws/codebuild/shop-inventory"],
            "the four projects of a pipeline share its group"
        );
        let position = |kind: crate::kinds::AwsKind| rendered.iter().position(|r| r.kind() == kind).unwrap();
        assert!(position(crate::kinds::AwsKind::LogGroup) < position(crate::kinds::AwsKind::CodebuildProject));
        assert!(
            crate::kinds::AwsKind::LogGroup.spec().rank < crate::kinds::AwsKind::CodebuildProject.spec().rank,
            "applied before the projects that log to it, deleted after them"
        );
        for service in model.services.iter().filter(|s| uses_codepipeline(s)) {
            let logs: Vec<String> = statements(&codebuild_role(&model, service))
                .into_iter()
                .flat_map(|(actions, _)| actions)
                .filter(|a| a.starts_with("logs:"))
                .collect();
            assert_eq!(logs, ["logs:CreateLogStream", "logs:PutLogEvents"], "{}", service.name);
        }
    }

    #[test]
    fn the_source_decides_how_code_is_read_and_pushed() {
        let model = shop();
        let by_name = |name: &str| model.services.iter().find(|s| s.name == name).unwrap();
        let github = statements(&codebuild_role(&model, by_name("catalog")));
        assert!(github.iter().any(|(actions, resources)| actions == &["codestar-connections:UseConnection"]
            && resources == &[model.platform.codestar_connection.clone().unwrap()]));
        // inventory's deploy commits to acme/platform, not to its CodeCommit source: it only reads it.
        let codecommit = statements(&codebuild_role(&model, by_name("inventory")));
        assert!(codecommit.iter().any(|(actions, resources)| actions == &["codecommit:GitPull"]
            && resources == &["arn:aws:codecommit:eu-west-1:123456789012:inventory"]));
        assert!(codecommit.iter().all(|(actions, _)| !actions.iter().any(|a| a.starts_with("codestar"))));
        // Without a catalog repository elsewhere the deploy pushes to its source.
        let mut alone = shop();
        alone.platform.catalog_repo = None;
        alone.services.retain(|s| s.name == "inventory");
        let inventory = &alone.services[0];
        assert_eq!(catalog_elsewhere(&alone, inventory), None);
        let pushes = statements(&codebuild_role(&alone, inventory));
        assert!(pushes.iter().any(|(actions, _)| actions == &["codecommit:GitPull", "codecommit:GitPush"]));
        assert!(pushes.iter().all(|(actions, _)| !actions.iter().any(|a| a.starts_with("secretsmanager:"))));
    }

    /// A deploy step clones the catalog repository exactly when its source is not that
    /// repository (GitHub names compared as GitHub does), and only then its role may read the
    /// token's secret: that one secret, by the ARN pattern of its versions.
    #[test]
    fn only_a_pipeline_building_outside_the_catalog_repository_reads_the_promotion_token() {
        let mut model = shop();
        let secret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:glidepath/promotion-token-??????";
        let reads = |model: &Model, name: &str| -> Vec<(Vec<String>, Vec<String>)> {
            let service = model.services.iter().find(|s| s.name == name).unwrap();
            statements(&codebuild_role(model, service))
                .into_iter()
                .filter(|(actions, _)| actions.iter().any(|a| a.starts_with("secretsmanager:")))
                .collect()
        };
        let expected = vec![(vec!["secretsmanager:GetSecretValue".to_string()], vec![secret.to_string()])];
        for name in ["catalog", "inventory"] {
            let service = model.services.iter().find(|s| s.name == name).unwrap();
            assert_eq!(catalog_elsewhere(&model, service).map(|r| r.full_name()).as_deref(), Some("acme/platform"));
            assert_eq!(reads(&model, name), expected, "{name}");
        }
        // The catalog's pipeline building from the catalog repository (spelt with other case).
        let catalog = model.services.iter_mut().find(|s| s.name == "catalog").unwrap();
        catalog.repo = GitRepo { owner: "Acme".into(), name: "Platform".into() };
        let catalog = model.services.iter().find(|s| s.name == "catalog").unwrap();
        assert_eq!(catalog_elsewhere(&model, catalog), None);
        assert!(reads(&model, "catalog").is_empty(), "it pushes to its own checkout");
        assert_eq!(reads(&model, "inventory"), expected, "CodeCommit is never the catalog repository");
        // A CodeCommit repository named like the catalog repository is still not it.
        let inventory = model.services.iter_mut().find(|s| s.name == "inventory").unwrap();
        inventory.repo = GitRepo { owner: "acme".into(), name: "platform".into() };
        assert_eq!(reads(&model, "inventory"), expected);
        // No secret named: the role reads none (and `check` refuses the catalog).
        model.platform.pipeline_promotion_token_secret = None;
        assert!(reads(&model, "inventory").is_empty());
    }

    #[test]
    fn the_deploy_buildspec_clones_the_catalog_repository_only_when_it_is_elsewhere() {
        let mut model = shop();
        let text = |model: &Model, name: &str| {
            let service = model.services.iter().find(|s| s.name == name).unwrap();
            buildspec_text(&environment(), "aws/buildspec-deploy.yaml.j2", model, service).unwrap()
        };
        let elsewhere: Value = serde_norway::from_str(&text(&model, "inventory")).unwrap();
        assert_eq!(elsewhere["env"]["secrets-manager"], json!({ "CATALOG_TOKEN": "glidepath/promotion-token" }));
        assert_eq!(elsewhere["env"]["variables"]["CATALOG_REPOSITORY"], "acme/platform");
        assert_eq!(elsewhere["env"]["variables"]["BRANCH"], "main");
        assert!(elsewhere["env"].get("git-credential-helper").is_none(), "it pushes to GitHub, not CodeCommit");
        let catalog = model.services.iter_mut().find(|s| s.name == "catalog").unwrap();
        catalog.repo = GitRepo { owner: "acme".into(), name: "platform".into() };
        let inside = text(&model, "catalog");
        let inside: Value = serde_norway::from_str(&inside).unwrap();
        assert!(inside["env"].get("secrets-manager").is_none());
        assert!(inside["env"]["variables"].get("CATALOG_REPOSITORY").is_none());
        // Its own checkout: the first command is the promotion, on top of the branch's tip.
        let first = inside["phases"]["build"]["commands"][0].as_str().unwrap();
        assert!(first.contains("git checkout --quiet --force -B \"$BRANCH\" FETCH_HEAD"), "{first}");
        assert!(!first.contains("git clone"), "{first}");
        let first = elsewhere["phases"]["build"]["commands"][0].as_str().unwrap();
        assert!(first.contains("git clone --quiet --depth=1"), "{first}");
    }

    /// The source rules and roles `render` emits, by service.
    fn source_events(model: &Model) -> BTreeMap<String, (EventsRule, IamRole)> {
        let rendered = render(model).unwrap();
        let rule = |name: &str| {
            rendered.iter().find_map(|r| match r {
                AwsResource::EventsRule(rule) if rule.name == name => Some(rule.clone()),
                _ => None,
            })
        };
        let role = |name: &str| {
            rendered.iter().find_map(|r| match r {
                AwsResource::IamRole(role) if role.name == name => Some(role.clone()),
                _ => None,
            })
        };
        model
            .services
            .iter()
            .filter_map(|s| {
                let name = names::source_events(&model.platform, &s.name);
                Some((s.name.clone(), (rule(&name)?, role(&name)?)))
            })
            .collect()
    }

    #[test]
    fn a_codecommit_pipeline_is_started_by_its_branchs_pushes_instead_of_polling() {
        let model = shop();
        let inventory = model.services.iter().find(|s| s.name == "inventory").unwrap();
        let source = source_action(&model, inventory);
        assert_eq!(source.configuration["PollForSourceChanges"], "false");
        assert!(pipeline(&model, inventory).pipeline.triggers.is_empty(), "V2 triggers are for connections only");

        let found = source_events(&model);
        assert_eq!(found.keys().collect::<Vec<_>>(), ["inventory"], "only the CodeCommit-sourced service");
        let (rule, role) = &found["inventory"];
        assert_eq!(rule.name, "shop-inventory-source-events");
        assert_eq!(rule.event_pattern["source"], json!(["aws.codecommit"]));
        assert_eq!(rule.event_pattern["detail-type"], json!(["CodeCommit Repository State Change"]));
        assert_eq!(rule.event_pattern["resources"], json!(["arn:aws:codecommit:eu-west-1:123456789012:inventory"]));
        let detail = &rule.event_pattern["detail"];
        assert_eq!(detail["event"], json!(["referenceCreated", "referenceUpdated"]));
        assert_eq!(detail["referenceType"], json!(["branch"]));
        assert_eq!(detail["referenceName"], json!([inventory.ci.branch()]));
        // The deploy step's promotion commits are pushed as the CodeBuild role: they start nothing.
        assert_eq!(
            detail["callerUserArn"],
            json!([{ "anything-but": { "prefix": "arn:aws:sts::123456789012:assumed-role/shop-inventory-codebuild/" } }])
        );
        let role_arn = "arn:aws:iam::123456789012:role/glidepath/shop/shop-inventory-source-events";
        assert_eq!(
            rule.targets,
            BTreeMap::from([(
                "shop-inventory".to_string(),
                EventsTarget {
                    arn: "arn:aws:codepipeline:eu-west-1:123456789012:shop-inventory".into(),
                    role_arn: Some(role_arn.into())
                }
            )])
        );
        assert_eq!(role.trust_policy["Statement"][0]["Principal"]["Service"], "events.amazonaws.com");
        assert_eq!(role.trust_policy["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"], "123456789012");
    }

    #[test]
    fn a_github_pipeline_keeps_its_trigger_and_gets_no_source_rule() {
        let mut model = shop();
        let inventory = model.services.iter_mut().find(|s| s.name == "inventory").unwrap();
        inventory.ci.source = CiSource::Github;
        assert!(source_events(&model).is_empty());
        let inventory = model.services.iter().find(|s| s.name == "inventory").unwrap();
        assert!(!source_action(&model, inventory).configuration.contains_key("PollForSourceChanges"));
        let triggers = pipeline(&model, inventory).pipeline.triggers;
        assert_eq!(triggers.len(), 1);
        // A repository of its own (`path = "."`) has no path to include, but still keeps the
        // deploy step's promotion commits from starting it again.
        let paths = triggers[0].git_configuration.push[0].file_paths.clone().unwrap();
        assert_eq!(
            (paths.includes.len(), paths.excludes),
            (0, vec!["catalog/**".to_string(), "gitops/**".to_string()])
        );
    }
}
