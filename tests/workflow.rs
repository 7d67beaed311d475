//! The GitHub Actions workflows rendered for examples/shop, checked structurally: valid YAML and
//! a valid workflow shape, OIDC only, the Trivy gate, the CI role the AWS half renders, and a
//! token subject per deploy job that the role's trust policy accepts. Negative tests prove the
//! checker catches what it claims to.

use std::path::{Path, PathBuf};

use glidepath::catalog::{Model, Service};
use glidepath::kinds::AwsKind;
use glidepath::render::{self, workflow, Address, AwsResource, Resource};
use serde_norway::{Mapping, Value};

#[path = "support/shop.rs"]
mod shop_catalog;
use shop_catalog::{shop_in_gitops_mode, shop_with_platform};

fn shop() -> Model {
    glidepath::catalog::load(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/shop")))
        .unwrap_or_else(|e| panic!("examples/shop: {e:?}"))
}

fn parsed(model: &Model) -> Vec<(PathBuf, Value)> {
    workflow::workflows(model)
        .unwrap()
        .into_iter()
        .map(|(path, text)| {
            let value = serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", path.display()));
            (path, value)
        })
        .collect()
}

fn workflow_of<'a>(all: &'a [(PathBuf, Value)], service: &str) -> &'a Value {
    let path = PathBuf::from(format!(".github/workflows/{service}.yaml"));
    &all.iter().find(|(p, _)| *p == path).unwrap_or_else(|| panic!("no workflow at {}", path.display())).1
}

/// The services GitHub Actions delivers (the others have a CodePipeline, see tests/pipeline.rs).
fn github_services(model: &Model) -> Vec<&Service> {
    model.services.iter().filter(|s| render::aws::uses_github_actions(s)).collect()
}

fn service<'a>(model: &'a Model, name: &str) -> &'a Service {
    model.services.iter().find(|s| s.name == name).unwrap()
}

fn key(name: &str) -> Value {
    Value::String(name.into())
}

fn get<'a>(map: &'a Value, name: &str) -> Option<&'a Value> {
    map.as_mapping().and_then(|m| m.get(key(name)))
}

fn str_of<'a>(map: &'a Value, name: &str) -> Option<&'a str> {
    get(map, name).and_then(Value::as_str)
}

/// `needs` is a job id or a list of them.
fn needs_of(job: &Value) -> Vec<String> {
    match get(job, "needs") {
        None => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Sequence(items)) => {
            items.iter().map(|v| v.as_str().unwrap_or("<not a string>").to_string()).collect()
        }
        Some(other) => vec![format!("<bad needs {other:?}>")],
    }
}

/// Every key anywhere in `value`, for the no-static-credentials check.
fn walk_keys(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Mapping(map) => {
            for (k, v) in map {
                if let Some(k) = k.as_str() {
                    out.push(k.to_string());
                }
                walk_keys(v, out);
            }
        }
        Value::Sequence(items) => items.iter().for_each(|v| walk_keys(v, out)),
        Value::Tagged(tagged) => walk_keys(&tagged.value, out),
        _ => {}
    }
}

/// `arn:aws:iam::ACCOUNT:role<path><name>` of the CI role in the rendered AWS resources.
fn rendered_ci_role_arn(model: &Model, service: &Service) -> Result<String, String> {
    let desired = render::render(model).map_err(|e| e.to_string())?;
    let name = format!("{}-{}-ci", model.platform.name, service.name);
    match desired.resources.get(&Address::global(AwsKind::IamRole, name.clone())) {
        Some(Resource::Aws(AwsResource::IamRole(role))) => {
            Ok(format!("arn:aws:iam::{}:role{}{}", model.platform.aws_account_id, role.path, role.name))
        }
        other => Err(format!("aws/iam_role/{name} is not a rendered IAM role: {other:?}")),
    }
}

