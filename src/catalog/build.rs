//! Decodes the merged top-level tree into the model: platform, clusters, environments and
//! notification routes here; services in `service.rs`. Every problem is collected.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::decode::{closest, Fields, Spanned};
use super::model::{
    Cluster, Delivery, Environment, Model, NotificationRoute, NotifyEvent, Platform, PodSecurityLevel, Quarantine,
    StrategyKind, TrafficSettings, DEFAULT_LOG_RETENTION_DAYS, DEFAULT_SCRAPE_INTERVAL, LOG_RETENTION_DAYS,
};
use super::names::{is_dns_label, to_dns_label};
use super::problem::{Problem, Problems};
use super::profiles::ProfileSet;
use super::quarantine;
use super::schema::table;
use super::service::decode_service;
use super::traffic;
use super::tree::{Entry, Node};
use super::values::Duration;
use super::workload;
use crate::rules::{self, Rule};

pub const DEFAULT_PROMETHEUS: &str = "http://prometheus.monitoring.svc.cluster.local:9090";
/// Catalog names prefix IAM role names (64 characters at most), so they stay short.
const CATALOG_NAME_MAX: usize = 20;

/// Everything decoded before services, which service decoding checks references against.
pub struct Context<'a> {
    pub platform: &'a Platform,
    pub environments: &'a [Environment],
    pub notifications: &'a [NotificationRoute],
    pub profiles: &'a ProfileSet,
    /// Quarantined images: a service naming one where it is forbidden is invalid.
    pub quarantines: &'a [Quarantine],
}

pub fn build(root: &Node, profiles: &ProfileSet, source: PathBuf, problems: &mut Problems) -> Option<Model> {
    let mut top = Fields::of(root, &table::CATALOG, "the catalog", problems)?;
    let platform_node = top.node("platform");
    let clusters_node = top.node("clusters");
    let environments_node = top.node("environments");
    let notifications_node = top.node("notifications");
    // Profiles were collected by the loader; asking marks the key as known.
    let _ = top.node("profiles");
    let services_node = top.node("services");
    let quarantines_node = top.node("quarantines");
    let top_span = top.span.clone();
    top.finish(problems);

    // A broken platform still yields a (placeholder) value so services are checked too: every
    // problem is reported at once, and the recorded problems keep the model from being returned.
    let platform = match platform_node {
        Some(node) => decode_platform(node, problems),
        None => {
            problems.push(
                Problem::new(rules::MISSING_FIELD, &top_span, "the catalog has no `platform` block")
                    .label("catalog starts here")
                    .help("add `platform { name = \"shop\" aws_account_id = \"123456789012\" region = \"eu-west-1\" github_org = \"acme\" }`"),
            );
            Platform::placeholder()
        }
    };

    let clusters: Vec<Cluster> = named_blocks(clusters_node, "cluster", problems)
        .into_iter()
        .filter_map(|(name, node)| decode_cluster(name, node, &platform, problems))
        .collect();
    let environments: Vec<Environment> = named_blocks(environments_node, "environment", problems)
        .into_iter()
        .filter_map(|(name, node)| decode_environment(name, node, &platform, &clusters, problems))
        .collect();
    check_unique_namespaces(&environments, environments_node, problems);
    if environments_node.is_none() {
        problems.push(
            Problem::new(rules::MISSING_FIELD, &top_span, "the catalog declares no environments")
                .help("add at least one `environment \"dev\" { cluster = \"…\" }` block"),
        );
    }
    let notifications: Vec<NotificationRoute> = named_blocks(notifications_node, "notification", problems)
        .into_iter()
        .filter_map(|(name, node)| decode_notification(name, node, problems))
        .collect();

    let named_services = named_blocks(services_node, "service", problems);
    let service_names: Vec<&str> = named_services.iter().map(|(name, _)| name.value.as_str()).collect();
    let context = Context {
        platform: &platform,
        environments: &environments,
        notifications: &notifications,
        profiles,
        quarantines: &[],
    };
    let quarantines = quarantine::decode_all(quarantines_node, &context, &service_names, problems);
    let context = Context { quarantines: &quarantines, ..context };
    let services =
        named_services.into_iter().filter_map(|(name, node)| decode_service(name, node, &context, problems)).collect();

    Some(Model { platform, clusters, environments, notifications, services, quarantines, root: source })
}

