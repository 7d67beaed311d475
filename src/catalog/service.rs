//! Decodes one `service` block (merged over its profile) into the model, checking every field.

use std::collections::BTreeMap;

use super::build::{unknown_reference, Context};
use super::ci::decode_ci;
use super::decode::{expect_int, expect_string, Fields, Spanned};
use super::delivery::{apply_hpa_bounds, decode_blue_green, decode_canary, decode_hpa, decode_pdb, decode_slo};
use super::model::{
    Ci, CiSource, CiSystem, EnvValue, Environment, GitRepo, Hpa, Migrations, Probes, Resources, Service, ServiceEnv,
    StrategyKind, Traffic,
};
use super::names::{self, is_dns_label, is_ecr_repository_name, EVENTS_RULE_NAME_MAX, IAM_ROLE_NAME_MAX};
use super::problem::{Problem, Problems};
use super::safety;
use super::schema::table;
use super::traffic;
use super::tree::{Node, Value};
use super::values::{parse_quantity, Duration, QuantityKind};
use super::workload;
use crate::rules;

pub const DEFAULT_SMOKE_IMAGE: &str = "curlimages/curl:8.10.1";

pub fn decode_service(name: Spanned<String>, node: &Node, ctx: &Context, problems: &mut Problems) -> Option<Service> {
    let context = format!("service \"{}\"", name.value);
    let (profile, merged) = apply_profile(&name, node, ctx, problems);
    let own_node = node;
    let node = merged.as_ref().unwrap_or(node);
    let mut f = Fields::of(node, &table::SERVICE, context.clone(), problems)?;
    let _ = f.node("use");

    check_derived_names(&name, ctx, problems);
    let repo = f.required_string("repo", &format!("repo = \"{}/{}\"", ctx.platform.github_org, name.value), problems);
    let repo = repo.and_then(|r| parse_repo(&r, &ctx.platform.github_org, problems));
    let team = f.required_string("team", "team = \"payments\"", problems);
    // The team becomes a label value, an AWS tag, an Argo CD group and a CODEOWNERS owner.
    let team = team.filter(|t| match super::text::label_value(&t.value) {
        Ok(()) if !t.value.is_empty() => true,
        outcome => {
            let reason = outcome.err().unwrap_or_else(|| "`team` cannot be empty".into());
            problems.push(
                Problem::new(rules::MALFORMED_VALUE, &t.span, format!("team {reason}"))
                    .label("not a label value")
                    .help("name the team with letters, digits, `-`, `_` and `.` (at most 63), e.g. \"payments\""),
            );
            false
        }
    });
    let tier = match f.int("tier", problems) {
        Some(t) if (1..=3).contains(&t.value) => t.value as u8,
        Some(t) => {
            problems.push(
                Problem::new(rules::OUT_OF_RANGE, &t.span, format!("tier {} does not exist", t.value))
                    .help("tiers are 1 (business critical), 2 (important) and 3 (best effort)"),
            );
            3
        }
        None => 3,
    };
    let ecr_repository = match f.string("ecr_repository", problems) {
        Some(repo) if is_ecr_repository_name(&repo.value) => Some(repo.value),
        Some(repo) => {
            problems.push(
                Problem::new(rules::INVALID_ECR_NAME, &repo.span, format!("`{}` is not a valid ECR repository name", repo.value))
                    .label("invalid ECR name")
                    .help("use 2–256 lower-case letters, digits and `.`, `_`, `-` between them, with `/` between path components, e.g. \"shop/payment-service\""),
            );
            None
        }
        None => Some(format!("{}/{}", ctx.platform.name, name.value)),
    };
    let port = match f.node("port") {
        Some(_) => f.int("port", problems).and_then(|p| port_number(&p, "port", problems)),
        None => {
            f.missing("port", "port = 8080", problems);
            None
        }
    };

    let environments = decode_environment_list(&mut f, ctx, problems);
    let per_env = decode_per_env(&mut f, &name.value, &context, ctx, &environments, problems);
    let resources = decode_resources(&mut f, &context, problems);
    let probes = decode_probes(&mut f, &context, &name, port, problems);
    let migrations = f.node("migrations").and_then(|n| decode_migrations(n, &context, problems));
    let canary = decode_canary(f.node("canary"), &context, problems);
    let blue_green = decode_blue_green(f.node("blue_green"), &context, probes.as_ref(), problems);
    let slo = decode_slo(f.node("slo"), &context, ctx, problems);
    let pdb = decode_pdb(f.node("pdb"), &context, problems);
    let hpa = decode_hpa(f.node("hpa"), &context, problems);
    let notify = decode_notify(&mut f, ctx, problems);
    let env_vars = decode_env_vars(f.node("env"), &context, problems);
    let ci = decode_ci(f.node("ci"), &name, &context, ctx, problems);
    let aws_policies = decode_policies(&mut f, problems);
    let limits = safety::decode_limits(f.node("limits"), own_node, &context, problems);
    let waivers = safety::decode_waivers(f.node("waivers"), &context, problems);
    let expected_rps = safety::decode_expected_rps(f.node("expected_rps"), &context, ctx, problems);
    let (security, relaxed) = workload::decode_security(f.node("security"), &context, problems);
    let spread = workload::decode_spread(f.node("spread"), &context, problems);
    let traffic_node = f.node("traffic");
    f.finish(problems);
    if let Some(ci) = ci.as_ref().filter(|c| c.system == CiSystem::Codepipeline) {
        check_pipeline_names(&name, ci, !notify.is_empty(), ctx, problems);
    }

    let mut per_env = per_env?;
    let envs: Vec<&Environment> = ctx.environments.iter().filter(|e| per_env.contains_key(&e.name)).collect();
    workload::check_against_standard(&relaxed, &envs, problems);
    let canary_in = per_env.iter().map(|(env, s)| (env.clone(), s.strategy == StrategyKind::Canary)).collect();
    for (env, routing) in
        traffic::decode_service_traffic(traffic_node, &name.value, &envs, &canary_in, &context, problems)
    {
        if let Some(settings) = per_env.get_mut(&env) {
            settings.traffic = routing;
        }
    }
    if let Some(hpa_node) = &hpa {
        apply_hpa_bounds(hpa_node, &mut per_env, &context, problems);
    }
    Some(Service {
        location: name.span.location(),
        name: name.value,
        profile,
        repo: repo?,
        team: team?.value,
        tier,
        ecr_repository: ecr_repository?,
        port: port?,
        environments,
        per_env,
        resources: resources?,
        probes: probes?,
        migrations,
        canary: canary?,
        blue_green: blue_green?,
        slo: slo?,
        pdb: pdb?,
        hpa: hpa.map(|h| Hpa { cpu_target: h.cpu_target }),
        notify,
        env_vars: env_vars?,
        ci: ci?,
        aws_policies,
        limits,
        waivers,
        expected_rps,
        security,
        spread,
    })
}

