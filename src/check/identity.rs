//! Whether the OIDC token GitHub issues a workflow job is one the job's IAM role accepts: the
//! `sub` and `aud` claims by GitHub's documented rules, and the role's trust policy evaluated
//! against them the way STS does (for the condition operators glidepath's roles use). Pure: no
//! AWS and no GitHub, so `check` can prove a workflow will get credentials before it runs.
//!
//! GitHub's subject rules (docs.github.com, "About security hardening with OpenID Connect",
//! example subject claims): a job that references an environment gets
//! `repo:ORG/REPO:environment:NAME` whatever the event; otherwise a `pull_request` run gets
//! `repo:ORG/REPO:pull_request`, and a run for a branch or tag gets
//! `repo:ORG/REPO:ref:refs/heads/BRANCH` or `repo:ORG/REPO:ref:refs/tags/TAG`.

use std::fmt;

use serde_json::Value as Json;

/// The audience `aws-actions/configure-aws-credentials` requests unless its `audience` input says
/// otherwise.
pub const DEFAULT_AUDIENCE: &str = "sts.amazonaws.com";
const CONFIGURE_AWS_CREDENTIALS: &str = "aws-actions/configure-aws-credentials@";
const ASSUME_ACTION: &str = "sts:AssumeRoleWithWebIdentity";

/// The claims of a GitHub Actions OIDC token that trust policies test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub aud: String,
}

/// An event that runs a workflow's jobs on its own (no person picks the ref), as far as the
/// token subject goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    PushBranch(String),
    PushTag(String),
    PullRequest,
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::PushBranch(b) => write!(f, "a push to branch {b}"),
            Trigger::PushTag(t) => write!(f, "a push of tag {t}"),
            Trigger::PullRequest => f.write_str("a pull request"),
        }
    }
}

/// The `sub` GitHub issues a job of repository `repo` (`ORG/REPO`) run by `trigger`.
pub fn subject(repo: &str, environment: Option<&str>, trigger: &Trigger) -> String {
    match (environment, trigger) {
        (Some(env), _) => format!("repo:{repo}:environment:{env}"),
        (None, Trigger::PushBranch(branch)) => format!("repo:{repo}:ref:refs/heads/{branch}"),
        (None, Trigger::PushTag(tag)) => format!("repo:{repo}:ref:refs/tags/{tag}"),
        (None, Trigger::PullRequest) => format!("repo:{repo}:pull_request"),
    }
}

/// The events of a workflow's `on:` that start its jobs automatically. `workflow_dispatch` runs on
/// whatever ref the person dispatching picks (a role trusting one branch is meant to refuse the
/// others), and `schedule` on the default branch, which a push trigger already covers here; both
/// are left out. `pull_request_target` runs with the base branch's context and is left out too.
pub fn triggers(workflow: &Json) -> Vec<Trigger> {
    let Some(on) = get(workflow, "on") else { return Vec::new() };
    let events: Vec<(String, Option<&Json>)> = match on {
        Json::String(event) => vec![(event.clone(), None)],
        Json::Array(events) => events.iter().filter_map(Json::as_str).map(|e| (e.to_string(), None)).collect(),
        Json::Object(map) => map.iter().map(|(k, v)| (k.to_string(), Some(v))).collect(),
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    for (event, filters) in events {
        match event.as_str() {
            "push" => {
                let list = |name: &str| -> Vec<String> {
                    filters
                        .and_then(|f| get(f, name))
                        .and_then(Json::as_array)
                        .map(|items| items.iter().filter_map(Json::as_str).map(String::from).collect())
                        .unwrap_or_default()
                };
                out.extend(list("branches").into_iter().map(Trigger::PushBranch));
                out.extend(list("tags").into_iter().map(Trigger::PushTag));
            }
            "pull_request" => out.push(Trigger::PullRequest),
            _ => {}
        }
    }
    out
}

/// A job that assumes an IAM role with `configure-aws-credentials` over OIDC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleJob {
    pub job: String,
    /// The GitHub environment the job runs in, if any.
    pub environment: Option<String>,
    pub role_arn: String,
    pub audience: String,
}

