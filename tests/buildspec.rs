//! The CodePipeline path of examples/shop checked structurally, like tests/workflow.rs checks
//! the GitHub workflows: every buildspec is valid YAML of version 0.2 with phases; the build
//! runs the Trivy gate (exit code 1 on HIGH,CRITICAL) before the push and hands on
//! `imagedefinitions.json` and the digest; every pipeline's stages are in order, its actions run
//! rendered projects on artifacts an earlier action produced, and every deploy gets the digest
//! the one build exported; every pipeline has one way to start: a V2 trigger on its branch
//! (GitHub) or, from CodeCommit, no polling and an EventBridge rule on its repository's branch
//! targeting it as a role that may start it. Negative tests prove the checker catches what it
//! claims to.

use std::collections::BTreeMap;
use std::path::Path;

use glidepath::catalog::Model;
use glidepath::render::resource::{CodebuildProject, EventsRule, IamRole, PipelineDeclaration};
use glidepath::render::{self, output, AwsResource, Resource};
use serde_json::{json, Value};

fn shop() -> Model {
    glidepath::catalog::load(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/shop")))
        .unwrap_or_else(|e| panic!("examples/shop: {e:?}"))
}

fn projects(model: &Model) -> BTreeMap<String, CodebuildProject> {
    render::render(model)
        .unwrap()
        .resources
        .into_values()
        .filter_map(|r| match r {
            Resource::Aws(AwsResource::CodebuildProject(p)) => Some((p.name.clone(), p)),
            _ => None,
        })
        .collect()
}

fn pipelines(model: &Model) -> Vec<PipelineDeclaration> {
    render::render(model)
        .unwrap()
        .resources
        .into_values()
        .filter_map(|r| match r {
            Resource::Aws(AwsResource::Codepipeline(p)) => Some(p.pipeline),
            _ => None,
        })
        .collect()
}

fn aws_resources(model: &Model) -> Vec<AwsResource> {
    render::render(model)
        .unwrap()
        .resources
        .into_values()
        .filter_map(|r| match r {
            Resource::Aws(aws) => Some(aws),
            _ => None,
        })
        .collect()
}

/// Commands of every phase, in the order CodeBuild runs the phases.
fn commands(buildspec: &Value) -> Vec<String> {
    ["install", "pre_build", "build", "post_build"]
        .iter()
        .flat_map(|phase| buildspec["phases"][phase]["commands"].as_array().cloned().unwrap_or_default())
        .map(|c| c.as_str().unwrap_or("<not a string>").to_string())
        .collect()
}

/// Every structural problem of a buildspec, given what its project is for.
fn buildspec_problems(name: &str, buildspec: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if buildspec["version"] != json!(0.2) {
        out.push(format!("{name}: version is {}, not 0.2", buildspec["version"]));
    }
    if !buildspec["phases"].is_object() || commands(buildspec).is_empty() {
        out.push(format!("{name}: no phases with commands"));
    }
    let all = commands(buildspec);
    let position = |pred: &dyn Fn(&str) -> bool| all.iter().position(|c| pred(c));
    if name.ends_with("-build") {
        let gate = position(&|c| {
            c.starts_with("trivy image ") && c.contains("--exit-code 1") && c.contains("--severity HIGH,CRITICAL")
        });
        let push = position(&|c| c.contains("docker push"));
        match (gate, push) {
            (Some(gate), Some(push)) if gate < push => {}
            (None, _) => out.push(format!("{name}: no `trivy image --exit-code 1 --severity HIGH,CRITICAL` gate")),
            (_, None) => out.push(format!("{name}: no docker push")),
            _ => out.push(format!("{name}: the Trivy gate runs after the push")),
        }
        for step in ["semgrep scan", "checkov ", "docker build", "eval \"$UNIT_TESTS\""] {
            if position(&|c| c.contains(step)).is_none() {
                out.push(format!("{name}: no `{step}`"));
            }
        }
        if position(&|c| c.contains("CODEBUILD_RESOLVED_SOURCE_VERSION")).is_none() {
            out.push(format!("{name}: the tag does not come from the commit"));
        }
        if !buildspec["artifacts"]["files"].as_array().is_some_and(|f| f.contains(&json!("imagedefinitions.json"))) {
            out.push(format!("{name}: imagedefinitions.json is not an artifact"));
        }
        if position(&|c| c.contains("> imagedefinitions.json") && c.contains("@$IMAGE_DIGEST")).is_none() {
            out.push(format!("{name}: imagedefinitions.json does not name the image by digest"));
        }
        if !buildspec["env"]["exported-variables"].as_array().is_some_and(|v| v.contains(&json!("IMAGE_DIGEST"))) {
            out.push(format!("{name}: IMAGE_DIGEST is not exported"));
        }
    }
    if name.ends_with("-deploy") {
        match all.iter().find_map(|c| promote_line(c)) {
            Some(line) if line.contains("--image \"$IMAGE_REPOSITORY@$IMAGE_DIGEST\"") => {}
            Some(line) => out.push(format!("{name}: promotes something other than the built digest: {line}")),
            None => out.push(format!("{name}: no glidepath promote")),
        }
        if position(&|c| c.starts_with("kubectl argo rollouts status ")).is_none() {
            out.push(format!("{name}: does not wait for the rollout"));
        }
        // `apply` refuses a GitOps environment's cluster objects: only push delivery applies,
        // and GitOps delivery commits the re-rendered tree Argo CD syncs.
        if all.iter().any(|c| c.contains("glidepath apply ") && !c.contains("if [ \"$DELIVERY\" = push ]")) {
            out.push(format!("{name}: applies in a GitOps environment"));
        }
        if position(&|c| c.contains("glidepath render ") && c.contains("git add --all -- \"$CATALOG\" gitops"))
            .is_none()
        {
            out.push(format!("{name}: does not commit the re-rendered gitops/ tree"));
        }
        // A pipeline building outside the catalog repository promotes in a clone of it, made
        // with the token Secrets Manager holds; one building from it, in its own checkout.
        let promote = position(&|c| promote_line(c).is_some()).unwrap_or(usize::MAX);
        let clone =
            position(&|c| c.contains("git clone ") && c.contains("\"https://github.com/$CATALOG_REPOSITORY.git\""));
        if buildspec["env"]["variables"].get("CATALOG_REPOSITORY").is_some() {
            if buildspec["env"]["secrets-manager"]["CATALOG_TOKEN"].as_str().is_none() {
                out.push(format!("{name}: clones the catalog repository without a token from Secrets Manager"));
            }
            if clone.is_none_or(|c| c >= promote) {
                out.push(format!("{name}: does not promote in a clone of the catalog repository"));
            }
        } else if clone.is_some() {
            out.push(format!("{name}: clones a catalog repository it does not name"));
        }
    }
    out
}

/// The `glidepath promote` line of a command (a block runs it inside its retry loop).
fn promote_line(command: &str) -> Option<&str> {
    command.lines().map(str::trim_start).find(|line| line.starts_with("glidepath promote "))
}

/// Every structural problem of a pipeline declaration against the rendered projects.
fn pipeline_problems(pipeline: &PipelineDeclaration, projects: &BTreeMap<String, CodebuildProject>) -> Vec<String> {
    let mut out = Vec::new();
    let name = &pipeline.name;
    let stages: Vec<&str> = pipeline.stages.iter().map(|s| s.name.as_str()).collect();
    if stages.len() < 2 {
        out.push(format!("{name}: fewer than 2 stages"));
    }
    if stages.first() != Some(&"Source") || stages.get(1) != Some(&"Build") {
        out.push(format!("{name}: does not start with Source, Build: {stages:?}"));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut produced: Vec<&str> = Vec::new();
    let mut namespaces: Vec<&str> = Vec::new();
    for (i, stage) in pipeline.stages.iter().enumerate() {
        if !seen.insert(stage.name.as_str()) {
            out.push(format!("{name}: stage {} twice", stage.name));
        }
        if let Some(env) = stage.name.strip_prefix("Approval-") {
            if stages.get(i + 1) != Some(&format!("Deploy-{env}").as_str()) {
                out.push(format!("{name}: {} is not right before Deploy-{env}", stage.name));
            }
        }
        for action in &stage.actions {
            let category = action.action_type_id.category.as_str();
            if (i == 0) != (category == "Source") {
                out.push(format!("{name}: {} has a {category} action", stage.name));
            }
            for input in &action.input_artifacts {
                if !produced.contains(&input.name.as_str()) {
                    out.push(format!(
                        "{name}: {} reads `{}`, which no earlier action produces",
                        stage.name, input.name
                    ));
                }
            }
            if action.action_type_id.provider == "CodeBuild" {
                let project = action.configuration.get("ProjectName").map(String::as_str).unwrap_or("");
                if !projects.contains_key(project) {
                    out.push(format!("{name}: {} runs `{project}`, which is not a rendered project", stage.name));
                }
                let variables: Vec<Value> = action
                    .configuration
                    .get("EnvironmentVariables")
                    .map(|v| serde_json::from_str(v).expect("EnvironmentVariables is JSON"))
                    .unwrap_or_default();
                for reference in variables.iter().filter_map(|v| v["value"].as_str()) {
                    if let Some(inner) = reference.strip_prefix("#{") {
                        let namespace = inner.split('.').next().unwrap_or("");
                        if !namespaces.contains(&namespace) {
                            out.push(format!("{name}: {} uses {reference} from no earlier namespace", stage.name));
                        }
                    }
                }
                if stage.name.starts_with("Deploy-")
                    && !variables
                        .iter()
                        .any(|v| v["name"] == "IMAGE_DIGEST" && v["value"] == "#{BuildVariables.IMAGE_DIGEST}")
                {
                    out.push(format!("{name}: {} does not deploy the built digest", stage.name));
                }
            }
            produced.extend(action.output_artifacts.iter().map(|a| a.name.as_str()));
            namespaces.extend(action.namespace.as_deref());
        }
    }
    out
}

/// Every problem with how a pipeline starts, given the rendered AWS resources: a GitHub source
/// needs a V2 trigger on its branch; a CodeCommit source must not poll, and needs a rule on its
/// repository's branch that targets this pipeline as a rendered role allowed to start it.
fn trigger_problems(pipeline: &PipelineDeclaration, resources: &[AwsResource]) -> Vec<String> {
    let name = &pipeline.name;
    let Some(source) = pipeline.stages.first().and_then(|s| s.actions.first()) else {
        return vec![format!("{name}: no source action")];
    };
    let branch = source.configuration.get("BranchName").cloned().unwrap_or_default();
    let triggered = |branch: &str| {
        pipeline.triggers.iter().any(|t| {
            t.git_configuration.source_action_name == source.name
                && t.git_configuration.push.iter().any(|p| p.branches.includes.iter().any(|b| b == branch))
        })
    };
    // The deploy step commits promotions to the catalog (and, for a GitOps environment, the
    // re-rendered gitops/ tree) on that branch: they must not start a run.
    let promotions_ignored = pipeline.triggers.iter().all(|t| {
        t.git_configuration
            .push
            .iter()
            .all(|p| p.file_paths.as_ref().is_some_and(|f| f.excludes == ["catalog/**", "gitops/**"]))
    });
    match source.action_type_id.provider.as_str() {
        "CodeStarSourceConnection" if !promotions_ignored => {
            vec![format!("{name}: promotion commits to catalog/ or gitops/ would start it again")]
        }
        "CodeStarSourceConnection" if triggered(&branch) => Vec::new(),
        "CodeStarSourceConnection" => vec![format!("{name}: no trigger on its branch {branch}")],
        "CodeCommit" => codecommit_problems(pipeline, &source.configuration, resources),
        other => vec![format!("{name}: unexpected source provider {other}")],
    }
}

fn codecommit_problems(
    pipeline: &PipelineDeclaration,
    configuration: &BTreeMap<String, String>,
    resources: &[AwsResource],
) -> Vec<String> {
    let name = &pipeline.name;
    let mut out = Vec::new();
    if configuration.get("PollForSourceChanges").map(String::as_str) != Some("false") {
        out.push(format!("{name}: polls its CodeCommit source instead of being started by its events"));
    }
    let pipeline_arn = format!("arn:aws:codepipeline:eu-west-1:123456789012:{name}");
    let repository = format!("arn:aws:codecommit:eu-west-1:123456789012:{}", configuration["RepositoryName"]);
    let rules: Vec<&EventsRule> = resources
        .iter()
        .filter_map(|r| match r {
            AwsResource::EventsRule(rule) if rule.targets.values().any(|t| t.arn == pipeline_arn) => Some(rule),
            _ => None,
        })
        .collect();
    if rules.is_empty() {
        out.push(format!("{name}: no events rule starts it"));
    }
    for rule in rules {
        let pattern = &rule.event_pattern;
        if pattern["source"] != json!(["aws.codecommit"])
            || pattern["resources"] != json!([repository])
            || pattern["detail"]["referenceName"] != json!([configuration["BranchName"]])
        {
            out.push(format!("{}: does not match pushes to {repository} {}", rule.name, configuration["BranchName"]));
        }
        for target in rule.targets.values().filter(|t| t.arn == pipeline_arn) {
            let role = target.role_arn.as_deref().and_then(|arn| {
                resources.iter().find_map(|r| match r {
                    AwsResource::IamRole(role) if arn.ends_with(&format!("{}{}", role.path, role.name)) => Some(role),
                    _ => None,
                })
            });
            if !role.is_some_and(|role| may_start(role, &pipeline_arn)) {
                out.push(format!("{}: starts {name} without a rendered role allowed to", rule.name));
            }
        }
    }
    out
}

/// Whether the role, assumed by EventBridge, may start exactly this pipeline.
fn may_start(role: &IamRole, pipeline_arn: &str) -> bool {
    role.trust_policy["Statement"][0]["Principal"]["Service"] == "events.amazonaws.com"
        && role
            .inline_policies
            .values()
            .flat_map(|p| p["Statement"].as_array().cloned().unwrap_or_default())
            .any(|s| s["Action"] == "codepipeline:StartPipelineExecution" && s["Resource"] == pipeline_arn)
}

#[test]
fn every_buildspec_is_structurally_sound_and_written_as_its_project_holds_it() {
    let model = shop();
    let projects = projects(&model);
    assert_eq!(projects.len(), 8);
    let files = output::files(&model, &render::render(&model).unwrap()).unwrap();
    for (name, project) in &projects {
        let found = buildspec_problems(name, &project.buildspec);
        assert!(found.is_empty(), "{found:#?}");
        let text = &files[&Path::new("aws").join(format!("buildspec.{name}.yaml"))];
        assert!(text.starts_with("# Generated by glidepath"), "{name}");
        let written: Value = serde_norway::from_str(text).unwrap();
        assert_eq!(written, project.buildspec, "{name}: the written buildspec is the one the project runs");
    }
}

#[test]
fn every_pipeline_is_structurally_sound_with_the_issues_stage_order() {
    let model = shop();
    let projects = projects(&model);
    let all = pipelines(&model);
    assert_eq!(all.len(), 2);
    let resources = aws_resources(&model);
    for pipeline in &all {
        let mut found = pipeline_problems(pipeline, &projects);
        found.extend(trigger_problems(pipeline, &resources));
        assert!(found.is_empty(), "{found:#?}");
        let stages: Vec<&str> = pipeline.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            stages,
            [
                "Source",
                "Build",
                "Deploy-dev",
                "IntegrationTests",
                "Deploy-staging",
                "LoadTest",
                "Approval-prod",
                "Deploy-prod"
            ]
        );
    }
}

#[test]
fn a_service_in_two_environments_tests_and_load_tests_the_first() {
    let mut model = shop();
    let catalog = model.services.iter_mut().find(|s| s.name == "catalog").unwrap();
    catalog.environments = vec!["staging".into(), "prod".into()];
    let pipeline = pipelines(&model).into_iter().find(|p| p.name == "shop-catalog").unwrap();
    let stages: Vec<&str> = pipeline.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        stages,
        ["Source", "Build", "Deploy-staging", "IntegrationTests", "LoadTest", "Approval-prod", "Deploy-prod"]
    );
    assert!(pipeline_problems(&pipeline, &projects(&model)).is_empty());
}

