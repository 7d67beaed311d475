//! Policy checks across artifacts: what the rendered IAM, Rollouts and AnalysisTemplates must
//! never do, whatever the catalog says. Each check is documented in the README under its code.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::finding::{Finding, Severity};
use super::identity::{self, Claims};
use crate::catalog::{names, CiSource, CiTrust, Delivery, Model, NotifyEvent, Service};
use crate::kinds::{AwsKind, KubeKind};
use crate::render::aws::{ci_subjects, ecr_repository_uri, uses_github_actions, GITHUB_OIDC_HOST};
use crate::render::pipeline::{self, catalog_elsewhere, pipeline_arn, uses_codepipeline};
use crate::render::{workflow, Address, DesiredSet};
use crate::rules::{self, Rule};

struct Checker<'a> {
    model: &'a Model,
    desired: &'a DesiredSet,
    out: &'a mut Vec<Finding>,
}

/// The policy checks, run in phases so a caller may hold one environment's objects at a time:
/// [`PolicyRun::global`] over the AWS resources, [`PolicyRun::environment`] once per environment
/// with that environment's objects, then [`PolicyRun::finish`]. The findings are those of one
/// pass over the whole set, in the same order.
#[derive(Default)]
pub struct PolicyRun {
    out: Vec<Finding>,
    /// Secret-looking rendered values, reported last and in address order whatever the order
    /// the phases saw them in (as one pass over the whole set reports them).
    rendered_secrets: Vec<(Address, String)>,
}

impl PolicyRun {
    /// What concerns each service as a whole: its CI identities and roles, its workflow (from
    /// `workflow_of`, for a service that uses GitHub Actions), its routes and catalog values,
    /// and the unscoped (AWS) resources' values.
    pub fn global(
        &mut self,
        model: &Model,
        desired: &DesiredSet,
        workflow_of: impl Fn(&Service) -> Option<Value> + Sync,
    ) {
        // Each service's checks are its own: they run over the cores, each service's findings
        // taken back in catalog order (rendering and reading the workflows was a fifth of `check`).
        let services: Vec<&Service> = model.services.iter().collect();
        self.each_service(model, desired, &services, |checker, service| checker.service(service, &workflow_of));
        collect_rendered_secrets(desired, |address| address.scope.is_none(), &mut self.rendered_secrets);
    }

    /// What concerns environment `env`'s objects (`desired` holds at least them and the AWS
    /// resources): each of its services' Rollout and analysis, and their rendered values.
    pub fn environment(&mut self, model: &Model, desired: &DesiredSet, env: &str) {
        let services: Vec<&Service> = model.services.iter().filter(|s| s.environments.iter().any(|e| e == env)).collect();
        self.each_service(model, desired, &services, |checker, service| {
            checker.rollout(service, env);
            checker.analysis(service, env);
        });
        collect_rendered_secrets(desired, |address| address.env() == Some(env), &mut self.rendered_secrets);
    }

    /// `check` of each of `services`, over the cores, their findings taken back in catalog order.
    fn each_service(
        &mut self,
        model: &Model,
        desired: &DesiredSet,
        services: &[&Service],
        check: impl Fn(&mut Checker, &Service) + Sync,
    ) {
        for found in crate::parallel::runs(services, |run| {
            let mut out = Vec::new();
            let mut checker = Checker { model, desired, out: &mut out };
            for service in run {
                check(&mut checker, service);
            }
            out
        }) {
            self.out.extend(found);
        }
    }

    /// The checks of the catalog as a whole, then every finding.
    pub fn finish(mut self, model: &Model, desired: &DesiredSet) -> Vec<Finding> {
        let mut secrets = std::mem::take(&mut self.rendered_secrets);
        secrets.sort_by(|a, b| a.0.cmp(&b.0));
        let mut checker = Checker { model, desired, out: &mut self.out };
        checker.catalog_repo();
        checker.pipeline_catalog_repo();
        checker.route_secrets();
        for (_, message) in secrets {
            checker.error(rules::PLAINTEXT_SECRET, None, None, message);
        }
        self.out
    }
}