/// Merges the service over the profile it names. Returns the profile name and the merged tree.
fn apply_profile(
    name: &Spanned<String>,
    node: &Node,
    ctx: &Context,
    problems: &mut Problems,
) -> (Option<String>, Option<Node>) {
    let Some(entries) = node.entries() else { return (None, None) };
    let Some(use_entry) = entries.iter().rev().find(|e| e.key == "use") else { return (None, None) };
    let Some(profile) = expect_string(&use_entry.node, &format!("`use` in service \"{}\"", name.value), problems)
    else {
        return (None, None);
    };
    match ctx.profiles.get(&profile.value) {
        Some(base) => (Some(profile.value), Some(base.merged_with(node))),
        None => {
            let known = ctx.profiles.names();
            problems.push(unknown_reference(
                rules::UNKNOWN_PROFILE,
                "profile",
                &profile,
                &known,
                "profile \"NAME\" { … } in modules/NAME.hcl",
            ));
            (None, None)
        }
    }
}

/// Names derived from the service must fit AWS and Kubernetes limits.
fn check_derived_names(name: &Spanned<String>, ctx: &Context, problems: &mut Problems) {
    if !name.value.starts_with(|c: char| c.is_ascii_lowercase()) {
        problems.push(
            Problem::new(
                rules::INVALID_NAME,
                &name.span,
                format!("service name `{}` must start with a letter", name.value),
            )
            .help("Kubernetes Service names are DNS-1035 labels; prefix it with a word, e.g. `svc-…`"),
        );
    }
    let mut longest = names::ci_role(ctx.platform, &name.value);
    for env in ctx.environments {
        let irsa = names::irsa_role(ctx.platform, &env.name, &name.value);
        if irsa.len() > longest.len() {
            longest = irsa;
        }
    }
    if longest.len() > IAM_ROLE_NAME_MAX {
        problems.push(
            Problem::new(
                rules::NAME_TOO_LONG,
                &name.span,
                format!(
                    "service name `{}` makes IAM role name `{longest}` ({} characters; AWS allows {IAM_ROLE_NAME_MAX})",
                    name.value,
                    longest.len()
                ),
            )
            .help("shorten the service, environment or catalog name"),
        );
    }
    let preview = names::preview_service(&name.value);
    if preview.len() > names::DNS_LABEL_MAX {
        problems.push(
            Problem::new(
                rules::NAME_TOO_LONG,
                &name.span,
                format!("service name `{}` makes Kubernetes Service `{preview}` longer than 63 characters", name.value),
            )
            .help("shorten the service name to at most 55 characters"),
        );
    }
}