/// The `name → block` entries of a labelled group, with each name checked as a DNS label.
pub fn named_blocks<'a>(
    group: Option<&'a Node>,
    kind: &str,
    problems: &mut Problems,
) -> Vec<(Spanned<String>, &'a Node)> {
    let Some(group) = group else { return Vec::new() };
    let Some(entries) = group.entries() else {
        problems.push(
            Problem::new(rules::WRONG_TYPE, &group.span, format!("`{kind}` entries must be named blocks"))
                .help(format!("write `{kind} \"name\" {{ … }}` (HCL) or a map of name → settings (YAML)")),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut firsts: std::collections::HashMap<&str, &Entry> = std::collections::HashMap::new();
    for entry in entries {
        let Entry { key, key_span, node } = entry;
        if let Some(first) = firsts.get(key.as_str()) {
            problems.push(
                Problem::new(rules::DUPLICATE_NAME, key_span, format!("{kind} `{key}` is declared twice"))
                    .label("second declaration")
                    .help(format!("rename or remove one; the first is at {}", first.key_span.location())),
            );
            continue;
        }
        firsts.insert(key.as_str(), entry);
        if !is_dns_label(key) {
            problems.push(
                Problem::new(rules::INVALID_NAME, key_span, format!("{kind} name `{key}` is not a valid DNS-1123 label"))
                    .label("not a DNS label")
                    .help(format!(
                        "use lower-case letters, digits and `-`, starting and ending with a letter or digit, at most 63 characters: `{}`",
                        to_dns_label(key)
                    )),
            );
            continue;
        }
        out.push((Spanned::new(key.clone(), key_span.clone()), node));
    }
    out
}

fn decode_platform(node: &Node, problems: &mut Problems) -> Platform {
    let Some(mut f) = Fields::of(node, &table::PLATFORM, "the `platform` block", problems) else {
        return Platform::placeholder();
    };
    let name = f.required_string("name", "name = \"shop\"", problems);
    if let Some(name) = &name {
        if !is_dns_label(&name.value) || name.value.len() > CATALOG_NAME_MAX {
            problems.push(
                Problem::new(
                    rules::INVALID_NAME,
                    &name.span,
                    format!(
                        "catalog name `{}` must be a DNS label of at most {CATALOG_NAME_MAX} characters",
                        name.value
                    ),
                )
                .label("invalid catalog name")
                .help(format!(
                    "it prefixes IAM role names (64 characters at most); try `{}`",
                    to_dns_label(&name.value).chars().take(CATALOG_NAME_MAX).collect::<String>()
                )),
            );
        }
    }
    let account = f.required_string("aws_account_id", "aws_account_id = \"123456789012\"", problems);
    if let Some(account) = &account {
        if account.value.len() != 12 || !account.value.chars().all(|c| c.is_ascii_digit()) {
            problems.push(
                Problem::new(
                    rules::MALFORMED_VALUE,
                    &account.span,
                    format!("`{}` is not an AWS account id", account.value),
                )
                .label("expected 12 digits")
                .help("write the 12-digit account id as a quoted string, e.g. \"123456789012\""),
            );
        }
    }
    let region = f.required_string("region", "region = \"eu-west-1\"", problems);
    if let Some(region) = &region {
        check_region(region, problems);
    }
    let github_org = f.required_string("github_org", "github_org = \"acme\"", problems);
    let keep = positive_int(&mut f, "ecr_keep_images", 30, problems);
    let untagged = positive_int(&mut f, "ecr_untagged_days", 7, problems);
    let log_retention_days = log_retention(&mut f, problems);
    let prometheus =
        f.string("prometheus", problems).map(|s| s.value).unwrap_or_else(|| DEFAULT_PROMETHEUS.to_string());
    let scrape_interval = f
        .duration_within(
            "scrape_interval",
            (Duration::from_secs(1), Duration::from_secs(600)),
            problems,
            "write Prometheus' scrape interval, such as \"30s\"",
        )
        .map(|d| d.value)
        .unwrap_or(DEFAULT_SCRAPE_INTERVAL);
    let codestar_connection = f.string("codestar_connection", problems).and_then(|c| check_connection(c, problems));
    let pipeline_image = f.string("pipeline_image", problems).map(|i| i.value);
    let glidepath_release = f.string("glidepath_release", problems).and_then(|u| check_release_url(u, problems));
    let glidepath_sha256 = f.string("glidepath_sha256", problems).and_then(|h| check_sha256(h, problems));
    let delivery = f
        .parsed(
            "delivery",
            problems,
            Delivery::parse,
            "use \"push\" (the default: deploy jobs apply) or \"gitops\" (Argo CD syncs)",
        )
        .map(|d| d.value)
        .unwrap_or_default();
    let promotion_token_secret =
        f.string("promotion_token_secret", problems).and_then(|s| check_secret_name(s, problems));
    let pipeline_promotion_token_secret =
        f.string("pipeline_promotion_token_secret", problems).and_then(|s| check_secrets_manager_name(s, problems));
    let catalog_repo = f.string("catalog_repo", problems).and_then(|r| {
        super::service::parse_repo(&r, github_org.as_ref().map_or("org", |g| g.value.as_str()), problems)
    });
    let traffic =
        traffic::decode_settings(f.node("traffic"), &TrafficSettings::default(), "the `platform` block", problems);
    let pod_security = workload::decode_level(&mut f, PodSecurityLevel::Restricted, problems);
    f.finish(problems);
    let placeholder = Platform::placeholder();
    Platform {
        name: name.map(|n| n.value).unwrap_or(placeholder.name),
        aws_account_id: account.map(|a| a.value).unwrap_or(placeholder.aws_account_id),
        region: region.map(|r| r.value).unwrap_or(placeholder.region),
        github_org: github_org.map(|g| g.value).unwrap_or(placeholder.github_org),
        ecr_keep_images: keep,
        ecr_untagged_days: untagged,
        log_retention_days,
        prometheus,
        scrape_interval,
        codestar_connection,
        pipeline_image,
        glidepath_release,
        glidepath_sha256,
        delivery,
        promotion_token_secret,
        pipeline_promotion_token_secret,
        catalog_repo,
        traffic,
        pod_security,
    }
}

/// A GitHub Actions secret name, as the workflow writes it in `${{ secrets.NAME }}`: letters,
/// digits and `_`, not starting with a digit nor with `GITHUB_` (GitHub refuses both).
fn check_secret_name(name: Spanned<String>, problems: &mut Problems) -> Option<String> {
    let value = &name.value;
    let valid = value.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !value.to_ascii_uppercase().starts_with("GITHUB_");
    if valid {
        return Some(name.value);
    }
    problems.push(
        Problem::new(rules::MALFORMED_VALUE, &name.span, format!("`{value}` is not a GitHub secret name"))
            .label("expected letters, digits and `_`")
            .help(
                "name the repository or organisation secret that holds the token, e.g. \"GLIDEPATH_PROMOTION_TOKEN\"",
            ),
    );
    None
}

/// An AWS Secrets Manager secret name, as a CodeBuild `secrets-manager` mapping and the IAM ARN
/// `…:secret:NAME-??????` write it: 1 to 512 of letters, digits and `/_+=.@-`. A name ending in
/// `-` and six characters is refused, as AWS advises: it reads like the random suffix Secrets
/// Manager appends, so the ARN pattern could match another secret.
fn check_secrets_manager_name(name: Spanned<String>, problems: &mut Problems) -> Option<String> {
    let value = &name.value;
    let charset = !value.is_empty()
        && value.len() <= 512
        && value.chars().all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c));
    let suffix_like = value.len() > 7 && value.as_bytes()[value.len() - 7] == b'-';
    if charset && !suffix_like {
        return Some(name.value);
    }
    let label = if suffix_like {
        "ends in `-` and six characters, like the suffix Secrets Manager appends"
    } else {
        "expected 1 to 512 letters, digits and `/_+=.@-`"
    };
    problems.push(
        Problem::new(rules::MALFORMED_VALUE, &name.span, format!("`{value}` is not a Secrets Manager secret name"))
            .label(label)
            .help("name the secret (not its ARN) that holds the GitHub token, e.g. \"glidepath/promotion-token\""),
    );
    None
}