/// Every policy finding for the rendered catalog (the workflows rendered from `model` too, one
/// at a time as each service is checked).
pub fn check(model: &Model, desired: &DesiredSet) -> Vec<Finding> {
    // A workflow that does not render is a render error `render`/`plan` report; check what does.
    let renderer = workflow::Renderer::new();
    check_each(model, desired, |service| renderer.render_document(model, service).ok())
}

/// [`check`] of these rendered workflows ((path, YAML text) as `workflow::workflows` gives
/// them): tests hand it a workflow edited the way a renderer bug would.
pub fn check_with_workflows(model: &Model, desired: &DesiredSet, workflows: &[(PathBuf, String)]) -> Vec<Finding> {
    // Each service looks its workflow up by path: through a map, as a scan per service made
    // `check` quadratic in the number of services.
    let mut by_path: std::collections::HashMap<&Path, &str> = std::collections::HashMap::new();
    for (path, text) in workflows {
        by_path.entry(path.as_path()).or_insert(text.as_str());
    }
    check_each(model, desired, |service| {
        // A workflow that does not parse has no jobs to check (`workflow::workflows` refuses to
        // render one).
        by_path.get(workflow::workflow_path(&service.name).as_path()).and_then(|text| workflow::document(text).ok())
    })
}

/// Every phase over one whole set, with `workflow_of` giving each service's workflow document
/// (of a service that uses GitHub Actions), if there is one.
fn check_each(
    model: &Model,
    desired: &DesiredSet,
    workflow_of: impl Fn(&Service) -> Option<Value> + Sync,
) -> Vec<Finding> {
    let mut run = PolicyRun::default();
    run.global(model, desired, workflow_of);
    for env in &model.environments {
        run.environment(model, desired, &env.name);
    }
    run.finish(model, desired)
}

/// A message for every secret-looking string of the resources `within` selects.
fn collect_rendered_secrets(
    desired: &DesiredSet,
    within: impl Fn(&Address) -> bool,
    found: &mut Vec<(Address, String)>,
) {
    let resources: Vec<(&Address, &crate::render::Resource)> =
        desired.resources.iter().filter(|(a, _)| within(a)).collect();
    // Every string of every body is looked at: spread over the cores, found in address order.
    for run in crate::parallel::runs(&resources, |run| {
        let mut found = Vec::new();
        for (address, resource) in run {
            walk_strings(&resource.body_ref(), &mut |key, value| {
                if let Some(why) = secret_value_reason(value) {
                    found.push(((*address).clone(), format!("{address} ({key}) holds {why}")));
                }
            });
        }
        found
    }) {
        found.extend(run);
    }
}

impl<'a> Checker<'a> {
    /// What concerns `service` as a whole: its CI identities and roles, its workflow (from
    /// `workflow_of`, when it uses GitHub Actions), its rollback route and catalog values.
    fn service(&mut self, service: &Service, workflow_of: &impl Fn(&Service) -> Option<Value>) {
        let model = self.model;
        self.ci_role(service);
        if uses_github_actions(service) {
            let path = workflow::workflow_path(&service.name);
            if let Some(workflow) = workflow_of(service) {
                self.job_identities(service, &path, &workflow);
            }
        }
        // Every role the service's CI runs as: GitHub Actions' role, or CodeBuild's, CodePipeline's
        // and the one EventBridge starts a CodeCommit-sourced pipeline as.
        for role in [
            names::ci_role(&model.platform, &service.name),
            names::codebuild_role(&model.platform, &service.name),
            names::pipeline_role(&model.platform, &service.name),
            names::source_events(&model.platform, &service.name),
        ] {
            self.role_scope(service, &Address::global(AwsKind::IamRole, role));
        }
        self.rollback_route(service);
        self.catalog_secrets(service);
    }