/// A CodePipeline service also gets names longer than its CI role: its CodeBuild role, the
/// EventBridge rule of its pipeline's events (when it notifies a route) and, from CodeCommit, the
/// rule and role that start it. The longest name over its limit is the one worth reporting.
fn check_pipeline_names(name: &Spanned<String>, ci: &Ci, notifies: bool, ctx: &Context, problems: &mut Problems) {
    let mut derived: Vec<(&str, String, usize)> =
        vec![("CodeBuild role", names::codebuild_role(ctx.platform, &name.value), IAM_ROLE_NAME_MAX)];
    if notifies {
        derived.push((
            "EventBridge rule",
            names::pipeline_events_rule(ctx.platform, &name.value),
            EVENTS_RULE_NAME_MAX,
        ));
    }
    if ci.source == CiSource::Codecommit {
        // The rule and its role share the name; both limits are 64, the lower one decides.
        derived.push((
            "source events rule and role",
            names::source_events(ctx.platform, &name.value),
            IAM_ROLE_NAME_MAX.min(EVENTS_RULE_NAME_MAX),
        ));
    }
    let Some((what, long, max)) =
        derived.into_iter().filter(|(_, long, max)| long.len() > *max).max_by_key(|(_, long, _)| long.len())
    else {
        return;
    };
    problems.push(
        Problem::new(
            rules::NAME_TOO_LONG,
            &name.span,
            format!(
                "service name `{}` makes the {what} name `{long}` ({} characters; AWS allows {max})",
                name.value,
                long.len()
            ),
        )
        .help("shorten the service or catalog name"),
    );
}

pub(super) fn parse_repo(repo: &Spanned<String>, default_owner: &str, problems: &mut Problems) -> Option<GitRepo> {
    let (owner, repo_name) = match repo.value.split_once('/') {
        Some((owner, name)) => (owner.to_string(), name.to_string()),
        None => (default_owner.to_string(), repo.value.clone()),
    };
    let valid_part = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !valid_part(&owner) || !valid_part(&repo_name) || repo_name.contains('/') {
        problems.push(
            Problem::new(
                rules::MALFORMED_VALUE,
                &repo.span,
                format!("`{}` is not a GitHub repository", repo.value),
            )
            .label("expected OWNER/NAME")
            .help(
                "write \"OWNER/NAME\" (or just \"NAME\" to use the platform's github_org); wildcards are not allowed",
            ),
        );
        return None;
    }
    Some(GitRepo { owner, name: repo_name })
}

fn port_number(value: &Spanned<i64>, field: &str, problems: &mut Problems) -> Option<u16> {
    if (1..=65535).contains(&value.value) {
        Some(value.value as u16)
    } else {
        problems.push(
            Problem::new(rules::OUT_OF_RANGE, &value.span, format!("`{field}` {} is not a TCP port", value.value))
                .help("use a port between 1 and 65535"),
        );
        None
    }
}

fn decode_environment_list(f: &mut Fields, ctx: &Context, problems: &mut Problems) -> Vec<String> {
    let all: Vec<String> = ctx.environments.iter().map(|e| e.name.clone()).collect();
    let Some(listed) = f.strings("environments", problems) else { return all };
    let known: Vec<&str> = all.iter().map(String::as_str).collect();
    for env in &listed {
        if !known.contains(&env.value.as_str()) {
            problems.push(unknown_reference(
                rules::UNKNOWN_ENVIRONMENT,
                "environment",
                env,
                &known,
                "environment \"NAME\" { … }",
            ));
        }
    }
    // Promotion order is the catalog's environment order, whatever order the list is in.
    all.into_iter().filter(|e| listed.iter().any(|l| &l.value == e)).collect()
}