/// Where CI downloads glidepath: an https URL (a download over plain http could be swapped
/// together with its checksum file), without characters a shell or YAML would read differently.
fn check_release_url(url: Spanned<String>, problems: &mut Problems) -> Option<String> {
    let safe = url.value.chars().all(|c| c.is_ascii_alphanumeric() || "-._~:/?#[]@!&()*+,;=%{}".contains(c));
    if url.value.starts_with("https://") && url.value.len() > "https://".len() && safe {
        return Some(url.value);
    }
    problems.push(
        Problem::new(rules::MALFORMED_VALUE, &url.span, format!("`{}` is not an https URL", url.value))
            .help("write where your glidepath release binary is published, e.g. \"https://github.com/acme/glidepath/releases/download/v{version}/glidepath-{version}-x86_64-linux\" ({org} and {version} are filled in)"),
    );
    None
}

/// A sha256 checksum: 64 hexadecimal digits, lower case as `sha256sum` prints them.
fn check_sha256(hash: Spanned<String>, problems: &mut Problems) -> Option<String> {
    if hash.value.len() == 64 && hash.value.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)) {
        return Some(hash.value);
    }
    problems.push(
        Problem::new(rules::MALFORMED_VALUE, &hash.span, format!("`{}` is not a sha256 checksum", hash.value))
            .label("expected 64 lower-case hex digits")
            .help("copy the checksum `scripts/release` printed (also in the .sha256 file beside the binary)"),
    );
    None
}