    fn body(&self, address: &Address) -> Option<std::borrow::Cow<'a, Value>> {
        self.desired.resources.get(address).map(|r| r.body_ref())
    }

    fn error(&mut self, rule: &Rule, service: Option<&Service>, env: Option<&str>, message: String) {
        self.push(rule, Severity::Error, service, env, message);
    }

    fn push(&mut self, rule: &Rule, severity: Severity, service: Option<&Service>, env: Option<&str>, message: String) {
        self.out.push(Finding {
            code: rule.code,
            severity,
            service: service.map(|s| s.name.clone()),
            environment: env.map(str::to_string),
            message,
            location: service.map(|s| s.location.clone()).unwrap_or_else(|| self.model.root.display().to_string()),
            waived: None,
        });
    }

    /// Trust scoped to exactly the subjects CI presents.
    fn ci_role(&mut self, service: &Service) {
        let address = Address::global(AwsKind::IamRole, names::ci_role(&self.model.platform, &service.name));
        let Some(role) = self.body(&address) else { return };
        let expected = ci_subjects(self.model, service);
        for statement in role["trust_policy"]["Statement"].as_array().into_iter().flatten() {
            let conditions = &statement["Condition"];
            if conditions.get("StringLike").is_some() || conditions.to_string().contains('*') {
                self.error(
                    rules::WILDCARD_TRUST,
                    Some(service),
                    None,
                    format!(
                        "{address} trusts a wildcard subject; name the repository and branch or environment exactly"
                    ),
                );
            }
            let subjects: Vec<String> = match &conditions["StringEquals"][format!("{GITHUB_OIDC_HOST}:sub")] {
                Value::String(s) => vec![s.clone()],
                Value::Array(items) => items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
                _ => Vec::new(),
            };
            if subjects != expected {
                self.error(
                    rules::CI_TRUST_MISMATCH,
                    Some(service),
                    None,
                    format!("{address} trusts {subjects:?}, but the service's CI authenticates as {expected:?}"),
                );
            }
        }
        if let (CiTrust::Branch(_), true) = (&service.ci.trust, service.tier == 1) {
            let gated: Vec<&str> = service
                .environments
                .iter()
                .filter(|e| self.model.environment(e).is_some_and(|e| e.approval))
                .map(String::as_str)
                .collect();
            if !gated.is_empty() {
                self.push(
                    rules::CI_TRUST_MISMATCH,
                    Severity::Warning,
                    Some(service),
                    None,
                    format!(
                        "tier-1 service trusts a branch, so CI can assume its role without the reviewers of GitHub environment(s) {}: use `ci {{ trust = \"environment\" }}`",
                        gated.join(", ")
                    ),
                );
            }
        }
    }

    /// Every job of the service's workflow that assumes a role gets a token that role accepts,
    /// for every event that runs the workflow on its own.
    fn job_identities(&mut self, service: &Service, path: &Path, workflow: &Value) {
        let repo = service.repo.full_name();
        let triggers = identity::triggers(workflow);
        for job in identity::role_jobs(workflow) {
            let where_ = format!("job `{}` of {}", job.job, path.display());
            // The role by the last segment of its ARN (`arn:aws:iam::ACCOUNT:role/PATH/NAME`).
            let name = job.role_arn.rsplit('/').next().unwrap_or_default();
            let address = Address::global(AwsKind::IamRole, name.to_string());
            let Some(role) = self.body(&address) else {
                let message = format!("{where_} assumes {}, a role this catalog does not render", job.role_arn);
                self.error(rules::CI_IDENTITY_REJECTED, Some(service), None, message);
                continue;
            };
            if triggers.is_empty() {
                let message = format!("{where_} assumes {address}, but no push or pull_request event runs it, so its token subject cannot be worked out");
                self.error(rules::CI_IDENTITY_REJECTED, Some(service), None, message);
            }
            for trigger in &triggers {
                let claims = Claims {
                    sub: identity::subject(&repo, job.environment.as_deref(), trigger),
                    aud: job.audience.clone(),
                };
                if let Err(rejection) = identity::evaluate(&role["trust_policy"], GITHUB_OIDC_HOST, &claims) {
                    let runs_in = match &job.environment {
                        Some(env) => format!("in GitHub environment `{env}`"),
                        None => "outside any GitHub environment".to_string(),
                    };
                    let message = format!(
                        "{where_} runs {runs_in} on {trigger}, so GitHub issues it sub `{}` (aud `{}`), which the trust of {address} refuses: {rejection}. Fix: render the workflow and the role from the same catalog; with `ci {{ trust = \"environment\" }}` every job that assumes the role must run in one of the service's environments (the build job runs in the first), so the service needs at least one; or use `ci {{ trust = \"branch\" }}`",
                        claims.sub, claims.aud
                    );
                    self.error(rules::CI_IDENTITY_REJECTED, Some(service), None, message);
                }
            }
        }
    }

    /// Every GitHub Actions deploy job can commit its promotion to the one catalog repository
    /// (and, in gitops mode, Argo CD reads that repository): one must exist, and a job running
    /// in another repository needs a token beyond its GITHUB_TOKEN, which writes only its own.
    fn catalog_repo(&mut self) {
        let model = self.model;
        let built: Vec<&Service> = model.services.iter().filter(|s| uses_github_actions(s)).collect();
        let gitops = model.environments.iter().any(|e| e.delivery == Delivery::Gitops);
        let Some(catalog) = model.catalog_repo() else {
            if built.is_empty() && !gitops {
                return;
            }
            // The GitHub repositories services build from, as `Model::catalog_repo` counts them.
            let mut repos: Vec<String> = model
                .services
                .iter()
                .filter(|s| uses_github_actions(s) || (uses_codepipeline(s) && s.ci.source == CiSource::Github))
                .map(|s| s.repo.full_name())
                .collect();
            repos.sort();
            repos.dedup();
            let why = if repos.is_empty() {
                "Argo CD has no repository to read (no service builds from GitHub to take it from)".to_string()
            } else {
                format!(
                    "the services build from {} repositories ({}), so each deploy job would commit its promotion to its own copy of the catalog{}",
                    repos.len(),
                    repos.join(", "),
                    if gitops { " and Argo CD would read none of them" } else { "" }
                )
            };
            let message = format!(
                "platform.catalog_repo is unset and {why}. Fix: set `platform {{ catalog_repo = \"{}/REPO\" }}` to the repository that holds this catalog{}",
                model.platform.github_org,
                if gitops { " and its rendered gitops/ tree" } else { "" }
            );
            self.error(rules::CATALOG_REPO_UNWRITABLE, None, None, message);
            return;
        };
        if model.platform.promotion_token_secret.is_some() {
            return;
        }
        for service in built.into_iter().filter(|s| s.repo != catalog) {
            let message = format!(
                "the deploy jobs of {} run in {} and commit promotions to the catalog repository {}, which their GITHUB_TOKEN cannot write. Fix: set `platform {{ promotion_token_secret = \"GLIDEPATH_PROMOTION_TOKEN\" }}` and store, under that name in {} (or the organisation), a GitHub App installation token or fine-grained token with `contents: write` and `pull-requests: write` on {}",
                workflow::workflow_path(&service.name).display(),
                service.repo.full_name(),
                catalog.full_name(),
                service.repo.full_name(),
                catalog.full_name(),
            );
            self.error(rules::CATALOG_REPO_UNWRITABLE, Some(service), None, message);
        }
    }

    /// A CodePipeline deploy project commits its promotion to the catalog repository: in its own
    /// checkout when the pipeline's source is that repository, else in a clone made with the
    /// token `platform.pipeline_promotion_token_secret` names (CodeBuild holds a credential for
    /// its source only), so such a pipeline needs that setting. Without a catalog repository
    /// (no GitHub repository all services build from, and no `platform.catalog_repo`) each
    /// pipeline commits to its own source: one source holds the catalog, several are copies that
    /// apply would roll each other back from (where GitHub Actions services or a GitOps
    /// environment need the repository too, `catalog_repo` above reports it already).
    fn pipeline_catalog_repo(&mut self) {
        let model = self.model;
        let pipelines: Vec<&Service> = model.services.iter().filter(|s| uses_codepipeline(s)).collect();
        let gitops = model.environments.iter().any(|e| e.delivery == Delivery::Gitops);
        let readers = if gitops { "`apply` and Argo CD read" } else { "`apply` reads" };
        let source = |service: &Service| match service.ci.source {
            CiSource::Github => format!("{} (GitHub, through the CodeStar connection)", service.repo.full_name()),
            CiSource::Codecommit => format!("{} (CodeCommit)", service.repo.name),
        };
        let buildspec = |service: &Service| {
            let project = names::codebuild_project(&model.platform, &service.name, pipeline::Stage::Deploy.suffix());
            format!("aws/buildspec.{project}.yaml")
        };
        let Some(catalog) = model.catalog_repo() else {
            let reported = gitops || model.services.iter().any(uses_github_actions);
            let mut sources: Vec<String> = pipelines.iter().map(|s| source(s)).collect();
            sources.sort();
            sources.dedup();
            if sources.len() < 2 || reported {
                return;
            }
            for service in pipelines {
                let message = format!(
                    "the deploy project of the pipeline of {} ({}) commits its promotions to its source repository {}, and the pipelines read {} repositories ({}), so each applies its own copy of the catalog. Fix: put the catalog in one GitHub repository and set `platform {{ catalog_repo = \"{}/REPO\" }}` to it (and `pipeline_promotion_token_secret` for the pipelines that build elsewhere)",
                    service.name,
                    buildspec(service),
                    source(service),
                    sources.len(),
                    sources.join(", "),
                    model.platform.github_org,
                );
                self.error(rules::CATALOG_REPO_UNWRITABLE, Some(service), None, message);
            }
            return;
        };
        if model.platform.pipeline_promotion_token_secret.is_some() {
            return;
        }
        for service in pipelines.into_iter().filter(|s| catalog_elsewhere(model, s).is_some()) {
            let message = format!(
                "the deploy project of the pipeline of {} ({}) commits each promotion to the catalog repository {}, which {}, but the pipeline's source is {} and CodeBuild holds a credential for its source only. Fix: set `platform {{ pipeline_promotion_token_secret = \"glidepath/promotion-token\" }}` and store under that name in AWS Secrets Manager (account {}, region {}) a GitHub token with `contents: write` on {} (a fine-grained personal access token, or a GitHub App installation token a rotation keeps fresh); or build {} from {} (`repo = \"{}\"` with `ci {{ source = \"github\", path = \"DIR\" }}`)",
                service.name,
                buildspec(service),
                catalog.full_name(),
                readers,
                source(service),
                model.platform.aws_account_id,
                model.platform.region,
                catalog.full_name(),
                service.name,
                catalog.full_name(),
                catalog.full_name(),
            );
            self.error(rules::CATALOG_REPO_UNWRITABLE, Some(service), None, message);
        }
    }

    /// Least privilege in a CI role's inline policies: no wildcard actions, `*` only for
    /// ecr:GetAuthorizationToken, ECR only on the service's repository, EKS only on its clusters,
    /// CodePipeline only on its own pipeline.
    fn role_scope(&mut self, service: &Service, address: &Address) {
        let Some(role) = self.body(address) else { return };
        let repository = crate::render::aws::ecr_repository_arn(self.model, service);
        let clusters = crate::render::aws::cluster_arns(self.model, service);
        let pipeline = pipeline_arn(self.model, service);
        for policy in role["inline_policies"].as_object().into_iter().flat_map(|p| p.values()) {
            for statement in policy["Statement"].as_array().into_iter().flatten() {
                let actions = strings(&statement["Action"]);
                let resources = strings(&statement["Resource"]);
                if actions.iter().any(|a| a.contains('*')) {
                    self.error(
                        rules::WILDCARD_ACTION,
                        Some(service),
                        None,
                        format!("{address} allows wildcard actions {actions:?}"),
                    );
                }
                if resources.iter().any(|r| r == "*") && actions.iter().any(|a| a != "ecr:GetAuthorizationToken") {
                    self.error(
                        rules::WILDCARD_ACTION,
                        Some(service),
                        None,
                        format!(
                            "{address} allows {actions:?} on every resource; only ecr:GetAuthorizationToken needs `*`"
                        ),
                    );
                }
                let ecr = actions.iter().any(|a| a.starts_with("ecr:") && a != "ecr:GetAuthorizationToken");
                if ecr && resources.iter().any(|r| r != &repository) {
                    self.error(
                        rules::RESOURCE_SCOPE,
                        Some(service),
                        None,
                        format!(
                            "{address} allows ECR actions on {resources:?}, not only its own repository {repository}"
                        ),
                    );
                }
                if actions.iter().any(|a| a.starts_with("eks:")) && resources.iter().any(|r| !clusters.contains(r)) {
                    self.error(
                        rules::RESOURCE_SCOPE,
                        Some(service),
                        None,
                        format!("{address} allows EKS actions on {resources:?}, not only the service's clusters"),
                    );
                }
                let secret = pipeline::promotion_secret_arn(self.model, service);
                if actions.iter().any(|a| a.starts_with("secretsmanager:"))
                    && resources.iter().any(|r| Some(r) != secret.as_ref())
                {
                    self.error(
                        rules::RESOURCE_SCOPE,
                        Some(service),
                        None,
                        format!("{address} allows Secrets Manager actions on {resources:?}, not only the promotion token's secret {}", secret.as_deref().unwrap_or("(none: its deploy step commits to its own source)")),
                    );
                }
                if actions.iter().any(|a| a.starts_with("codepipeline:")) && resources.iter().any(|r| r != &pipeline) {
                    self.error(
                        rules::RESOURCE_SCOPE,
                        Some(service),
                        None,
                        format!("{address} allows CodePipeline actions on {resources:?}, not only its own pipeline {pipeline}"),
                    );
                }
            }
        }
    }

    /// Images from the service's own IMMUTABLE repository; probes on the container's port.
    fn rollout(&mut self, service: &Service, env: &str) {
        let Some(rollout) = self.body(&Address::scoped(env, &service.name, KubeKind::Rollout, service.name.clone()))
        else {
            return;
        };
        let repository = ecr_repository_uri(self.model, service);
        let immutable = self
            .body(&Address::global(AwsKind::EcrRepository, service.ecr_repository.clone()))
            .is_some_and(|r| r["image_tag_mutability"] == "IMMUTABLE");
        let spec = &rollout["spec"]["template"]["spec"];
        for container in spec["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(spec["initContainers"].as_array().into_iter().flatten())
        {
            let image = container["image"].as_str().unwrap_or_default();
            let own =
                image.strip_prefix(&repository).is_some_and(|rest| rest.starts_with(':') || rest.starts_with('@'));
            if !own || !immutable {
                self.error(
                    rules::MUTABLE_IMAGE,
                    Some(service),
                    Some(env),
                    format!(
                        "container {} runs {image}, not an image of the service's IMMUTABLE repository {repository}",
                        container["name"]
                    ),
                );
            }
        }
        let app = spec["containers"].as_array().and_then(|c| c.iter().find(|c| c["name"] == "app"));
        let Some(app) = app else { return };
        let port = app["ports"][0]["containerPort"].as_u64();
        match &app["readinessProbe"]["httpGet"]["port"] {
            Value::Null => self.error(
                rules::PROBE_PORT,
                Some(service),
                Some(env),
                "the app container has no readiness probe".into(),
            ),
            probe if probe.as_u64() != port && probe.as_str() != app["ports"][0]["name"].as_str() => self.error(
                rules::PROBE_PORT,
                Some(service),
                Some(env),
                format!(
                    "the readiness probe targets port {probe}, not the container port {}",
                    port.unwrap_or_default()
                ),
            ),
            _ => {}
        }
    }

    /// PromQL selectors name the service and namespace the rollout serves.
    fn analysis(&mut self, service: &Service, env: &str) {
        let address =
            Address::scoped(env, &service.name, KubeKind::AnalysisTemplate, names::slo_template(&service.name));
        let Some(template) = self.body(&address) else { return };
        let Some(namespace) = self.model.environment(env).map(|e| e.namespace.clone()) else { return };
        for metric in template["spec"]["metrics"].as_array().into_iter().flatten() {
            let query = metric["provider"]["prometheus"]["query"].as_str().unwrap_or_default();
            let wanted = [format!("service=\"{}\"", service.name), format!("namespace=\"{namespace}\"")];
            if !wanted.iter().all(|w| query.contains(w.as_str())) {
                self.error(
                    rules::PROMQL_SELECTOR,
                    Some(service),
                    Some(env),
                    format!(
                        "metric {} does not select service=\"{}\" in namespace \"{namespace}\": {query}",
                        metric["name"], service.name
                    ),
                );
            }
        }
    }

    /// A tier-1 service must tell someone when it rolls back.
    fn rollback_route(&mut self, service: &Service) {
        if service.tier != 1 {
            return;
        }
        let told = service
            .notify
            .iter()
            .filter_map(|r| self.model.notification(r))
            .any(|r| r.events.contains(&NotifyEvent::RolloutAborted) && (r.slack.is_some() || r.webhook.is_some()));
        if !told {
            self.error(
                rules::TIER1_ROLLBACK_ROUTE,
                Some(service),
                None,
                "a tier-1 service has no notification route (slack or webhook) for rollout-aborted".into(),
            );
        }
    }

    fn catalog_secrets(&mut self, service: &Service) {
        for (name, value) in &service.env_vars {
            let crate::catalog::EnvValue::Plain(value) = value else { continue };
            if let Some(why) = secret_reason(name, value) {
                self.error(
                    rules::PLAINTEXT_SECRET,
                    Some(service),
                    None,
                    format!("env {name} holds {why}; reference a Kubernetes Secret instead (e.g. migrations.secret) and keep values out of the catalog"),
                );
            }
        }
    }

    fn route_secrets(&mut self) {
        for route in &self.model.notifications {
            if let Some(url) = &route.webhook {
                if let Some(why) = secret_reason("webhook", url) {
                    let message = format!(
                        "notification {} has {why} in its webhook; write `$key` and put the URL in argo-rollouts-notification-secret",
                        route.name
                    );
                    self.error(rules::PLAINTEXT_SECRET, None, None, message);
                }
            }
        }
    }
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

fn walk_strings(value: &Value, visit: &mut dyn FnMut(&str, &str)) {
    fn go(key: &str, value: &Value, visit: &mut dyn FnMut(&str, &str)) {
        match value {
            Value::String(s) => visit(key, s),
            Value::Array(items) => items.iter().for_each(|v| go(key, v, visit)),
            Value::Object(map) => map.iter().for_each(|(k, v)| go(k, v, visit)),
            _ => {}
        }
    }
    go("", value, visit)
}

const SECRET_NAMES: [&str; 8] =
    ["password", "passwd", "secret", "token", "api_key", "apikey", "private_key", "credential"];

/// Whether a name (a variable, a key, a field path) says its value is a secret. Plans redact
/// such values and the policy check refuses them in plain text.
pub fn names_a_secret(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_NAMES.iter().any(|s| lower.contains(s))
}

/// Why a named value looks like a secret written in plain text.
fn secret_reason(name: &str, value: &str) -> Option<String> {
    if let Some(why) = secret_value_reason(value) {
        return Some(why);
    }
    (names_a_secret(name) && !value.is_empty() && !value.starts_with('$'))
        .then(|| "a value under a secret's name".to_string())
}

/// Values that are secrets whatever they are called.
fn secret_value_reason(value: &str) -> Option<String> {
    // One pass over the bytes (every string of every rendered body comes here), marking where a
    // secret's telltale text starts; the reasons are then given in this order.
    let bytes = value.as_bytes();
    let (mut aws_key, mut pem_begin, mut private_key, mut slack_token, mut slack_hook, mut github_token) =
        (false, false, false, false, false, false);
    for (at, byte) in bytes.iter().enumerate() {
        let rest = &bytes[at..];
        match byte {
            b'A' => {
                aws_key |= (rest.starts_with(b"AKIA") || rest.starts_with(b"ASIA"))
                    && rest.len() >= 20
                    && rest[4..20].iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            }
            b'-' => pem_begin |= rest.starts_with(b"-----BEGIN"),
            b'P' => private_key |= rest.starts_with(b"PRIVATE KEY"),
            b'x' => slack_token |= [b"xoxb-", b"xoxp-", b"xoxa-"].iter().any(|p| rest.starts_with(*p)),
            b'h' => slack_hook |= rest.starts_with(b"hooks.slack.com/services/"),
            b'g' => github_token |= rest.starts_with(b"ghp_") || rest.starts_with(b"github_pat_"),
            _ => {}
        }
    }
    let why = if aws_key {
        "an AWS access key id"
    } else if pem_begin && private_key {
        "a private key"
    } else if slack_token {
        "a Slack token"
    } else if slack_hook {
        "a Slack webhook URL"
    } else if github_token {
        "a GitHub token"
    } else {
        return None;
    };
    Some(why.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_detection() {
        assert!(secret_reason("DB_PASSWORD", "hunter2").is_some());
        assert!(secret_reason("DB_PASSWORD", "$db-password").is_none());
        assert!(secret_reason("LOG_LEVEL", "info").is_none());
        assert!(secret_value_reason("AKIAIOSFODNN7EXAMPLE").is_some());
        assert!(secret_value_reason("https://hooks.slack.com/services/T000/B000/XXXX").is_some());
        assert!(secret_value_reason("arn:aws:iam::123456789012:role/x").is_none());
    }

    /// The one-pass scan gives the reasons of the plain definition, telltales anywhere in the
    /// text, several in one string, and near misses.
    #[test]
    fn secret_values_are_found_as_the_plain_definition_finds_them() {
        fn plain(value: &str) -> Option<String> {
            let aws_key = value.as_bytes().windows(20).any(|w| {
                (w.starts_with(b"AKIA") || w.starts_with(b"ASIA"))
                    && w[4..].iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            });
            let why = if aws_key {
                "an AWS access key id"
            } else if value.contains("-----BEGIN") && value.contains("PRIVATE KEY") {
                "a private key"
            } else if ["xoxb-", "xoxp-", "xoxa-"].iter().any(|p| value.contains(p)) {
                "a Slack token"
            } else if value.contains("hooks.slack.com/services/") {
                "a Slack webhook URL"
            } else if ["ghp_", "github_pat_"].iter().any(|p| value.contains(p)) {
                "a GitHub token"
            } else {
                return None;
            };
            Some(why.into())
        }
        let parts = [
            "", "x", "AKIA", "ASIA", "AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPL", "ASIAIOSFODNN7EXAMPLEZ", "AKIAiosfodnn7example",
            "-----BEGIN", "-----BEGIN RSA PRIVATE KEY-----", "PRIVATE KEY", "PRIVATE KE", "----BEGIN", "xoxb-1", "xox",
            "xoxc-", "hooks.slack.com/services/T0", "hooks.slack.com/service", "ghp_abc", "github_pat_1", "github_pa",
            "gh", "héllo ✓", " ", "AAKIA",
        ];
        for a in parts {
            for b in parts {
                for value in [format!("{a}{b}"), format!("{a} {b}"), format!("{b}:{a}")] {
                    assert_eq!(secret_value_reason(&value), plain(&value), "{value:?}");
                }
            }
        }
    }
}
