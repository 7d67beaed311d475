//! Names derived from the catalog. Render uses them to name resources and validation uses them
//! to reject a catalog whose derived names would break AWS or Kubernetes limits.

use super::model::Platform;

/// IAM roles have a 64-character limit.
pub const IAM_ROLE_NAME_MAX: usize = 64;
/// EventBridge rule names have a 64-character limit too.
pub const EVENTS_RULE_NAME_MAX: usize = 64;
/// Kubernetes object names that are DNS labels (Services) have a 63-character limit.
pub const DNS_LABEL_MAX: usize = 63;

pub fn ci_role(platform: &Platform, service: &str) -> String {
    format!("{}-{}-ci", platform.name, service)
}

pub fn irsa_role(platform: &Platform, env: &str, service: &str) -> String {
    format!("{}-{}-{}", platform.name, env, service)
}

/// The CodePipeline of a service, also the prefix of its CodeBuild projects.
pub fn pipeline(platform: &Platform, service: &str) -> String {
    format!("{}-{}", platform.name, service)
}

/// A CodeBuild project of a service's pipeline, e.g. `shop-cart-build`.
pub fn codebuild_project(platform: &Platform, service: &str, stage: &str) -> String {
    format!("{}-{stage}", pipeline(platform, service))
}

/// The role every CodeBuild project of a service's pipeline runs as.
pub fn codebuild_role(platform: &Platform, service: &str) -> String {
    format!("{}-codebuild", pipeline(platform, service))
}

/// The role CodePipeline assumes to run a service's pipeline.
pub fn pipeline_role(platform: &Platform, service: &str) -> String {
    format!("{}-pipeline", pipeline(platform, service))
}

/// The EventBridge rule that sends a service's pipeline events to its routes' SNS topics.
pub fn pipeline_events_rule(platform: &Platform, service: &str) -> String {
    format!("{}-pipeline-events", pipeline(platform, service))
}

/// The EventBridge rule that starts a CodeCommit-sourced pipeline on a push to its branch, and
/// the role that rule starts it as: one of each per pipeline, so they share the name.
pub fn source_events(platform: &Platform, service: &str) -> String {
    format!("{}-source-events", pipeline(platform, service))
}

/// The catalog's CodePipeline artifact bucket. Bucket names are global, so the account and
/// region make it unique; at most 20 + 11 + 12 + 1 + 14 characters, within S3's 63.
pub fn artifact_bucket(platform: &Platform) -> String {
    format!("{}-artifacts-{}-{}", platform.name, platform.aws_account_id, platform.region)
}

/// IAM path of every role glidepath creates for a catalog, so they can be listed with one prefix.
pub fn iam_path(platform: &Platform) -> String {
    format!("/glidepath/{}/", platform.name)
}

pub fn sns_topic(platform: &Platform, route: &str) -> String {
    format!("{}-{}", platform.name, route)
}

pub fn canary_service(service: &str) -> String {
    format!("{service}-canary")
}

pub fn preview_service(service: &str) -> String {
    format!("{service}-preview")
}

pub fn slo_template(service: &str) -> String {
    format!("{service}-slo")
}

pub fn smoke_template(service: &str) -> String {
    format!("{service}-smoke")
}

/// Whether `name` is an RFC 1123 DNS label: lower-case alphanumerics and `-`, alphanumeric at
/// both ends, at most 63 characters.
pub fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= DNS_LABEL_MAX
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// The DNS-label form of an arbitrary string, for the fix we suggest.
pub fn to_dns_label(name: &str) -> String {
    let mut out: String =
        name.to_ascii_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    out.trim_matches('-').chars().take(DNS_LABEL_MAX).collect()
}

/// ECR repository names: lower-case components separated by `/`, each made of alphanumerics
/// joined by single `.`, `_` or `-`; 2 to 256 characters.
pub fn is_ecr_repository_name(name: &str) -> bool {
    if name.len() < 2 || name.len() > 256 {
        return false;
    }
    name.split('/').all(|component| {
        !component.is_empty()
            && component
                .split(['.', '_', '-'])
                .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels() {
        assert!(is_dns_label("payment-service"));
        assert!(!is_dns_label("Payment_Service"));
        assert!(!is_dns_label("-x"));
        assert!(!is_dns_label(&"a".repeat(64)));
        assert_eq!(to_dns_label("Payment_Service"), "payment-service");
    }

    #[test]
    fn ecr_names() {
        assert!(is_ecr_repository_name("shop/payment-service"));
        assert!(is_ecr_repository_name("a.b_c-d/e"));
        assert!(!is_ecr_repository_name("Shop/Payment"));
        assert!(!is_ecr_repository_name("shop//x"));
        assert!(!is_ecr_repository_name("shop/-x"));
        assert!(!is_ecr_repository_name("a"));
    }
}
