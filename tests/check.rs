//! `glidepath check`: the safety report's numbers for examples/shop against values worked out
//! by hand, a failing fixture per limit and policy check, and the check inside plans.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use glidepath::catalog::values::Duration;
use glidepath::check::safety::{Bound, Visibility};
use glidepath::check::{self, CheckResult};
use glidepath::render::{self, DesiredSet};
use serde_json::Value;

fn check_of(path: &str) -> (glidepath::catalog::Model, DesiredSet, CheckResult) {
    let model = glidepath::catalog::load(Path::new(path)).unwrap_or_else(|e| panic!("{path}: {e:?}"));
    let desired = render::render(&model).unwrap();
    let result = check::check(&model, &desired);
    (model, desired, result)
}

fn minutes(m: u64) -> Bound {
    seconds(m * 60)
}

fn seconds(s: u64) -> Bound {
    Bound::Within(Duration::from_secs(s))
}

#[test]
fn example_report_numbers_match_hand_computation() {
    let (_, _, result) = check_of("examples/shop");
    assert!(!result.fails(), "{:#?}", result.findings.iter().filter(|f| f.fails()).collect::<Vec<_>>());

    // payment-service prod: critical canary 5/20/50/100 with pauses 5m/10m/10m, analysis from
    // step 1 (startingStep 0), interval 1m, failureLimit 1, 20 replicas, warm-up 20s.
    //   metrics can be rated after 20s warm-up + 5s readiness period + 2 × 30s scrapes = 1m25s,
    //   which is the rendered initialDelay, so no measurement errors for lack of data
    //   rollback = 0 (analysis starts at once) + 1m25s (initialDelay) + 1 × 1m = 2m25s
    //   exposure = 1 pod of 20 = 5%, for 2m25s → 12.08 %·min
    //   promotion = 5m + 10m + 10m = 25m, plus the manual gate prod's approval adds
    //   PDB minAvailable 80% of 20 = 16 → 4 evictable; surge 25% of 20 = 5
    //   detectability: 400 rps × 5% × 2m window = 2400 requests, 24 errors at 1% → visible
    let payment = result.report("payment-service", "prod").unwrap();
    assert_eq!(payment.rollback, seconds(145));
    assert_eq!(payment.errors_before_data, 0);
    assert!((payment.exposure - 0.05).abs() < 1e-9);
    assert!((payment.exposure_percent_minutes.unwrap() - 5.0 * 145.0 / 60.0).abs() < 1e-9);
    assert_eq!(payment.promotion, Duration::from_secs(25 * 60));
    assert_eq!(payment.manual_gates, 1);
    assert_eq!((payment.capacity.allowed_disruptions, payment.capacity.surge), (4, 5));
    assert!((payment.capacity.pdb_keeps - 0.8).abs() < 1e-9);
    let seen = payment.detectability.as_ref().unwrap();
    assert!((seen.requests_per_window - 2400.0).abs() < 1e-6 && seen.verdict == Visibility::Visible);
    assert_eq!(payment.headline(), "rollback ≤ 2m25s, exposure ≤ 5%");

    // checkout prod: same profile on 12 replicas behind prod's ALB: the router sends exactly the
    // 5 % asked for (1 canary pod of 12 serves it), so no waiver is needed.
    let checkout = result.report("checkout", "prod").unwrap();
    assert!((checkout.exposure - 0.05).abs() < 1e-9);
    assert_eq!(checkout.router, glidepath::catalog::Router::Alb);
    let first = &checkout.steps[0];
    assert_eq!((first.requested, first.effective, first.canary_pods), (5, 5.0, 1));
    assert!(result.findings.iter().all(|f| f.waived.is_none()), "shop needs no waiver");

    // cart prod: standard canary 10/50/100, pauses 5m/5m, failureLimit 2, 6 replicas, warm-up 10s.
    //   rollback = 10s + 5s + 2 × 30s (initialDelay 1m15s) + 2 × 1m = 3m15s, inside the first 5m
    //   pause; the ALB sends 10 % (1 canary pod of 6) for 3m15s → 32.5 %·min. In dev, without a
    //   router, the same step is carried by pods: 1 of 1 = 100 %.
    let cart = result.report("cart", "prod").unwrap();
    assert_eq!(cart.rollback, seconds(195));
    assert!((cart.exposure - 0.10).abs() < 1e-9);
    assert!((cart.exposure_percent_minutes.unwrap() - 10.0 * 3.25).abs() < 1e-6);
    assert_eq!(result.report("cart", "dev").unwrap().steps[0].effective, 100.0);
    assert_eq!((cart.promotion, cart.manual_gates), (Duration::from_secs(10 * 60), 1));

    // user-service prod: blue/green. The preview takes no traffic (exposure 0); a breach the smoke
    // test misses is caught by post-promotion analysis, whose data starts with the switch: two
    // 30s scrapes (initialDelay 1m) + 2 × 1m = 3m. Promotion: the smoke Job's 300s deadline +
    // post-promotion 1m + 4 more measurements at 1m = 10m, plus prod's manual promotion.
    let user = result.report("user-service", "prod").unwrap();
    assert_eq!((user.rollback, user.exposure), (minutes(3), 0.0));
    assert_eq!((user.promotion, user.manual_gates), (Duration::from_secs(10 * 60), 1));
    assert_eq!(user.capacity.surge, 6, "blue/green runs a full preview");

    // notification dev: internal canary 25/100 with one 2m pause and failureLimit 3: analysis could
    // fail at 1m15s + 3m, but the rollout is fully promoted at 2m and background analysis stops.
    let notification = result.report("notification", "dev").unwrap();
    assert_eq!(notification.rollback, Bound::AfterPromotion);
    // In prod the approval gate holds it at 25% (the ALB's weight, on 1 canary pod of 3) until
    // analysis fails at 4m15s.
    let notification = result.report("notification", "prod").unwrap();
    assert_eq!(notification.rollback, seconds(255));
    assert!((notification.exposure - 0.25).abs() < 1e-9);
    assert_eq!(notification.steps[0].canary_pods, 1);
}

