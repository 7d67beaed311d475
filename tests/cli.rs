//! The command line as users run it: exit codes, where output goes, render's directory tree,
//! and the offline plan → apply → plan cycle converging to "No changes".

mod support;

use std::path::Path;
use std::process::Output;

/// Runs glidepath offline: whatever AWS or cluster settings the developer's shell has are not passed on.
fn glidepath(args: &[&str], cwd: &Path) -> Output {
    let mut command = support::glidepath_command();
    // A HOME without ~/.kube/config: no cluster is reachable either.
    let home = tempfile::tempdir().unwrap();
    command.args(args).current_dir(cwd).env("HOME", home.path()).env("NO_COLOR", "1").output().unwrap()
}

/// As [`glidepath`], with environment variables set (`Some`) or removed (`None`).
fn glidepath_env(args: &[&str], cwd: &Path, vars: &[(&str, Option<&str>)]) -> Output {
    let mut command = support::glidepath_command();
    let home = tempfile::tempdir().unwrap();
    command.args(args).current_dir(cwd).env("HOME", home.path()).env("NO_COLOR", "1");
    for (name, value) in vars {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    command.output().unwrap()
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

#[test]
fn validate_accepts_the_example_and_rejects_bad_catalogs_with_located_diagnostics() {
    let ok = glidepath(&["validate", "-c", "examples/shop"], repo());
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    assert!(text(&ok.stdout).contains("10 services"));

    let bad = glidepath(&["validate", "-c", "tests/fixtures/invalid/many-at-once.hcl"], repo());
    assert_eq!(bad.status.code(), Some(1));
    let stderr = text(&bad.stderr);
    assert!(stderr.contains("[tests/fixtures/invalid/many-at-once.hcl:30:3]"), "{stderr}");
    assert!(stderr.contains("catalog::unknown-field"), "{stderr}");
    assert!(stderr.contains("help:"), "{stderr}");
    assert!(stderr.contains("nothing was rendered or changed"), "{stderr}");
    insta::with_settings!({ snapshot_path => "../snapshots/cli", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("validate_many_problems_stderr", stderr);
    });
}

#[test]
fn validate_json_locates_every_problem_and_exits_like_the_human_view() {
    let ok = glidepath(&["validate", "-c", "examples/shop", "--format", "json"], repo());
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(doc["format_version"], "1.0");
    assert_eq!(doc["valid"], true);
    assert_eq!(doc["problems"], serde_json::json!([]));
    assert_eq!(doc["summary"]["services"], 10);
    assert_eq!(doc["summary"]["environments"], serde_json::json!(["dev", "staging", "prod"]));

    // Every problem the human view shows, with the same file:line:col, on stdout as data.
    let fixture = "tests/fixtures/invalid/many-at-once.hcl";
    let human = text(&glidepath(&["validate", "-c", fixture], repo()).stderr);
    let bad = glidepath(&["validate", "-c", fixture, "--format", "json"], repo());
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(text(&bad.stderr), "", "the JSON view writes nothing else");
    let doc: serde_json::Value = serde_json::from_slice(&bad.stdout).unwrap();
    assert_eq!(doc["valid"], false);
    let problems = doc["problems"].as_array().unwrap();
    assert!(problems.len() > 3, "{doc:#}");
    for p in problems {
        let at = format!("[{}:{}:{}]", p["file"].as_str().unwrap(), p["line"], p["column"]);
        assert!(human.contains(&at), "{at} is not in the human view:\n{human}");
        assert!(human.contains(p["code"].as_str().unwrap()), "{p}");
        assert!(p["end_line"].as_u64() >= p["line"].as_u64(), "{p}");
        assert!(!p["message"].as_str().unwrap().is_empty(), "{p}");
    }

    // A catalog that cannot be read is a problem without a place.
    let missing = glidepath(&["validate", "-c", "no/such/catalog", "--format", "json"], repo());
    assert_eq!(missing.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&missing.stdout).unwrap();
    assert_eq!(doc["problems"][0]["line"], serde_json::Value::Null);
    assert!(doc["problems"][0]["message"].as_str().unwrap().contains("no/such/catalog"), "{doc:#}");
}

#[test]
fn render_writes_the_tree_replaces_it_whole_and_refuses_foreign_directories() {
    let temp = tempfile::tempdir().unwrap();
    let out = temp.path().join("rendered");
    let out_arg = out.to_str().unwrap();
    let first = glidepath(&["render", "-c", "examples/shop", "--out", out_arg], repo());
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert!(out.join("prod/payment-service/rollout.payment-service.yaml").is_file());
    assert!(out.join("staging/user-service/analysistemplate.user-service-smoke.yaml").is_file());
    assert!(out.join("aws/iam_role.shop-payment-service-ci.json").is_file());
    let snapshot = |dir: &Path| -> Vec<(String, Vec<u8>)> {
        let mut files = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path)
                } else {
                    files.push((path.strip_prefix(dir).unwrap().display().to_string(), std::fs::read(&path).unwrap()))
                }
            }
        }
        files.sort();
        files
    };
    let before = snapshot(&out);
    std::fs::write(out.join("dev/stale.yaml"), "left over").unwrap();
    let second = glidepath(&["render", "-c", "examples/shop", "--out", out_arg], repo());
    assert_eq!(second.status.code(), Some(0));
    assert_eq!(before, snapshot(&out), "a second render is byte-identical and drops stale files");

    let foreign = temp.path().join("mine");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "keep me").unwrap();
    let refused = glidepath(&["render", "-c", "examples/shop", "--out", foreign.to_str().unwrap()], repo());
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stderr).contains("not written by glidepath"));
    assert_eq!(std::fs::read_to_string(foreign.join("notes.txt")).unwrap(), "keep me");

    let invalid = glidepath(
        &[
            "render",
            "-c",
            "tests/fixtures/invalid/unknown-field.hcl",
            "--out",
            temp.path().join("never").to_str().unwrap(),
        ],
        repo(),
    );
    assert_eq!(invalid.status.code(), Some(1));
    assert!(!temp.path().join("never").exists(), "nothing is written for an invalid catalog");
}