#[test]
fn checker_catches_a_gate_after_the_push_a_weak_scan_and_a_missing_artifact() {
    let model = shop();
    let build = projects(&model).remove("shop-catalog-build").unwrap().buildspec;

    let mut late = build.clone();
    let commands = late["phases"]["build"]["commands"].as_array_mut().unwrap();
    let gate = commands.iter().position(|c| c.as_str().unwrap().starts_with("trivy ")).unwrap();
    let trivy = commands.remove(gate);
    commands.push(trivy);
    let found = buildspec_problems("shop-catalog-build", &late);
    assert!(found.iter().any(|p| p.contains("the Trivy gate runs after the push")), "{found:#?}");

    let mut weak = build.clone();
    for c in weak["phases"]["build"]["commands"].as_array_mut().unwrap() {
        if c.as_str().unwrap().starts_with("trivy ") {
            *c = json!("trivy image --exit-code 0 --severity CRITICAL \"$IMAGE_REPOSITORY:$IMAGE_TAG\"");
        }
    }
    weak["artifacts"]["files"] = json!([]);
    weak["env"]["exported-variables"] = json!(["IMAGE_TAG"]);
    weak["version"] = json!(0.1);
    let found = buildspec_problems("shop-catalog-build", &weak);
    for expected in [
        "no `trivy image --exit-code 1 --severity HIGH,CRITICAL` gate",
        "imagedefinitions.json is not an artifact",
        "IMAGE_DIGEST is not exported",
        "version is 0.1",
    ] {
        assert!(found.iter().any(|p| p.contains(expected)), "missing {expected:?} in {found:#?}");
    }
}