fn fixtures() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = fs::read_dir("tests/fixtures/check").unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    paths
}

#[test]
fn each_check_has_a_fixture_that_trips_it() {
    let paths = fixtures();
    assert!(paths.len() >= 8);
    for path in paths {
        let text = fs::read_to_string(&path).unwrap();
        let expected: Vec<&str> =
            text.lines().next().unwrap().trim_start_matches("# expect: ").split_whitespace().collect();
        let (_, _, result) = check_of(path.to_str().unwrap());
        let codes: Vec<&str> = result.findings.iter().map(|f| f.code.as_str()).collect();
        for code in &expected {
            assert!(codes.contains(code), "{}: expected {code}, found {codes:?}", path.display());
        }
        for finding in &result.findings {
            assert!(finding.location.starts_with("tests/fixtures/check/"), "{}", finding.location);
        }
    }
}

#[test]
fn a_budget_that_allows_no_eviction_errors_where_limits_are_enforced_and_warns_elsewhere() {
    let (_, _, result) = check_of("tests/fixtures/check/pdb.hcl");
    let drain = |env: &str| {
        result
            .findings
            .iter()
            .find(|f| {
                f.code == "check::drain-deadlock"
                    && f.service.as_deref() == Some("api")
                    && f.environment.as_deref() == Some(env)
            })
            .unwrap_or_else(|| panic!("no drain-deadlock for api in {env}: {:#?}", result.findings))
    };
    let (dev, prod) = (drain("dev"), drain("prod"));
    assert_eq!(dev.severity, check::Severity::Warning, "dev does not enforce limits: {}", dev.one_line());
    assert!(!dev.fails());
    assert_eq!(prod.severity, check::Severity::Error, "{}", prod.one_line());
    assert!(prod.fails());
    // The message carries the fix.
    assert!(prod.message.contains("with 20 replica(s) the PodDisruptionBudget (maxUnavailable 0)"), "{}", prod.message);
    assert!(prod.message.ends_with("set `pdb { max_unavailable = 1 }` or more"), "{}", prod.message);
}

#[test]
fn the_example_allows_an_eviction_in_every_environment() {
    let (_, _, result) = check_of("examples/shop");
    assert!(!result.reports.is_empty());
    for report in &result.reports {
        assert!(
            report.capacity.allowed_disruptions >= 1,
            "{} in {}: the PDB allows no eviction at {} replicas",
            report.service,
            report.environment,
            report.capacity.replicas
        );
    }
    assert!(result.findings.is_empty(), "{:#?}", result.findings);
}