/// Every structural problem of `workflow` as the workflow of `service`; empty when it is sound.
fn problems(model: &Model, service: &Service, workflow: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if !workflow.is_mapping() {
        return vec!["the workflow is not a mapping".into()];
    }
    for top in ["name", "on", "jobs"] {
        if get(workflow, top).is_none() {
            out.push(format!("no top-level `{top}`"));
        }
    }
    let mut keys = Vec::new();
    walk_keys(workflow, &mut keys);
    for secret in ["aws-access-key-id", "aws-secret-access-key"] {
        if keys.iter().any(|k| k == secret) {
            out.push(format!("static credentials: `{secret}`"));
        }
    }

    let empty = Mapping::new();
    let jobs = get(workflow, "jobs").and_then(Value::as_mapping).unwrap_or(&empty);
    if jobs.is_empty() {
        out.push("`jobs` is empty or not a mapping".into());
    }
    let job_ids: Vec<String> = jobs.keys().filter_map(|k| k.as_str().map(String::from)).collect();
    let role_arn = rendered_ci_role_arn(model, service);
    if let Err(e) = &role_arn {
        out.push(e.clone());
    }
    let subjects = glidepath::render::aws::ci_subjects(model, service);
    let repo = format!("repo:{}", service.repo.full_name());
    let mut trivy_steps = 0;

    for (id, job) in jobs {
        let id = id.as_str().unwrap_or("<non-string job id>");
        if str_of(job, "runs-on").is_none() {
            out.push(format!("job {id}: no `runs-on`"));
        }
        for need in needs_of(job) {
            if !job_ids.contains(&need) {
                out.push(format!("job {id}: needs unknown job `{need}`"));
            }
        }
        let steps = get(job, "steps").and_then(Value::as_sequence).map(Vec::as_slice).unwrap_or(&[]);
        if steps.is_empty() {
            out.push(format!("job {id}: no steps"));
        }
        for (n, step) in steps.iter().enumerate() {
            let (uses, run) = (get(step, "uses").is_some(), get(step, "run").is_some());
            if uses == run {
                out.push(format!("job {id} step {n}: needs exactly one of `uses`/`run` (uses: {uses}, run: {run})"));
            }
            let action = str_of(step, "uses").unwrap_or("");
            let with = get(step, "with");
            // A tag can be moved or deleted; a commit SHA cannot (zizmor's unpinned-uses).
            if let Some((name, reference)) = action.split_once('@') {
                if reference.len() != 40 || !reference.bytes().all(|b| b.is_ascii_hexdigit()) {
                    out.push(format!("job {id} step {n}: {name}@{reference} is not pinned by commit SHA"));
                }
            }
            if action.starts_with("aquasecurity/trivy-action@") {
                trivy_steps += 1;
                let exit = with.and_then(|w| get(w, "exit-code"));
                let exit_one = match exit {
                    Some(Value::String(s)) => s == "1",
                    Some(Value::Number(n)) => n.as_i64() == Some(1),
                    _ => false,
                };
                if !exit_one {
                    out.push(format!("job {id}: trivy exit-code is not 1: {exit:?}"));
                }
                let severity = with.and_then(|w| str_of(w, "severity")).unwrap_or("");
                let mut levels: Vec<&str> = severity.split(',').map(str::trim).collect();
                levels.sort_unstable();
                if levels != ["CRITICAL", "HIGH"] {
                    out.push(format!("job {id}: trivy severity is `{severity}`, not HIGH,CRITICAL"));
                }
            }
            if action.starts_with("aws-actions/configure-aws-credentials@") {
                // The OIDC token needs `id-token: write`: the job's permissions, else the workflow's.
                let permissions = get(job, "permissions").or_else(|| get(workflow, "permissions"));
                if permissions.and_then(|p| str_of(p, "id-token")) != Some("write") {
                    out.push(format!("job {id}: permissions.id-token is not `write`: {permissions:?}"));
                }
                let assumed = with.and_then(|w| str_of(w, "role-to-assume"));
                if let Ok(expected) = &role_arn {
                    if assumed != Some(expected.as_str()) {
                        out.push(format!("job {id}: assumes {assumed:?}, not the CI role {expected}"));
                    }
                }
            }
        }

        // The token subject GitHub issues this job: its environment when it has one, else the
        // branch the workflow runs on; the CI role must trust it, for the build job too.
        let assumes_role = steps
            .iter()
            .any(|s| str_of(s, "uses").is_some_and(|u| u.starts_with("aws-actions/configure-aws-credentials@")));
        if assumes_role {
            let subject = match get(job, "environment") {
                Some(Value::String(name)) => Some(format!("{repo}:environment:{name}")),
                Some(other) => str_of(other, "name").map(|name| format!("{repo}:environment:{name}")),
                None => pushed_branches(workflow).first().map(|branch| format!("{repo}:ref:refs/heads/{branch}")),
            };
            match subject {
                Some(subject) if subjects.contains(&subject) => {}
                Some(subject) => out.push(format!("job {id}: OIDC subject {subject} is not trusted ({subjects:?})")),
                None => out.push(format!("job {id}: no OIDC subject can be worked out")),
            }
        }
        if let (Some(env), Some(Value::String(name))) = (id.strip_prefix("deploy-"), get(job, "environment")) {
            if name != env {
                out.push(format!("job {id}: runs in environment `{name}`, not `{env}`"));
            }
        }
    }
    if trivy_steps == 0 {
        out.push("no Trivy scan step".into());
    }
    out
}