#[test]
fn checker_catches_a_deploy_of_a_tag_and_a_deploy_that_does_not_wait() {
    let model = shop();
    let mut deploy = projects(&model).remove("shop-inventory-deploy").unwrap().buildspec;
    let commands = deploy["phases"]["build"]["commands"].as_array_mut().unwrap();
    for c in commands.iter_mut() {
        let text = c.as_str().unwrap();
        if let Some(line) = promote_line(text) {
            *c = json!(text.replace(line, "glidepath promote \"$SERVICE\" --to \"$TARGET_ENV\" --tag latest"));
        }
    }
    commands.retain(|c| !c.as_str().unwrap().starts_with("kubectl argo rollouts status"));
    let found = buildspec_problems("shop-inventory-deploy", &deploy);
    assert!(found.iter().any(|p| p.contains("promotes something other than the built digest")), "{found:#?}");
    assert!(found.iter().any(|p| p.contains("does not wait for the rollout")), "{found:#?}");
}

/// examples/shop's pipelines build outside acme/platform: their deploys promote in a clone of
/// it, with the token's secret mapped; the checker notices either missing.
#[test]
fn deploys_outside_the_catalog_repository_promote_in_a_clone_made_with_the_token() {
    let model = shop();
    let mut deploy = projects(&model).remove("shop-inventory-deploy").unwrap().buildspec;
    assert_eq!(deploy["env"]["variables"]["CATALOG_REPOSITORY"], "acme/platform");
    assert!(buildspec_problems("shop-inventory-deploy", &deploy).is_empty());
    deploy["env"].as_object_mut().unwrap().remove("secrets-manager");
    let commands = deploy["phases"]["build"]["commands"].as_array_mut().unwrap();
    commands.retain(|c| !c.as_str().unwrap().contains("git clone "));
    let found = buildspec_problems("shop-inventory-deploy", &deploy);
    assert!(found.iter().any(|p| p.contains("without a token from Secrets Manager")), "{found:#?}");
    assert!(found.iter().any(|p| p.contains("does not promote in a clone")), "{found:#?}");
}