#[test]
fn a_reasoned_waiver_accepts_a_breach_and_a_short_one_is_rejected() {
    let temp = tempfile::tempdir().unwrap();
    let text = fs::read_to_string("tests/fixtures/check/exposure-over-limit.hcl").unwrap();
    let path = temp.path().join("catalog.hcl");
    let waived = text.replace("  notify = [\"oncall\"]\n}", "  notify = [\"oncall\"]\n  waivers {\n    exposure = \"three replicas until the traffic router lands (PLAT-142)\"\n  }\n}");
    fs::write(&path, &waived).unwrap();
    let (_, _, result) = check_of(path.to_str().unwrap());
    assert!(!result.fails());
    assert!(result.findings.iter().any(|f| f.code == "check::exposure-over-limit" && f.waived.is_some()));

    fs::write(&path, waived.replace("three replicas until the traffic router lands (PLAT-142)", "ok")).unwrap();
    let Err(glidepath::catalog::CatalogError::Invalid(problems)) = glidepath::catalog::load(&path) else {
        panic!("accepted")
    };
    assert!(problems.iter().any(|p| p.code == "catalog::unreasoned-waiver"));

    fs::write(
        &path,
        text.replace(
            "  notify = [\"oncall\"]\n}",
            "  notify = [\"oncall\"]\n  limits {\n    max_exposure = \"50%\"\n  }\n}",
        ),
    )
    .unwrap();
    let Err(glidepath::catalog::CatalogError::Invalid(problems)) = glidepath::catalog::load(&path) else {
        panic!("accepted")
    };
    assert!(problems.iter().any(|p| p.code == "catalog::limits-in-service"), "a service cannot loosen its own tier");
}

#[test]
fn policy_checks_catch_tampered_artifacts() {
    assert!(support::tamper::policy_errors(|_| {}).is_empty(), "the example passes every policy");
    for case in support::tamper::cases() {
        let codes = support::tamper::policy_errors(case.edit);
        assert!(codes.contains(&case.expect), "{}: expected {}, got {codes:?}", case.what, case.expect);
    }
}

fn glidepath(args: &[&str], cwd: &Path) -> std::process::Output {
    let mut command = support::glidepath_command();
    command.args(args).current_dir(cwd).env("HOME", cwd).env("NO_COLOR", "1").output().unwrap()
}

#[test]
fn check_and_plan_gate_on_the_report() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ok = glidepath(&["check", "-c", "examples/shop", "--format", "json"], repo);
    assert_eq!(ok.status.code(), Some(0));
    let document: Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(document["fails"], false);
    assert_eq!(document["reports"].as_array().unwrap().len(), 30);

    let bad = glidepath(&["check", "-c", "tests/fixtures/check/exposure-over-limit.hcl"], repo);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stdout).contains("error[check::exposure-over-limit]"));

    // Every plan shows the headline of what it changes, and fails on a check error.
    let work = tempfile::tempdir().unwrap();
    let catalog = repo.join("examples/shop");
    let plan = glidepath(&["plan", "-c", catalog.to_str().unwrap(), "--env", "prod", "--only", "cluster"], work.path());
    assert_eq!(plan.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&plan.stdout);
    assert!(stdout.contains("Safety (glidepath check):"), "{stdout}");
    assert!(stdout.contains("payment-service prod: rollback ≤ 2m25s, exposure ≤ 5%"), "{stdout}");
    let markdown = glidepath(&["plan", "-c", catalog.to_str().unwrap(), "--format", "markdown"], work.path());
    assert!(
        String::from_utf8_lossy(&markdown.stdout).contains("- payment-service prod: rollback ≤ 2m25s, exposure ≤ 5%")
    );

    let failing = repo.join("tests/fixtures/check/exposure-over-limit.hcl");
    let plan = glidepath(&["plan", "-c", failing.to_str().unwrap()], work.path());
    assert_eq!(plan.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&plan.stderr).contains("check error(s)"));
    let apply = glidepath(&["apply", "-c", failing.to_str().unwrap(), "--auto-approve"], work.path());
    assert_eq!(apply.status.code(), Some(1), "apply refuses a catalog that fails the check");
    assert!(!work.path().join(".glidepath/state.json").exists(), "nothing was recorded");
}

