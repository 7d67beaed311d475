//! The AWS-native path against a real AWS API emulator (moto in server mode), through the real
//! SDK: examples/shop's CodePipelines, CodeBuild projects and their log groups, roles, artifact
//! bucket and events rules (the CodeCommit source's trigger among them) from empty, read back
//! independently; targeted changes; deletes; a foreign pipeline, and a log group CodeBuild made.
//! moto 5.2.5 does not implement CodeBuild's UpdateProject, and one test shows exactly that.

mod support;

use std::collections::BTreeMap;

use serde_json::Value;
use support::aws_bed::{changes, text, Bed};

const STAGES: [&str; 8] =
    ["Source", "Build", "Deploy-dev", "IntegrationTests", "Deploy-staging", "LoadTest", "Approval-prod", "Deploy-prod"];

fn stage_names(bed: &Bed, pipeline: &str) -> Vec<String> {
    let got = bed.runtime.block_on(bed.codepipeline().get_pipeline().name(pipeline).send()).unwrap();
    got.pipeline().unwrap().stages().iter().map(|s| s.name().to_string()).collect()
}

/// The log groups under the catalog's CodeBuild prefix as CloudWatch Logs holds them: name →
/// (retention in days, tags).
fn log_groups(bed: &Bed) -> BTreeMap<String, (Option<i32>, BTreeMap<String, String>)> {
    let listed = bed
        .runtime
        .block_on(bed.logs().describe_log_groups().log_group_name_prefix("/aws/codebuild/shop-").send())
        .unwrap();
    listed
        .log_groups()
        .iter()
        .map(|group| {
            let name = group.log_group_name().unwrap().to_string();
            let arn = format!("arn:aws:logs:eu-west-1:123456789012:log-group:{name}");
            let tags = bed.runtime.block_on(bed.logs().list_tags_for_resource().resource_arn(arn).send()).unwrap();
            let tags = tags.tags().cloned().unwrap_or_default().into_iter().collect();
            (name, (group.retention_in_days(), tags))
        })
        .collect()
}