fn pushed_branches(workflow: &Value) -> Vec<String> {
    get(workflow, "on")
        .and_then(|on| get(on, "push"))
        .and_then(|push| get(push, "branches"))
        .and_then(Value::as_sequence)
        .map(|b| b.iter().filter_map(Value::as_str).map(String::from).collect())
        .unwrap_or_default()
}

fn job_mut<'a>(workflow: &'a mut Value, id: &str) -> &'a mut Mapping {
    workflow
        .as_mapping_mut()
        .unwrap()
        .get_mut(key("jobs"))
        .and_then(Value::as_mapping_mut)
        .unwrap()
        .get_mut(key(id))
        .and_then(Value::as_mapping_mut)
        .unwrap_or_else(|| panic!("no job {id}"))
}

#[test]
fn every_shop_workflow_is_structurally_sound() {
    let model = shop();
    let all = parsed(&model);
    assert_eq!(all.len(), github_services(&model).len());
    assert!(all.len() < model.services.len(), "the example shows both paths");
    for s in github_services(&model) {
        let found = problems(&model, s, workflow_of(&all, &s.name));
        assert!(found.is_empty(), "{}: {found:#?}", s.name);
    }
}

#[test]
fn payment_service_jobs_run_build_then_each_environment_in_order() {
    let model = shop();
    let all = parsed(&model);
    let wf = workflow_of(&all, "payment-service");
    let jobs: Vec<&str> = get(wf, "jobs").unwrap().as_mapping().unwrap().keys().map(|k| k.as_str().unwrap()).collect();
    assert_eq!(jobs, ["build", "deploy-dev", "deploy-staging", "deploy-prod"]);
    let job = |id: &str| get(get(wf, "jobs").unwrap(), id).unwrap();
    assert_eq!(needs_of(job("deploy-dev")), ["build"]);
    assert_eq!(needs_of(job("deploy-staging")), ["build", "deploy-dev"]);
    assert_eq!(needs_of(job("deploy-prod")), ["build", "deploy-staging"]);
    // Environment trust: each deploy job runs in its GitHub environment, and the build job in the
    // first one (the role trusts nothing else, issue 13).
    for env in ["dev", "staging", "prod"] {
        assert_eq!(str_of(job(&format!("deploy-{env}")), "environment"), Some(env));
    }
    assert_eq!(str_of(job("build"), "environment"), Some("dev"));
}

#[test]
fn triggers_paths_and_concurrency() {
    let model = shop();
    let all = parsed(&model);
    assert!(service(&model, "cart").ci.shared_paths == ["libs/storefront-ui"], "the example shows a shared path");
    for s in github_services(&model) {
        let wf = workflow_of(&all, &s.name);
        let on = get(wf, "on").unwrap();
        let branch = s.ci.branch();
        assert_eq!(pushed_branches(wf), [branch], "{}", s.name);
        let paths: Vec<&str> = get(get(on, "push").unwrap(), "paths")
            .unwrap()
            .as_sequence()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        let mut expected: Vec<String> =
            std::iter::once(&s.ci.path).chain(&s.ci.shared_paths).map(|p| format!("{p}/**")).collect();
        expected.push(format!(".github/workflows/{}.yaml", s.name));
        assert_eq!(paths, expected, "{}", s.name);
        assert!(get(on, "workflow_dispatch").is_some(), "{}", s.name);
        assert_eq!(str_of(get(wf, "permissions").unwrap(), "contents"), Some("read"));
        let concurrency = get(wf, "concurrency").unwrap();
        assert!(str_of(concurrency, "group").unwrap().contains(&s.name));
        assert_eq!(get(concurrency, "cancel-in-progress"), Some(&Value::Bool(false)));
    }
}