#[test]
fn a_job_whose_role_refuses_its_token_fails_check_naming_job_subject_condition_and_fix() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bad = glidepath(&["check", "-c", "tests/fixtures/check/ci-identity-rejected.hcl"], repo);
    assert_eq!(bad.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&bad.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains("error[policy::ci-identity-rejected]"))
        .unwrap_or_else(|| panic!("no identity error in\n{stdout}"));
    for part in [
        "job `build` of .github/workflows/api.yaml",
        "outside any GitHub environment on a push to branch main",
        "sub `repo:acme/api:ref:refs/heads/main` (aud `sts.amazonaws.com`)",
        "aws/iam_role/demo-api-ci refuses: StringEquals token.actions.githubusercontent.com:sub requires a value from an empty list",
        "Fix: ",
    ] {
        assert!(line.contains(part), "missing {part:?} in {line}");
    }
}

/// The bug of issue 13: the build job of an environment-trust service ran outside any GitHub
/// environment, so GitHub issued it the branch subject its role refuses. Fed the workflows as
/// they were rendered then, the identity check fails every such service's build job, and only it.
#[test]
fn the_build_job_outside_the_roles_environments_is_refused() {
    let (model, desired, result) = check_of("examples/shop");
    assert!(!result.findings.iter().any(|f| f.code == "policy::ci-identity-rejected"), "the fixed render passes");
    let mut workflows = render::workflow::workflows(&model).unwrap();
    for (_, text) in &mut workflows {
        let mut workflow: serde_norway::Value = serde_norway::from_str(text).unwrap();
        let build = workflow["jobs"]["build"].as_mapping_mut().unwrap();
        build.remove("environment");
        *text = serde_norway::to_string(&workflow).unwrap();
    }
    let findings = check::policy::check_with_workflows(&model, &desired, &workflows);
    let refused: Vec<(&str, &str)> = findings
        .iter()
        .filter(|f| f.code == "policy::ci-identity-rejected")
        .map(|f| (f.service.as_deref().unwrap(), f.message.as_str()))
        .collect();
    let mut services: Vec<&str> = refused.iter().map(|(s, _)| *s).collect();
    services.sort_unstable();
    assert_eq!(services, ["checkout", "order", "payment-service", "user-service"], "{refused:#?}");
    for (service, message) in refused {
        let repo = model.services.iter().find(|s| s.name == service).unwrap().repo.full_name();
        assert!(message.starts_with(&format!("job `build` of .github/workflows/{service}.yaml")), "{message}");
        assert!(message.contains(&format!("sub `repo:{repo}:ref:refs/heads/main`")), "{message}");
        assert!(message.contains(&format!("requires one of `repo:{repo}:environment:dev`")), "{message}");
    }
}

#[test]
fn a_migration_not_declared_backward_compatible_is_refused_with_the_fix() {
    let (_, _, result) = check_of("tests/fixtures/check/migration-not-compatible.hcl");
    let found: Vec<_> = result.findings.iter().filter(|f| f.code == "check::migration-not-compatible").collect();
    assert_eq!(found.len(), 1, "only the undeclared one: {found:#?}");
    let finding = found[0];
    assert_eq!(finding.service.as_deref(), Some("orders"));
    assert!(finding.fails(), "an error: {}", finding.one_line());
    assert!(finding.waived.is_none());
    assert!(finding.message.contains("(flyway migrate)"), "{}", finding.message);
    assert!(finding.message.contains("canary: the stable version serves beside the canary"), "{}", finding.message);
    assert!(finding.message.ends_with("set `migrations { backward_compatible = true }`"), "{}", finding.message);
    // billing declares its migration compatible: nothing for it.
    assert!(result
        .findings
        .iter()
        .all(|f| f.service.as_deref() != Some("billing") || f.code != "check::migration-not-compatible"));
    // The example declares every migration: check passes.
    let (_, _, shop) = check_of("examples/shop");
    assert!(shop.findings.iter().all(|f| f.code != "check::migration-not-compatible"));
}