/// A CodeStar connection ARN (`codestar-connections`, or `codeconnections` since its rename).
fn check_connection(arn: Spanned<String>, problems: &mut Problems) -> Option<String> {
    let valid = ["arn:aws:codestar-connections:", "arn:aws:codeconnections:"]
        .iter()
        .any(|prefix| arn.value.strip_prefix(prefix).is_some_and(|rest| rest.split(':').count() == 3))
        && arn.value.rsplit_once(":connection/").is_some_and(|(_, id)| !id.is_empty() && !id.contains('*'));
    if valid {
        return Some(arn.value);
    }
    problems.push(
        Problem::new(rules::MALFORMED_VALUE, &arn.span, format!("`{}` is not a CodeStar connection ARN", arn.value))
            .label("expected a connection ARN")
            .help("copy the ARN of an AVAILABLE connection: arn:aws:codestar-connections:REGION:ACCOUNT:connection/ID"),
    );
    None
}

/// An optional whole-number field that must be ≥ 1, or its default.
pub fn positive_int(f: &mut Fields, name: &'static str, default: u32, problems: &mut Problems) -> u32 {
    match f.int(name, problems) {
        Some(v) if v.value >= 1 && v.value <= u32::MAX as i64 => v.value as u32,
        Some(v) => {
            problems.push(
                Problem::new(rules::OUT_OF_RANGE, &v.span, format!("`{name}` must be at least 1, found {}", v.value))
                    .label("too small")
                    .help(format!("set `{name}` to 1 or more (default {default})")),
            );
            default
        }
        None => default,
    }
}

/// `log_retention_days`: one of the periods CloudWatch Logs accepts, which would otherwise
/// refuse it at apply time, after the pipeline's other resources were created.
fn log_retention(f: &mut Fields, problems: &mut Problems) -> u32 {
    let Some(days) = f.int("log_retention_days", problems) else { return DEFAULT_LOG_RETENTION_DAYS };
    if let Some(&accepted) = LOG_RETENTION_DAYS.iter().find(|&&d| i64::from(d) == days.value) {
        return accepted;
    }
    let allowed: Vec<String> = LOG_RETENTION_DAYS.iter().map(u32::to_string).collect();
    // Rounding up, so logs are never kept for less than was asked.
    let closest = match LOG_RETENTION_DAYS.iter().find(|&&d| i64::from(d) > days.value) {
        Some(longer) => format!("the next longer period is {longer}"),
        None => format!("the longest is {}", LOG_RETENTION_DAYS[LOG_RETENTION_DAYS.len() - 1]),
    };
    problems.push(
        Problem::new(
            rules::OUT_OF_RANGE,
            &days.span,
            format!("`log_retention_days` {} is not a retention period CloudWatch Logs accepts", days.value),
        )
        .label("not an accepted period")
        .help(format!("use one of {} (default {DEFAULT_LOG_RETENTION_DAYS}); {closest}", allowed.join(", "))),
    );
    DEFAULT_LOG_RETENTION_DAYS
}

fn check_region(region: &Spanned<String>, problems: &mut Problems) {
    let parts: Vec<&str> = region.value.split('-').collect();
    let valid = parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
        && parts.last().is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()));
    if !valid {
        problems.push(
            Problem::new(rules::MALFORMED_VALUE, &region.span, format!("`{}` is not an AWS region", region.value))
                .label("expected a region code")
                .help("write a region code such as \"eu-west-1\" or \"us-east-2\""),
        );
    }
}