fn service_tags(service: &str, team: &str) -> BTreeMap<String, String> {
    [("glidepath:catalog", "shop"), ("glidepath:service", service), ("managed-by", "glidepath"), ("team", team)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The plan's changes other than no-ops, sorted.
fn sorted_changes(plan: &Value) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = changes(plan).into_iter().filter(|(action, _)| action != "no-op").collect();
    found.sort();
    found
}

#[test]
fn apply_from_empty_creates_pipelines_in_stage_order_and_converges() {
    let bed = Bed::new();
    bed.apply(&[]);
    bed.assert_no_changes();

    for pipeline in ["shop-catalog", "shop-inventory"] {
        assert_eq!(stage_names(&bed, pipeline), STAGES, "{pipeline}");
    }
    let got = bed.runtime.block_on(bed.codepipeline().get_pipeline().name("shop-catalog").send()).unwrap();
    let declaration = got.pipeline().unwrap();
    assert_eq!(declaration.pipeline_type().unwrap().as_str(), "V2");
    assert_eq!(declaration.artifact_store().unwrap().location(), "shop-artifacts-123456789012-eu-west-1");
    let action = |stage: &str| declaration.stages().iter().find(|s| s.name() == stage).unwrap().actions()[0].clone();
    assert_eq!(action("Source").action_type_id().unwrap().provider(), "CodeStarSourceConnection");
    assert_eq!(action("Approval-prod").action_type_id().unwrap().provider(), "Manual");
    // Build once, deploy everywhere: every deploy gets the digest the one build exported.
    assert_eq!(action("Build").namespace(), Some("BuildVariables"));
    for env in ["dev", "staging", "prod"] {
        let deploy = action(&format!("Deploy-{env}"));
        let variables: Value = serde_json::from_str(&deploy.configuration().unwrap()["EnvironmentVariables"]).unwrap();
        let digest = variables.as_array().unwrap().iter().find(|v| v["name"] == "IMAGE_DIGEST").unwrap();
        assert_eq!(digest["value"], "#{BuildVariables.IMAGE_DIGEST}", "{env}");
        assert_eq!(deploy.configuration().unwrap()["ProjectName"], "shop-catalog-deploy");
    }
    let inventory = bed.runtime.block_on(bed.codepipeline().get_pipeline().name("shop-inventory").send()).unwrap();
    let source = &inventory.pipeline().unwrap().stages()[0].actions()[0];
    assert_eq!(source.action_type_id().unwrap().provider(), "CodeCommit");
    assert_eq!(source.configuration().unwrap()["PollForSourceChanges"], "false");
    assert_codecommit_pushes_start_the_pipeline(&bed);

    // The eight projects, each running as the service's CodeBuild role, buildspecs inline.
    let names: Vec<String> = ["catalog", "inventory"]
        .iter()
        .flat_map(|s| ["build", "deploy", "integration-tests", "load-test"].map(|stage| format!("shop-{s}-{stage}")))
        .collect();
    let projects =
        bed.runtime.block_on(bed.codebuild().batch_get_projects().set_names(Some(names.clone())).send()).unwrap();
    assert_eq!(projects.projects().len(), 8);
    let build = projects.projects().iter().find(|p| p.name() == Some("shop-catalog-build")).unwrap();
    assert_eq!(build.service_role(), Some("arn:aws:iam::123456789012:role/glidepath/shop/shop-catalog-codebuild"));
    let buildspec = build.source().unwrap().buildspec().unwrap();
    assert!(buildspec.contains("trivy image --exit-code 1 --severity HIGH,CRITICAL"), "{buildspec}");
    assert!(build.environment().unwrap().privileged_mode().unwrap(), "docker needs privileged mode");

    // Notifications: the events rule targets the service's route topic, which lets it publish.
    let targets =
        bed.runtime.block_on(bed.events().list_targets_by_rule().rule("shop-catalog-pipeline-events").send()).unwrap();
    let arns: Vec<&str> = targets.targets().iter().map(|t| t.arn()).collect();
    assert_eq!(arns, ["arn:aws:sns:eu-west-1:123456789012:shop-storefront"]);
    let sns = aws_sdk_sns::Client::new(&bed.runtime.block_on(bed.config()));
    let attributes = bed
        .runtime
        .block_on(sns.get_topic_attributes().topic_arn("arn:aws:sns:eu-west-1:123456789012:shop-storefront").send())
        .unwrap();
    let policy: Value = serde_json::from_str(&attributes.attributes().unwrap()["Policy"]).unwrap();
    let events = policy["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == "PipelineEvents").unwrap();
    assert_eq!(events["Principal"]["Service"], "events.amazonaws.com");
    assert_eq!(
        events["Condition"]["ArnEquals"]["aws:SourceArn"],
        serde_json::json!([
            "arn:aws:events:eu-west-1:123456789012:rule/shop-catalog-pipeline-events",
            "arn:aws:events:eu-west-1:123456789012:rule/shop-inventory-pipeline-events"
        ])
    );
}

/// inventory's CodeCommit source: a rule on its repository's branch starts the pipeline as a
/// role that may start that pipeline and nothing else.
fn assert_codecommit_pushes_start_the_pipeline(bed: &Bed) {
    let rule = bed.runtime.block_on(bed.events().describe_rule().name("shop-inventory-source-events").send()).unwrap();
    let pattern: Value = serde_json::from_str(rule.event_pattern().unwrap()).unwrap();
    assert_eq!(pattern["source"], serde_json::json!(["aws.codecommit"]));
    assert_eq!(pattern["detail-type"], serde_json::json!(["CodeCommit Repository State Change"]));
    assert_eq!(pattern["resources"], serde_json::json!(["arn:aws:codecommit:eu-west-1:123456789012:inventory"]));
    assert_eq!(pattern["detail"]["event"], serde_json::json!(["referenceCreated", "referenceUpdated"]));
    assert_eq!(pattern["detail"]["referenceType"], serde_json::json!(["branch"]));
    assert_eq!(pattern["detail"]["referenceName"], serde_json::json!(["main"]));
    assert_eq!(rule.state().unwrap().as_str(), "ENABLED");

    let listed =
        bed.runtime.block_on(bed.events().list_targets_by_rule().rule("shop-inventory-source-events").send()).unwrap();
    let targets: Vec<(&str, &str, Option<&str>)> =
        listed.targets().iter().map(|t| (t.id(), t.arn(), t.role_arn())).collect();
    let role_arn = "arn:aws:iam::123456789012:role/glidepath/shop/shop-inventory-source-events";
    assert_eq!(
        targets,
        [("shop-inventory", "arn:aws:codepipeline:eu-west-1:123456789012:shop-inventory", Some(role_arn))]
    );

    assert_eq!(
        bed.trust_policy("shop-inventory-source-events")["Statement"][0]["Principal"]["Service"],
        "events.amazonaws.com"
    );
    assert_eq!(
        bed.inline_policy("shop-inventory-source-events", "start-pipeline")["Statement"],
        serde_json::json!([{
            "Sid": "StartOwnPipeline",
            "Effect": "Allow",
            "Action": "codepipeline:StartPipelineExecution",
            "Resource": "arn:aws:codepipeline:eu-west-1:123456789012:shop-inventory"
        }])
    );
    let rules = bed.runtime.block_on(bed.events().list_rules().name_prefix("shop-catalog-").send()).unwrap();
    let names: Vec<&str> = rules.rules().iter().filter_map(|r| r.name()).collect();
    assert_eq!(names, ["shop-catalog-pipeline-events"], "a GitHub source needs no rule to start it");
}

#[test]
fn a_source_target_that_lost_its_role_is_put_back_with_it() {
    let bed = Bed::new();
    bed.apply(&[]);
    // By hand, the pipeline target is put again without its role: EventBridge could not start it.
    let bare = aws_sdk_eventbridge::types::Target::builder()
        .id("shop-inventory")
        .arn("arn:aws:codepipeline:eu-west-1:123456789012:shop-inventory")
        .build()
        .unwrap();
    bed.runtime.block_on(bed.events().put_targets().rule("shop-inventory-source-events").targets(bare).send()).unwrap();

    let plan = bed.plan_json();
    assert_eq!(
        sorted_changes(&plan),
        [("update".to_string(), "aws/events_rule/shop-inventory-source-events".to_string())]
    );
    let change = plan["changes"].as_array().unwrap().iter().find(|c| c["action"] == "update").unwrap();
    let fields: Vec<&str> = change["fields"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert!(fields.iter().all(|f| f.starts_with("targets")), "{fields:?}");

    bed.apply(&[]);
    bed.assert_no_changes();
    assert_codecommit_pushes_start_the_pipeline(&bed);
}

#[test]
fn dropping_an_approval_updates_exactly_the_pipelines_and_their_roles() {
    let bed = Bed::new();
    bed.apply(&[]);
    bed.edit("platform.hcl", "  strategy  = \"canary\"\n  approval  = true\n", "  strategy  = \"canary\"\n");
    let plan = bed.plan_json();
    // Also the CI roles of the branch-trust GitHub Actions services deploying to prod: in push
    // mode an approval environment's deploy job runs in its GitHub environment (the reviewers
    // are the approval), so their roles trusted that subject, and no longer need to.
    let expected: Vec<(String, String)> = [
        "aws/codepipeline/shop-catalog",
        "aws/codepipeline/shop-inventory",
        "aws/iam_role/shop-cart-ci",
        "aws/iam_role/shop-catalog-pipeline",
        "aws/iam_role/shop-inventory-pipeline",
        "aws/iam_role/shop-notification-ci",
        "aws/iam_role/shop-search-ci",
        "aws/iam_role/shop-shipping-ci",
    ]
    .iter()
    .map(|address| ("update".to_string(), address.to_string()))
    .collect();
    assert_eq!(sorted_changes(&plan), expected);
    let pipeline =
        plan["changes"].as_array().unwrap().iter().find(|c| c["address"] == "aws/codepipeline/shop-catalog").unwrap();
    let fields: Vec<&str> =
        pipeline["fields"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert!(fields.iter().all(|f| f.starts_with("pipeline.stages[")), "{fields:?}");
    let role = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "aws/iam_role/shop-catalog-pipeline")
        .unwrap();
    assert!(
        role["fields"].as_array().unwrap().iter().all(|f| f["path"].as_str().unwrap().starts_with("inline_policies")),
        "only the approval announcement goes: {role:#}"
    );

    bed.apply(&[]);
    bed.assert_no_changes();
    let without: Vec<&str> = STAGES.iter().copied().filter(|s| *s != "Approval-prod").collect();
    assert_eq!(stage_names(&bed, "shop-catalog"), without);
}

#[test]
fn a_buildspec_change_is_an_update_project_which_the_emulator_lacks() {
    let bed = Bed::new();
    bed.apply(&[]);
    bed.edit(
        "storefront.hcl",
        "    system = \"codepipeline\"\n",
        "    system     = \"codepipeline\"\n    unit_tests = \"make check\"\n",
    );
    let plan = bed.plan_json();
    assert_eq!(sorted_changes(&plan), [("update".to_string(), "aws/codebuild_project/shop-catalog-build".to_string())]);
    let fields = &plan["changes"].as_array().unwrap().iter().find(|c| c["action"] == "update").unwrap()["fields"];
    assert_eq!(
        fields,
        &serde_json::json!([{ "path": "buildspec.env.variables.UNIT_TESTS", "before": "make test", "after": "make check" }])
    );

    // AWS changes a project in place with UpdateProject; moto 5.2.5 answers it with a bare
    // HTTP 500. The failure names the resource and the call, and nothing is recorded as done.
    let out = bed.glidepath("apply", &["--auto-approve", "--stats"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("aws/codebuild_project/shop-catalog-build: codebuild:UpdateProject failed: the AWS endpoint")
            && stderr.contains(
                "answered HTTP 500 without an AWS error response (does it implement codebuild:UpdateProject?)"
            ),
        "{stderr}"
    );
    assert!(stderr.contains("0 of 1 change(s) were carried out"), "{stderr}");
    assert!(stderr.contains("codebuild:UpdateProject 1"), "one UpdateProject, nothing else: {stderr}");
    assert_eq!(bed.glidepath("plan", &["--detailed-exitcode"]).status.code(), Some(2), "the update is still pending");
}

#[test]
fn moving_a_service_back_to_github_actions_deletes_its_pipeline_only_with_allow_delete() {
    let bed = Bed::new();
    bed.apply(&[]);
    bed.edit(
        "storefront.hcl",
        "    system            = \"codepipeline\"\n    source            = \"codecommit\"\n",
        "    system            = \"github_actions\"\n",
    );
    // The test commands only mean something to a pipeline; they stay valid keys.
    let plan = bed.plan_json();
    let found = sorted_changes(&plan);
    let expected: Vec<(String, String)> = [
        ("create", "aws/iam_role/shop-inventory-ci"),
        ("delete", "aws/cloudwatch_log_group//aws/codebuild/shop-inventory"),
        ("delete", "aws/codebuild_project/shop-inventory-build"),
        ("delete", "aws/codebuild_project/shop-inventory-deploy"),
        ("delete", "aws/codebuild_project/shop-inventory-integration-tests"),
        ("delete", "aws/codebuild_project/shop-inventory-load-test"),
        ("delete", "aws/codepipeline/shop-inventory"),
        ("delete", "aws/events_rule/shop-inventory-pipeline-events"),
        ("delete", "aws/events_rule/shop-inventory-source-events"),
        ("delete", "aws/iam_role/shop-inventory-codebuild"),
        ("delete", "aws/iam_role/shop-inventory-pipeline"),
        ("delete", "aws/iam_role/shop-inventory-source-events"),
        ("update", "aws/sns_topic/shop-storefront"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(found, expected);

    let kept = bed.apply(&[]);
    assert!(text(&kept.stdout).contains("will be skipped"), "{}", text(&kept.stdout));
    assert!(bed.runtime.block_on(bed.codepipeline().get_pipeline().name("shop-inventory").send()).is_ok());
    bed.apply(&["--allow-delete"]);
    bed.assert_no_changes();
    assert!(bed.runtime.block_on(bed.codepipeline().get_pipeline().name("shop-inventory").send()).is_err());
    let listed = bed.runtime.block_on(bed.codebuild().list_projects().send()).unwrap();
    assert!(listed.projects().iter().all(|p| !p.starts_with("shop-inventory-")), "{:?}", listed.projects());
    assert_eq!(stage_names(&bed, "shop-catalog"), STAGES, "the other pipeline is untouched");
    assert_eq!(log_groups(&bed).keys().collect::<Vec<_>>(), ["/aws/codebuild/shop-catalog"]);
}

#[test]
fn a_foreign_pipeline_of_the_same_name_is_a_plan_error_until_imported() {
    let bed = Bed::new();
    // moto, like AWS, only creates a pipeline whose role trusts CodePipeline.
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"codepipeline.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    bed.runtime
        .block_on(bed.iam().create_role().role_name("hand-made").assume_role_policy_document(trust).send())
        .unwrap();
    let stage = |name: &str, category: &str, provider: &str| {
        use aws_sdk_codepipeline::types::*;
        StageDeclaration::builder()
            .name(name)
            .actions(
                ActionDeclaration::builder()
                    .name(name)
                    .action_type_id(
                        ActionTypeId::builder()
                            .category(ActionCategory::from(category))
                            .owner(ActionOwner::Aws)
                            .provider(provider)
                            .version("1")
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    };
    let declaration = aws_sdk_codepipeline::types::PipelineDeclaration::builder()
        .name("shop-catalog")
        .role_arn("arn:aws:iam::123456789012:role/hand-made")
        .artifact_store(
            aws_sdk_codepipeline::types::ArtifactStore::builder()
                .r#type(aws_sdk_codepipeline::types::ArtifactStoreType::S3)
                .location("somewhere")
                .build()
                .unwrap(),
        )
        .stages(stage("Source", "Source", "CodeCommit"))
        .stages(stage("Build", "Build", "CodeBuild"))
        .build()
        .unwrap();
    bed.runtime.block_on(bed.codepipeline().create_pipeline().pipeline(declaration).send()).unwrap();

    let out = bed.glidepath("plan", &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("glidepath import aws/codepipeline/shop-catalog"), "{stderr}");

    let catalog = bed.catalog();
    let import =
        bed.run(&["import", "-c", catalog.to_str().unwrap(), "aws/codepipeline/shop-catalog", "--auto-approve"]);
    assert_eq!(import.status.code(), Some(0), "{}", text(&import.stderr));
    let plan = bed.plan_json();
    let pipeline = changes(&plan).into_iter().find(|(_, a)| a == "aws/codepipeline/shop-catalog").unwrap();
    assert_eq!(pipeline.0, "update", "after import the pipeline is updated to the catalog, not created");
    bed.apply(&[]);
    bed.assert_no_changes();
    assert_eq!(stage_names(&bed, "shop-catalog"), STAGES);
}

/// The projects' log group exists before them, expires its events after the platform's
/// `log_retention_days` and carries the service's tags; a new retention is an update in place.
#[test]
fn log_groups_keep_the_platforms_retention_and_change_it_in_place() {
    let bed = Bed::new();
    bed.apply(&[]);
    bed.assert_no_changes();
    let expected = BTreeMap::from([
        ("/aws/codebuild/shop-catalog".to_string(), (Some(30), service_tags("catalog", "storefront"))),
        ("/aws/codebuild/shop-inventory".to_string(), (Some(30), service_tags("inventory", "fulfilment"))),
    ]);
    assert_eq!(log_groups(&bed), expected);

    bed.edit("platform.hcl", "  ecr_keep_images = 50\n", "  ecr_keep_images = 50\n  log_retention_days = 90\n");
    let plan = bed.plan_json();
    assert_eq!(
        sorted_changes(&plan),
        [
            ("update".to_string(), "aws/cloudwatch_log_group//aws/codebuild/shop-catalog".to_string()),
            ("update".to_string(), "aws/cloudwatch_log_group//aws/codebuild/shop-inventory".to_string()),
        ]
    );
    for change in plan["changes"].as_array().unwrap().iter().filter(|c| c["action"] == "update") {
        assert_eq!(
            change["fields"],
            serde_json::json!([{ "path": "retention_in_days", "before": 30, "after": 90 }]),
            "{change:#}"
        );
    }

    let out = bed.glidepath("apply", &["--auto-approve", "--stats"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(" cloudwatchlogs:PutRetentionPolicy 2"), "one PutRetentionPolicy per group: {stderr}");
    assert!(!stderr.contains("cloudwatchlogs:CreateLogGroup"), "updated in place, not replaced: {stderr}");
    bed.assert_no_changes();
    let retention: Vec<Option<i32>> = log_groups(&bed).values().map(|(days, _)| *days).collect();
    assert_eq!(retention, [Some(90), Some(90)]);
}

/// Removing a CodePipeline service deletes its log group with everything else of its pipeline,
/// only with --allow-delete, and leaves look-alike groups nobody tagged alone.
#[test]
fn removing_a_pipeline_service_deletes_its_log_group_only_with_allow_delete() {
    let bed = Bed::new();
    bed.apply(&[]);
    // What a hand-made CodeBuild project's first build leaves: the catalog's prefix, no tags.
    bed.runtime
        .block_on(bed.logs().create_log_group().log_group_name("/aws/codebuild/shop-legacy-build").send())
        .unwrap();

    let storefront = bed.catalog().join("storefront.hcl");
    let before = std::fs::read_to_string(&storefront).unwrap();
    let start = before.find("service \"inventory\"").unwrap();
    let end = before[start..].find("\n}\n").unwrap() + start + 3;
    std::fs::write(&storefront, format!("{}{}", &before[..start], &before[end..])).unwrap();

    let plan = bed.plan_json();
    let deleted: Vec<String> = sorted_changes(&plan)
        .into_iter()
        .filter(|(action, address)| action == "delete" && address.starts_with("aws/cloudwatch_log_group/"))
        .map(|(_, address)| address)
        .collect();
    assert_eq!(deleted, ["aws/cloudwatch_log_group//aws/codebuild/shop-inventory"]);

    let kept = bed.apply(&[]);
    assert!(text(&kept.stdout).contains("will be skipped"), "{}", text(&kept.stdout));
    assert!(log_groups(&bed).contains_key("/aws/codebuild/shop-inventory"), "deletes wait for --allow-delete");
    bed.apply(&["--allow-delete"]);
    bed.assert_no_changes();
    assert_eq!(
        log_groups(&bed).keys().collect::<Vec<_>>(),
        ["/aws/codebuild/shop-catalog", "/aws/codebuild/shop-legacy-build"],
        "the removed service's group is gone, the untagged look-alike is not glidepath's to delete"
    );
}

/// A pipeline that ran before glidepath managed its log group left one CodeBuild created,
/// untagged and never expiring: planning refuses it until it is imported, then updates it.
#[test]
fn a_log_group_codebuild_created_is_a_plan_error_until_imported() {
    let bed = Bed::new();
    bed.runtime.block_on(bed.logs().create_log_group().log_group_name("/aws/codebuild/shop-catalog").send()).unwrap();
    let address = "aws/cloudwatch_log_group//aws/codebuild/shop-catalog";
    let out = bed.glidepath("plan", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&format!("glidepath import {address}")), "{stderr}");

    let catalog = bed.catalog();
    let import = bed.run(&["import", "-c", catalog.to_str().unwrap(), address, "--auto-approve"]);
    assert_eq!(import.status.code(), Some(0), "{}", text(&import.stderr));
    let plan = bed.plan_json();
    let change = plan["changes"].as_array().unwrap().iter().find(|c| c["address"] == address).unwrap();
    assert_eq!(change["action"], "update", "after import the group is updated to the catalog, not created");
    let fields: Vec<&str> = change["fields"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert!(fields.contains(&"retention_in_days"), "a group CodeBuild made never expires: {fields:?}");
    bed.apply(&[]);
    bed.assert_no_changes();
    assert_eq!(
        log_groups(&bed).get("/aws/codebuild/shop-catalog"),
        Some(&(Some(30), service_tags("catalog", "storefront")))
    );
}

/// A service whose pipeline glidepath applied before it managed log groups: the first build made
/// the group, untagged and never expiring. The plan adopts it in place (no import needed).
#[test]
fn a_log_group_codebuild_made_for_a_project_glidepath_applied_is_adopted() {
    let bed = Bed::new();
    bed.apply(&[]);
    let group = "/aws/codebuild/shop-catalog";
    // As CodeBuild leaves it: no tags, no retention (moto keeps a deleted group's tags, so strip them).
    let logs = bed.logs();
    let arn = format!("arn:aws:logs:eu-west-1:123456789012:log-group:{group}");
    let keys: Vec<String> = service_tags("catalog", "storefront").into_keys().collect();
    bed.runtime.block_on(logs.untag_resource().resource_arn(&arn).set_tag_keys(Some(keys)).send()).unwrap();
    bed.runtime.block_on(logs.delete_retention_policy().log_group_name(group).send()).unwrap();
    assert_eq!(log_groups(&bed).get(group), Some(&(None, BTreeMap::new())));

    let plan = bed.plan_json();
    let address = format!("aws/cloudwatch_log_group/{group}");
    let change = plan["changes"].as_array().unwrap().iter().find(|c| c["address"] == address.as_str()).unwrap();
    assert_eq!(change["action"], "update", "{change:#}");
    assert!(change["note"].as_str().unwrap_or_default().contains("adopted"), "{change:#}");
    bed.apply(&[]);
    bed.assert_no_changes();
    assert_eq!(log_groups(&bed).get(group), Some(&(Some(30), service_tags("catalog", "storefront"))));
}

/// Whether IAM would match `arn` by the policy Resource `pattern`: `*` any run of characters,
/// `?` exactly one, everything else literally.
fn iam_matches(pattern: &str, arn: &str) -> bool {
    match (pattern.chars().next(), arn.chars().next()) {
        (None, None) => true,
        (Some('*'), _) => iam_matches(&pattern[1..], arn) || (!arn.is_empty() && iam_matches(pattern, &arn[1..])),
        (Some('?'), Some(c)) => iam_matches(&pattern[1..], &arn[c.len_utf8()..]),
        (Some(p), Some(c)) if p == c => iam_matches(&pattern[p.len_utf8()..], &arn[c.len_utf8()..]),
        _ => false,
    }
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

/// Issue 13: a deploy project whose pipeline builds outside the catalog repository reads the
/// promotion token from Secrets Manager. The roles as IAM holds them after apply, evaluated
/// against the ARNs Secrets Manager gives real secrets (the token's, one whose name extends it
/// and another): the CodeBuild roles of exactly those pipelines may `GetSecretValue` the token's
/// secret and nothing else of Secrets Manager, and no other role of the catalog may read any.
/// moto 5.2.5 has no SimulatePrincipalPolicy, and its request authorization checks Secrets
/// Manager calls against `*` only, so IAM's matching is applied here to the documents IAM returns.
#[test]
fn only_the_codebuild_roles_of_pipelines_outside_the_catalog_repository_read_the_promotion_token() {
    let bed = Bed::new();
    bed.apply(&[]);
    let create = |name: &str| -> String {
        let out = std::process::Command::new("aws")
            .args(["secretsmanager", "create-secret", "--name", name, "--secret-string", "github_pat_test"])
            .env("AWS_ENDPOINT_URL", bed.moto.url())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", "eu-west-1")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .output()
            .unwrap();
        assert!(out.status.success(), "create-secret {name}: {}", text(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["ARN"].as_str().unwrap().to_string()
    };
    let token = create("glidepath/promotion-token");
    assert!(token.starts_with("arn:aws:secretsmanager:eu-west-1:123456789012:secret:glidepath/promotion-token-"));
    let others = [create("glidepath/promotion-token-old"), create("glidepath/other")];

    let iam = bed.iam();
    let roles = bed.runtime.block_on(iam.list_roles().path_prefix("/glidepath/shop/").max_items(1000).send()).unwrap();
    let names: Vec<String> = roles.roles().iter().map(|r| r.role_name().to_string()).collect();
    assert!(names.len() > 10, "{names:?}");
    let mut readers = Vec::new();
    for role in &names {
        let listed = bed.runtime.block_on(iam.list_role_policies().role_name(role).send()).unwrap();
        for policy in listed.policy_names() {
            for statement in bed.inline_policy(role, policy)["Statement"].as_array().unwrap() {
                let actions = strings(&statement["Action"]);
                let secrets = actions.iter().any(|a| a.starts_with("secretsmanager:") || a.contains('*'));
                if !secrets {
                    continue;
                }
                assert_eq!(statement["Effect"], "Allow");
                assert_eq!(actions, ["secretsmanager:GetSecretValue"], "{role}: reads, nothing else");
                let resources = strings(&statement["Resource"]);
                let readable = |arn: &String| resources.iter().any(|r| iam_matches(r, arn));
                assert!(readable(&token), "{role}: {resources:?} does not match {token}");
                for other in &others {
                    assert!(!readable(other), "{role}: {resources:?} matches {other} too");
                }
                readers.push(role.clone());
            }
        }
    }
    readers.sort();
    assert_eq!(readers, ["shop-catalog-codebuild", "shop-inventory-codebuild"]);
    assert!(iam_matches("a-??????", "a-AbCdEf") && !iam_matches("a-??????", "a-x-AbCdEf") && iam_matches("a*", "ab"));

    // The deploy projects map that secret, as CodeBuild reads the buildspec.
    let projects = bed
        .runtime
        .block_on(
            bed.codebuild()
                .batch_get_projects()
                .names("shop-catalog-deploy")
                .names("shop-inventory-deploy")
                .names("shop-catalog-build")
                .send(),
        )
        .unwrap();
    for project in projects.projects() {
        let buildspec: serde_norway::Value =
            serde_norway::from_str(project.source().unwrap().buildspec().unwrap()).unwrap();
        let mapped = buildspec["env"].get("secrets-manager").and_then(|m| m.get("CATALOG_TOKEN"));
        let expected = project.name().unwrap().ends_with("-deploy").then_some("glidepath/promotion-token");
        assert_eq!(mapped.and_then(|m| m.as_str()), expected, "{:?}", project.name());
    }
}