#[test]
fn offline_plan_apply_plan_converges() {
    let temp = tempfile::tempdir().unwrap();
    let catalog = repo().join("examples/shop");
    let catalog = catalog.to_str().unwrap();
    let work = temp.path();

    let first = glidepath(&["plan", "-c", catalog, "--detailed-exitcode"], work);
    assert_eq!(first.status.code(), Some(2), "changes pending: {}", text(&first.stderr));
    let stdout = text(&first.stdout);
    assert!(stdout.contains("offline plan"), "{stdout}");
    assert!(stdout.contains("+ prod/payment-service/k8s/Rollout/payment-service"), "{stdout}");

    let no_tty = glidepath(&["apply", "-c", catalog], work);
    assert_eq!(no_tty.status.code(), Some(1), "apply without a terminal must not guess");
    assert!(text(&no_tty.stderr).contains("--auto-approve"));
    assert!(!work.join(".glidepath/state.json").exists());

    let dev_only = glidepath(&["apply", "-c", catalog, "--env", "dev", "--only", "cluster", "--auto-approve"], work);
    assert_eq!(dev_only.status.code(), Some(0), "{}", text(&dev_only.stderr));
    let dev_plan =
        glidepath(&["plan", "-c", catalog, "--env", "dev", "--only", "cluster", "--detailed-exitcode"], work);
    assert_eq!(dev_plan.status.code(), Some(0), "{}", text(&dev_plan.stdout));
    assert!(text(&dev_plan.stdout).contains("No changes."));

    let apply = glidepath(&["apply", "-c", catalog, "--auto-approve"], work);
    assert_eq!(apply.status.code(), Some(0), "{}", text(&apply.stderr));
    assert!(text(&apply.stdout).contains("nothing was changed in AWS or the cluster"));
    let second = glidepath(&["plan", "-c", catalog, "--detailed-exitcode"], work);
    assert_eq!(second.status.code(), Some(0), "{}", text(&second.stdout));

    let unknown_env = glidepath(&["plan", "-c", catalog, "--env", "qa"], work);
    assert_eq!(unknown_env.status.code(), Some(1));
    assert!(text(&unknown_env.stderr).contains("no such environment"));
}

/// Argo CD owns a GitOps environment's cluster objects: apply refuses them, naming the
/// environment and what to do instead, and writes nothing; the AWS half and push environments
/// still apply, and `--force-gitops` is the emergency override.
#[test]
fn apply_refuses_the_cluster_objects_of_a_gitops_environment_and_says_what_to_do() {
    let temp = tempfile::tempdir().unwrap();
    let work = temp.path();
    let text_of = std::fs::read_to_string(repo().join("tests/fixtures/valid/minimal.hcl")).unwrap();
    let gitops = "environment \"dev\" {\n  cluster  = \"main\"\n  delivery = \"gitops\"\n";
    let edited = text_of.replacen("environment \"dev\" {\n  cluster = \"main\"\n", gitops, 1);
    assert!(edited.contains("delivery = \"gitops\""), "the fixture's dev block moved");
    std::fs::create_dir(work.join("catalog")).unwrap();
    std::fs::write(work.join("catalog/catalog.hcl"), edited).unwrap();

    for args in [
        &["apply", "-c", "catalog", "--auto-approve"][..],
        &["apply", "-c", "catalog", "--target", "dev/api", "--auto-approve"],
    ] {
        let refused = glidepath(args, work);
        assert_eq!(refused.status.code(), Some(1), "{args:?}: {}", text(&refused.stdout));
        let stderr = text(&refused.stderr);
        for part in [
            "environment `dev` is delivered by Argo CD (`delivery = \"gitops\"`)",
            "glidepath render --out DIR` and commit DIR/gitops to the catalog repository",
            "--only aws",
            "--force-gitops",
        ] {
            assert!(stderr.contains(part), "{args:?}: {part:?} not in {stderr}");
        }
        assert!(!work.join(".glidepath/state.json").exists(), "nothing was applied");
    }
    let push_env = glidepath(&["apply", "-c", "catalog", "--env", "prod", "--auto-approve"], work);
    assert_eq!(push_env.status.code(), Some(0), "prod is pushed: {}", text(&push_env.stderr));
    let forced = glidepath(&["apply", "-c", "catalog", "--env", "dev", "--force-gitops", "--auto-approve"], work);
    assert_eq!(forced.status.code(), Some(0), "the override: {}", text(&forced.stderr));
}