fn decode_cluster(name: Spanned<String>, node: &Node, platform: &Platform, problems: &mut Problems) -> Option<Cluster> {
    let mut f = Fields::of(node, &table::CLUSTER, format!("cluster \"{}\"", name.value), problems)?;
    // EKS names: a letter or digit, then letters, digits, `-` and `_`, at most 100. Anything else
    // (`*`) would become a wildcard in the CI role's `eks:DescribeCluster` resource.
    let eks_name = match f.string("eks_name", problems) {
        Some(eks) => {
            let valid = eks.value.len() <= 100
                && eks.value.starts_with(|c: char| c.is_ascii_alphanumeric())
                && eks.value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
            if !valid {
                problems.push(
                    Problem::new(
                        rules::MALFORMED_VALUE,
                        &eks.span,
                        format!("`{}` is not an EKS cluster name", eks.value),
                    )
                    .label("not an EKS name")
                    .help("EKS names start with a letter or digit and hold letters, digits, `-` and `_` (at most 100)"),
                );
            }
            eks.value
        }
        None => name.value.clone(),
    };
    let region = match f.string("region", problems) {
        Some(region) => {
            check_region(&region, problems);
            region.value
        }
        None => platform.region.clone(),
    };
    let oidc_issuer = f
        .string("oidc_issuer", problems)
        .map(|s| s.value.trim_start_matches("https://").trim_end_matches('/').to_string());
    let kube_context = f.string("kube_context", problems).map(|s| s.value);
    f.finish(problems);
    Some(Cluster { name: name.value, eks_name, region, oidc_issuer, kube_context })
}

fn decode_environment(
    name: Spanned<String>,
    node: &Node,
    platform: &Platform,
    clusters: &[Cluster],
    problems: &mut Problems,
) -> Option<Environment> {
    let context = format!("environment \"{}\"", name.value);
    let mut f = Fields::of(node, &table::ENVIRONMENT, context.clone(), problems)?;
    let cluster = f.required_string("cluster", "cluster = \"nonprod\"", problems);
    if let Some(cluster) = &cluster {
        if !clusters.iter().any(|c| c.name == cluster.value) {
            let known: Vec<&str> = clusters.iter().map(|c| c.name.as_str()).collect();
            problems.push(unknown_reference(
                rules::UNKNOWN_CLUSTER,
                "cluster",
                cluster,
                &known,
                "cluster \"NAME\" { eks_name = \"…\" }",
            ));
        }
    }
    let namespace = match f.string("namespace", problems) {
        Some(ns) if is_dns_label(&ns.value) => Some(ns.value),
        Some(ns) => {
            problems.push(
                Problem::new(
                    rules::INVALID_NAME,
                    &ns.span,
                    format!("namespace `{}` is not a valid DNS-1123 label", ns.value),
                )
                .label("invalid namespace")
                .help(format!("try `{}`", to_dns_label(&ns.value))),
            );
            None
        }
        None => Some(format!("{}-{}", platform.name, name.value)),
    };
    let strategy = f
        .parsed("strategy", problems, StrategyKind::parse, "use \"canary\" or \"blue_green\"")
        .map(|s| s.value)
        .unwrap_or(StrategyKind::Canary);
    let approval = f.boolean("approval", problems).map(|b| b.value).unwrap_or(false);
    let aws_endpoint = f.string("aws_endpoint", problems).map(|s| s.value);
    let enforce_limits = f.boolean("enforce_limits", problems).map(|b| b.value).unwrap_or(approval);
    let traffic = traffic::decode_settings(f.node("traffic"), &platform.traffic, &context, problems);
    let pod_security = workload::decode_level(&mut f, platform.pod_security, problems);
    let delivery = f
        .parsed(
            "delivery",
            problems,
            Delivery::parse,
            "use \"push\" or \"gitops\" (the default is `platform.delivery`)",
        )
        .map(|d| d.value)
        .unwrap_or(platform.delivery);
    f.finish(problems);
    Some(Environment {
        name: name.value,
        cluster: cluster?.value,
        namespace: namespace?,
        strategy,
        approval,
        aws_endpoint,
        enforce_limits,
        traffic,
        pod_security,
        delivery,
    })
}

/// Two environments on one cluster must not share a namespace: their objects would collide.
fn check_unique_namespaces(environments: &[Environment], group: Option<&Node>, problems: &mut Problems) {
    let mut seen: BTreeMap<(&str, &str), &str> = BTreeMap::new();
    for env in environments {
        if let Some(other) = seen.insert((&env.cluster, &env.namespace), &env.name) {
            let span = group
                .and_then(|g| g.entries())
                .and_then(|entries| entries.iter().find(|e| e.key == env.name))
                .map(|e| e.key_span.clone());
            if let Some(span) = span {
                problems.push(
                    Problem::new(
                        rules::NAMESPACE_CLASH,
                        &span,
                        format!(
                            "environments `{other}` and `{}` both use namespace `{}` on cluster `{}`",
                            env.name, env.namespace, env.cluster
                        ),
                    )
                    .help("give one of them its own `namespace`"),
                );
            }
        }
    }
}