/// A field written either once for every environment or as `{ default = …, prod = … }`.
fn per_env_field<T: Clone>(
    f: &mut Fields,
    field: &'static str,
    context: &str,
    ctx: &Context,
    problems: &mut Problems,
    decode_one: impl Fn(&Node, &str, &mut Problems) -> Option<T>,
) -> Option<BTreeMap<String, Spanned<T>>> {
    let node = f.node(field)?;
    let what = format!("`{field}` in {context}");
    let mut out = BTreeMap::new();
    // A value that failed to decode was reported; the field as a whole is then unusable.
    let mut failed = false;
    match &node.value {
        Value::Map(entries) => {
            let known: Vec<&str> = ctx.environments.iter().map(|e| e.name.as_str()).collect();
            let mut default = None;
            for entry in entries {
                let Some(value) = decode_one(&entry.node, &format!("`{field}.{}` in {context}", entry.key), problems)
                else {
                    failed = true;
                    continue;
                };
                if entry.key == "default" {
                    default = Some(Spanned::new(value, entry.node.span.clone()));
                } else if known.contains(&entry.key.as_str()) {
                    out.insert(entry.key.clone(), Spanned::new(value, entry.node.span.clone()));
                } else {
                    let key = Spanned::new(entry.key.clone(), entry.key_span.clone());
                    let mut with_default = known.clone();
                    with_default.push("default");
                    problems.push(unknown_reference(
                        rules::UNKNOWN_ENVIRONMENT,
                        "environment",
                        &key,
                        &with_default,
                        "environment \"NAME\" { … }",
                    ));
                }
            }
            if let Some(default) = default {
                for env in &known {
                    out.entry(env.to_string()).or_insert_with(|| default.clone());
                }
            }
        }
        _ => {
            let value = decode_one(node, &what, problems)?;
            for env in ctx.environments {
                out.insert(env.name.clone(), Spanned::new(value.clone(), node.span.clone()));
            }
        }
    }
    (!failed).then_some(out)
}

pub(super) fn decode_replicas(node: &Node, what: &str, problems: &mut Problems) -> Option<u32> {
    let value = expect_int(node, what, problems)?;
    if value.value < 1 || value.value > 10_000 {
        problems.push(
            Problem::new(
                rules::OUT_OF_RANGE,
                &value.span,
                format!("{what} is {}; a service needs at least 1 replica", value.value),
            )
            .label("replicas < 1")
            .help(
                "set replicas to 1 or more; to stop deploying somewhere, leave that environment out of `environments`",
            ),
        );
        return None;
    }
    Some(value.value as u32)
}

fn decode_image_tag(node: &Node, what: &str, problems: &mut Problems) -> Option<String> {
    let tag = expect_string(node, what, problems)?;
    // A digest pins the exact image: what `promote` writes to move a build between environments.
    if let Some(hex) = tag.value.strip_prefix("sha256:") {
        if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)) {
            return Some(tag.value);
        }
        problems.push(
            Problem::new(rules::MALFORMED_VALUE, &tag.span, format!("`{}` is not an image digest", tag.value))
                .help("a digest is sha256: followed by 64 lower-case hex digits"),
        );
        return None;
    }
    let valid = !tag.value.is_empty()
        && tag.value.len() <= 128
        && tag.value.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && !tag.value.starts_with(['.', '-']);
    if !valid {
        problems.push(
            Problem::new(rules::MALFORMED_VALUE, &tag.span, format!("`{}` is not a valid image tag", tag.value))
                .help("tags are up to 128 letters, digits, `_`, `.` and `-`, not starting with `.` or `-` (or a digest, sha256:…)"),
        );
        return None;
    }
    if tag.value == "latest" {
        problems.push(
            Problem::new(rules::MUTABLE_TAG, &tag.span, format!("{what} is `latest`")).label("mutable tag").help(
                "ECR repositories are IMMUTABLE and rollouts need a new tag per release: use a version or commit SHA",
            ),
        );
        return None;
    }
    Some(tag.value)
}

