//! Every command a rendered CI step runs is there when it runs: a shell builtin, on the image the
//! job runs on (tests/fixtures/runner-images.yaml, each list with its source), or installed by an
//! earlier step of the same job from a pinned release whose sha256 it checks. Covers every
//! workflow and every buildspec rendered for examples/shop, and holds the deployer image
//! (scripts/deployer.Dockerfile) to the pin table the renderer reads (templates/tools.yaml).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use glidepath::catalog::Model;
use glidepath::render::{self, pipeline, tools, workflow, AwsResource, Resource};
use serde_norway::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn shop() -> Model {
    glidepath::catalog::load(&Path::new(ROOT).join("examples/shop")).unwrap_or_else(|e| panic!("examples/shop: {e:?}"))
}

/// Builtins and keywords of bash: never installed.
const BUILTINS: &[&str] = &[
    "!", "[", "[[", ":", "break", "cd", "continue", "do", "done", "echo", "elif", "else", "eval", "exit", "export",
    "false", "fi", "for", "if", "printf", "read", "set", "test", "then", "true", "until", "while", "{", "}",
];

fn runner_images() -> BTreeMap<String, BTreeSet<String>> {
    let text = fs::read_to_string(Path::new(ROOT).join("tests/fixtures/runner-images.yaml")).unwrap();
    serde_norway::from_str(&text).unwrap()
}