#[test]
fn checker_catches_dangling_artifacts_unknown_projects_and_a_rebuilt_image() {
    let model = shop();
    let projects = projects(&model);
    let mut pipeline = pipelines(&model).into_iter().find(|p| p.name == "shop-catalog").unwrap();
    let index = |p: &PipelineDeclaration, name: &str| p.stages.iter().position(|s| s.name == name).unwrap();
    let dev = index(&pipeline, "Deploy-dev");
    pipeline.stages[dev].actions[0].input_artifacts[0].name = "catalog-repo".into();
    let staging = index(&pipeline, "Deploy-staging");
    pipeline.stages[staging].actions[0].configuration.insert("ProjectName".into(), "shop-catalog-rebuild".into());
    let prod = index(&pipeline, "Deploy-prod");
    pipeline.stages[prod].actions[0].configuration.insert(
        "EnvironmentVariables".into(),
        json!([{ "name": "IMAGE_DIGEST", "value": "#{Rebuild.IMAGE_DIGEST}", "type": "PLAINTEXT" }]).to_string(),
    );
    let approval = pipeline.stages.remove(index(&pipeline, "Approval-prod"));
    pipeline.stages.insert(2, approval);
    let found = pipeline_problems(&pipeline, &projects);
    for expected in [
        "Deploy-dev reads `catalog-repo`, which no earlier action produces",
        "Deploy-staging runs `shop-catalog-rebuild`, which is not a rendered project",
        "Deploy-prod uses #{Rebuild.IMAGE_DIGEST} from no earlier namespace",
        "Deploy-prod does not deploy the built digest",
        "Approval-prod is not right before Deploy-prod",
    ] {
        assert!(found.iter().any(|p| p.contains(expected)), "missing {expected:?} in {found:#?}");
    }
}