#[test]
fn plan_shows_field_changes_and_deletes_in_every_format() {
    let temp = tempfile::tempdir().unwrap();
    let work = temp.path();
    let catalog_dir = work.join("catalog");
    std::fs::create_dir(&catalog_dir).unwrap();
    let original = std::fs::read_to_string(repo().join("tests/fixtures/valid/minimal.hcl")).unwrap();
    std::fs::write(catalog_dir.join("catalog.hcl"), &original).unwrap();
    let apply = glidepath(&["apply", "--auto-approve"], work);
    assert_eq!(apply.status.code(), Some(0), "{}", text(&apply.stderr));

    // Change the canary and remove nothing: exactly the Rollout's steps change.
    let edited = original.replace(
        "  notify = [\"oncall\"]",
        "  notify = [\"oncall\"]\n  canary {\n    steps  = [20, 100]\n    pauses = [\"1m\"]\n  }",
    );
    std::fs::write(catalog_dir.join("catalog.hcl"), &edited).unwrap();
    let plan = glidepath(&["plan", "--env", "dev", "--detailed-exitcode"], work);
    assert_eq!(plan.status.code(), Some(2));
    let stdout = text(&plan.stdout);
    assert!(stdout.contains("~ dev/api/k8s/Rollout/api"), "{stdout}");
    assert!(stdout.contains("spec.strategy.canary.steps[0].setWeight: 10 → 20"), "{stdout}");
    assert!(stdout.contains("Plan: 0 to create, 1 to update, 0 to replace, 0 to delete"), "{stdout}");

    let json = glidepath(&["plan", "--env", "dev", "--format", "json"], work);
    let document: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(document["format_version"], "1.0");
    assert_eq!(document["summary"]["update"], 1);
    assert_eq!(document["changes"][0]["address"], "dev/api/k8s/Rollout/api");
    assert_eq!(document["changes"][0]["fields"][0]["path"], "spec.strategy.canary.steps[0].setWeight");

    let markdown = text(&glidepath(&["plan", "--env", "dev", "--format", "markdown"], work).stdout);
    assert!(markdown.contains("| `~` | update | `dev/api/k8s/Rollout/api` |"), "{markdown}");

    // Removing the service plans its objects as deletes, applied only with --allow-delete.
    let without_service = original[..original.find("service \"api\"").unwrap()].to_string();
    std::fs::write(catalog_dir.join("catalog.hcl"), without_service).unwrap();
    let plan = text(&glidepath(&["plan"], work).stdout);
    assert!(plan.contains("- dev/api/k8s/Rollout/api"), "{plan}");
    let header =
        plan.find("Deletes and replacements (carried out only with --allow-delete):").expect("deletes listed apart");
    assert!(plan.find("- dev/api/k8s/Rollout/api").unwrap() > header, "{plan}");
    assert!(plan.contains("- aws/iam_role/demo-api-ci"), "{plan}");
    let kept = glidepath(&["apply", "--auto-approve"], work);
    assert!(text(&kept.stdout).contains("will be skipped"));
    assert_eq!(glidepath(&["plan", "--detailed-exitcode"], work).status.code(), Some(2), "deletes still pending");
    assert_eq!(glidepath(&["apply", "--auto-approve", "--allow-delete"], work).status.code(), Some(0));
    assert_eq!(glidepath(&["plan", "--detailed-exitcode"], work).status.code(), Some(0));
}

#[test]
fn usage_errors_exit_1_and_help_and_version_exit_0() {
    // Exit 2 means "changes present" to `plan --detailed-exitcode` users: a usage error must not say that.
    for (args, says) in [
        (&["plan", "--no-such-flag"][..], "unexpected argument '--no-such-flag'"),
        (&["plan", "--detailed-exitcode", "--no-such-flag"][..], "unexpected argument"),
        (&["plan", "--format", "yaml"][..], "invalid value 'yaml'"),
        (&["promote", "api"][..], "required arguments were not provided"),
        (&["render", "-c", "examples/shop"][..], "--out <OUT>"),
        (&["no-such-command"][..], "unrecognized subcommand"),
        (&[][..], "Usage:"),
    ] {
        let output = glidepath(args, repo());
        assert_eq!(output.status.code(), Some(1), "{args:?}: {}", text(&output.stderr));
        assert!(text(&output.stderr).contains(says), "{args:?}: {}", text(&output.stderr));
        assert!(output.stdout.is_empty(), "{args:?}: {}", text(&output.stdout));
    }
    for args in [&["--help"][..], &["plan", "--help"][..], &["help", "plan"][..], &["-h"][..]] {
        let output = glidepath(args, repo());
        assert_eq!(output.status.code(), Some(0), "{args:?}: {}", text(&output.stderr));
        assert!(text(&output.stdout).contains("Usage:"), "{args:?}: {}", text(&output.stdout));
    }
    let version = glidepath(&["--version"], repo());
    assert_eq!(version.status.code(), Some(0));
    let shown = text(&version.stdout);
    assert!(shown.starts_with(&format!("glidepath {} (commit ", env!("CARGO_PKG_VERSION"))), "{shown}");
}

