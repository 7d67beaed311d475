//! The pin table (`templates/tools.yaml`): every tool glidepath's CI installs, at one version,
//! and where glidepath's own release comes from. Read once; the workflow, the buildspecs and
//! the deployer image's test take their versions from it, so updating a tool is one line.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::catalog::Platform;

const TABLE: &str = include_str!("../../templates/tools.yaml");

/// The parsed pin table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tools {
    /// Third-party GitHub Actions: `owner/name` → the commit the workflows use.
    pub actions: BTreeMap<String, Action>,
    pub glidepath: GlidepathRelease,
    /// The deployer image's tools, built from source at these versions.
    pub go: BTreeMap<String, GoTool>,
    /// The CodePipeline build project's scanners: name → version.
    pub build: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// The release the commit is, for the reader (written as a comment after `uses:`).
    pub version: String,
    /// The full commit SHA: what `uses: owner/name@SHA` pins.
    pub sha: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlidepathRelease {
    /// With `{org}` and `{version}` to fill.
    pub url: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoTool {
    pub module: String,
    pub version: String,
}

/// The table compiled into this glidepath; a malformed table fails the first render in tests.
pub fn table() -> &'static Tools {
    static TOOLS: OnceLock<Tools> = OnceLock::new();
    TOOLS.get_or_init(|| serde_norway::from_str(TABLE).expect("templates/tools.yaml is a valid pin table"))
}

/// The actions for a workflow template: `owner/name` → `{ uses: "owner/name@SHA", version }`.
pub fn actions_context() -> serde_json::Value {
    table()
        .actions
        .iter()
        .map(|(name, a)| {
            (name.clone(), serde_json::json!({ "uses": format!("{name}@{}", a.sha), "version": a.version }))
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// The version of a build-project scanner (`semgrep`, `checkov`, `trivy`).
pub fn build_tool(name: &str) -> &'static str {
    table().build.get(name).map(String::as_str).unwrap_or_else(|| panic!("templates/tools.yaml has no build.{name}"))
}

/// The glidepath release CI installs: this glidepath's version, from the platform's
/// `glidepath_release` or the table's URL pattern, with the platform's pinned checksum if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub version: &'static str,
    pub url: String,
    pub sha256: Option<String>,
}

pub fn glidepath_release(platform: &Platform) -> Release {
    let version = env!("CARGO_PKG_VERSION");
    let pattern = platform.glidepath_release.as_deref().unwrap_or(&table().glidepath.url);
    Release {
        version,
        url: pattern.replace("{org}", &platform.github_org).replace("{version}", version),
        sha256: platform.glidepath_sha256.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_parses_and_names_what_ci_installs() {
        let tools = table();
        for name in ["kubectl", "kubectl-argo-rollouts", "k6"] {
            let tool = &tools.go[name];
            assert!(tool.version.starts_with('v') && !tool.module.is_empty(), "{name}: {tool:?}");
        }
        for name in ["semgrep", "checkov", "trivy"] {
            assert!(build_tool(name).chars().next().is_some_and(|c| c.is_ascii_digit()), "{name}");
        }
        assert!(tools.glidepath.url.starts_with("https://") && tools.glidepath.url.contains("{version}"));
        for (name, action) in &tools.actions {
            assert_eq!(name.matches('/').count(), 1, "{name} is not owner/name");
            assert!(
                action.sha.len() == 40 && action.sha.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                "{name}: `{}` is not a full commit SHA",
                action.sha
            );
            assert!(action.version.starts_with('v'), "{name}: {}", action.version);
        }
    }

    #[test]
    fn the_release_fills_the_pattern_and_keeps_the_pin() {
        let mut platform = Platform::placeholder();
        platform.github_org = "acme".into();
        let default = glidepath_release(&platform);
        let version = env!("CARGO_PKG_VERSION");
        assert_eq!(
            default.url,
            format!("https://github.com/acme/glidepath/releases/download/v{version}/glidepath-{version}-x86_64-linux")
        );
        assert_eq!(default.sha256, None);
        platform.glidepath_release = Some("https://artifacts.example.com/glidepath/{version}/glidepath".into());
        platform.glidepath_sha256 = Some("ab".repeat(32));
        let pinned = glidepath_release(&platform);
        assert_eq!(pinned.url, format!("https://artifacts.example.com/glidepath/{version}/glidepath"));
        assert_eq!(pinned.sha256.as_deref(), Some("ab".repeat(32).as_str()));
    }
}