/// Issue 13's repository defect: every deploy job commits to the one catalog repository, which
/// must be known, and which a job running elsewhere can only write with a named token.
#[test]
fn promotions_need_a_catalog_repository_the_deploy_jobs_can_write() {
    let findings = |edit: fn(String) -> String| -> Vec<(Option<String>, String)> {
        let model = support::shop::shop_with_platform(edit).unwrap();
        let desired = render::render(&model).unwrap();
        check::check(&model, &desired)
            .findings
            .into_iter()
            .filter(|f| f.code == "policy::catalog-repo-unwritable")
            .map(|f| (f.service, f.message))
            .collect()
    };
    assert!(findings(|text| text).is_empty(), "examples/shop names its catalog repository and token");

    // Services in eight repositories and no catalog_repo: one error for the catalog, with the fix.
    let unset = findings(|text| text.replacen("  catalog_repo           = \"acme/platform\"\n", "", 1));
    assert_eq!(unset.len(), 1, "{unset:#?}");
    let (service, message) = &unset[0];
    assert!(service.is_none());
    assert!(message.contains("platform.catalog_repo is unset and the services build from 9 repositories"), "{message}");
    assert!(message.contains("Fix: set `platform { catalog_repo = \"acme/REPO\" }`"), "{message}");

    // No token: every service built with GitHub Actions outside acme/platform, naming what to set.
    let no_token = findings(|text| text.replacen("  promotion_token_secret = \"GLIDEPATH_PROMOTION_TOKEN\"\n", "", 1));
    let mut services: Vec<&str> = no_token.iter().filter_map(|(s, _)| s.as_deref()).collect();
    services.sort_unstable();
    assert_eq!(
        services,
        ["cart", "checkout", "notification", "order", "payment-service", "search", "shipping", "user-service"]
    );
    let (_, message) = no_token.iter().find(|(s, _)| s.as_deref() == Some("cart")).unwrap();
    for part in [
        "the deploy jobs of .github/workflows/cart.yaml run in acme/cart",
        "the catalog repository acme/platform, which their GITHUB_TOKEN cannot write",
        "Fix: set `platform { promotion_token_secret = \"GLIDEPATH_PROMOTION_TOKEN\" }`",
        "`contents: write` and `pull-requests: write` on acme/platform",
    ] {
        assert!(message.contains(part), "{part:?} not in {message}");
    }
}