/// Runs glidepath with stdout a pipe nobody reads any more: every write fails with EPIPE.
fn into_closed_pipe(args: &[&str], cwd: &Path) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let home = tempfile::tempdir().unwrap();
    support::glidepath_command()
        .args(args)
        .current_dir(cwd)
        .env("HOME", home.path())
        .env("NO_COLOR", "1")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let work = tempfile::tempdir().unwrap();
    let shop = repo().join("examples/shop");
    let shop = shop.to_str().unwrap();
    // The apply goes on to the end (state and audit written) when nobody reads its progress.
    let applied = into_closed_pipe(&["apply", "-c", shop, "--auto-approve"], work.path());
    let stderr = text(&applied.stderr);
    assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{stderr}");
    assert_eq!(applied.status.code(), Some(0), "{stderr}");
    let history = glidepath(&["history", "--format", "json"], work.path());
    let records: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(records.as_array().unwrap().len(), 1, "the apply into a closed pipe was carried out and audited");
    assert!(work.path().join(".glidepath/state.json").is_file());
    let bad_canary = repo().join("examples/shop/metrics/payment-service-bad-canary.csv");
    let simulate = [
        "simulate",
        "-c",
        shop,
        "--service",
        "payment-service",
        "--env",
        "prod",
        "--metrics",
        bad_canary.to_str().unwrap(),
    ];
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["validate", "-c", shop], 0),
        (vec!["check", "-c", shop], 0),
        (vec!["plan", "-c", shop], 0),
        (vec!["plan", "-c", shop, "--format", "markdown"], 0),
        (vec!["plan", "-c", shop, "--format", "json"], 0),
        (vec!["history"], 0),
        (vec!["history", "--format", "json"], 0),
        (vec!["explain"], 0),
        (simulate.to_vec(), 3),
        (vec!["apply", "-c", shop, "--auto-approve"], 0),
    ];
    for (args, code) in cases {
        let output = into_closed_pipe(&args, work.path());
        let stderr = text(&output.stderr);
        assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{args:?}: {stderr}");
        assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
    }

    // As `glidepath check | head -1` does it: one line read, then the reader goes away.
    use std::io::BufRead;
    let home = tempfile::tempdir().unwrap();
    let mut child = support::glidepath_command()
        .args(["check", "-c", shop])
        .current_dir(work.path())
        .env("HOME", home.path())
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert!(first.contains("rollback"), "{first}");
    let output = child.wait_with_output().unwrap();
    let stderr = text(&output.stderr);
    assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{stderr}");
    assert_ne!(output.status.code(), Some(101), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

#[test]
fn plans_show_a_pinned_digest_whole() {
    let temp = tempfile::tempdir().unwrap();
    let work = temp.path();
    let catalog_dir = work.join("catalog");
    std::fs::create_dir(&catalog_dir).unwrap();
    let original = std::fs::read_to_string(repo().join("tests/fixtures/valid/minimal.hcl")).unwrap();
    std::fs::write(catalog_dir.join("catalog.hcl"), &original).unwrap();
    let apply = glidepath(&["apply", "--auto-approve"], work);
    assert_eq!(apply.status.code(), Some(0), "{}", text(&apply.stderr));

    let digest = format!("sha256:{}", "4c2a9e3b1d4e8f9a".repeat(4));
    assert_eq!(digest.len(), 7 + 64);
    let pinned = original.replace("image_tag = \"1.0.0\"", &format!("image_tag = \"{digest}\""));
    assert_ne!(pinned, original);
    std::fs::write(catalog_dir.join("catalog.hcl"), &pinned).unwrap();

    let human = glidepath(&["plan", "--env", "dev", "--detailed-exitcode"], work);
    assert_eq!(human.status.code(), Some(2), "{}", text(&human.stderr));
    let human = text(&human.stdout);
    let image_line = human.lines().find(|l| l.contains("spec.template.spec.containers[0].image")).expect(&human);
    // The whole reference, closing quote included: nothing was cut.
    assert!(image_line.contains(&format!("@{digest}\"")), "{image_line}");
    assert!(!image_line.contains('…'), "{image_line}");

    let markdown = text(&glidepath(&["plan", "--env", "dev", "--format", "markdown"], work).stdout);
    let image_line =
        markdown.lines().find(|l| l.starts_with("+ spec.template.spec.containers[0].image")).expect(&markdown);
    assert!(image_line.contains(&format!("@{digest}\"")), "{image_line}");
    assert!(!image_line.contains('…'), "{image_line}");
}

#[test]
fn simulate_exit_code_is_its_verdict() {
    let shop = repo().join("examples/shop");
    let run = |file: &str| {
        let metrics = repo().join("examples/shop/metrics").join(file);
        glidepath(
            &[
                "simulate",
                "-c",
                shop.to_str().unwrap(),
                "--service",
                "payment-service",
                "--env",
                "prod",
                "--metrics",
                metrics.to_str().unwrap(),
            ],
            repo(),
        )
    };
    let bad = run("payment-service-bad-canary.csv");
    assert!(text(&bad.stdout).contains("would ABORT at "), "{}", text(&bad.stdout));
    assert_eq!(bad.status.code(), Some(3), "would abort: {}", text(&bad.stderr));

    let good = run("payment-service-good-canary.json");
    assert!(!text(&good.stdout).contains("would ABORT"), "{}", text(&good.stdout));
    assert_eq!(good.status.code(), Some(0), "would promote: {}", text(&good.stderr));

    let missing = run("no-such-file.csv");
    assert_eq!(missing.status.code(), Some(1), "an error is not a verdict");

    let help = text(&glidepath(&["simulate", "--help"], repo()).stdout);
    assert!(help.contains("3 it would ABORT"), "{help}");
}

fn git(dir: &Path, args: &[&str]) {
    let output = std::process::Command::new("git")
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?}: {}", text(&output.stderr));
}

