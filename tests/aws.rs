//! The AWS half against a real AWS API emulator (moto in server mode), through the real SDK:
//! apply from empty, targeted changes, drift, deletes of owned resources only, name clashes and
//! import, an endpoint that dies mid-apply, the account check, and API call counts.

mod support;

use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::aws_bed::{changes, text, Bed};
use support::moto::{free_port, DyingRelay, Moto};

/// The AWS resources of examples/shop: what an apply from empty creates.
const CREATES: usize = 48;

#[test]
fn apply_from_empty_converges_and_reads_in_batches() {
    let bed = Bed::new();
    let plan = bed.plan_json();
    assert_eq!(plan["mode"]["aws"], "live");
    assert_eq!(plan["summary"]["create"], CREATES, "{plan:#}");

    bed.apply(&[]);
    bed.assert_no_changes();

    // What AWS now holds is what the catalog says, read back independently through the SDK.
    let trust = bed.trust_policy("shop-cart-ci");
    let condition = &trust["Statement"][0]["Condition"]["StringEquals"];
    // Branch trust, plus prod's environment: prod's deploy job runs in it (its reviewers are
    // the approval in push mode), so GitHub issues that subject there.
    assert_eq!(
        condition["token.actions.githubusercontent.com:sub"],
        serde_json::json!(["repo:acme/cart:ref:refs/heads/main", "repo:acme/cart:environment:prod"])
    );
    let repo = bed
        .runtime
        .block_on(bed.ecr().describe_repositories().repository_names("shop/payment-service").send())
        .unwrap();
    let repo = &repo.repositories()[0];
    assert_eq!(repo.image_tag_mutability().unwrap().as_str(), "IMMUTABLE");
    assert!(repo.image_scanning_configuration().unwrap().scan_on_push());

    // A plan of the whole example reads AWS with far fewer calls than the example has resources.
    let stats = bed.run(&["plan", "-c", bed.catalog().to_str().unwrap(), "--stats"]);
    let line = text(&stats.stderr).lines().find(|l| l.starts_with("AWS API calls: ")).unwrap().to_string();
    let calls: usize = line["AWS API calls: ".len()..].split(' ').next().unwrap().parse().unwrap();
    assert!(!line.contains("iam:GetRole "), "IAM roles are read in one batch: {line}");
    assert!(line.contains("codebuild:BatchGetProjects 1,"), "the 8 projects are read in one batch: {line}");
    // The 16 roles and 8 projects cost nothing each; what has no batch read costs two calls each
    // (its tags, and its lifecycle policy, attributes, declaration or targets): 10 ECR
    // repositories, 3 SNS topics, 2 pipelines and 3 events rules. The 2 log groups cost one
    // each (their tags; the listing has their retention). The rest is 15 listings.
    let per_resource = 2 * (10 + 3 + 2 + 3) + 2;
    assert!(line.contains("cloudwatchlogs:DescribeLogGroups 1,"), "the log groups are listed once: {line}");
    assert_eq!(calls, per_resource + 15, "{line}");
    let resources: usize = 249;
    assert!(calls * 4 < resources, "{calls} calls for {resources} resources");
}