fn decode_notification(name: Spanned<String>, node: &Node, problems: &mut Problems) -> Option<NotificationRoute> {
    let mut f = Fields::of(node, &table::NOTIFICATION, format!("notification \"{}\"", name.value), problems)?;
    // Judged by what is written: a destination with a mistake is reported as that mistake.
    let written = node
        .entries()
        .is_some_and(|e| e.iter().any(|e| matches!(e.key.as_str(), "slack" | "webhook" | "email" | "https")));
    let slack = f.string("slack", problems);
    if let Some(channel) = &slack {
        if let Err(reason) = super::text::slack_channel(&channel.value) {
            problems.push(
                Problem::new(rules::MALFORMED_VALUE, &channel.span, reason)
                    .label("not a channel")
                    .help("write one channel such as \"#payments-oncall\": lower-case letters, digits, `-`, `_`, `.`"),
            );
        }
    }
    let slack = slack.map(|s| s.value);
    let webhook = f.string("webhook", problems);
    if let Some(url) = &webhook {
        let checked = match url.value.strip_prefix('$') {
            Some(key)
                if !key.is_empty()
                    && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) =>
            {
                Ok(())
            }
            Some(_) => Err(format!("`{}` is not a key of the notification secret", url.value.escape_default())),
            None => super::text::url(&url.value, false),
        };
        if let Err(reason) = checked {
            problems.push(
                Problem::new(rules::MALFORMED_VALUE, &url.span, format!("webhook {reason}"))
                    .label("expected a URL")
                    .help("write an https:// URL, or `$key` to read it from the argo-rollouts-notification-secret"),
            );
        }
    }
    let email = f.strings("email", problems).unwrap_or_default();
    for address in &email {
        if let Err(reason) = super::text::email(&address.value) {
            problems.push(
                Problem::new(rules::MALFORMED_VALUE, &address.span, reason)
                    .help("write an address such as \"oncall@example.com\""),
            );
        }
    }
    let https = f.strings("https", problems).unwrap_or_default();
    for url in &https {
        if let Err(reason) = super::text::url(&url.value, true) {
            problems.push(
                Problem::new(rules::MALFORMED_VALUE, &url.span, reason)
                    .help("SNS https subscriptions need an https:// endpoint"),
            );
        }
    }
    let events = match f.strings("events", problems) {
        Some(list) => list
            .iter()
            .filter_map(|e| match NotifyEvent::parse(&e.value) {
                Ok(event) => Some(event),
                Err(reason) => {
                    let names: Vec<&str> = NotifyEvent::ALL.iter().map(|e| e.name()).collect();
                    problems.push(Problem::new(rules::MALFORMED_VALUE, &e.span, reason).label("unknown event").help(
                        match closest(&e.value, &names) {
                            Some(k) => format!("did you mean `{k}`?"),
                            None => format!("events: {}", names.join(", ")),
                        },
                    ));
                    None
                }
            })
            .collect(),
        None => vec![NotifyEvent::RolloutAborted, NotifyEvent::AnalysisRunFailed, NotifyEvent::RolloutCompleted],
    };
    if !written {
        problems.push(
            Problem::new(
                rules::EMPTY_ROUTE,
                &name.span,
                format!("notification `{}` has nowhere to send to", name.value),
            )
            .label("no destination")
            .help("set at least one of `slack`, `webhook`, `email` or `https`"),
        );
    }
    f.finish(problems);
    Some(NotificationRoute {
        name: name.value,
        slack,
        webhook: webhook.map(|w| w.value),
        email: email.into_iter().map(|e| e.value).collect(),
        https: https.into_iter().map(|e| e.value).collect(),
        events,
    })
}

/// A reference to something that is not declared, with the nearest declared name as the fix.
pub fn unknown_reference(rule: &Rule, kind: &str, name: &Spanned<String>, known: &[&str], declare: &str) -> Problem {
    let help = match closest(&name.value, known) {
        Some(k) => format!("did you mean `{k}`?"),
        None if known.is_empty() => format!("declare it: {declare}"),
        None => format!("known {kind}s: {}", known.join(", ")),
    };
    Problem::new(rule, &name.span, format!("unknown {kind} `{}`", name.value))
        .label(format!("no such {kind}"))
        .help(help)
}