/// The commands a shell script runs: the first word of every simple command, across lines
/// (backslash continuations joined), pipelines, `&&`, `||`, `;`, `&`, subshells and `$(…)`,
/// after keywords (`if`, `then`, `do`, `!` …) and leading `NAME=value` assignments. Quotes are
/// respected, so `'{{range .RepoDigests}}'` or `'a|b'` are arguments, not pipelines; `#`
/// comments are skipped. For the commands glidepath renders, not a full shell parser.
fn commands(script: &str) -> Vec<String> {
    let script = script.replace("\\\n", " ");
    let mut segments: Vec<String> = vec![String::new()];
    // Quote state per nesting level: `$(…)` inside double quotes starts afresh, unquoted.
    let mut levels: Vec<(bool, bool)> = vec![(false, false)];
    let mut chars = script.chars().peekable();
    let mut at_word_start = true;
    while let Some(c) = chars.next() {
        let (single, double) = *levels.last().unwrap();
        let quoted = single || double;
        match c {
            '\'' if !double => levels.last_mut().unwrap().0 = !single,
            '"' if !single => levels.last_mut().unwrap().1 = !double,
            '#' if !quoted && at_word_start => {
                // A comment runs to the end of the line.
                while chars.peek().is_some_and(|&n| n != '\n') {
                    chars.next();
                }
                continue;
            }
            '$' if !single && chars.peek() == Some(&'(') => {
                chars.next();
                levels.push((false, false));
                segments.push(String::new());
                at_word_start = true;
                continue;
            }
            ')' if !quoted && levels.len() > 1 => {
                levels.pop();
                segments.push(String::new());
                at_word_start = false;
                continue;
            }
            // `2>&1` and `&>` redirect; they separate nothing.
            '&' if segments.last().unwrap().ends_with('>') || chars.peek() == Some(&'>') => {}
            '|' | '&' | ';' | '(' | ')' | '\n' if !quoted => {
                segments.push(String::new());
                at_word_start = true;
                continue;
            }
            _ => {}
        }
        if !quoted {
            at_word_start = c.is_whitespace();
        }
        segments.last_mut().unwrap().push(c);
    }
    let mut out = Vec::new();
    for segment in segments {
        let mut words = segment.split_whitespace().peekable();
        // `for NAME in WORDS` runs no command of its own (what follows `do` is a new segment only
        // after a `;`, so skip to it).
        if words.peek() == Some(&"for") {
            continue;
        }
        while let Some(&word) = words.peek() {
            let assignment = word.split_once('=').is_some_and(|(name, _)| {
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
            if assignment || ["if", "then", "else", "elif", "do", "while", "until", "!", "{"].contains(&word) {
                words.next();
            } else {
                break;
            }
        }
        let Some(first) = words.next() else { continue };
        let first = first.trim_matches('"');
        if first.is_empty() || first.starts_with('>') || first.starts_with('<') || first.starts_with("2>") {
            continue;
        }
        // `kubectl argo rollouts …` runs the kubectl-argo-rollouts plugin.
        if first == "kubectl" && words.next() == Some("argo") {
            out.push("kubectl-argo-rollouts".to_string());
        }
        out.push(first.to_string());
    }
    // A shell function the script defines (`NAME() {`) is no command to install: neither its
    // definition nor its calls.
    let functions: Vec<&str> = script
        .lines()
        .filter_map(|line| line.trim().strip_suffix("{")?.trim_end().strip_suffix("()"))
        .map(str::trim_end)
        .filter(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .collect();
    out.retain(|command| !functions.contains(&command.as_str()));
    out
}

/// A step that installs TOOL: named `Install TOOL …`, and its script checks the download's
/// sha256 with `sha256sum --check` before anything else runs it.
fn installs(step: &Value) -> Option<String> {
    let name = step.get("name").and_then(Value::as_str)?;
    let tool = name.strip_prefix("Install ")?.split_whitespace().next()?;
    let run = step.get("run").and_then(Value::as_str)?;
    run.contains("sha256sum --check").then(|| tool.to_string())
}

/// Every command of `workflow`'s `run:` steps that is neither a builtin, nor on `image`, nor
/// installed by an earlier step of its job: "job step: command".
fn missing_in_workflow(workflow: &Value, image: &BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    let jobs = workflow.get("jobs").and_then(Value::as_mapping).expect("jobs");
    for (id, job) in jobs {
        let id = id.as_str().unwrap();
        let runs_on = job.get("runs-on").and_then(Value::as_str);
        assert_eq!(runs_on, Some("ubuntu-latest"), "job {id}: the list covers ubuntu-latest only");
        let mut installed: BTreeSet<String> = BTreeSet::new();
        for (n, step) in job.get("steps").and_then(Value::as_sequence).into_iter().flatten().enumerate() {
            let Some(run) = step.get("run").and_then(Value::as_str) else { continue };
            for command in commands(run) {
                if !BUILTINS.contains(&command.as_str()) && !image.contains(&command) && !installed.contains(&command) {
                    out.push(format!("job {id} step {n}: {command}"));
                }
            }
            installed.extend(installs(step));
        }
    }
    out
}

fn workflows(model: &Model) -> Vec<(String, Value)> {
    workflow::workflows(model)
        .unwrap()
        .into_iter()
        .map(|(path, text)| (path.display().to_string(), serde_norway::from_str(&text).unwrap()))
        .collect()
}

#[test]
fn the_command_reader_finds_first_words_and_respects_quotes() {
    let script = r#"
# a comment | with a pipe
if digest="$(aws ecr describe-images --query 'imageDetails[0].imageDigest' 2>/dev/null)"; then
  echo "::notice::already $digest"
else
  docker push "$IMAGE" && digest="$(docker inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$IMAGE" \
    | grep -m1 "^$REPO@" | cut -d@ -f2)"
fi
test -n "$digest" || exit 1
for i in $(seq 30); do curl -fsS "$URL" > /dev/null && break; sleep 2; done
(cd "$DIR" && eval "$TESTS")
kubectl port-forward svc/x 8080:80 > log 2>&1 &
TAG="$X" make build
kubectl argo rollouts status x
"#;
    assert_eq!(
        commands(script),
        [
            "aws",
            "echo",
            "docker",
            "docker",
            "grep",
            "cut",
            "fi",
            "test",
            "exit",
            "seq",
            "curl",
            "break",
            "sleep",
            "done",
            "cd",
            "eval",
            "kubectl",
            "make",
            "kubectl-argo-rollouts",
            "kubectl",
        ]
    );
}

#[test]
fn every_workflow_command_is_on_the_runner_or_installed_earlier() {
    let image = &runner_images()["ubuntu-latest"];
    let mut model = shop();
    let unpinned = workflows(&model);
    // With a pinned checksum the install step differs (no checksum download): check both forms.
    model.platform.glidepath_sha256 = Some("0".repeat(64));
    let pinned = workflows(&model);
    assert!(!unpinned.is_empty());
    for (path, wf) in unpinned.iter().chain(&pinned) {
        let missing = missing_in_workflow(wf, image);
        assert!(missing.is_empty(), "{path}: commands nothing provides:\n{}", missing.join("\n"));
    }
    let text: String = pinned.iter().map(|(_, wf)| serde_norway::to_string(wf).unwrap()).collect();
    assert!(text.contains("GLIDEPATH_SHA256: '0000"), "the pinned checksum is rendered");
}

#[test]
fn each_job_that_runs_glidepath_installs_the_pinned_release_first() {
    let mut model = shop();
    model.platform.glidepath_release = Some("https://artifacts.example.com/glidepath/{version}/glidepath".into());
    model.platform.glidepath_sha256 = Some("ab".repeat(32));
    let version = env!("CARGO_PKG_VERSION");
    for (path, wf) in workflows(&model) {
        for (id, job) in wf["jobs"].as_mapping().unwrap() {
            let steps = job["steps"].as_sequence().unwrap();
            let runs = |s: &Value| {
                s.get("run").and_then(Value::as_str).is_some_and(|r| commands(r).contains(&"glidepath".into()))
            };
            let Some(first_use) = steps.iter().position(runs) else { continue };
            let install = steps[..first_use]
                .iter()
                .find(|s| installs(s).as_deref() == Some("glidepath"))
                .unwrap_or_else(|| panic!("{path} job {id:?}: runs glidepath without installing it first"));
            let env = &install["env"];
            assert_eq!(
                env["GLIDEPATH_URL"].as_str(),
                Some(format!("https://artifacts.example.com/glidepath/{version}/glidepath").as_str())
            );
            assert_eq!(env["GLIDEPATH_SHA256"].as_str(), Some("ab".repeat(32).as_str()), "{path} {id:?}");
            let run = install["run"].as_str().unwrap();
            let check = run.find("sha256sum --check --strict").expect("verifies");
            assert!(check < run.find("chmod 0755").unwrap() && check < run.find("GITHUB_PATH").unwrap(), "{run}");
            assert!(!run.contains(".sha256"), "a pinned checksum is not downloaded: {run}");
        }
    }
}

#[test]
fn a_job_running_a_tool_nobody_installed_is_caught() {
    let image = &runner_images()["ubuntu-latest"];
    let model = shop();
    let (path, mut wf) = workflows(&model).remove(0);
    let job = wf["jobs"].as_mapping_mut().unwrap().get_mut("deploy-dev").unwrap();
    let steps = job["steps"].as_sequence_mut().unwrap();
    // Without its install step, glidepath is run by nothing that provides it.
    steps.retain(|s| installs(s).is_none());
    let missing = missing_in_workflow(&wf, image);
    assert!(
        missing.iter().any(|m| m.starts_with("job deploy-dev") && m.ends_with(": glidepath")),
        "{path}: {missing:?}"
    );
    // An install step that does not check the checksum does not count.
    let (_, mut wf) = workflows(&model).remove(0);
    let job = wf["jobs"].as_mapping_mut().unwrap().get_mut("deploy-dev").unwrap();
    for step in job["steps"].as_sequence_mut().unwrap() {
        if installs(step).is_some() {
            let run = step["run"].as_str().unwrap().replace("sha256sum --check --strict -", "cat >/dev/null");
            step["run"] = Value::String(run);
        }
    }
    assert!(missing_in_workflow(&wf, image).iter().any(|m| m.ends_with(": glidepath")));
}

/// The deployer image's commands: its base's (the list) and the tools the Dockerfile puts in it.
fn deployer_commands() -> BTreeSet<String> {
    let dockerfile = fs::read_to_string(Path::new(ROOT).join("scripts/deployer.Dockerfile")).unwrap();
    let mut out = runner_images()["deployer-base"].clone();
    for line in dockerfile.lines() {
        if let Some(rest) = line.strip_prefix("COPY --from=tools ") {
            out.extend(rest.split_whitespace().filter_map(|p| p.strip_prefix("/out/")).map(String::from));
        }
    }
    if dockerfile.contains("sha256sum --check --strict -") && dockerfile.contains("--output /usr/local/bin/glidepath") {
        out.insert("glidepath".into());
    }
    out
}

#[test]
fn every_buildspec_command_is_on_its_image_or_installed_by_its_install_phase() {
    let model = shop();
    let images = runner_images();
    let deployer = deployer_commands();
    let mut checked = 0;
    for resource in render::render(&model).unwrap().resources.values() {
        let Resource::Aws(AwsResource::CodebuildProject(project)) = resource else { continue };
        let (image, mut installed) = if project.image == pipeline::BUILD_IMAGE {
            (&images["codebuild-standard-5.0"], BTreeSet::new())
        } else {
            assert_eq!(Some(&project.image), model.platform.pipeline_image.as_ref(), "{}", project.name);
            (&deployer, BTreeSet::new())
        };
        for phase in ["install", "pre_build", "build", "post_build"] {
            for command in project.buildspec["phases"][phase]["commands"].as_array().into_iter().flatten() {
                let command = command.as_str().unwrap();
                for word in commands(command) {
                    assert!(
                        BUILTINS.contains(&word.as_str()) || image.contains(&word) || installed.contains(&word),
                        "{} {phase}: `{word}` is on neither its image nor installed earlier: {command}",
                        project.name
                    );
                }
                // The build project's install phase: pinned PyPI packages, and Trivy's installer
                // from its pinned tag (it checks the release's checksums file).
                if phase == "install" {
                    for tool in ["semgrep", "checkov"] {
                        if command.contains(&format!("\"{tool}==$")) {
                            installed.insert(tool.to_string());
                        }
                    }
                    if command.contains("aquasecurity/trivy/v$TRIVY_VERSION/contrib/install.sh") {
                        installed.insert("trivy".to_string());
                    }
                }
            }
        }
        checked += 1;
    }
    assert!(checked >= 4, "the example renders build, integration, load-test and deploy projects");
}

#[test]
fn the_deployer_image_builds_the_pinned_versions_of_the_pin_table() {
    let dockerfile = fs::read_to_string(Path::new(ROOT).join("scripts/deployer.Dockerfile")).unwrap();
    let script = fs::read_to_string(Path::new(ROOT).join("scripts/deployer-tools")).unwrap();
    let table = tools::table();
    let arg = |name: &str| -> String {
        dockerfile
            .lines()
            .find_map(|l| l.strip_prefix(&format!("ARG {name}=")))
            .unwrap_or_else(|| panic!("scripts/deployer.Dockerfile has no `ARG {name}=`"))
            .to_string()
    };
    for (tool, variable) in
        [("kubectl", "KUBECTL_VERSION"), ("kubectl-argo-rollouts", "ROLLOUTS_VERSION"), ("k6", "K6_VERSION")]
    {
        let pinned = &table.go[tool];
        assert_eq!(arg(variable), pinned.version, "{tool}: the Dockerfile and templates/tools.yaml disagree");
        assert!(script.contains(&pinned.module), "scripts/deployer-tools does not build {tool} from {}", pinned.module);
        assert!(deployer_commands().contains(tool), "the image does not carry {tool}");
    }
    assert_eq!(table.go.len(), 3, "a tool added to the table's `go` list must be built into the image too");
    // The deployer image installs glidepath the way the workflows do: the URL and sha256 the
    // platform names, refused on a mismatch.
    for line in ["ARG GLIDEPATH_URL", "ARG GLIDEPATH_SHA256", "sha256sum --check --strict -"] {
        assert!(dockerfile.contains(line), "scripts/deployer.Dockerfile lacks {line:?}");
    }
    // The build project's scanners come from the same table.
    let model = shop();
    let build = render::render(&model)
        .unwrap()
        .resources
        .into_values()
        .find_map(|r| match r {
            Resource::Aws(AwsResource::CodebuildProject(p)) if p.image == pipeline::BUILD_IMAGE => Some(p),
            _ => None,
        })
        .unwrap();
    for (tool, variable) in [("semgrep", "SEMGREP_VERSION"), ("checkov", "CHECKOV_VERSION"), ("trivy", "TRIVY_VERSION")]
    {
        assert_eq!(build.buildspec["env"]["variables"][variable].as_str(), Some(tools::build_tool(tool)));
    }
}

#[test]
fn every_action_a_workflow_uses_is_the_commit_the_pin_table_names() {
    let table = tools::table();
    let mut used = BTreeSet::new();
    for (path, wf) in workflows(&shop()) {
        for (id, job) in wf["jobs"].as_mapping().unwrap() {
            for step in job["steps"].as_sequence().unwrap() {
                let Some(uses) = step.get("uses").and_then(Value::as_str) else { continue };
                let (name, reference) = uses.split_once('@').unwrap_or_else(|| panic!("{path} {id:?}: {uses}"));
                let pinned =
                    table.actions.get(name).unwrap_or_else(|| panic!("{path} {id:?}: {name} is not in the pin table"));
                assert_eq!(reference, pinned.sha, "{path} {id:?}: {name}");
                used.insert(name.to_string());
            }
        }
    }
    let listed: BTreeSet<String> = table.actions.keys().cloned().collect();
    assert_eq!(used, listed, "the pin table lists exactly the actions the workflows use");
}