fn decode_strategy(node: &Node, what: &str, problems: &mut Problems) -> Option<StrategyKind> {
    let text = expect_string(node, what, problems)?;
    match StrategyKind::parse(&text.value) {
        Ok(kind) => Some(kind),
        Err(reason) => {
            problems.push(
                Problem::new(rules::MALFORMED_VALUE, &text.span, format!("{what}: {reason}"))
                    .help("use \"canary\" or \"blue_green\""),
            );
            None
        }
    }
}

fn decode_per_env(
    f: &mut Fields,
    service: &str,
    context: &str,
    ctx: &Context,
    environments: &[String],
    problems: &mut Problems,
) -> Option<BTreeMap<String, ServiceEnv>> {
    let replicas = per_env_field(f, "replicas", context, ctx, problems, decode_replicas).unwrap_or_default();
    let tags_present = f.node("image_tag").is_some();
    let tags = per_env_field(f, "image_tag", context, ctx, problems, decode_image_tag);
    let strategies = per_env_field(f, "strategy", context, ctx, problems, decode_strategy).unwrap_or_default();
    let mut out = BTreeMap::new();
    let mut complete = true;
    for env_name in environments {
        let Some(env) = ctx.environments.iter().find(|e| &e.name == env_name) else { continue };
        let tag = match tags.as_ref().and_then(|t| t.get(env_name)) {
            Some(tag) => tag.value.clone(),
            None => {
                // Report a gap only in a field that decoded; otherwise its problem is reported already.
                if tags.is_some() {
                    problems.push(
                        Problem::new(
                            rules::MISSING_FIELD,
                            &f.span,
                            format!("{context} has no `image_tag` for environment `{env_name}`"),
                        )
                        .help(format!("add `{env_name} = \"1.0.0\"` (or `default = …`) to `image_tag`")),
                    );
                }
                complete = false;
                continue;
            }
        };
        if let (Some(spanned), Some(q)) = (
            tags.as_ref().and_then(|t| t.get(env_name)),
            ctx.quarantines.iter().find(|q| q.holds(service, env_name, &tag)),
        ) {
            problems.push(
                Problem::new(
                    rules::QUARANTINED_IMAGE,
                    &spanned.span,
                    format!("{context} names {tag} for environment `{env_name}`, which is quarantined: {}", q.reason),
                )
                .label("quarantined image")
                .help(format!(
                    "name another version, or clear the quarantine at {} with a reason: `glidepath quarantine clear {tag} --service {service} --reason \"…\"`",
                    q.location
                )),
            );
        }
        out.insert(
            env_name.clone(),
            ServiceEnv {
                replicas: replicas.get(env_name).map(|r| r.value).unwrap_or(2),
                image_tag: tag,
                strategy: strategies.get(env_name).map(|s| s.value).unwrap_or(env.strategy),
                max_replicas: None,
                traffic: Traffic::default(),
            },
        );
    }
    if !tags_present {
        f.missing("image_tag", "image_tag = { dev = \"1.4.2\", staging = \"1.4.2\", prod = \"1.4.1\" }", problems);
    }
    complete.then_some(out)
}

fn decode_resources(f: &mut Fields, context: &str, problems: &mut Problems) -> Option<Resources> {
    let Some(node) = f.node("resources") else {
        return Some(Resources {
            cpu: "250m".into(),
            memory: "256Mi".into(),
            cpu_limit: None,
            memory_limit: "256Mi".into(),
        });
    };
    let mut r = Fields::of(node, &table::RESOURCES, format!("`resources` of {context}"), problems)?;
    let cpu_help = "CPU is cores (\"1\", \"0.5\") or millicores (\"250m\")";
    let mem_help = "memory uses Ki/Mi/Gi, e.g. \"512Mi\"";
    let cpu = r.parsed("cpu", problems, |s| parse_quantity(s, QuantityKind::Cpu), cpu_help);
    let memory = r.parsed("memory", problems, |s| parse_quantity(s, QuantityKind::Memory), mem_help);
    let cpu_limit = r.parsed("cpu_limit", problems, |s| parse_quantity(s, QuantityKind::Cpu), cpu_help);
    let memory_limit = r.parsed("memory_limit", problems, |s| parse_quantity(s, QuantityKind::Memory), mem_help);
    r.finish(problems);
    let memory = memory.map(|m| m.value).unwrap_or_else(|| "256Mi".into());
    Some(Resources {
        cpu: cpu.map(|c| c.value).unwrap_or_else(|| "250m".into()),
        memory_limit: memory_limit.map(|m| m.value).unwrap_or_else(|| memory.clone()),
        memory,
        cpu_limit: cpu_limit.map(|c| c.value),
    })
}

