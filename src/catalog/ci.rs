//! Decodes a service's `ci` block: which CI system delivers it (GitHub Actions or CodePipeline),
//! who the GitHub Actions role trusts, where the pipeline takes the code from and what it runs.

use super::build::Context;
use super::decode::{closest, Fields, Spanned};
use super::model::{Ci, CiSource, CiSystem, CiTrust};
use super::problem::{Problem, Problems};
use super::schema::table;
use super::tree::Node;
use crate::rules;

pub const DEFAULT_UNIT_TESTS: &str = "make test";
pub const DEFAULT_INTEGRATION_TESTS: &str = "make integration-test";
pub const DEFAULT_LOAD_TEST: &str = "load/k6.js";

/// The `ci` block of a service (or its defaults when there is none).
pub fn decode_ci(
    node: Option<&Node>,
    service: &Spanned<String>,
    context: &str,
    ctx: &Context,
    problems: &mut Problems,
) -> Option<Ci> {
    let default_path = format!("services/{}", service.value);
    let Some(node) = node else {
        return Some(Ci {
            system: CiSystem::GithubActions,
            trust: CiTrust::Branch(super::model::DEFAULT_BRANCH.into()),
            source: CiSource::Github,
            path: default_path,
            shared_paths: Vec::new(),
            unit_tests: DEFAULT_UNIT_TESTS.into(),
            integration_tests: DEFAULT_INTEGRATION_TESTS.into(),
            load_test: DEFAULT_LOAD_TEST.into(),
        });
    };
    let mut c = Fields::of(node, &table::CI, format!("`ci` of {context}"), problems)?;
    let system = c.string("system", problems);
    let trust = c.string("trust", problems);
    let branch = c.string("branch", problems);
    let source = c.string("source", problems);
    let path = c.string("path", problems);
    let shared_paths = c.strings("shared_paths", problems);
    let unit_tests = command(&mut c, "unit_tests", DEFAULT_UNIT_TESTS, problems);
    let integration_tests = command(&mut c, "integration_tests", DEFAULT_INTEGRATION_TESTS, problems);
    let load_test = command(&mut c, "load_test", DEFAULT_LOAD_TEST, problems);
    c.finish(problems);

    let system_kind = match system.as_ref() {
        None => Some(CiSystem::GithubActions),
        Some(s) => one_of(
            s,
            &[("github_actions", CiSystem::GithubActions), ("codepipeline", CiSystem::Codepipeline)],
            "CI system",
            "use \"github_actions\" (a workflow per service) or \"codepipeline\" (AWS CodePipeline + CodeBuild)",
            problems,
        ),
    };
    let trust_kind = decode_trust(trust.as_ref(), branch.as_ref(), problems);
    let source_kind = match source.as_ref() {
        None => Some(CiSource::Github),
        Some(s) => one_of(
            s,
            &[("github", CiSource::Github), ("codecommit", CiSource::Codecommit)],
            "pipeline source",
            "use \"github\" (through the platform's codestar_connection) or \"codecommit\"",
            problems,
        ),
    };
    let repository_per_service = path.as_ref().is_some_and(|p| p.value.trim_end_matches('/') == ".");
    let path = match path {
        None => Some(default_path),
        Some(p) => check_path(p, problems),
    };
    let shared_paths: Option<Vec<String>> = shared_paths
        .unwrap_or_default()
        .into_iter()
        .map(|shared| {
            if repository_per_service || shared.value.trim_end_matches('/') == "." {
                problems.push(
                    Problem::new(rules::MALFORMED_VALUE, &shared.span, "a shared path needs a monorepo")
                        .label("has no effect")
                        .help("with `path = \".\"` every push builds already; otherwise name a directory such as \"libs/common\""),
                );
                return None;
            }
            check_path(shared, problems)
        })
        .collect();

    let system_kind = system_kind?;
    if system_kind == CiSystem::Codepipeline {
        let at = system.as_ref().expect("codepipeline is only chosen by writing `system`");
        check_pipeline(at, trust.as_ref(), source_kind, ctx, context, problems);
    } else if let Some(s) = &source {
        problems.push(
            Problem::new(rules::MALFORMED_VALUE, &s.span, "`source` has no effect with GitHub Actions")
                .label("ignored")
                .help("remove `source`, or set `system = \"codepipeline\"` to build in AWS from that source"),
        );
    }
    Some(Ci {
        system: system_kind,
        trust: trust_kind?,
        source: source_kind?,
        path: path?,
        shared_paths: shared_paths?,
        unit_tests: unit_tests?,
        integration_tests: integration_tests?,
        load_test: load_test?,
    })
}

