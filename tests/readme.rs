//! The README as a new user follows it: its quickstart and first-catalog commands run, every
//! `glidepath SUBCOMMAND` it mentions exists, and every link inside it lands on a heading.
//!
//! The commands are taken from the README itself, not copied here: a fenced block preceded by
//! `<!-- readme-test: run -->` is run line by line (each `$ ` line, through bash, in order, in
//! one working directory); a block preceded by `<!-- readme-test: file PATH -->` is written to
//! PATH first. They run with the real binary on the PATH as `glidepath`, in a temporary copy of
//! `examples/`, with a `~/.kube/config` whose contexts are other clusters' and no AWS
//! credentials anywhere: the machine of a new user who already works with Kubernetes.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn readme() -> String {
    std::fs::read_to_string(repo().join("README.md")).unwrap()
}

/// A step the README asks of the reader, in the order it appears.
#[derive(Debug)]
enum Step {
    /// Write this text to this path (relative to the working directory).
    File { path: String, text: String },
    /// Run this shell command; it must exit 0, or print `exit=N` as the README shows it does.
    Run { command: String, expected_exit: Option<String> },
}

/// The marked blocks of the README, as steps. Markers name exactly the blocks to run, so prose
/// examples with placeholders (`SERVICE`, `ENV`) are never executed by accident.
fn marked_steps(readme: &str) -> Vec<Step> {
    let lines: Vec<&str> = readme.lines().collect();
    let mut steps = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        let marker = line.strip_prefix("<!-- readme-test:").and_then(|rest| rest.strip_suffix("-->")).map(str::trim);
        let Some(marker) = marker else {
            i += 1;
            continue;
        };
        assert!(
            lines.get(i + 1).is_some_and(|l| l.starts_with("```")),
            "README line {}: a readme-test marker must be followed by a fenced block",
            i + 1
        );
        let end = (i + 2..lines.len()).find(|&j| lines[j].starts_with("```")).expect("an unterminated fenced block");
        let block = &lines[i + 2..end];
        if let Some(path) = marker.strip_prefix("file ") {
            steps.push(Step::File { path: path.trim().to_string(), text: block.join("\n") + "\n" });
        } else {
            assert_eq!(marker, "run", "README line {}: unknown readme-test marker `{marker}`", i + 1);
            for (k, line) in block.iter().enumerate() {
                let Some(command) = line.strip_prefix("$ ") else { continue };
                // A command that shows its exit code (`…; echo "exit=$?"`) is held to the code
                // the README prints after it, before the next command.
                let expected_exit = command.contains("echo \"exit=$?\"").then(|| {
                    block[k + 1..]
                        .iter()
                        .take_while(|l| !l.starts_with("$ "))
                        .find_map(|l| l.strip_prefix("exit="))
                        .unwrap_or_else(|| panic!("`{command}` echoes its exit code but the README shows none"))
                        .to_string()
                });
                steps.push(Step::Run { command: command.to_string(), expected_exit });
            }
        }
        i = end + 1;
    }
    steps
}


/// A kubeconfig for clusters that are not the catalogs': a plan that reached for it would fail.
const OTHER_KUBECONFIG: &str = "apiVersion: v1\nkind: Config\ncurrent-context: team-sandbox\nclusters:\n- name: sandbox\n  cluster:\n    server: https://127.0.0.1:1\n- name: staging-eu\n  cluster:\n    server: https://127.0.0.1:2\ncontexts:\n- name: team-sandbox\n  context:\n    cluster: sandbox\n    user: me\n- name: staging-eu\n  context:\n    cluster: staging-eu\n    user: me\nusers:\n- name: me\n  user:\n    token: not-a-real-token\n";

/// A scratch machine: a copy of `examples/`, a HOME with the kubeconfig above and no `~/.aws`,
/// and a `bin/` holding `glidepath` (the binary under test).
struct Machine {
    dir: tempfile::TempDir,
}

impl Machine {
    fn new() -> Machine {
        let dir = tempfile::tempdir().unwrap();
        support::copy_tree(&repo().join("examples"), &dir.path().join("work/examples"));
        std::fs::create_dir_all(dir.path().join("home/.kube")).unwrap();
        std::fs::write(dir.path().join("home/.kube/config"), OTHER_KUBECONFIG).unwrap();
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_glidepath"), dir.path().join("bin/glidepath")).unwrap();
        Machine { dir }
    }

    fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// Runs one README line with bash, as the reader's shell would.
    fn run(&self, line: &str) -> std::process::Output {
        // The environment the test binaries get (support::glidepath_command): no AWS_* or
        // KUBECONFIG of the developer's shell, no ~/.aws files, no instance profile.
        let reference = support::glidepath_command();
        let mut command = Command::new("bash");
        command.arg("-c").arg(line).current_dir(self.work());
        for (name, value) in reference.get_envs() {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        for var in ["GLIDEPATH_CATALOG", "GLIDEPATH_STATE", "GLIDEPATH_KUBE_CONTEXT", "CLICOLOR_FORCE"] {
            command.env_remove(var);
        }
        let path = format!("{}:{}", self.dir.path().join("bin").display(), std::env::var("PATH").unwrap_or_default());
        command.env("PATH", path).env("HOME", self.dir.path().join("home")).env("NO_COLOR", "1");
        command.output().unwrap()
    }
}

fn section<'a>(readme: &'a str, heading: &str) -> &'a str {
    let start = readme.find(&format!("\n{heading}\n")).unwrap_or_else(|| panic!("README has no `{heading}`"));
    let rest = &readme[start + heading.len() + 2..];
    let end = rest.find("\n## ").unwrap_or(rest.len());
    &rest[..end]
}

/// Runs the steps on a fresh machine; returns a description of every step that did not do what
/// the README says.
fn run_steps(steps: &[Step]) -> Vec<String> {
    let machine = Machine::new();
    let mut failures = Vec::new();
    for step in steps {
        match step {
            Step::File { path, text } => {
                let target = machine.work().join(path);
                std::fs::create_dir_all(target.parent().unwrap()).unwrap();
                std::fs::write(target, text).unwrap();
            }
            Step::Run { command, expected_exit } => {
                let out = machine.run(command);
                let stdout = String::from_utf8_lossy(&out.stdout);
                let stderr = String::from_utf8_lossy(&out.stderr);
                let ok = match expected_exit {
                    None => out.status.code() == Some(0),
                    Some(code) => out.status.code() == Some(0) && stdout.lines().any(|l| l == format!("exit={code}")),
                };
                if !ok {
                    failures.push(format!(
                        "`{command}` exited {:?} (README: {}):\n{}{}",
                        out.status.code(),
                        expected_exit.as_ref().map_or("0".to_string(), |c| format!("exit={c}")),
                        stdout
                            .lines()
                            .rev()
                            .take(15)
                            .collect::<Vec<_>>()
                            .into_iter()
                            .rev()
                            .collect::<Vec<_>>()
                            .join("\n"),
                        stderr
                    ));
                }
            }
        }
    }
    failures
}

#[test]
fn the_quickstart_runs_offline_with_a_kubeconfig_present_and_no_aws_credentials() {
    let readme = readme();
    let quickstart = section(&readme, "## Quickstart");
    let steps = marked_steps(quickstart);
    let commands: Vec<&str> = steps
        .iter()
        .filter_map(|s| if let Step::Run { command, .. } = s { Some(command.as_str()) } else { None })
        .collect();
    // validate, render, plan, apply, plan again: the quickstart's whole offline cycle.
    assert!(commands.len() >= 5, "too few marked quickstart commands: {commands:?}");
    assert!(commands.iter().all(|c| c.starts_with("glidepath ")), "{commands:?}");
    for needed in ["validate", "render", "plan", "apply"] {
        assert!(
            commands.iter().any(|c| c.starts_with(&format!("glidepath {needed} "))),
            "no `glidepath {needed}` in {commands:?}"
        );
    }
    assert!(
        steps.iter().any(|s| matches!(s, Step::Run { expected_exit: Some(code), .. } if code == "0")),
        "the converged plan's exit code"
    );
    let failures = run_steps(&steps);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));

    // The quickstart's other promise: the one command for the main job on a local setup.
    assert!(quickstart.contains("$ scripts/demo\n"), "the quickstart names `scripts/demo`");
}

#[test]
fn the_first_catalog_walkthrough_runs_offline() {
    let readme = readme();
    let walkthrough = section(&readme, "## Your first catalog on your own account");
    let steps = marked_steps(walkthrough);
    assert!(steps.iter().any(|s| matches!(s, Step::File { path, .. } if path == "catalog/catalog.hcl")), "{steps:?}");
    let runs = steps.iter().filter(|s| matches!(s, Step::Run { .. })).count();
    assert!(runs >= 4, "validate, fmt --check, check and plan --offline: {steps:?}");
    let failures = run_steps(&steps);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Without `--offline`, a machine whose kubeconfig lacks the catalog's contexts gets an error
/// that says how to plan offline (what the README's quickstart explains).
#[test]
fn a_live_plan_without_the_catalogs_context_points_to_offline() {
    let machine = Machine::new();
    let out = machine.run("glidepath plan -c examples/shop");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("known contexts: staging-eu, team-sandbox")
            || stderr.contains("known contexts: team-sandbox, staging-eu"),
        "{stderr}"
    );
    assert!(stderr.contains("--offline"), "{stderr}");
}