fn decode_probes(
    f: &mut Fields,
    context: &str,
    name: &Spanned<String>,
    port: Option<u16>,
    problems: &mut Problems,
) -> Option<Probes> {
    let Some(node) = f.node("probes") else {
        problems.push(
            Problem::new(rules::MISSING_READINESS, &name.span, format!("{context} has no readiness probe"))
                .label("no probes")
                .help("canary and blue/green promotion only send traffic to ready pods: add `probes { readiness = \"/health/ready\" }`"),
        );
        return None;
    };
    let mut p = Fields::of(node, &table::PROBES, format!("`probes` of {context}"), problems)?;
    let readiness = p.string("readiness", problems);
    let liveness = p.string("liveness", problems);
    for path in readiness.iter().chain(liveness.iter()) {
        if let Err(reason) = super::text::http_path(&path.value) {
            let help = if path.value.starts_with('/') {
                "percent-encode spaces and quotes, e.g. \"/health%20check\"".to_string()
            } else {
                format!("write \"/{}\"", path.value)
            };
            problems.push(Problem::new(rules::MALFORMED_VALUE, &path.span, reason).help(help));
        }
    }
    let probe_port = p.int("port", problems).and_then(|v| port_number(&v, "probes.port", problems));
    let warmup = p.duration_within(
        "warmup",
        (Duration { millis: 0 }, Duration::from_secs(3600)),
        problems,
        "write a duration such as \"20s\" or \"1m\"",
    );
    if readiness.is_none() && p.node("readiness").is_none() {
        problems.push(
            Problem::new(rules::MISSING_READINESS, &p.span, format!("{context} has no readiness probe"))
                .label("probes without readiness")
                .help("canary and blue/green promotion only send traffic to ready pods: add `readiness = \"/health/ready\"`"),
        );
    }
    p.finish(problems);
    Some(Probes {
        readiness: readiness?.value,
        liveness: liveness.map(|l| l.value),
        port: probe_port.or(port)?,
        warmup: warmup.map(|w| w.value).unwrap_or(Duration::from_secs(10)),
    })
}

fn decode_migrations(node: &Node, context: &str, problems: &mut Problems) -> Option<Migrations> {
    let mut m = Fields::of(node, &table::MIGRATIONS, format!("`migrations` of {context}"), problems)?;
    let command = m.strings("command", problems);
    if command.is_none() && m.node("command").is_none() {
        m.missing("command", "command = [\"flyway\", \"migrate\"]", problems);
    }
    let secret = m.string("secret", problems);
    let backward_compatible = m.boolean("backward_compatible", problems).is_some_and(|b| b.value);
    if let Some(secret) = &secret {
        if !is_dns_label(&secret.value) {
            problems.push(
                Problem::new(
                    rules::INVALID_NAME,
                    &secret.span,
                    format!("secret name `{}` is not a valid Kubernetes name", secret.value),
                )
                .help("use lower-case letters, digits and `-`"),
            );
        }
    }
    m.finish(problems);
    let command = command?;
    if command.is_empty() {
        problems.push(
            Problem::new(rules::MALFORMED_VALUE, &node.span, "migration `command` is empty")
                .help("name the migration command, e.g. [\"flyway\", \"migrate\"]"),
        );
        return None;
    }
    Some(Migrations {
        command: command.into_iter().map(|c| c.value).collect(),
        secret: secret.map(|s| s.value),
        backward_compatible,
    })
}

fn decode_notify(f: &mut Fields, ctx: &Context, problems: &mut Problems) -> Vec<String> {
    let Some(routes) = f.strings("notify", problems) else { return Vec::new() };
    let known: Vec<&str> = ctx.notifications.iter().map(|n| n.name.as_str()).collect();
    let mut out = Vec::new();
    for route in routes {
        if known.contains(&route.value.as_str()) {
            if !out.contains(&route.value) {
                out.push(route.value);
            }
        } else {
            problems.push(unknown_reference(
                rules::UNKNOWN_ROUTE,
                "notification route",
                &route,
                &known,
                "notification \"NAME\" { slack = \"#channel\" }",
            ));
        }
    }
    out
}