#[test]
fn a_catalog_change_plans_exactly_that_change() {
    let bed = Bed::new();
    bed.apply(&[]);

    bed.edit("platform.hcl", "ecr_keep_images = 50", "ecr_keep_images = 40");
    // cart's CI moves from branch trust to GitHub environments.
    bed.edit(
        "storefront.hcl",
        "    shared_paths = [\"libs/storefront-ui\"]\n",
        "    shared_paths = [\"libs/storefront-ui\"]\n    trust        = \"environment\"\n",
    );
    let plan = bed.plan_json();
    let found = changes(&plan);
    assert_eq!(plan["summary"]["update"], 11, "{found:#?}");
    assert_eq!(plan["summary"]["create"], 0);
    assert_eq!(plan["summary"]["delete"], 0);
    let cart_role =
        plan["changes"].as_array().unwrap().iter().find(|c| c["address"] == "aws/iam_role/shop-cart-ci").unwrap();
    let fields: Vec<&str> =
        cart_role["fields"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert!(fields.iter().all(|f| f.starts_with("trust_policy.Statement[0].Condition.StringEquals")), "{fields:?}");
    let repo =
        plan["changes"].as_array().unwrap().iter().find(|c| c["address"] == "aws/ecr_repository/shop/cart").unwrap();
    assert!(repo["fields"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["path"] == "lifecycle_policy.rules[1].selection.countNumber" && f["after"] == 40));

    bed.apply(&[]);
    bed.assert_no_changes();
    let trust = bed.trust_policy("shop-cart-ci");
    assert_eq!(
        trust["Statement"][0]["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"],
        serde_json::json!([
            "repo:acme/cart:environment:dev",
            "repo:acme/cart:environment:staging",
            "repo:acme/cart:environment:prod"
        ])
    );
}

#[test]
fn drift_is_shown_and_reverted() {
    let bed = Bed::new();
    bed.apply(&[]);
    let widened = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"token.actions.githubusercontent.com:sub":"repo:acme/*"}}}]}"#;
    bed.runtime
        .block_on(bed.iam().update_assume_role_policy().role_name("shop-cart-ci").policy_document(widened).send())
        .unwrap();

    let out = bed.glidepath("plan", &["--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("~ aws/iam_role/shop-cart-ci"), "{stdout}");
    assert!(stdout.contains("StringLike"), "the drifted field is shown: {stdout}");
    assert!(stdout.contains("Plan: 0 to create, 1 to update"), "{stdout}");

    bed.apply(&[]);
    bed.assert_no_changes();
    let trust = bed.trust_policy("shop-cart-ci");
    assert!(trust["Statement"][0]["Condition"].get("StringLike").is_none(), "{trust}");
}

#[test]
fn removing_a_service_deletes_only_what_glidepath_owns() {
    let bed = Bed::new();
    bed.apply(&[]);
    // Look-alikes nobody tagged: same prefix, same IAM path.
    bed.runtime.block_on(bed.ecr().create_repository().repository_name("shop/legacy-tool").send()).unwrap();
    bed.runtime
        .block_on(
            bed.iam()
                .create_role()
                .role_name("shop-legacy-ci")
                .path("/glidepath/shop/")
                .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
                .send(),
        )
        .unwrap();

    let storefront = bed.catalog().join("storefront.hcl");
    let text_before = fs::read_to_string(&storefront).unwrap();
    let start = text_before.find("service \"shipping\"").unwrap();
    let end = text_before[start..].find("\n}\n").unwrap() + start + 3;
    fs::write(&storefront, format!("{}{}", &text_before[..start], &text_before[end..])).unwrap();

    let plan = bed.plan_json();
    let mut deletes: Vec<String> =
        changes(&plan).into_iter().filter(|(a, _)| a == "delete").map(|(_, addr)| addr).collect();
    deletes.sort();
    assert_eq!(
        deletes,
        [
            "aws/ecr_repository/shop/shipping",
            "aws/iam_role/shop-dev-shipping",
            "aws/iam_role/shop-prod-shipping",
            "aws/iam_role/shop-shipping-ci",
            "aws/iam_role/shop-staging-shipping",
        ]
    );

    let kept = bed.apply(&[]);
    assert!(text(&kept.stdout).contains("will be skipped"), "{}", text(&kept.stdout));
    assert_eq!(bed.glidepath("plan", &["--detailed-exitcode"]).status.code(), Some(2), "deletes still pending");
    bed.apply(&["--allow-delete"]);
    bed.assert_no_changes();

    let repos = bed.runtime.block_on(bed.ecr().describe_repositories().send()).unwrap();
    let names: Vec<&str> = repos.repositories().iter().filter_map(|r| r.repository_name()).collect();
    assert!(names.contains(&"shop/legacy-tool") && !names.contains(&"shop/shipping"), "{names:?}");
    assert!(bed.runtime.block_on(bed.iam().get_role().role_name("shop-legacy-ci").send()).is_ok());
    assert!(bed.runtime.block_on(bed.iam().get_role().role_name("shop-shipping-ci").send()).is_err());
}

#[test]
fn a_name_clash_is_a_plan_error_until_imported() {
    let bed = Bed::new();
    bed.runtime.block_on(bed.ecr().create_repository().repository_name("shop/cart").send()).unwrap();
    let out = bed.glidepath("plan", &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("aws/ecr_repository/shop/cart"), "{stderr}");
    assert!(stderr.contains("glidepath import aws/ecr_repository/shop/cart"), "{stderr}");

    let catalog = bed.catalog();
    let import =
        bed.run(&["import", "-c", catalog.to_str().unwrap(), "aws/ecr_repository/shop/cart", "--auto-approve"]);
    assert_eq!(import.status.code(), Some(0), "{}", text(&import.stderr));
    let plan = bed.plan_json();
    let cart = changes(&plan).into_iter().find(|(_, a)| a == "aws/ecr_repository/shop/cart").unwrap();
    assert_eq!(cart.0, "update", "after import the repository is updated to the catalog, not created");
    bed.apply(&[]);
    bed.assert_no_changes();
}

#[test]
fn an_endpoint_that_dies_mid_apply_leaves_a_resumable_state() {
    let bed = Bed::new();
    let port = free_port();
    let relay_url = format!("http://127.0.0.1:{port}");
    let catalog = bed.catalog();
    let catalog = catalog.to_str().unwrap();
    {
        let relay = DyingRelay::start(port, bed.moto.port, 25);
        let out = bed.run_at(&relay_url, &["apply", "-c", catalog, "--only", "aws", "--auto-approve"]);
        assert!(relay.is_dead());
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
        let stderr = text(&out.stderr);
        assert!(stderr.contains("cannot reach the AWS endpoint"), "{stderr}");
        assert!(stderr.contains("run apply again to continue"), "{stderr}");
        let total = format!(" of {CREATES} change(s)");
        let done: usize = stderr.split(&total).next().unwrap().rsplit('\n').next().unwrap().parse().unwrap();
        assert!(done > 0 && done < CREATES, "{stderr}");
    }
    let _relay = DyingRelay::start(port, bed.moto.port, usize::MAX);
    let out = bed.run_at(&relay_url, &["apply", "-c", catalog, "--only", "aws", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    let out = bed.run_at(&relay_url, &["plan", "-c", catalog, "--only", "aws", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

/// Kills `glidepath apply` (SIGKILL) once `journalled()` says it made `lines` changes durable,
/// and releases its lock as a user would; `false` if it finished first.
fn kill_apply_after(bed: &Bed, state: &[&str], lines: usize, journalled: &dyn Fn() -> usize) -> bool {
    let catalog = bed.catalog();
    let mut args = vec!["apply", "-c", catalog.to_str().unwrap(), "--only", "aws", "--auto-approve"];
    args.extend_from_slice(state);
    let log = fs::File::create(bed.work.path().join("apply.log")).unwrap();
    let mut child = bed.command_at(&bed.moto.url(), &args).stdout(Stdio::null()).stderr(log).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let log = fs::read_to_string(bed.work.path().join("apply.log")).unwrap_or_default();
            eprintln!("apply ended by itself ({status}):\n{log}");
            return false;
        }
        let written = journalled();
        if written >= lines {
            child.kill().unwrap();
            child.wait().unwrap();
            // The lock of the killed process stays, as after any crash: the next apply names it
            // and the user releases it.
            let blocked = text(&bed.run(&args).stderr);
            let id = blocked.split("lock id ").nth(1).unwrap_or_else(|| panic!("no lock named: {blocked}"))[..12]
                .to_string();
            let mut unlock = vec!["force-unlock"];
            unlock.push(&id);
            unlock.extend_from_slice(state);
            let out = bed.run(&unlock);
            assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
            return true;
        }
        assert!(Instant::now() < deadline, "apply made {written} changes durable in 120 s");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Kills an apply three times, each time once more changes were made durable; the state read
/// back keeps every one of them, and a rerun converges with nothing left to do.
fn killed_applies_converge(bed: &Bed, state: &[&str], journalled: &dyn Fn() -> usize) {
    let recorded = || -> usize {
        let out = bed.run(&[&["state", "list"], state].concat());
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        text(&out.stdout).lines().filter(|l| l.starts_with("aws/")).count()
    };
    let mut before = 0;
    for more in [1, 5, 11] {
        assert!(kill_apply_after(bed, state, more, journalled), "the apply ended before {more} changes");
        let after = recorded();
        assert!(
            after >= before + more,
            "killed after {more} journalled change(s): the state holds {after}, had {before}"
        );
        before = after;
    }
    assert!(journalled() > 0, "the killed apply's journal is kept until an apply folds it in");
    let out = bed
        .run(&[&["apply", "-c", bed.catalog().to_str().unwrap(), "--only", "aws", "--auto-approve"], state].concat());
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(journalled(), 0, "the journal is folded in and removed");
    let out = bed.run(
        &[&["plan", "-c", bed.catalog().to_str().unwrap(), "--only", "aws", "--detailed-exitcode"], state].concat(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    // A resource whose create was in flight at a kill exists with glidepath's tags but was never
    // recorded: the plan reads it live and finds nothing to change, and the apply records it
    // (issue 17's crash windows), so the state holds everything.
    assert_eq!(recorded(), CREATES);
}

/// Whether a journal line records a change (not an intent to create an S3 bucket, which is
/// written before its calls and settled by the change's own line).
fn is_change(line: &str) -> bool {
    !line.contains("\"creating\":true")
}

#[test]
fn an_apply_killed_at_any_moment_loses_at_most_the_change_in_flight() {
    let bed = Bed::new();
    let journal = bed.work.path().join(".glidepath/state.json.journal");
    killed_applies_converge(&bed, &[], &|| {
        fs::read_to_string(&journal)
            .map(|t| t.lines().filter(|l| l.ends_with('}') && is_change(l)).count())
            .unwrap_or(0)
    });
}

#[test]
fn an_apply_killed_with_s3_state_loses_at_most_the_change_in_flight() {
    let bed = Bed::new();
    let (s3, _) = support::moto::state_backend(&bed.moto, &bed.runtime, "us-east-1", "tfstate", "locks");
    let state = ["--state", "s3://tfstate/shop/glidepath.json?lock_table=locks"];
    let prefix = "shop/glidepath.json.journal/";
    killed_applies_converge(&bed, &state, &|| {
        let keys = support::moto::keys(&s3, &bed.runtime, "tfstate", prefix);
        let lines = keys.iter().filter_map(|key| {
            let got = bed.runtime.block_on(s3.get_object().bucket("tfstate").key(key).send()).ok()?;
            let bytes = bed.runtime.block_on(got.body.collect()).ok()?.into_bytes();
            Some(String::from_utf8_lossy(&bytes).to_string())
        });
        lines.filter(|l| is_change(l)).count()
    });
    assert!(!bed.work.path().join(".glidepath").exists(), "nothing is kept locally");
}

#[test]
fn irsa_trust_uses_the_issuer_read_from_eks() {
    let bed = Bed::new();
    let eks = aws_sdk_eks::Client::new(&bed.runtime.block_on(bed.config()));
    let cluster = bed
        .runtime
        .block_on(eks.create_cluster().name("shop-nonprod").role_arn("arn:aws:iam::123456789012:role/eks").send())
        .unwrap();
    let issuer = cluster
        .cluster()
        .unwrap()
        .identity()
        .unwrap()
        .oidc()
        .unwrap()
        .issuer()
        .unwrap()
        .trim_start_matches("https://")
        .to_string();
    bed.edit(
        "platform.hcl",
        "  oidc_issuer = \"oidc.eks.eu-west-1.amazonaws.com/id/9A1F3C7E5B2D4E6F8A0B1C2D3E4F5A6B\"\n",
        "",
    );
    bed.apply(&[]);
    bed.assert_no_changes();
    let trust = bed.trust_policy("shop-dev-shipping");
    assert_eq!(
        trust["Statement"][0]["Principal"]["Federated"],
        format!("arn:aws:iam::123456789012:oidc-provider/{issuer}")
    );
    assert_eq!(
        trust["Statement"][0]["Condition"]["StringEquals"][format!("{issuer}:sub")],
        "system:serviceaccount:shop-dev:shipping"
    );
}

#[test]
fn clear_errors_for_the_wrong_account_and_an_unreachable_endpoint() {
    let bed = Bed::new();
    bed.edit("platform.hcl", "aws_account_id  = \"123456789012\"", "aws_account_id  = \"210987654321\"");
    let out = bed.glidepath("plan", &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("the credentials are for account 123456789012, but the catalog manages account 210987654321"),
        "{stderr}"
    );

    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let catalog = bed.catalog();
    let out = bed.run_at(&nowhere, &["plan", "-c", catalog.to_str().unwrap(), "--only", "aws"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("sts:GetCallerIdentity failed: cannot reach the AWS endpoint"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");

    let mut command = Command::new(env!("CARGO_BIN_EXE_glidepath"));
    let out = command
        .args(["plan", "-c", catalog.to_str().unwrap(), "--only", "aws"])
        .current_dir(bed.work.path())
        .env_clear()
        .env("AWS_ENDPOINT_URL", bed.moto.url())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("no AWS credentials found"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
}

#[test]
fn access_denied_names_the_resource_and_the_action() {
    // moto enforces IAM permissions after the first three calls: the set-up below. (It answers
    // denied ECR and SNS calls in the wrong protocol, so the denied call here is an IAM one.)
    let bed = Bed::on(Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "3")]));
    let iam = bed.iam();
    bed.runtime.block_on(iam.create_user().user_name("deployer").send()).unwrap();
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"iam:CreateOpenIDConnectProvider","Resource":"*"}]}"#;
    bed.runtime
        .block_on(iam.put_user_policy().user_name("deployer").policy_name("no-roles").policy_document(policy).send())
        .unwrap();
    let key = bed.runtime.block_on(iam.create_access_key().user_name("deployer").send()).unwrap();
    let key = key.access_key().unwrap();

    let catalog = bed.catalog();
    let out = Command::new(env!("CARGO_BIN_EXE_glidepath"))
        .args(["apply", "-c", catalog.to_str().unwrap(), "--only", "aws", "--auto-approve"])
        .current_dir(bed.work.path())
        .env_clear()
        .env("AWS_ENDPOINT_URL", bed.moto.url())
        .env("AWS_ACCESS_KEY_ID", key.access_key_id())
        .env("AWS_SECRET_ACCESS_KEY", key.secret_access_key())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("aws/iam_oidc_provider/token.actions.githubusercontent.com: iam:CreateOpenIDConnectProvider failed: access denied: the credentials may not call iam:CreateOpenIDConnectProvider"),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("0 of {CREATES} change(s) were carried out and recorded")), "{stderr}");
}

/// A saved plan is carried out by another process exactly as saved, and `--format json` lets a
/// CI system follow it: one `plan` event, one `change` event per change in order, one `done`.
#[test]
fn a_saved_plan_is_applied_by_a_fresh_process_with_json_progress() {
    let bed = Bed::new();
    let planned = bed.glidepath("plan", &["--out", "tfplan.json"]);
    assert_eq!(planned.status.code(), Some(0), "{}", text(&planned.stderr));
    let saved: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(bed.work.path().join("tfplan.json")).unwrap()).unwrap();
    assert_eq!(saved["format"], "glidepath-plan/2");
    assert_eq!(saved["providers"], serde_json::json!(["aws"]));
    let saved_order: Vec<&str> =
        saved["changes"].as_array().unwrap().iter().map(|c| c["address"].as_str().unwrap()).collect();
    assert_eq!(saved_order.len(), CREATES);

    let applied = bed.run(&["apply", "tfplan.json", "--format", "json"]);
    assert_eq!(applied.status.code(), Some(0), "{}{}", text(&applied.stdout), text(&applied.stderr));
    let events: Vec<serde_json::Value> =
        text(&applied.stdout).lines().map(|l| serde_json::from_str(l).expect("every line is JSON")).collect();
    assert_eq!(events[0]["event"], "plan");
    assert_eq!(events[0]["format_version"], "1.0");
    assert_eq!(events[0]["summary"]["create"], CREATES);
    let changes: Vec<&serde_json::Value> = events.iter().filter(|e| e["event"] == "change").collect();
    let order: Vec<&str> = changes.iter().map(|e| e["address"].as_str().unwrap()).collect();
    assert_eq!(order, saved_order, "the saved changes, in the saved order");
    for (i, event) in changes.iter().enumerate() {
        assert_eq!((event["index"].as_u64(), event["total"].as_u64()), (Some(i as u64 + 1), Some(CREATES as u64)));
        assert_eq!(event["outcome"], "applied", "{event}");
        assert!(event["elapsed_seconds"].as_f64().unwrap() >= 0.0);
    }
    let done = events.last().unwrap();
    assert_eq!(
        (done["event"].as_str(), done["result"].as_str(), done["applied"].as_u64()),
        (Some("done"), Some("applied"), Some(CREATES as u64))
    );
    bed.assert_no_changes();

    // The audit trail names the saved plan's digest and every change it carried out.
    let history = bed.run(&["history", "--format", "json"]);
    let history: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(history[0]["plan_digest"], saved["desired_fingerprint"]);
    assert_eq!(history[0]["changes"].as_array().unwrap().len(), CREATES);
}

/// The number N of "N of M change(s) were carried out" in an apply's stderr.
fn carried_out(stderr: &str, total: usize) -> usize {
    let marker = format!(" of {total} change(s) were carried out");
    let before = stderr.split(&marker).next().filter(|b| b.len() < stderr.len());
    let before = before.unwrap_or_else(|| panic!("no \"N{marker}\" in:\n{stderr}"));
    before.rsplit('\n').next().unwrap().trim().parse().unwrap()
}

/// Issue 17 (item 3): moto frozen (SIGSTOP) in the middle of an apply. Before, the SDK retried
/// each silent call five times for 30 s (152 s in all) and the state backend had no limit; now
/// each call gets two attempts of GLIDEPATH_REQUEST_TIMEOUT: the apply stops starting changes,
/// records what it did, releases the lock and says which endpoint did not answer. A plan against
/// the frozen endpoint ends the same way. Once it answers again, a rerun converges.
#[test]
fn a_frozen_endpoint_ends_apply_and_plan_with_a_clear_message_and_no_lock() {
    let bed = Bed::new();
    let catalog = bed.catalog();
    let args = ["apply", "-c", catalog.to_str().unwrap(), "--only", "aws", "--auto-approve"];
    let journal = bed.work.path().join(".glidepath/state.json.journal");
    let log = bed.work.path().join("apply.log");
    let mut command = bed.command_at(&bed.moto.url(), &args);
    command.env("GLIDEPATH_REQUEST_TIMEOUT", "3s").stdout(Stdio::null()).stderr(fs::File::create(&log).unwrap());
    let mut apply = support::Running(command.spawn().unwrap());
    // Changes journalled (not the intents to create an S3 bucket, also journal lines).
    let journalled = || {
        fs::read_to_string(&journal)
            .map(|t| t.lines().filter(|l| !l.contains("\"creating\":true")).count())
            .unwrap_or(0)
    };
    let started = Instant::now();
    while journalled() < 3 {
        assert!(apply.0.try_wait().unwrap().is_none(), "the apply ended before it was frozen");
        assert!(started.elapsed() < Duration::from_secs(120), "no change journalled in 120 s");
        std::thread::sleep(Duration::from_millis(2));
    }
    let frozen_at = Instant::now();
    let frozen = support::Frozen::stop(bed.moto.pid());
    let status = apply.wait_at_most(Duration::from_secs(300), "apply against a frozen endpoint");
    eprintln!("apply against the frozen endpoint ended {:.1} s after the freeze", frozen_at.elapsed().as_secs_f64());
    let stderr = fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the AWS endpoint {} did not answer in time (3s per attempt, 6s per call",
            bed.moto.url()
        )),
        "{stderr}"
    );
    let done = carried_out(&stderr, CREATES);
    assert!((3..CREATES).contains(&done), "{stderr}");
    assert!(!bed.work.path().join(".glidepath/state.json.lock").exists(), "the lock is released");
    let recorded = bed.run(&["state", "list"]);
    assert_eq!(
        text(&recorded.stdout).lines().filter(|l| l.starts_with("aws/")).count(),
        done,
        "what was done is recorded"
    );

    // A plan while it is frozen: its first call (the account check) is not answered either.
    let mut command = bed.command_at(&bed.moto.url(), &["plan", "-c", catalog.to_str().unwrap(), "--only", "aws"]);
    command.env("GLIDEPATH_REQUEST_TIMEOUT", "2s").stdout(Stdio::null()).stderr(Stdio::piped());
    let plan_started = std::time::Instant::now();
    let mut plan = support::Running(command.spawn().unwrap());
    let status = plan.wait_at_most(Duration::from_secs(300), "plan against a frozen endpoint");
    eprintln!("plan against a frozen endpoint ended after {:.1} s", plan_started.elapsed().as_secs_f64());
    let mut stderr = String::new();
    std::io::Read::read_to_string(plan.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("sts:GetCallerIdentity failed: the AWS endpoint") && stderr.contains("did not answer in time"),
        "{stderr}"
    );

    drop(frozen);
    bed.apply(&[]);
    bed.assert_no_changes();
}

/// Issue 17 (item 7): the process ends right after each create, or its follow-up call, succeeded
/// (GLIDEPATH_FAULT_AFTER, as a kill there would), one window after another in apply order. Each
/// time the next plan works (no "exists and is not owned by this catalog": an S3 bucket created
/// without its tags was announced in the journal first and is adopted) and plans the half-made
/// resource as an update, and the next apply completes it. At the end nothing is left to do and
/// the state records all 48 resources.
#[test]
fn a_crash_between_a_create_and_its_follow_up_call_is_adopted_and_completed() {
    let bed = Bed::new();
    let catalog = bed.catalog();
    let catalog = catalog.to_str().unwrap();
    let apply = ["apply", "-c", catalog, "--only", "aws", "--auto-approve"];
    // (call to crash after, the resource it leaves half made, if it has a follow-up call)
    let windows: [(&str, Option<&str>); 16] = [
        ("iam:CreateOpenIDConnectProvider", None),
        ("cloudwatchlogs:CreateLogGroup", Some("aws/cloudwatch_log_group//aws/codebuild/shop-catalog")),
        ("cloudwatchlogs:PutRetentionPolicy", None),
        ("ecr:CreateRepository", Some("aws/ecr_repository/shop/cart")),
        ("ecr:PutLifecyclePolicy", None),
        ("s3:CreateBucket", Some("aws/s3_bucket/shop-artifacts-123456789012-eu-west-1")),
        ("s3:PutBucketTagging", None),
        ("sns:CreateTopic", None),
        ("iam:CreateRole", Some("aws/iam_role/shop-cart-ci")),
        ("iam:PutRolePolicy", None),
        ("iam:AttachRolePolicy", None),
        ("sns:Subscribe", None),
        ("codebuild:CreateProject", None),
        ("codepipeline:CreatePipeline", None),
        ("eventbridge:PutRule", Some("aws/events_rule/shop-catalog-pipeline-events")),
        ("eventbridge:PutTargets", None),
    ];
    for (call, half_made) in windows {
        let out = bed.command_at(&bed.moto.url(), &apply).env("GLIDEPATH_FAULT_AFTER", call).output().unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(137), "the apply did not reach {call}:\n{}{stderr}", text(&out.stdout));
        assert!(stderr.contains(&format!("GLIDEPATH_FAULT_AFTER={call}: ending the process")), "{stderr}");
        // Ended as a kill would: the lock stays, named with its id, and is released as after any crash.
        let blocked = text(&bed.run(&apply).stderr);
        let id =
            blocked.split("lock id ").nth(1).unwrap_or_else(|| panic!("no lock named: {blocked}"))[..12].to_string();
        assert!(blocked.contains("that process is gone"), "{blocked}");
        assert_eq!(bed.run(&["force-unlock", &id]).status.code(), Some(0));

        let plan = bed.glidepath("plan", &["--format", "json", "--detailed-exitcode"]);
        assert_eq!(plan.status.code(), Some(2), "after a crash at {call} the plan fails:\n{}", text(&plan.stderr));
        let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
        if let Some(address) = half_made {
            let action = changes(&plan).into_iter().find(|(_, a)| a == address).map(|(action, _)| action);
            assert_eq!(action.as_deref(), Some("update"), "{address} after a crash at {call}");
        }
    }
    bed.apply(&[]);
    bed.assert_no_changes();
    let recorded = bed.run(&["state", "list"]);
    assert_eq!(text(&recorded.stdout).lines().filter(|l| l.starts_with("aws/")).count(), CREATES);
    let state = fs::read_to_string(bed.work.path().join(".glidepath/state.json")).unwrap();
    assert!(!state.contains("\"creating\""), "every intent is settled: {state}");
}
