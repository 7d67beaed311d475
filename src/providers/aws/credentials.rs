//! Whether AWS credentials are there to use, found the way the SDK's default chain looks for
//! them: environment variables, the shared config and credentials files (profiles, SSO), and an
//! instance profile (IMDS, asked with a short timeout). Found credentials mean a live plan; none
//! means offline, said in the plan's banner. Never a silent offline fallback when they exist.

use std::path::PathBuf;
use std::time::Duration;

/// Environment variables that point the default chain at credentials.
const CREDENTIAL_VARS: [&str; 6] = [
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
];

/// How long an instance-profile probe may take: IMDS answers in milliseconds where it exists.
const IMDS_PROBE: Duration = Duration::from_millis(1500);

fn set(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.is_empty())
}

/// The shared config and credentials files, where the SDK reads them.
fn shared_files() -> Vec<PathBuf> {
    let home = set("HOME").map(PathBuf::from);
    let file =
        |var: &str, default: &str| set(var).map(PathBuf::from).or_else(|| home.as_ref().map(|h| h.join(default)));
    [file("AWS_CONFIG_FILE", ".aws/config"), file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials")]
        .into_iter()
        .flatten()
        .collect()
}

/// The profiles the shared files declare (`[default]`, `[profile NAME]` in config, `[NAME]` in
/// credentials).
fn declared_profiles() -> Vec<String> {
    let mut profiles = Vec::new();
    for path in shared_files() {
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        for line in text.lines() {
            let Some(section) = line.trim().strip_prefix('[').and_then(|l| l.strip_suffix(']')) else { continue };
            let section = section.trim();
            let name = section.strip_prefix("profile ").map(str::trim).unwrap_or(section);
            if !section.starts_with("sso-session ") && !section.starts_with("services ") {
                profiles.push(name.to_string());
            }
        }
    }
    profiles.sort();
    profiles.dedup();
    profiles
}

/// Why AWS cannot be used although it was asked for (`AWS_PROFILE` names no profile).
pub fn problem() -> Option<String> {
    let profile = set("AWS_PROFILE")?;
    let profiles = declared_profiles();
    (!profiles.contains(&profile)).then(|| {
        let files: Vec<String> = shared_files().iter().map(|p| p.display().to_string()).collect();
        format!(
            "AWS profile `{profile}` not found in {} (profiles there: {}); fix AWS_PROFILE or unset it",
            files.join(" or "),
            if profiles.is_empty() { "none".to_string() } else { profiles.join(", ") }
        )
    })
}

/// Where credentials come from, if anywhere: the variable, file or instance profile found.
pub fn source() -> Option<String> {
    if let Some(var) = CREDENTIAL_VARS.iter().find(|v| set(v).is_some()) {
        return Some(format!("${var}"));
    }
    if !declared_profiles().is_empty() {
        return Some("the shared AWS config/credentials files".into());
    }
    instance_profile().then(|| "the instance profile (IMDS)".into())
}

/// Whether IMDS hands out credentials here (an EC2 instance with a role), asked once, briefly.
fn instance_profile() -> bool {
    if set("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return false;
    }
    use aws_sdk_sts::config::ProvideCredentials;
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return false };
    runtime.block_on(async {
        let provider = aws_config::imds::credentials::ImdsCredentialsProvider::builder().build();
        matches!(tokio::time::timeout(IMDS_PROBE, provider.provide_credentials()).await, Ok(Ok(_)))
    })
}