fn decode_env_vars(node: Option<&Node>, context: &str, problems: &mut Problems) -> Option<BTreeMap<String, EnvValue>> {
    let Some(node) = node else { return Some(BTreeMap::new()) };
    let Some(entries) = node.entries() else {
        problems.push(
            super::decode::wrong_type(node, &format!("`env` of {context}"), "a map of variable names to strings")
                .help("write env = { LOG_LEVEL = \"info\" }"),
        );
        return None;
    };
    let mut out = BTreeMap::new();
    for e in entries {
        let valid_name = !e.key.is_empty()
            && e.key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !e.key.starts_with(|c: char| c.is_ascii_digit());
        if !valid_name {
            problems.push(
                Problem::new(
                    rules::INVALID_NAME,
                    &e.key_span,
                    format!("`{}` is not an environment variable name", e.key.escape_default()),
                )
                .help("use letters, digits and `_`, not starting with a digit"),
            );
            continue;
        }
        let field = format!("`env.{}` of {context}", e.key);
        if e.node.entries().is_some() {
            if let Some(reference) = decode_secret_ref(&e.node, &field, problems) {
                out.insert(e.key.clone(), reference);
            }
            continue;
        }
        let Some(v) = expect_string(&e.node, &field, problems) else { continue };
        let why = match crate::redact::secret_value_reason(&v.value) {
            Some(why) => Some(why.to_string()),
            None if crate::redact::names_a_secret(&e.key) && !v.value.is_empty() => {
                Some(format!("a literal value under the secret-looking name `{}`", e.key))
            }
            None => None,
        };
        if let Some(why) = why {
            // The value itself is never repeated: the message goes to terminals and CI logs.
            problems.push(
                Problem::new(rules::CATALOG_PLAINTEXT_SECRET, &v.span, format!("{field} holds {why}"))
                    .label("plaintext secret")
                    .help(format!(
                        "put the value in a Kubernetes Secret and reference it: {} = {{ secret = \"NAME\", key = \"KEY\" }}",
                        e.key
                    )),
            );
            continue;
        }
        out.insert(e.key.clone(), EnvValue::Plain(v.value));
    }
    Some(out)
}

/// `{ secret = "NAME", key = "KEY" }`: a key of a Secret in the service's namespace.
fn decode_secret_ref(node: &Node, field: &str, problems: &mut Problems) -> Option<EnvValue> {
    let mut f = Fields::of(node, &table::SECRET_REF, field.to_string(), problems)?;
    let secret = f.required_string("secret", "secret = \"db-credentials\"", problems);
    let key = f.required_string("key", "key = \"password\"", problems);
    f.finish(problems);
    let (secret, key) = (secret?, key?);
    let mut ok = true;
    if !is_dns_label(&secret.value) {
        ok = false;
        problems.push(
            Problem::new(
                rules::INVALID_NAME,
                &secret.span,
                format!("secret name `{}` is not a valid Kubernetes name", secret.value),
            )
            .help("use lowercase letters, digits and `-`, e.g. \"db-credentials\""),
        );
    }
    let key_ok = !key.value.is_empty()
        && key.value.len() <= 253
        && key.value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !key_ok {
        ok = false;
        problems.push(
            Problem::new(rules::MALFORMED_VALUE, &key.span, format!("`{}` is not a Secret key", key.value))
                .help("a Secret key has letters, digits, `-`, `_` and `.`, e.g. \"password\""),
        );
    }
    ok.then_some(EnvValue::Secret { secret: secret.value, key: key.value })
}

fn decode_policies(f: &mut Fields, problems: &mut Problems) -> Vec<String> {
    let Some(arns) = f.strings("aws_policies", problems) else { return Vec::new() };
    arns.into_iter()
        .filter(|arn| {
            let ok = arn.value.starts_with("arn:aws:iam::") && arn.value.contains(":policy/");
            if !ok {
                problems.push(
                    Problem::new(
                        rules::MALFORMED_VALUE,
                        &arn.span,
                        format!("`{}` is not an IAM policy ARN", arn.value),
                    )
                    .help("write arn:aws:iam::ACCOUNT:policy/NAME (or arn:aws:iam::aws:policy/NAME)"),
                );
            }
            ok
        })
        .map(|a| a.value)
        .collect()
}