#[test]
fn checker_catches_a_polling_source_and_a_rule_that_cannot_start_its_pipeline() {
    let model = shop();
    let mut resources = aws_resources(&model);
    let mut pipeline = pipelines(&model).into_iter().find(|p| p.name == "shop-inventory").unwrap();
    pipeline.stages[0].actions[0].configuration.insert("PollForSourceChanges".into(), "true".into());
    for resource in &mut resources {
        match resource {
            AwsResource::EventsRule(rule) if rule.name == "shop-inventory-source-events" => {
                rule.event_pattern["detail"]["referenceName"] = json!(["develop"]);
            }
            AwsResource::IamRole(role) if role.name == "shop-inventory-source-events" => {
                let policy = role.inline_policies.values_mut().next().unwrap();
                policy["Statement"][0]["Resource"] = json!("arn:aws:codepipeline:eu-west-1:123456789012:shop-catalog");
            }
            _ => {}
        }
    }
    let found = trigger_problems(&pipeline, &resources);
    for expected in [
        "shop-inventory: polls its CodeCommit source",
        "shop-inventory-source-events: does not match pushes to arn:aws:codecommit:eu-west-1:123456789012:inventory main",
        "shop-inventory-source-events: starts shop-inventory without a rendered role allowed to",
    ] {
        assert!(found.iter().any(|p| p.contains(expected)), "missing {expected:?} in {found:#?}");
    }
    resources.retain(|r| !matches!(r, AwsResource::EventsRule(rule) if rule.name == "shop-inventory-source-events"));
    assert!(trigger_problems(&pipeline, &resources).iter().any(|p| p == "shop-inventory: no events rule starts it"));

    let mut catalog = pipelines(&model).into_iter().find(|p| p.name == "shop-catalog").unwrap();
    let mut looping = catalog.clone();
    looping.triggers[0].git_configuration.push[0].file_paths.as_mut().unwrap().excludes.clear();
    assert_eq!(
        trigger_problems(&looping, &resources),
        ["shop-catalog: promotion commits to catalog/ or gitops/ would start it again"]
    );
    catalog.triggers.clear();
    assert_eq!(trigger_problems(&catalog, &resources), ["shop-catalog: no trigger on its branch main"]);
}