#[test]
fn history_keeps_the_dirty_mark_names_the_os_user_and_prints_markdown_tables() {
    let temp = tempfile::tempdir().unwrap();
    let work = temp.path();
    let catalog_dir = work.join("catalog");
    std::fs::create_dir(&catalog_dir).unwrap();
    let original = std::fs::read_to_string(repo().join("tests/fixtures/valid/minimal.hcl")).unwrap();
    std::fs::write(catalog_dir.join("catalog.hcl"), &original).unwrap();
    git(&catalog_dir, &["init", "-q"]);
    git(&catalog_dir, &["add", "."]);
    git(&catalog_dir, &["commit", "-q", "-m", "catalog"]);
    // No git author anywhere: neither the repository, nor a global or system config.
    let no_git_author = [("GIT_CONFIG_NOSYSTEM", Some("1")), ("GIT_CONFIG_GLOBAL", Some("/dev/null"))];

    let clean = glidepath_env(
        &["apply", "--auto-approve"],
        work,
        &[no_git_author[0], no_git_author[1], ("USER", Some("ci-runner"))],
    );
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean.stderr));
    // Uncommitted: what is applied is in no commit, and the record must say so.
    std::fs::write(catalog_dir.join("catalog.hcl"), original.replace("\"1.0.0\"", "\"1.0.1\"")).unwrap();
    let dirty = glidepath_env(
        &["apply", "--auto-approve"],
        work,
        &[no_git_author[0], no_git_author[1], ("USER", None), ("LOGNAME", None)],
    );
    assert_eq!(dirty.status.code(), Some(0), "{}", text(&dirty.stderr));

    let json: serde_json::Value =
        serde_json::from_slice(&glidepath(&["history", "--format", "json"], work).stdout).unwrap();
    let (latest, first) = (&json[0], &json[1]);
    let revision = first["revision"].as_str().unwrap();
    assert_eq!(revision.len(), 40, "{revision}");
    assert_eq!(latest["revision"].as_str().unwrap(), format!("{revision}+dirty"));
    assert_eq!(first["who"], "ci-runner (from $USER)");
    // Neither $USER nor $LOGNAME: the name comes from `id -un`.
    let id = std::process::Command::new("id").arg("-un").output().unwrap();
    if id.status.success() {
        assert_eq!(latest["who"].as_str().unwrap(), format!("{} (from id -un)", text(&id.stdout).trim()));
    }

    let human = text(&glidepath(&["history"], work).stdout);
    let lines: Vec<&str> = human.lines().collect();
    assert!(lines[0].contains(&format!("rev {}+dirty ", &revision[..12])), "{human}");
    assert!(lines[1].contains(&format!("rev {} ", &revision[..12])), "{human}");
    assert!(lines[1].contains("ci-runner (from $USER)"), "{human}");

    let markdown = text(&glidepath(&["history", "--format", "markdown"], work).stdout);
    let rows: Vec<&str> = markdown.lines().filter(|l| l.starts_with('|')).collect();
    assert_eq!(rows.len(), 4, "header, separator and one row per apply: {markdown}");
    assert!(rows[0].starts_with("| When (UTC) | Who | Host | Revision | Result |"), "{markdown}");
    assert!(rows[1].starts_with("|---|"), "{markdown}");
    assert!(rows[2].contains(&format!("| `{}+dirty` | applied |", &revision[..12])), "{markdown}");
    assert!(rows[3].contains("| ci-runner (from $USER) |"), "{markdown}");
    assert_eq!(rows[2].matches('|').count(), rows[0].matches('|').count(), "{markdown}");
}

