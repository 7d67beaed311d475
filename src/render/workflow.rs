//! GitHub Actions delivery: one workflow per service that builds the image once, scans it with
//! Trivy, pushes it to the service's ECR repository and promotes that one digest through the
//! service's environments in order. AWS access is the service's CI role over GitHub OIDC only;
//! every job that assumes it (build and deploys) presents a token subject the role trusts
//! (`aws::ci_subjects`; `check` proves it: policy::ci-identity-rejected).

use std::path::PathBuf;

use minijinja::Environment;
use serde_json::{json, Value};

use crate::arn::Arns;
use crate::catalog::{names, CiTrust, Delivery, Model, Service};

use super::pipeline::CATALOG_DIR;
use super::{aws, tools, yaml_subset, RenderError};

/// How long a deploy job waits for its rollout to end Healthy (the pipelines' deploy wait too).
const ROLLOUT_TIMEOUT_SECONDS: u32 = 3600;

/// The branch of a catalog repository other than the service's: the ApplicationSet's revision.
pub const CATALOG_BRANCH: &str = "main";

const TEMPLATE_NAME: &str = "github/workflow.yaml.j2";
const TEMPLATE: &str = include_str!("../../templates/github/workflow.yaml.j2");

/// `.github/workflows/<service>.yaml` for every service: (relative path, YAML text).
pub fn workflows(model: &Model) -> Result<Vec<(PathBuf, String)>, RenderError> {
    let renderer = Renderer::new();
    let mut out = Vec::with_capacity(model.services.len());
    // CodePipeline services are built in AWS (`pipeline.rs`), not by a workflow.
    for service in model.services.iter().filter(|s| aws::uses_github_actions(s)) {
        out.push((workflow_path(&service.name), renderer.render(model, service)?));
    }
    Ok(out)
}

/// Renders one service's workflow at a time, for who reads each once and has no use for the
/// others (`check`: a fleet's workflows were tens of MiB held together).
pub struct Renderer {
    env: Environment<'static>,
}

impl Renderer {
    pub fn new() -> Self {
        Renderer { env: environment() }
    }

    /// The YAML text of `service`'s workflow (one that uses GitHub Actions).
    pub fn render(&self, model: &Model, service: &Service) -> Result<String, RenderError> {
        let text = self.render_text(model, service)?;
        // A template mistake is a render error, never a malformed file on disk.
        if let Err(e) = yaml_subset::validate(&text) {
            return Err(RenderError::Yaml { template: TEMPLATE_NAME.into(), reason: e.to_string(), text });
        }
        Ok(text)
    }

    /// `service`'s workflow as a document, read once (`check` reads its jobs, not its text).
    pub fn render_document(&self, model: &Model, service: &Service) -> Result<Value, RenderError> {
        let text = self.render_text(model, service)?;
        match document(&text) {
            Ok(value) => Ok(value),
            Err(e) => Err(RenderError::Yaml { template: TEMPLATE_NAME.into(), reason: e.to_string(), text }),
        }
    }

    fn render_text(&self, model: &Model, service: &Service) -> Result<String, RenderError> {
        let template = self.env.get_template(TEMPLATE_NAME).map_err(|e| template_error(&e))?;
        template.render(context(model, service)?).map_err(|e| template_error(&e))
    }
}

/// A workflow's YAML text as a document: by the fast reader of template output when it can
/// (`yaml_subset`), else by serde_norway (its error if the text is not YAML), whose value becomes
/// JSON the way `check::identity` reads it: keys that are not strings cannot name an event or a
/// job and are left out, and a tagged value stands for its value.
pub fn document(text: &str) -> Result<Value, serde_norway::Error> {
    match yaml_subset::parse(text) {
        Some(value) => Ok(value),
        None => serde_norway::from_str::<serde_norway::Value>(text).map(json_of),
    }
}

fn json_of(yaml: serde_norway::Value) -> Value {
    use serde_norway::Value as Yaml;
    match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        // A number that is not finite is no JSON number: null, as serde_json writes it.
        Yaml::Number(n) => serde_json::to_value(&n).unwrap_or(Value::Null),
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => Value::Array(items.into_iter().map(json_of).collect()),
        Yaml::Mapping(map) => {
            Value::Object(map.into_iter().filter_map(|(key, value)| Some((string_key(key)?, json_of(value)))).collect())
        }
        Yaml::Tagged(tagged) => json_of(tagged.value),
    }
}

/// A mapping key as `check::identity` used to read keys (`as_str`, which looks through tags).
fn string_key(key: serde_norway::Value) -> Option<String> {
    match key {
        serde_norway::Value::String(key) => Some(key),
        serde_norway::Value::Tagged(tagged) => string_key(tagged.value),
        _ => None,
    }
}

impl Default for Renderer {
    fn default() -> Self {
        Renderer::new()
    }
}

/// Where a service's workflow lives, relative to the repository root.
pub fn workflow_path(service: &str) -> PathBuf {
    PathBuf::from(format!(".github/workflows/{service}.yaml"))
}

/// The CI role's ARN, as the workflow assumes it: `arn:aws:iam::ACCOUNT:role<path><name>`.
pub fn ci_role_arn(model: &Model, service: &Service) -> String {
    Arns::of(model).role(&names::iam_path(&model.platform), &names::ci_role(&model.platform, &service.name))
}

fn environment() -> Environment<'static> {
    super::templates::text_environment(&[(TEMPLATE_NAME, TEMPLATE)])
}

fn template_error(e: &minijinja::Error) -> RenderError {
    RenderError::Template { template: TEMPLATE_NAME.into(), reason: format!("{e:#}") }
}