/// A CodePipeline deploy project commits to the catalog repository: from a source that is not
/// that repository (another GitHub repository, or any CodeCommit one) only with the token of
/// `platform.pipeline_promotion_token_secret`, refused without it with the exact fix; a pipeline
/// building from the catalog repository needs none.
#[test]
fn a_pipeline_outside_the_catalog_repository_needs_the_promotion_token_secret() {
    let findings = |path: &str| -> Vec<(String, String)> {
        check_of(path)
            .2
            .findings
            .into_iter()
            .filter(|f| f.code == "policy::catalog-repo-unwritable" && f.service.as_deref() == Some("api"))
            .map(|f| (f.location, f.message))
            .collect()
    };
    let fixture = "tests/fixtures/check/pipeline-outside-catalog-repo.hcl";
    let elsewhere = findings(fixture);
    assert_eq!(elsewhere.len(), 1, "{elsewhere:#?}");
    let (location, message) = &elsewhere[0];
    assert!(location.starts_with(&format!("{fixture}:21:")), "the service's declaration: {location}");
    for part in [
        "the deploy project of the pipeline of api (aws/buildspec.demo-api-deploy.yaml)",
        "commits each promotion to the catalog repository acme/platform, which `apply` reads",
        "the pipeline's source is acme/api (GitHub, through the CodeStar connection)",
        "Fix: set `platform { pipeline_promotion_token_secret = \"glidepath/promotion-token\" }`",
        "in AWS Secrets Manager (account 123456789012, region eu-west-1)",
        "`contents: write` on acme/platform",
        "or build api from acme/platform (`repo = \"acme/platform\"`",
    ] {
        assert!(message.contains(part), "{part:?} not in {message}");
    }

    let dir = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(fixture).unwrap();
    let write = |text: String| {
        let path = dir.path().join("catalog.hcl");
        fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let codecommit = findings(&write(
        text.replace("system = \"codepipeline\"", "system = \"codepipeline\"\n    source = \"codecommit\""),
    ));
    assert_eq!(codecommit.len(), 1, "{codecommit:#?}");
    assert!(codecommit[0].1.contains("the pipeline's source is api (CodeCommit)"), "{}", codecommit[0].1);

    // The fix the message names: the secret.
    let named = text.replace(
        "  catalog_repo        = \"acme/platform\"\n",
        "  catalog_repo        = \"acme/platform\"\n  pipeline_promotion_token_secret = \"glidepath/promotion-token\"\n",
    );
    assert_ne!(named, text);
    assert!(findings(&write(named)).is_empty());
    // Or the other: build from the catalog repository (GitHub compares names without case).
    let inside = findings(&write(text.replace("repo         = \"acme/api\"", "repo         = \"Acme/Platform\"")));
    assert!(inside.is_empty(), "{inside:#?}");

    // Pipelines only, from two CodeCommit repositories and no catalog repository: copies.
    let copies = text
        .replace("  catalog_repo        = \"acme/platform\"\n", "")
        .replace("system = \"codepipeline\"", "system = \"codepipeline\"\n    source = \"codecommit\"");
    let second = copies[copies.find("service \"api\"").unwrap()..]
        .replace("service \"api\"", "service \"web\"")
        .replace("acme/api", "acme/web");
    let copies = findings(&write(format!("{copies}\n{second}")));
    assert_eq!(copies.len(), 1, "{copies:#?}");
    assert!(
        copies[0].1.contains("the pipelines read 2 repositories (api (CodeCommit), web (CodeCommit))"),
        "{}",
        copies[0].1
    );
}

/// The Secrets Manager name is checked where it is written, in HCL and YAML catalogs alike.
#[test]
fn the_pipeline_promotion_token_secret_is_a_secrets_manager_name() {
    let dir = tempfile::tempdir().unwrap();
    let text = fs::read_to_string("tests/fixtures/check/pipeline-outside-catalog-repo.hcl").unwrap();
    let with = |value: &str| {
        text.replace(
            "  catalog_repo        = \"acme/platform\"\n",
            &format!("  catalog_repo        = \"acme/platform\"\n  pipeline_promotion_token_secret = \"{value}\"\n"),
        )
    };
    let load = |name: &str, body: String| {
        let path = dir.path().join(name);
        fs::write(&path, body).unwrap();
        glidepath::catalog::load(&path)
    };
    let model = load("good.hcl", with("glidepath/promotion-token")).unwrap();
    assert_eq!(model.platform.pipeline_promotion_token_secret.as_deref(), Some("glidepath/promotion-token"));
    for bad in ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:x", "token with spaces", "promotion-token-a1B2c3"]
    {
        let error = format!("{:?}", load("bad.hcl", with(bad)).unwrap_err());
        assert!(error.contains("is not a Secrets Manager secret name"), "{bad}: {error}");
    }
    let yaml = "platform:\n  name: demo\n  aws_account_id: \"123456789012\"\n  region: eu-west-1\n  github_org: acme\n  \
                pipeline_promotion_token_secret: glidepath/promotion-token\nclusters:\n  main: {}\nenvironments:\n  dev:\n    cluster: main\n";
    let model = load("catalog.yaml", yaml.to_string());
    assert_eq!(
        model.map_err(|e| format!("{e:?}")).unwrap().platform.pipeline_promotion_token_secret.as_deref(),
        Some("glidepath/promotion-token")
    );
}

/// `check` as the command runs it (rendering and checking one environment at a time, dropping
/// each environment's objects before the next) gives exactly the result of one pass over the
/// whole rendered set: the same reports and findings, in the same order.
#[test]
fn checking_one_environment_at_a_time_gives_the_whole_sets_result() {
    let mut catalogs: Vec<PathBuf> = fs::read_dir("tests/fixtures/check").unwrap().map(|e| e.unwrap().path()).collect();
    catalogs.extend(fs::read_dir("examples").unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()));
    catalogs.sort();
    let (mut reports, mut findings, mut scoped_findings) = (0, 0, 0);
    for path in &catalogs {
        let Ok(model) = glidepath::catalog::load(path) else { continue };
        let whole = check::check(&model, &render::render(&model).unwrap());
        let streamed = check::check_catalog(&model).unwrap();
        assert_eq!(
            serde_json::to_value(&streamed).unwrap(),
            serde_json::to_value(&whole).unwrap(),
            "{}: checked one environment at a time, the result differs",
            path.display()
        );
        reports += whole.reports.len();
        findings += whole.findings.len();
        scoped_findings += whole.findings.iter().filter(|f| f.environment.is_some()).count();
    }
    // The comparison covered reports and findings of every kind of scope.
    assert!(
        reports > 20 && findings > 20 && scoped_findings > 5,
        "{reports} reports, {findings} findings, {scoped_findings} in an environment"
    );
}