/// The subcommands `glidepath --help` lists.
fn subcommands() -> Vec<String> {
    let out = support::glidepath_command().arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8(out.stdout).unwrap();
    let commands = &help[help.find("Commands:").expect("a Commands: section")..];
    let commands = &commands[..commands.find("\n\n").unwrap_or(commands.len())];
    commands.lines().skip(1).filter_map(|l| l.split_whitespace().next()).map(str::to_string).collect()
}

/// Every `glidepath WORD` in the README's code (inline code spans and fenced blocks), and every
/// subcommand of its Commands table, is a subcommand `glidepath --help` lists.
#[test]
fn every_subcommand_the_readme_names_exists() {
    let known = subcommands();
    assert!(known.iter().any(|c| c == "plan") && known.len() > 10, "{known:?}");
    let readme = readme();
    let mut code = String::new();
    let mut prose = String::new();
    let mut fenced = false;
    for line in readme.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
            continue;
        }
        let target = if fenced { &mut code } else { &mut prose };
        target.push_str(line);
        target.push('\n');
    }
    // Inline code spans: the odd-numbered pieces between backticks, within a paragraph (a span
    // may wrap onto the next line, never past a blank one).
    for paragraph in prose.split("\n\n") {
        for (i, span) in paragraph.split('`').enumerate() {
            if i % 2 == 1 {
                code.push_str(span);
                code.push('\n');
            }
        }
    }
    let mention = regex::Regex::new(r"(?m)(?:^|[\s$(;&|])glidepath ([a-z][a-z-]*)").unwrap();
    let mut unknown: Vec<String> =
        mention.captures_iter(&code).map(|c| c[1].to_string()).filter(|word| !known.contains(word)).collect();
    unknown.sort();
    unknown.dedup();
    assert!(unknown.is_empty(), "the README names `glidepath {unknown:?}`, which `glidepath --help` does not list");

    // The Commands table documents every subcommand (clap's own `help` aside).
    let table = section(&readme, "## Commands");
    let rows: Vec<&str> = table.lines().filter(|l| l.starts_with("| `")).collect();
    let missing: Vec<&String> = known
        .iter()
        .filter(|c| *c != "help")
        .filter(|c| !rows.iter().any(|row| row.starts_with(&format!("| `{c}")) || row.contains(&format!("` / `{c} "))))
        .collect();
    assert!(missing.is_empty(), "the Commands table has no row for {missing:?}");
}

/// GitHub's anchor for a heading: lower case, punctuation other than `-` and `_` dropped,
/// spaces as `-`; a repeated heading gets `-1`, `-2`, …
fn anchors(readme: &str) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    let mut anchors = Vec::new();
    let mut fenced = false;
    for line in readme.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let title = line.trim_start_matches('#');
        if !title.starts_with(' ') {
            continue;
        }
        let slug: String = title
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_' || *c == ' ')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let n = seen.iter().filter(|s| **s == slug).count();
        anchors.push(if n == 0 { slug.clone() } else { format!("{slug}-{n}") });
        seen.push(slug);
    }
    anchors
}

#[test]
fn every_link_inside_the_readme_lands_on_a_heading() {
    let readme = readme();
    let anchors = anchors(&readme);
    assert!(anchors.contains(&"install".to_string()) && anchors.contains(&"contents".to_string()), "{anchors:?}");
    let link = regex::Regex::new(r"\]\(#([^)]+)\)").unwrap();
    let mut broken: Vec<String> =
        link.captures_iter(&readme).map(|c| c[1].to_string()).filter(|a| !anchors.contains(a)).collect();
    broken.dedup();
    assert!(broken.is_empty(), "links to no heading: {broken:?}");
}

/// The README's one test command is the one CI runs.
#[test]
fn ci_runs_the_test_command_the_readme_gives() {
    let readme = readme();
    let tests = section(&readme, "## Contributing and tests");
    assert!(tests.contains("Run the tests: `scripts/test`."), "the README gives `scripts/test` as the test command");
    let ci = std::fs::read_to_string(repo().join(".ci/run")).unwrap();
    assert!(ci.lines().any(|l| l.trim() == "scripts/test"), ".ci/run runs scripts/test");
}