/// Every job of `workflow` that assumes a role, in the workflow's order.
pub fn role_jobs(workflow: &Json) -> Vec<RoleJob> {
    let Some(Json::Object(jobs)) = get(workflow, "jobs") else { return Vec::new() };
    let mut out = Vec::new();
    for (id, job) in jobs {
        let environment = match get(job, "environment") {
            Some(Json::String(name)) => Some(name.clone()),
            Some(other) => get(other, "name").and_then(Json::as_str).map(String::from),
            None => None,
        };
        let steps = get(job, "steps").and_then(Json::as_array).map(Vec::as_slice).unwrap_or(&[]);
        for step in steps {
            let uses = get(step, "uses").and_then(Json::as_str).unwrap_or_default();
            if !uses.starts_with(CONFIGURE_AWS_CREDENTIALS) {
                continue;
            }
            let with = get(step, "with");
            let input = |name: &str| with.and_then(|w| get(w, name)).and_then(Json::as_str).map(String::from);
            let Some(role_arn) = input("role-to-assume") else { continue };
            out.push(RoleJob {
                job: id.to_string(),
                environment: environment.clone(),
                role_arn,
                audience: input("audience").unwrap_or_else(|| DEFAULT_AUDIENCE.to_string()),
            });
        }
    }
    out
}

/// Why a trust policy refuses a token: the condition it does not meet, readable on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection(pub String);

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `trust` (an IAM trust policy document) lets a token with `claims`, issued by
/// `issuer_host` (`token.actions.githubusercontent.com`), assume the role: some `Allow` statement
/// for `sts:AssumeRoleWithWebIdentity` from that federated provider whose every condition holds,
/// and no such `Deny`. Conditions: `StringEquals` and `StringLike` (`*` any run of characters,
/// `?` one) on `HOST:aud` and `HOST:sub`, all keys of all operators must hold, and a list value
/// holds when any of its entries does. Anything else (another operator, another claim) cannot
/// be evaluated and counts as unmet, so the check errs towards a failure a human reads.
pub fn evaluate(trust: &Json, issuer_host: &str, claims: &Claims) -> Result<(), Rejection> {
    let statements: Vec<&Json> = match &trust["Statement"] {
        Json::Array(items) => items.iter().collect(),
        Json::Object(_) => vec![&trust["Statement"]],
        _ => Vec::new(),
    };
    let applies = |s: &Json| {
        strings(&s["Action"]).iter().any(|a| a == ASSUME_ACTION || a == "sts:*" || a == "*")
            && strings(&s["Principal"]["Federated"]).iter().any(|p| p.ends_with(issuer_host))
    };
    let applying: Vec<&Json> = statements.into_iter().filter(|s| applies(s)).collect();
    for statement in applying.iter().filter(|s| s["Effect"] == "Deny") {
        if conditions_hold(&statement["Condition"], issuer_host, claims).is_ok() {
            return Err(Rejection(format!("a Deny statement matches ({})", statement["Condition"])));
        }
    }
    let mut first_unmet = None;
    for statement in applying.iter().filter(|s| s["Effect"] == "Allow") {
        match conditions_hold(&statement["Condition"], issuer_host, claims) {
            Ok(()) => return Ok(()),
            Err(unmet) => {
                first_unmet.get_or_insert(unmet);
            }
        }
    }
    Err(first_unmet.unwrap_or_else(|| {
        Rejection(format!("no Allow statement grants {ASSUME_ACTION} to the federated provider {issuer_host}"))
    }))
}