/// `--env dev` narrows AWS resources made for one environment (IRSA roles) as it narrows cluster
/// objects; what serves every environment (CI roles, ECR repositories) stays in every selection.
#[test]
fn env_selects_per_environment_aws_resources_too() {
    let work = tempfile::tempdir().unwrap();
    let catalog = repo().join("examples/shop");
    let out = glidepath(&["plan", "-c", catalog.to_str().unwrap(), "--env", "dev", "--format", "json"], work.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let addresses: Vec<&str> =
        plan["changes"].as_array().unwrap().iter().map(|c| c["address"].as_str().unwrap()).collect();
    assert!(addresses.contains(&"aws/iam_role/shop-dev-shipping"), "dev's IRSA role: {addresses:?}");
    assert!(addresses.contains(&"aws/iam_role/shop-shipping-ci"), "the CI role serves every environment");
    let others: Vec<&&str> = addresses
        .iter()
        .filter(|a| a.starts_with("aws/") && (a.contains("-prod-") || a.contains("-staging-")))
        .collect();
    assert!(others.is_empty(), "other environments' AWS resources: {others:?}");
    assert!(addresses.iter().all(|a| a.starts_with("aws/") || a.starts_with("dev/")), "{addresses:?}");
}

/// `--target ADDRESS` (repeatable) narrows plan and apply to resources at or under an address,
/// like terraform's `-target`; a target that names nothing is an error, not an empty plan.
#[test]
fn targets_narrow_plan_and_apply_to_addresses() {
    let work = tempfile::tempdir().unwrap();
    let catalog = repo().join("examples/shop");
    let catalog = catalog.to_str().unwrap();
    let addresses = |args: &[&str]| -> Vec<String> {
        let out = glidepath(&[&["plan", "-c", catalog, "--format", "json"][..], args].concat(), work.path());
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        plan["changes"].as_array().unwrap().iter().map(|c| c["address"].as_str().unwrap().to_string()).collect()
    };
    let service = addresses(&["--target", "prod/payment-service"]);
    assert!(service.len() >= 5 && service.iter().all(|a| a.starts_with("prod/payment-service/")), "{service:?}");
    let two = addresses(&["--target", "aws/iam_role/shop-payment-service-ci", "--target", "dev/cart/k8s/Rollout/cart"]);
    assert_eq!(two, ["aws/iam_role/shop-payment-service-ci", "dev/cart/k8s/Rollout/cart"]);

    let nothing = glidepath(&["plan", "-c", catalog, "--target", "prod/payment"], work.path());
    assert_eq!(nothing.status.code(), Some(1));
    assert!(text(&nothing.stderr).contains("--target prod/payment: no resource"), "{}", text(&nothing.stderr));

    // Applying one target leaves the rest planned.
    let apply = glidepath(&["apply", "-c", catalog, "--target", "dev/cart", "--auto-approve"], work.path());
    assert_eq!(apply.status.code(), Some(0), "{}", text(&apply.stderr));
    assert!(addresses(&["--target", "dev/cart"]).is_empty(), "dev/cart is applied");
    assert!(!addresses(&["--target", "dev/catalog"]).is_empty(), "dev/catalog is not");
}

/// The README's offline quickstart, command by command, as a new user runs it on a machine whose
/// `~/.kube/config` points at clusters glidepath must not touch.
/// Colour follows the conventions anstream implements: none into a pipe, forced by
/// `CLICOLOR_FORCE`, never with `NO_COLOR` (which wins over `CLICOLOR_FORCE`); the text is the
/// same either way.
#[test]
fn plan_colours_follow_no_color_clicolor_force_and_the_terminal() {
    let work = tempfile::tempdir().unwrap();
    let catalog = repo().join("examples/shop");
    let catalog = catalog.to_str().unwrap();
    let args = ["plan", "-c", catalog, "--offline", "--env", "dev", "--only", "cluster"];
    let piped = glidepath_env(&args, work.path(), &[("NO_COLOR", None), ("CLICOLOR_FORCE", None), ("CLICOLOR", None)]);
    let no_color = glidepath_env(&args, work.path(), &[("CLICOLOR_FORCE", Some("1"))]);
    let forced = glidepath_env(&args, work.path(), &[("NO_COLOR", None), ("CLICOLOR_FORCE", Some("1"))]);
    for out in [&piped, &no_color, &forced] {
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    assert!(!text(&piped.stdout).contains('\u{1b}'), "a pipe gets no colour");
    assert!(!text(&no_color.stdout).contains('\u{1b}'), "NO_COLOR gets no colour, even with CLICOLOR_FORCE");
    let coloured = text(&forced.stdout);
    assert!(coloured.contains("  \u{1b}[32m+ dev/cart/k8s/Rollout/cart  (create)\u{1b}[39m\n"), "{coloured}");
    let stripped = regex::Regex::new("\u{1b}\\[[0-9;]*m").unwrap().replace_all(&coloured, "").to_string();
    assert_eq!(stripped, text(&piped.stdout), "colour changes nothing but colour");
}

/// Credentials the SDK would find in the shared files mean a live AWS plan, never a silent
/// offline one; `AWS_PROFILE` naming no profile says so; no credentials at all is offline, said
/// in the banner.
#[test]
fn aws_credentials_in_shared_files_are_used_and_a_missing_profile_is_named() {
    let work = tempfile::tempdir().unwrap();
    let aws_dir = work.path().join("aws");
    std::fs::create_dir_all(&aws_dir).unwrap();
    let credentials = aws_dir.join("credentials");
    std::fs::write(&credentials, "[ci]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = secret\n").unwrap();
    let config = aws_dir.join("config");
    std::fs::write(&config, "[profile ci]\nregion = eu-west-1\n").unwrap();
    let catalog = repo().join("examples/shop");
    let plan = ["plan", "-c", catalog.to_str().unwrap(), "--only", "aws"];
    let files = [
        ("AWS_SHARED_CREDENTIALS_FILE", Some(credentials.to_str().unwrap())),
        ("AWS_CONFIG_FILE", Some(config.to_str().unwrap())),
        ("AWS_EC2_METADATA_DISABLED", Some("true")),
        ("AWS_ENDPOINT_URL", None),
        ("AWS_ACCESS_KEY_ID", None),
    ];

    let missing = glidepath_env(&plan, work.path(), &[&files[..], &[("AWS_PROFILE", Some("nosuch"))]].concat());
    assert_eq!(missing.status.code(), Some(1));
    let stderr = text(&missing.stderr);
    assert!(stderr.contains("AWS profile `nosuch` not found") && stderr.contains("profiles there: ci"), "{stderr}");

    // The profile exists: glidepath goes to AWS (unreachable or refusing these keys here) and
    // fails, instead of planning offline with exit 0.
    let live = glidepath_env(&plan, work.path(), &[&files[..], &[("AWS_PROFILE", Some("ci"))]].concat());
    assert_eq!(live.status.code(), Some(1), "{}{}", text(&live.stdout), text(&live.stderr));
    assert!(!text(&live.stdout).contains("offline"), "{}", text(&live.stdout));
    assert!(text(&live.stderr).contains("sts:GetCallerIdentity"), "{}", text(&live.stderr));

    let none = glidepath_env(&plan, work.path(), &[("AWS_PROFILE", None), ("AWS_EC2_METADATA_DISABLED", Some("true"))]);
    assert_eq!(none.status.code(), Some(0), "{}", text(&none.stderr));
    assert!(text(&none.stdout).starts_with("offline plan"), "{}", text(&none.stdout));
}

/// `state list [PREFIX]` and `state show ADDRESS` read the state file; `completion SHELL` prints a
/// script generated from the CLI's own definitions.
#[test]
fn state_list_and_show_read_the_state_and_completions_cover_every_command() {
    let work = tempfile::tempdir().unwrap();
    let catalog = repo().join("examples/shop");
    let catalog = catalog.to_str().unwrap();
    let empty = glidepath(&["state", "list"], work.path());
    assert_eq!(empty.status.code(), Some(0));
    assert!(text(&empty.stdout).is_empty() && text(&empty.stderr).contains("nothing has been applied"));

    let apply = glidepath(&["apply", "-c", catalog, "--offline", "--auto-approve"], work.path());
    assert_eq!(apply.status.code(), Some(0), "{}", text(&apply.stderr));
    let all = text(&glidepath(&["state", "list"], work.path()).stdout);
    assert_eq!(all.lines().count(), 268, "every resource applied is listed");
    let cart = text(&glidepath(&["state", "list", "prod/cart"], work.path()).stdout);
    assert!(cart.lines().count() >= 5 && cart.lines().all(|l| l.starts_with("prod/cart/")), "{cart}");

    let show = glidepath(&["state", "show", "aws/ecr_repository/shop/cart"], work.path());
    assert_eq!(show.status.code(), Some(0), "{}", text(&show.stderr));
    let shown = text(&show.stdout);
    assert!(shown.starts_with("# aws/ecr_repository/shop/cart\n# digest: sha256:"), "{shown}");
    let body: serde_json::Value = serde_json::from_str(shown.splitn(3, '\n').nth(2).unwrap()).unwrap();
    assert_eq!(body["image_tag_mutability"], "IMMUTABLE");
    let unknown = glidepath(&["state", "show", "aws/ecr_repository/shop/nothing"], work.path());
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).contains("is not in the state"), "{}", text(&unknown.stderr));

    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = glidepath(&["completion", shell], work.path());
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = text(&out.stdout);
        for command in ["plan", "apply", "state", "simulate", "target"] {
            assert!(script.contains(command), "{shell} completion lacks {command}");
        }
    }
}