fn context(model: &Model, service: &Service) -> Result<Value, RenderError> {
    let branch = service.ci.branch();
    // The same environments `ci_subjects` lists, in promotion order.
    let envs: Vec<&str> =
        service.environments.iter().filter(|e| model.environment(e).is_some()).map(String::as_str).collect();
    let mut deploys = Vec::with_capacity(envs.len());
    let mut previous: Option<String> = None;
    for env in envs {
        let job = format!("deploy-{env}");
        if !is_job_id(&job) {
            return Err(RenderError::Template {
                template: TEMPLATE_NAME.into(),
                reason: format!("environment `{env}` of {} gives the invalid GitHub job id `{job}`", service.name),
            });
        }
        // `needs` holds build too: a job only sees the outputs of jobs it lists directly.
        let needs: Vec<String> = std::iter::once("build".to_string()).chain(previous.take()).collect();
        // `envs` holds only declared environments, each on a declared cluster (validated).
        let declared = model.environment(env).expect("a declared environment");
        let gitops = declared.delivery == Delivery::Gitops;
        let environment = deploy_environment(service, declared).then_some(env);
        let cluster = model.cluster(&declared.cluster);
        deploys.push(json!({
            "job": job,
            "env": env,
            "needs": needs,
            "environment": environment,
            "approval": declared.approval,
            // In gitops mode approval is a pull request (its merge is what Argo CD syncs); in push
            // mode it is the GitHub environment's reviewers, before the job commits and applies.
            "pull_request": declared.approval && gitops,
            "gitops": gitops,
            "namespace": declared.namespace,
            "eks_cluster": cluster.map_or(declared.cluster.as_str(), |c| c.eks_name.as_str()),
            "cluster_region": cluster.map_or(model.platform.region.as_str(), |c| c.region.as_str()),
        }));
        previous = Some(job);
    }
    // A repository per service (`path = "."`) builds on every push; a monorepo only when the
    // service's directory, one of its shared paths or its workflow changed.
    let paths: Option<Vec<String>> = service.ci.path_filters().map(|mut filters| {
        filters.push(workflow_path(&service.name).to_string_lossy().to_string());
        filters
    });
    // Under environment trust the role trusts only `repo:ORG/REPO:environment:NAME`, so a build
    // job outside any environment would get the branch subject and be refused (issue 13). It runs
    // in the first environment of the promotion order instead: that adds no subject to the
    // role's trust, and the environment's protection rules (reviewers, branch policy) apply to
    // the build as they do to the first deploy. Trusting the branch as well would let any job
    // on the branch, without the environments' reviewers, assume a role that reaches every
    // cluster: the hole environment trust exists to close. With no environment at all there is
    // nothing the build can run in; `check` reports that (policy::ci-identity-rejected).
    let build_environment = match service.ci.trust {
        CiTrust::Environment => deploys.first().map(|d| d["env"].clone()),
        CiTrust::Branch(_) => None,
    };
    let build_context = &service.ci.path;
    let release = tools::glidepath_release(&model.platform);
    // Promotions are pushed with the secret the catalog names, else with the job's own token
    // (which then needs `contents: write`, and `pull-requests: write` where a PR is opened).
    let token = match &model.platform.promotion_token_secret {
        Some(secret) => format!("${{{{ secrets.{secret} }}}}"),
        None => "${{ github.token }}".to_string(),
    };
    // The deploy jobs commit to the catalog repository. Without one (services in several
    // repositories and no `platform.catalog_repo`) they fall back to their own, and `check`
    // fails the catalog (policy::catalog-repo-unwritable).
    let catalog_repo = model.catalog_repo().unwrap_or_else(|| service.repo.clone());
    // The service's trusted branch when the catalog lives beside its code; in a catalog
    // repository of its own, `main`, the revision the rendered ApplicationSet reads.
    let catalog_branch = if catalog_repo == service.repo { branch.to_string() } else { CATALOG_BRANCH.to_string() };
    Ok(json!({
        "catalog_repository": catalog_repo.full_name(),
        "catalog_branch": catalog_branch,
        "token": token,
        "token_is_github_token": model.platform.promotion_token_secret.is_none(),
        "catalog": CATALOG_DIR,
        "rollout_timeout_seconds": ROLLOUT_TIMEOUT_SECONDS.to_string(),
        "glidepath": { "version": release.version, "url": release.url, "sha256": release.sha256 },
        "actions": tools::actions_context(),
        "build_environment": build_environment,
        "service": service.name,
        "branch": branch,
        "paths": paths,
        "concurrency_group": format!("glidepath-{}-{}", model.platform.name, service.name),
        "region": model.platform.region,
        "ecr_repository": service.ecr_repository,
        "image_repository": aws::ecr_repository_uri(model, service),
        "build_context": build_context,
        "role_arn": ci_role_arn(model, service),
        "deploys": deploys,
    }))
}

/// Whether the deploy job of `service` into `env` runs in the GitHub environment of that name:
/// always under environment trust (its role trusts nothing else), and in push mode wherever
/// promotion needs approval, whose required reviewers are that approval (the role then trusts
/// that environment's subject too: `aws::ci_subjects`).
pub fn deploy_environment(service: &Service, env: &crate::catalog::Environment) -> bool {
    match service.ci.trust {
        CiTrust::Environment => true,
        CiTrust::Branch(_) => env.approval && env.delivery == Delivery::Push,
    }
}

/// GitHub job ids: a letter or `_`, then alphanumerics, `-` or `_`.
fn is_job_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