fn conditions_hold(conditions: &Json, host: &str, claims: &Claims) -> Result<(), Rejection> {
    let Some(operators) = conditions.as_object() else {
        // No conditions: any token of the provider, which the wildcard-trust rule reports.
        return Ok(());
    };
    for (operator, keys) in operators {
        let matches: fn(&str, &str) -> bool = match operator.as_str() {
            "StringEquals" => |pattern, value| pattern == value,
            "StringLike" => glob_matches,
            other => return Err(Rejection(format!("condition operator {other} cannot be evaluated"))),
        };
        for (key, allowed) in keys.as_object().into_iter().flatten() {
            let value = match key.strip_prefix(host).and_then(|k| k.strip_prefix(':')) {
                Some("sub") => &claims.sub,
                Some("aud") => &claims.aud,
                _ => return Err(Rejection(format!("{operator} {key} cannot be evaluated"))),
            };
            let allowed = strings(allowed);
            if !allowed.iter().any(|pattern| matches(pattern, value)) {
                let wanted = match allowed.as_slice() {
                    [] => "a value from an empty list (no token can match)".to_string(),
                    [one] => format!("`{one}`"),
                    many => format!("one of {}", many.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")),
                };
                return Err(Rejection(format!("{operator} {key} requires {wanted}")));
            }
        }
    }
    Ok(())
}

/// IAM's `StringLike`: `*` matches any run of characters (none too), `?` exactly one; case
/// sensitive, like `StringEquals`.
pub fn glob_matches(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    // Iterative matching with one backtrack point (the last `*`): linear for these short strings.
    let (mut pi, mut vi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, vi));
            pi += 1;
        } else if let Some((sp, sv)) = star {
            pi = sp + 1;
            vi = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

fn strings(value: &Json) -> Vec<String> {
    match value {
        Json::String(s) => vec![s.clone()],
        Json::Array(items) => items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

/// A workflow is read as `render::workflow::document` gives it: JSON, with string keys only.
fn get<'a>(map: &'a Json, name: &str) -> Option<&'a Json> {
    map.as_object().and_then(|m| m.get(name))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const HOST: &str = "token.actions.githubusercontent.com";

    fn claims(sub: &str) -> Claims {
        Claims { sub: sub.into(), aud: DEFAULT_AUDIENCE.into() }
    }

    fn trust(condition: Json) -> Json {
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": { "Federated": format!("arn:aws:iam::123456789012:oidc-provider/{HOST}") },
                "Action": ASSUME_ACTION,
                "Condition": condition,
            }]
        })
    }

    #[test]
    fn subjects_follow_githubs_rules() {
        let push = Trigger::PushBranch("main".into());
        assert_eq!(subject("acme/api", None, &push), "repo:acme/api:ref:refs/heads/main");
        assert_eq!(subject("acme/api", Some("prod"), &push), "repo:acme/api:environment:prod");
        assert_eq!(subject("acme/api", None, &Trigger::PushTag("v1.2.0".into())), "repo:acme/api:ref:refs/tags/v1.2.0");
        assert_eq!(subject("acme/api", None, &Trigger::PullRequest), "repo:acme/api:pull_request");
        // The environment wins over the event, pull requests included.
        assert_eq!(subject("acme/api", Some("dev"), &Trigger::PullRequest), "repo:acme/api:environment:dev");
    }

    #[test]
    fn triggers_of_the_on_forms() {
        let wf = |text: &str| crate::render::workflow::document(text).unwrap();
        assert_eq!(
            triggers(&wf("on:\n  push:\n    branches: [main]\n    tags: ['v*']\n  workflow_dispatch: {}\n")),
            [Trigger::PushBranch("main".into()), Trigger::PushTag("v*".into())]
        );
        assert_eq!(triggers(&wf("on: pull_request\n")), [Trigger::PullRequest]);
        assert_eq!(triggers(&wf("on: [pull_request, workflow_dispatch]\n")), [Trigger::PullRequest]);
        assert!(triggers(&wf("on: workflow_dispatch\n")).is_empty());
        // Rendered workflows quote `on` (a YAML 1.1 reader takes it for `true`).
        assert_eq!(
            triggers(&wf("\"on\":\n  push:\n    branches: [release]\n")),
            [Trigger::PushBranch("release".into())]
        );
    }

    #[test]
    fn role_jobs_read_environment_role_and_audience() {
        let wf: Json = crate::render::workflow::document(
            r#"
jobs:
  build:
    steps:
      - uses: actions/checkout@x
      - uses: aws-actions/configure-aws-credentials@abc
        with: { role-to-assume: "arn:aws:iam::1:role/ci" }
  deploy:
    environment: { name: prod, url: "https://x" }
    steps:
      - uses: aws-actions/configure-aws-credentials@abc
        with: { role-to-assume: "arn:aws:iam::1:role/ci", audience: custom }
  lint:
    steps:
      - run: make lint
"#,
        )
        .unwrap();
        assert_eq!(
            role_jobs(&wf),
            [
                RoleJob {
                    job: "build".into(),
                    environment: None,
                    role_arn: "arn:aws:iam::1:role/ci".into(),
                    audience: DEFAULT_AUDIENCE.into()
                },
                RoleJob {
                    job: "deploy".into(),
                    environment: Some("prod".into()),
                    role_arn: "arn:aws:iam::1:role/ci".into(),
                    audience: "custom".into()
                },
            ]
        );
    }

    #[test]
    fn string_equals_on_sub_and_aud_with_any_of_lists() {
        let policy = trust(json!({ "StringEquals": {
            format!("{HOST}:aud"): DEFAULT_AUDIENCE,
            format!("{HOST}:sub"): ["repo:acme/api:environment:dev", "repo:acme/api:environment:prod"],
        }}));
        assert_eq!(evaluate(&policy, HOST, &claims("repo:acme/api:environment:prod")), Ok(()));
        let refused = evaluate(&policy, HOST, &claims("repo:acme/api:ref:refs/heads/main")).unwrap_err();
        assert_eq!(
            refused.0,
            format!("StringEquals {HOST}:sub requires one of `repo:acme/api:environment:dev`, `repo:acme/api:environment:prod`")
        );
        // Case matters, as in IAM.
        assert!(evaluate(&policy, HOST, &claims("repo:acme/api:environment:Prod")).is_err());
        // The audience is held too.
        let wrong_aud =
            Claims { sub: "repo:acme/api:environment:dev".into(), aud: "api://AzureADTokenExchange".into() };
        assert_eq!(
            evaluate(&policy, HOST, &wrong_aud).unwrap_err().0,
            format!("StringEquals {HOST}:aud requires `sts.amazonaws.com`")
        );
    }

    #[test]
    fn string_like_wildcards() {
        let policy = trust(json!({
            "StringEquals": { format!("{HOST}:aud"): DEFAULT_AUDIENCE },
            "StringLike": { format!("{HOST}:sub"): "repo:acme/api:ref:refs/heads/release-?.*" },
        }));
        assert_eq!(evaluate(&policy, HOST, &claims("repo:acme/api:ref:refs/heads/release-1.20")), Ok(()));
        assert!(evaluate(&policy, HOST, &claims("repo:acme/api:ref:refs/heads/release-12.0")).is_err());
        assert!(glob_matches("repo:acme/*", "repo:acme/"));
        assert!(glob_matches("*", ""));
        assert!(glob_matches("a*b*c", "aXbYbZc"));
        assert!(!glob_matches("a*b", "aXbc"));
        assert!(!glob_matches("a?", "a"));
    }

    #[test]
    fn other_providers_operators_and_denials_do_not_accept() {
        let accepted = json!({ "StringEquals": { format!("{HOST}:sub"): "repo:acme/api:pull_request" } });
        let mut other_provider = trust(accepted.clone());
        other_provider["Statement"][0]["Principal"]["Federated"] = json!("arn:aws:iam::1:oidc-provider/gitlab.com");
        assert!(evaluate(&other_provider, HOST, &claims("repo:acme/api:pull_request"))
            .unwrap_err()
            .0
            .starts_with("no Allow statement"));
        let unknown = trust(json!({ "ForAnyValue:StringLike": { format!("{HOST}:sub"): "*" } }));
        assert!(evaluate(&unknown, HOST, &claims("x")).unwrap_err().0.contains("cannot be evaluated"));
        let other_claim = trust(json!({ "StringEquals": { format!("{HOST}:repository_owner"): "acme" } }));
        assert!(evaluate(&other_claim, HOST, &claims("x")).unwrap_err().0.contains("cannot be evaluated"));
        let mut denied = trust(accepted.clone());
        let mut deny = denied["Statement"][0].clone();
        deny["Effect"] = json!("Deny");
        denied["Statement"].as_array_mut().unwrap().push(deny);
        assert!(evaluate(&denied, HOST, &claims("repo:acme/api:pull_request")).unwrap_err().0.contains("Deny"));
        // One accepting statement among several is enough.
        let mut two = trust(json!({ "StringEquals": { format!("{HOST}:sub"): "nope" } }));
        let second = trust(accepted)["Statement"][0].clone();
        two["Statement"].as_array_mut().unwrap().push(second);
        assert_eq!(evaluate(&two, HOST, &claims("repo:acme/api:pull_request")), Ok(()));
    }
}