/// `version` (and `--version`) name the commit; `man` prints a manual page; `GLIDEPATH_LOG`
/// shows the AWS SDK's own tracing on stderr, and nothing is logged without it.
#[test]
fn version_man_page_and_sdk_logging() {
    let work = tempfile::tempdir().unwrap();
    let version = text(&glidepath(&["version"], work.path()).stdout);
    assert!(version.starts_with(&format!("glidepath {} (commit ", env!("CARGO_PKG_VERSION"))), "{version}");
    assert_eq!(text(&glidepath(&["--version"], work.path()).stdout), version);
    let man = glidepath(&["man"], work.path());
    assert_eq!(man.status.code(), Some(0));
    assert!(text(&man.stdout).contains(".TH glidepath 1") && text(&man.stdout).contains("plan"));

    let catalog = repo().join("examples/shop");
    let plan = ["plan", "-c", catalog.to_str().unwrap(), "--only", "aws"];
    // An endpoint nothing listens on: the SDK logs its attempts, then the plan fails.
    let unreachable = [
        ("AWS_ENDPOINT_URL", Some("http://127.0.0.1:1")),
        ("AWS_ACCESS_KEY_ID", Some("x")),
        ("AWS_SECRET_ACCESS_KEY", Some("y")),
    ];
    let logged = glidepath_env(&plan, work.path(), &[&unreachable[..], &[("GLIDEPATH_LOG", Some("debug"))]].concat());
    assert_eq!(logged.status.code(), Some(1));
    assert!(text(&logged.stderr).contains("DEBUG"), "{}", text(&logged.stderr));
    let quiet = glidepath_env(&plan, work.path(), &unreachable);
    assert!(!text(&quiet.stderr).contains("DEBUG"), "{}", text(&quiet.stderr));
}