#[test]
fn branch_trust_deploys_run_outside_github_environments_except_push_mode_approval() {
    let model = shop();
    let cart = service(&model, "cart");
    assert!(matches!(cart.ci.trust, glidepath::catalog::CiTrust::Branch(_)), "the example's cart trusts a branch");
    let all = parsed(&model);
    let jobs = get(workflow_of(&all, "cart"), "jobs").unwrap().as_mapping().unwrap();
    for (id, job) in jobs {
        // prod needs approval and is pushed: its GitHub environment's reviewers are the approval.
        let expected = (id.as_str() == Some("deploy-prod")).then_some("prod");
        assert_eq!(str_of(job, "environment"), expected, "{id:?} under branch trust");
    }
    // In gitops mode prod's approval is a pull request: no environment at all.
    let gitops = shop_in_gitops_mode();
    let all = parsed(&gitops);
    for (id, job) in get(workflow_of(&all, "cart"), "jobs").unwrap().as_mapping().unwrap() {
        assert!(get(job, "environment").is_none(), "{id:?} has an environment under branch trust in gitops mode");
    }
}

#[test]
fn build_once_and_promote_that_digest_everywhere() {
    let model = shop();
    let all = parsed(&model);
    let s = service(&model, "payment-service");
    let wf = workflow_of(&all, &s.name);
    let env = get(wf, "env").unwrap();
    assert_eq!(str_of(env, "IMAGE_REPOSITORY"), Some(glidepath::render::aws::ecr_repository_uri(&model, s).as_str()));
    let jobs = get(wf, "jobs").unwrap();
    let build = get(jobs, "build").unwrap();
    assert_eq!(str_of(get(build, "outputs").unwrap(), "digest"), Some("${{ steps.push.outputs.digest }}"));
    let steps = get(build, "steps").unwrap().as_sequence().unwrap();
    let uses: Vec<&str> = steps.iter().filter_map(|s| str_of(s, "uses")).collect();
    assert_eq!(
        uses,
        [
            "actions/checkout@11d5960a326750d5838078e36cf38b85af677262",
            "aws-actions/configure-aws-credentials@7474bc4690e29a8392af63c5b98e7449536d5c3a",
            "aws-actions/amazon-ecr-login@03f1aad4c6c7ffd436567f42f9384779290529bd",
            "aquasecurity/trivy-action@ed142fd0673e97e23eac54620cfb913e5ce36c25"
        ]
    );
    let runs: String = steps.iter().filter_map(|s| str_of(s, "run")).collect();
    assert!(runs.contains(r#"docker build --tag "$IMAGE_REPOSITORY:$GITHUB_SHA""#), "{runs}");
    assert!(runs.contains(r#"docker push "$IMAGE_REPOSITORY:$GITHUB_SHA""#), "{runs}");
    assert!(runs.contains("{{range .RepoDigests}}"), "{runs}");
    // The scan comes before the push: a failing scan leaves nothing in ECR.
    let position = |pred: &dyn Fn(&Value) -> bool| steps.iter().position(pred).unwrap();
    let scan = position(&|s| str_of(s, "uses").is_some_and(|u| u.starts_with("aquasecurity/")));
    let push = position(&|s| str_of(s, "id") == Some("push"));
    assert!(scan < push);
    for env in ["dev", "staging", "prod"] {
        let job = get(jobs, &format!("deploy-{env}")).unwrap();
        assert_eq!(str_of(get(job, "env").unwrap(), "IMAGE_DIGEST"), Some("${{ needs.build.outputs.digest }}"));
        assert_eq!(str_of(get(job, "env").unwrap(), "TARGET_ENV"), Some(env));
        let promote =
            step_named(job, "promoting the built digest to").or_else(|| step_named(job, "Promote the built digest"));
        assert!(str_of(promote.unwrap(), "run")
            .unwrap()
            .contains(r#"glidepath promote "$SERVICE" --to "$TARGET_ENV" --image "$IMAGE_REPOSITORY@$IMAGE_DIGEST""#));
    }
}

/// The first step of `job` whose name contains `part`.
fn step_named<'a>(job: &'a Value, part: &str) -> Option<&'a Value> {
    get(job, "steps")?.as_sequence()?.iter().find(|s| str_of(s, "name").is_some_and(|n| n.contains(part)))
}

/// The names of `job`'s steps, in order.
fn step_names(job: &Value) -> Vec<String> {
    get(job, "steps")
        .and_then(Value::as_sequence)
        .map(|steps| steps.iter().filter_map(|s| str_of(s, "name").map(String::from)).collect())
        .unwrap_or_default()
}

#[test]
fn push_mode_commits_each_promotion_to_the_catalog_repository_applies_and_waits_approval_by_environment() {
    let model = shop();
    assert_eq!(model.platform.delivery, glidepath::catalog::Delivery::Push, "push is the default");
    assert!(model.environments.iter().all(|e| e.delivery == glidepath::catalog::Delivery::Push));
    let all = parsed(&model);
    let jobs = get(workflow_of(&all, "cart"), "jobs").unwrap();
    for env in ["dev", "staging", "prod"] {
        let job = get(jobs, &format!("deploy-{env}")).unwrap();
        // prod's approval is its GitHub environment's reviewers: then it commits and applies as well.
        assert_eq!(
            step_names(job)[3..],
            [
                format!("Promote the built digest to {env} (commit)"),
                format!("Connect to the {env} cluster"),
                format!("Apply cart in {env}"),
                format!("Wait for the cart rollout in {env}"),
            ]
        );
        // cart builds in acme/cart; the catalog is acme/platform: the job checks it out and
        // pushes to it with the named secret, its own token stays read-only.
        let checkout = &get(job, "steps").unwrap().as_sequence().unwrap()[0];
        assert_eq!(str_of(checkout, "name"), Some("Check out the catalog repository"));
        let with = get(checkout, "with").unwrap();
        assert_eq!(str_of(with, "repository"), Some("acme/platform"));
        assert_eq!(str_of(with, "token"), Some("${{ secrets.GLIDEPATH_PROMOTION_TOKEN }}"));
        assert_eq!(get(with, "persist-credentials"), Some(&Value::Bool(false)));
        let variables = get(job, "env").unwrap();
        assert_eq!(str_of(variables, "CATALOG_REPOSITORY"), Some("acme/platform"));
        assert_eq!(str_of(variables, "BRANCH"), Some("main"));
        let permissions = get(job, "permissions").unwrap();
        assert_eq!(str_of(permissions, "contents"), Some("read"));
        assert!(get(permissions, "pull-requests").is_none());
        let promote = step_named(job, "Promote").unwrap();
        assert_eq!(
            str_of(get(promote, "env").unwrap(), "PROMOTION_TOKEN"),
            Some("${{ secrets.GLIDEPATH_PROMOTION_TOKEN }}")
        );
        let run = str_of(promote, "run").unwrap();
        assert!(run.contains(r#"git push --quiet origin "HEAD:refs/heads/$BRANCH""#), "{run}");
        assert!(!run.contains("gh pr"), "{run}");
        let apply = str_of(step_named(job, "Apply").unwrap(), "run").unwrap();
        assert!(apply.contains(r#"--env "$TARGET_ENV" --only cluster --target "$TARGET_ENV/$SERVICE""#), "{apply}");
        let wait = str_of(step_named(job, "Wait for").unwrap(), "run").unwrap();
        assert_eq!(wait.contains("AwaitingPromotion"), env == "prod", "only approval ends at the manual pause: {wait}");
    }
    // cart trusts its branch, yet prod's job runs in the GitHub environment `prod` (the reviewers
    // are the approval), and the CI role trusts that subject too; dev and staging run outside.
    assert_eq!(str_of(get(jobs, "deploy-prod").unwrap(), "environment"), Some("prod"));
    for env in ["dev", "staging"] {
        assert!(get(get(jobs, &format!("deploy-{env}")).unwrap(), "environment").is_none(), "{env}");
    }
    let cart = service(&model, "cart");
    assert!(matches!(cart.ci.trust, glidepath::catalog::CiTrust::Branch(_)));
    assert_eq!(
        render::aws::ci_subjects(&model, cart),
        ["repo:acme/cart:ref:refs/heads/main", "repo:acme/cart:environment:prod"]
    );
}

#[test]
fn gitops_mode_commits_the_rendered_tree_and_leaves_the_cluster_to_argo_cd() {
    let model = shop_in_gitops_mode();
    let all = parsed(&model);
    let jobs = get(workflow_of(&all, "cart"), "jobs").unwrap();
    let staging = get(jobs, "deploy-staging").unwrap();
    assert_eq!(
        step_names(staging)[3..],
        [
            "Promote the built digest to staging (commit)",
            "Connect to the staging cluster",
            "Wait for the cart rollout in staging"
        ]
    );
    let promote = step_named(staging, "Promote").unwrap();
    let run = str_of(promote, "run").unwrap();
    assert!(run.contains(r#"glidepath render --catalog "$CATALOG" --out "$RUNNER_TEMP/render""#), "{run}");
    assert!(run.contains(r#"git add --all -- "$CATALOG" gitops"#), "{run}");
    // A named token pushes: the job's own token stays read-only.
    assert_eq!(
        str_of(get(promote, "env").unwrap(), "PROMOTION_TOKEN"),
        Some("${{ secrets.GLIDEPATH_PROMOTION_TOKEN }}")
    );
    for (id, job) in jobs.as_mapping().unwrap() {
        if let Some(permissions) = get(job, "permissions") {
            assert_eq!(str_of(permissions, "contents"), Some("read"), "{id:?}");
            assert!(get(permissions, "pull-requests").is_none(), "{id:?}");
        }
    }
    // In gitops mode approval is a pull request on the catalog repository, which Argo CD reads.
    let prod = get(jobs, "deploy-prod").unwrap();
    assert!(get(prod, "environment").is_none(), "cart trusts its branch: {prod:?}");
    let run = str_of(step_named(prod, "pull request").unwrap(), "run").unwrap();
    assert!(run.contains("glidepath render") && run.contains("gh pr create"), "{run}");
    assert!(run.contains(r#"gh pr create --repo "$CATALOG_REPOSITORY" --base "$BRANCH" --head "$head""#), "{run}");
    assert_eq!(
        str_of(get(step_named(prod, "pull request").unwrap(), "env").unwrap(), "GH_TOKEN"),
        Some("${{ secrets.GLIDEPATH_PROMOTION_TOKEN }}")
    );
    let desired = render::render(&model).unwrap();
    let files = render::gitops::files(&model, &desired).unwrap();
    let application_set = files.iter().find(|(p, _)| p.ends_with("argocd/applicationset.yaml")).unwrap();
    assert!(application_set.1.contains("repoURL: https://github.com/acme/platform.git"), "{}", application_set.1);
}

/// A monorepo (every service in one repository) needs no `catalog_repo`: the catalog lives beside
/// the code, and the deploy jobs push with their own token.
#[test]
fn a_monorepo_catalog_is_its_own_catalog_repository_written_with_the_jobs_token() {
    let model =
        glidepath::catalog::load(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/valid/minimal.hcl")))
            .unwrap();
    assert_eq!(model.catalog_repo().map(|r| r.full_name()).as_deref(), Some("acme/api"));
    let all = parsed(&model);
    let jobs = get(workflow_of(&all, "api"), "jobs").unwrap();
    let dev = get(jobs, "deploy-dev").unwrap();
    let checkout = &get(dev, "steps").unwrap().as_sequence().unwrap()[0];
    assert_eq!(str_of(get(checkout, "with").unwrap(), "repository"), Some("acme/api"));
    assert!(
        get(get(checkout, "with").unwrap(), "token").is_none(),
        "checkout's default token reads its own repository"
    );
    assert_eq!(str_of(get(dev, "permissions").unwrap(), "contents"), Some("write"));
    assert_eq!(str_of(get(dev, "env").unwrap(), "BRANCH"), Some("main"));
    let promote = step_named(dev, "Promote").unwrap();
    assert_eq!(str_of(get(promote, "env").unwrap(), "PROMOTION_TOKEN"), Some("${{ github.token }}"));
}

#[test]
fn checker_catches_a_step_with_both_uses_and_run() {
    let model = shop();
    let s = service(&model, "payment-service");
    let mut wf = workflow_of(&parsed(&model), &s.name).clone();
    let steps = job_mut(&mut wf, "build").get_mut(key("steps")).unwrap().as_sequence_mut().unwrap();
    steps[0].as_mapping_mut().unwrap().insert(key("run"), key("echo hi"));
    let found = problems(&model, s, &wf);
    assert!(found.iter().any(|p| p.contains("exactly one of `uses`/`run`")), "{found:#?}");
}

#[test]
fn checker_catches_a_step_with_neither_uses_nor_run() {
    let model = shop();
    let s = service(&model, "cart");
    let mut wf = workflow_of(&parsed(&model), &s.name).clone();
    let steps = job_mut(&mut wf, "deploy-dev").get_mut(key("steps")).unwrap().as_sequence_mut().unwrap();
    steps.push(serde_norway::from_str("name: nothing").unwrap());
    let found = problems(&model, s, &wf);
    assert!(found.iter().any(|p| p.contains("exactly one of `uses`/`run`")), "{found:#?}");
}

#[test]
fn checker_catches_an_environment_the_role_does_not_trust() {
    let model = shop();
    // Environment trust: deploy-staging claiming prod's GitHub environment is the wrong subject
    // for its step, and a made-up environment is no trusted subject at all.
    let s = service(&model, "payment-service");
    let mut wf = workflow_of(&parsed(&model), &s.name).clone();
    job_mut(&mut wf, "deploy-staging").insert(key("environment"), key("prod"));
    job_mut(&mut wf, "deploy-prod").insert(key("environment"), key("production"));
    let found = problems(&model, s, &wf);
    assert!(found.iter().any(|p| p.contains("deploy-staging: runs in environment `prod`")), "{found:#?}");
    assert!(found.iter().any(|p| p.contains("deploy-prod: OIDC subject") && p.contains("production")), "{found:#?}");

    // Branch trust: any `environment` changes the subject away from the trusted branch.
    let s = service(&model, "cart");
    let mut wf = workflow_of(&parsed(&model), &s.name).clone();
    job_mut(&mut wf, "deploy-staging").insert(key("environment"), key("staging"));
    let found = problems(&model, s, &wf);
    assert!(
        found
            .iter()
            .any(|p| p.contains("deploy-staging: OIDC subject repo:acme/cart:environment:staging is not trusted")),
        "{found:#?}"
    );

    // Environment trust: dropping `environment` falls back to the branch subject, not trusted,
    // for a deploy job and for the build job (the bug of issue 13).
    let s = service(&model, "order");
    let mut wf = workflow_of(&parsed(&model), &s.name).clone();
    job_mut(&mut wf, "deploy-dev").remove(key("environment"));
    job_mut(&mut wf, "build").remove(key("environment"));
    let found = problems(&model, s, &wf);
    for job in ["deploy-dev", "build"] {
        assert!(
            found
                .iter()
                .any(|p| p.contains(&format!("job {job}: OIDC subject"))
                    && p.contains("ref:refs/heads/main is not trusted")),
            "{job}: {found:#?}"
        );
    }
}

#[test]
fn checker_catches_static_keys_weak_scans_wrong_roles_and_dangling_needs() {
    let model = shop();
    let s = service(&model, "checkout");
    let mut wf = workflow_of(&parsed(&model), &s.name).clone();
    {
        let build = job_mut(&mut wf, "build");
        let steps = build.get_mut(key("steps")).unwrap().as_sequence_mut().unwrap();
        for step in steps.iter_mut() {
            let uses = step.get("uses").and_then(Value::as_str).unwrap_or("").to_string();
            let with = step.as_mapping_mut().unwrap().get_mut(key("with")).and_then(Value::as_mapping_mut);
            if uses.starts_with("aquasecurity/") {
                step.as_mapping_mut().unwrap().insert(key("uses"), key("aquasecurity/trivy-action@v0.36.0"));
                let with = step.as_mapping_mut().unwrap().get_mut(key("with")).and_then(Value::as_mapping_mut);
                let with = with.unwrap();
                with.insert(key("exit-code"), key("0"));
                with.insert(key("severity"), key("CRITICAL"));
            } else if uses.starts_with("aws-actions/configure-aws-credentials") {
                let with = with.unwrap();
                with.insert(key("role-to-assume"), key("arn:aws:iam::123456789012:role/admin"));
                with.insert(key("aws-access-key-id"), key("AKIA..."));
            }
        }
    }
    job_mut(&mut wf, "deploy-prod").insert(key("needs"), key("deploy-qa"));
    job_mut(&mut wf, "deploy-prod").insert(key("permissions"), serde_norway::from_str("contents: read").unwrap());
    let found = problems(&model, s, &wf);
    for expected in [
        "trivy exit-code is not 1",
        "trivy severity is `CRITICAL`",
        "not the CI role arn:aws:iam::123456789012:role/glidepath/shop/shop-checkout-ci",
        "static credentials: `aws-access-key-id`",
        "needs unknown job `deploy-qa`",
        "permissions.id-token is not `write`",
        "aquasecurity/trivy-action@v0.36.0 is not pinned by commit SHA",
    ] {
        assert!(found.iter().any(|p| p.contains(expected)), "missing {expected:?} in {found:#?}");
    }
}

#[test]
fn workflow_text_is_deterministic_and_named_by_service() {
    let model = shop();
    let first = workflow::workflows(&model).unwrap();
    assert_eq!(first, workflow::workflows(&model).unwrap());
    let paths: Vec<PathBuf> = first.iter().map(|(p, _)| p.clone()).collect();
    let expected: Vec<PathBuf> =
        github_services(&model).iter().map(|s| PathBuf::from(format!(".github/workflows/{}.yaml", s.name))).collect();
    assert_eq!(paths, expected);
    for (path, text) in &first {
        assert!(text.starts_with("# Generated by glidepath"), "{}", path.display());
        assert!(!text.contains("\n\n\n"), "{}: stray blank lines\n{text}", path.display());
    }
}

#[test]
fn a_repository_per_service_builds_on_every_push_to_its_branch() {
    let mut model = shop();
    let cart = model.services.iter_mut().find(|s| s.name == "cart").unwrap();
    cart.ci.path = ".".into();
    let all = parsed(&model);
    let wf = workflow_of(&all, "cart");
    let push = get(get(wf, "on").unwrap(), "push").unwrap();
    assert!(get(push, "paths").is_none(), "no path filter for a repository per service: {push:?}");
    assert_eq!(pushed_branches(wf), ["main"]);
    assert_eq!(str_of(get(wf, "env").unwrap(), "BUILD_CONTEXT"), Some("."));
    let found = problems(&model, service(&model, "cart"), wf);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn the_catalog_chooses_the_delivery_mode_and_the_promotion_token() {
    let model = shop_with_platform(|text| {
        text.replacen("  ecr_keep_images = 50\n", "  ecr_keep_images = 50\n  delivery = \"gitops\"\n", 1).replacen(
            "\"GLIDEPATH_PROMOTION_TOKEN\"",
            "\"SHOP_PROMOTIONS\"",
            1,
        )
    })
    .unwrap();
    assert_eq!(model.platform.delivery, glidepath::catalog::Delivery::Gitops);
    assert!(
        model.environments.iter().all(|e| e.delivery == glidepath::catalog::Delivery::Gitops),
        "environments follow platform.delivery unless they say otherwise"
    );
    let all = parsed(&model);
    let dev = get(get(workflow_of(&all, "cart"), "jobs").unwrap(), "deploy-dev").unwrap();
    assert!(step_names(dev).iter().all(|n| !n.starts_with("Apply")), "{:?}", step_names(dev));
    let promote = step_named(dev, "Promote").unwrap();
    assert_eq!(str_of(get(promote, "env").unwrap(), "PROMOTION_TOKEN"), Some("${{ secrets.SHOP_PROMOTIONS }}"));

    for (line, expected) in [
        ("  delivery = \"pull\"\n", "is not a delivery mode"),
        ("  promotion_token_secret = \"GITHUB_TOKEN\"\n", "is not a GitHub secret name"),
        ("  promotion_token_secret = \"secrets.SHOP\"\n", "is not a GitHub secret name"),
        ("  catalog_repo = \"acme/*\"\n", "is not a GitHub repository"),
    ] {
        // The example sets both the token and the catalog repository: the bad line replaces its own.
        let error = shop_with_platform(|text| {
            let field = line.split_whitespace().next().unwrap();
            let text: String =
                text.lines().filter(|l| l.split_whitespace().next() != Some(field)).map(|l| format!("{l}\n")).collect();
            text.replacen("  ecr_keep_images = 50\n", &format!("  ecr_keep_images = 50\n{line}"), 1)
        })
        .unwrap_err();
        assert!(error.contains(expected), "{line}: {error}");
    }
}

#[test]
fn an_environment_can_override_the_platform_delivery_mode_and_its_deploy_job_follows_it() {
    let model = shop_with_platform(|text| {
        text.replacen("  namespace = \"shop-dev\"\n", "  namespace = \"shop-dev\"\n  delivery  = \"gitops\"\n", 1)
    })
    .unwrap();
    let delivery_of = |name: &str| model.environments.iter().find(|e| e.name == name).unwrap().delivery;
    assert_eq!(delivery_of("dev"), glidepath::catalog::Delivery::Gitops);
    assert_eq!(delivery_of("staging"), glidepath::catalog::Delivery::Push, "the platform's default");
    let all = parsed(&model);
    let jobs = get(workflow_of(&all, "cart"), "jobs").unwrap();
    let dev = step_names(get(jobs, "deploy-dev").unwrap());
    let staging = step_names(get(jobs, "deploy-staging").unwrap());
    assert!(dev.iter().all(|n| !n.starts_with("Apply")), "Argo CD syncs dev: {dev:?}");
    assert!(staging.iter().any(|n| n.starts_with("Apply")), "staging is pushed: {staging:?}");
}