/// A string that must be one of a few keywords.
fn one_of<T: Copy>(
    value: &Spanned<String>,
    choices: &[(&'static str, T)],
    what: &str,
    help: &str,
    problems: &mut Problems,
) -> Option<T> {
    if let Some((_, kind)) = choices.iter().find(|(name, _)| *name == value.value) {
        return Some(*kind);
    }
    let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
    problems.push(
        Problem::new(rules::MALFORMED_VALUE, &value.span, format!("`{}` is not a {what}", value.value)).help(
            match closest(&value.value, &names) {
                Some(k) => format!("did you mean \"{k}\"?"),
                None => help.to_string(),
            },
        ),
    );
    None
}

fn decode_trust(
    trust: Option<&Spanned<String>>,
    branch: Option<&Spanned<String>>,
    problems: &mut Problems,
) -> Option<CiTrust> {
    if let Some(b) = branch {
        if b.value.is_empty() || b.value.contains('*') || b.value.contains(' ') {
            problems.push(
                Problem::new(
                    rules::MALFORMED_VALUE,
                    &b.span,
                    format!("branch `{}` is not a single branch name", b.value),
                )
                .help("name one branch, e.g. \"main\"; wildcards would let any branch deploy"),
            );
            return None;
        }
    }
    if let (Some(t), Some(b)) = (trust, branch) {
        if t.value == "environment" {
            problems.push(
                Problem::new(rules::MALFORMED_VALUE, &b.span, "`branch` has no effect with `trust = \"environment\"`")
                    .label("ignored")
                    .help("remove `branch`, or use `trust = \"branch\"` to trust pushes to that branch"),
            );
            return None;
        }
    }
    match trust.map(|t| t.value.as_str()) {
        None | Some("branch") => Some(CiTrust::Branch(
            branch.map(|b| b.value.clone()).unwrap_or_else(|| super::model::DEFAULT_BRANCH.into()),
        )),
        Some("environment") => Some(CiTrust::Environment),
        Some(other) => {
            let t = trust.expect("matched Some");
            problems.push(
                Problem::new(rules::MALFORMED_VALUE, &t.span, format!("`{other}` is not a CI trust mode")).help(
                    match closest(other, &["branch", "environment"]) {
                        Some(k) => format!("did you mean \"{k}\"?"),
                        None => {
                            "use \"branch\" (ref:refs/heads/BRANCH) or \"environment\" (GitHub environments)".into()
                        }
                    },
                ),
            );
            None
        }
    }
}

/// What a CodePipeline needs that GitHub Actions does not: a connection for GitHub sources, an
/// image for the deploy and test projects, and a branch (GitHub environments do not exist there).
fn check_pipeline(
    system: &Spanned<String>,
    trust: Option<&Spanned<String>>,
    source: Option<CiSource>,
    ctx: &Context,
    context: &str,
    problems: &mut Problems,
) {
    if let Some(t) = trust.filter(|t| t.value == "environment") {
        problems.push(
            Problem::new(
                rules::MALFORMED_VALUE,
                &t.span,
                "`trust = \"environment\"` names GitHub environments, which a CodePipeline does not have",
            )
            .label("GitHub Actions only")
            .help("remove `trust` (the pipeline builds `branch`); approval environments get a manual approval action"),
        );
    }
    if source == Some(CiSource::Github) && ctx.platform.codestar_connection.is_none() {
        problems.push(
            Problem::new(
                rules::MISSING_FIELD,
                &system.span,
                format!("{context} builds from GitHub in CodePipeline, but the platform has no `codestar_connection`"),
            )
            .label("needs a connection to GitHub")
            .help("add `codestar_connection = \"arn:aws:codestar-connections:REGION:ACCOUNT:connection/ID\"` to `platform`, or set `source = \"codecommit\"`"),
        );
    }
    if ctx.platform.pipeline_image.is_none() {
        problems.push(
            Problem::new(
                rules::MISSING_FIELD,
                &system.span,
                format!("{context} uses CodePipeline, but the platform has no `pipeline_image`"),
            )
            .label("deploy and test projects need an image")
            .help("add `pipeline_image = \"…\"` to `platform`: an image with glidepath, kubectl, the Argo Rollouts kubectl plugin and k6"),
        );
    }
}

/// A directory inside the repository: relative, no `..`, no wildcards; `.` is the root.
fn check_path(path: Spanned<String>, problems: &mut Problems) -> Option<String> {
    let trimmed = path.value.trim_end_matches('/').to_string();
    let valid = !trimmed.is_empty()
        && !trimmed.starts_with('/')
        && trimmed.chars().all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c))
        && trimmed.split('/').all(|part| !part.is_empty() && part != ".." && (part != "." || trimmed == "."));
    if valid {
        return Some(trimmed);
    }
    problems.push(
        Problem::new(
            rules::MALFORMED_VALUE,
            &path.span,
            format!("`{}` is not a directory inside the repository", path.value),
        )
        .label("expected a relative path")
        .help("write a relative directory such as \"services/cart\", or \".\" for a repository per service"),
    );
    None
}

/// A shell command (or script path) that must not be empty.
fn command(c: &mut Fields, name: &'static str, default: &str, problems: &mut Problems) -> Option<String> {
    match c.string(name, problems) {
        None => Some(default.to_string()),
        Some(s) if !s.value.trim().is_empty() => Some(s.value),
        Some(s) => {
            problems.push(
                Problem::new(rules::MALFORMED_VALUE, &s.span, format!("`{name}` is empty"))
                    .help(format!("name what to run, e.g. \"{default}\"")),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::{Ci, CiSource, CiSystem, CiTrust};

    fn ci(path: &str) -> Ci {
        Ci {
            system: CiSystem::Codepipeline,
            trust: CiTrust::Environment,
            source: CiSource::Github,
            path: path.into(),
            shared_paths: vec!["libs/common".into()],
            unit_tests: String::new(),
            integration_tests: String::new(),
            load_test: String::new(),
        }
    }

    #[test]
    fn a_repository_per_service_has_no_path_filter() {
        assert_eq!(ci(".").path_filters(), None);
        assert_eq!(ci("services/cart").path_filters().unwrap(), ["services/cart/**", "libs/common/**"]);
        assert_eq!(ci(".").branch(), "main", "environment trust builds the default branch");
    }
}