/// Issue 17's bad-input corpus: every catalog under tests/fixtures/invalid (one per rule, and the
/// hostile cases: control characters, injected URLs, plaintext secrets, broken symlinks, YAML
/// lists, second documents, duplicate keys, alias bombs, out-of-range values) makes validate,
/// plan, apply and render exit 1 with a file:line:col, and leaves nothing behind: no
/// `.glidepath/` (state, lock, audit), no rendered files.
#[test]
fn every_bad_catalog_exits_1_located_and_writes_nothing() {
    let fixtures = support::fixture_catalogs(repo().join("tests/fixtures/invalid").to_str().unwrap());
    assert!(fixtures.len() >= 45, "the corpus shrank: {}", fixtures.len());
    for fixture in fixtures {
        let catalog = fixture.to_str().unwrap();
        let work = tempfile::tempdir().unwrap();
        let commands: [&[&str]; 4] = [
            &["validate", "-c", catalog],
            &["plan", "-c", catalog],
            &["apply", "-c", catalog, "--auto-approve"],
            &["render", "-c", catalog, "--out", "rendered"],
        ];
        for args in commands {
            let out = glidepath(args, work.path());
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
            let located =
                regex::Regex::new(&format!(r"{}(/[^\s:\]]*\.(hcl|yaml|yml))?:\d+:\d+", regex::escape(catalog)))
                    .unwrap();
            assert!(located.is_match(&stderr), "{args:?}: no file:line:col in {stderr}");
            let left: Vec<_> = std::fs::read_dir(work.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
            assert!(left.is_empty(), "{args:?} on {catalog} left {left:?} behind");
        }
    }
}

/// Issue 17 (item 10): reporting grows linearly. 20,000 problems in a 3.5 MB catalog are all
/// reported (the first 50 with their source snippet, the rest one line each) in well under a
/// minute; locating each by scanning the file, and drawing every snippet, took minutes.
#[test]
fn twenty_thousand_problems_are_reported_in_linear_time() {
    let work = tempfile::tempdir().unwrap();
    let fixture = std::fs::read_to_string(repo().join("tests/fixtures/invalid/malformed-duration.hcl")).unwrap();
    let head = fixture.split("service \"api\"").next().unwrap().lines().skip(1).collect::<Vec<_>>().join("\n");
    let mut catalog = head;
    for i in 0..20_000 {
        catalog.push_str(&format!(
            "\nservice \"s{i}\" {{\n  use = \"standard\"\n  repo = \"acme/s{i}\"\n  team = \"core\"\n  port = 8080\n  image_tag = \"1.0.0\"\n  probes {{\n    readiness = \"/ready\"\n  }}\n  colour = \"blue\"\n}}\n"
        ));
    }
    std::fs::write(work.path().join("catalog.hcl"), catalog).unwrap();
    let started = std::time::Instant::now();
    let out = glidepath(&["validate", "-c", "catalog.hcl"], work.path());
    let took = started.elapsed();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("the catalog has 20000 problem(s)"), "{}", &stderr[stderr.len().saturating_sub(500)..]);
    assert_eq!(stderr.matches("unknown field `colour`").count(), 20_000);
    let last = regex::Regex::new(
        r#"catalog\.hcl:\d+:3: error\[catalog::unknown-field\]: unknown field `colour` in service "s19999""#,
    )
    .unwrap();
    assert!(last.is_match(&stderr), "the last one, located");
    assert!(took < std::time::Duration::from_secs(60), "took {took:?}");
}
