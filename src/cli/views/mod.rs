//! Plan views: the same `Plan` printed for people, for machines and for PR comments.

pub mod check;
pub mod history;
pub mod human;
pub mod json;
pub mod markdown;
pub mod progress;
pub mod status;

use std::path::Path;

use serde_json::Value;

/// What a view says about where the "before" side came from.
pub struct PlanContext<'a> {
    pub state_path: &'a Path,
    pub state_serial: u64,
    /// Which AWS account/endpoint was read, when AWS was read live.
    pub aws_live: Option<String>,
    /// Which kubeconfig contexts were read, when the cluster was read live.
    pub cluster_live: Option<String>,
    /// Which halves the plan covers (`--only`).
    pub aws_selected: bool,
    pub cluster_selected: bool,
    /// Safety headlines of what the plan changes, and the check findings that fail it.
    pub safety: Vec<String>,
    pub check_fails: bool,
}

impl PlanContext<'_> {
    pub fn source_line(&self) -> String {
        let recorded = format!("the state recorded in {} (serial {})", self.state_path.display(), self.state_serial);
        match (&self.aws_live, &self.cluster_live) {
            (None, None) => format!("offline plan: compared with {recorded}, not with live AWS or cluster state"),
            (aws, cluster) => {
                let half = |name: &str, live: &Option<String>| match live {
                    Some(target) => format!("{name}: compared with live state ({target})"),
                    None => format!("{name}: offline, compared with {recorded}"),
                };
                let mut halves = Vec::new();
                if self.aws_selected {
                    halves.push(half("AWS", aws));
                }
                if self.cluster_selected {
                    halves.push(half("cluster", cluster));
                }
                halves.join("; ")
            }
        }
    }
}

/// Whether a field path names a sensitive value (`env[3].value` of `DB_PASSWORD` is judged by its
/// name in the path; data keys such as `data["api-token"]` by the key).
pub fn sensitive(path: &str) -> bool {
    crate::check::policy::names_a_secret(path)
}

/// A field change's value for display, redacted when the path is sensitive.
pub fn shown(path: &str, value: &Option<Value>) -> String {
    match value {
        Some(_) if sensitive(path) => "(sensitive)".to_string(),
        _ => short(value),
    }
}

/// A field value in one line: strings as JSON strings, documents compactly, absence as a dash.
pub fn short(value: &Option<Value>) -> String {
    match value {
        None => "(absent)".to_string(),
        Some(v) => {
            let text = v.to_string();
            if text.len() > 120 {
                format!("{}…", &text[..text.char_indices().nth(117).map(|(i, _)| i).unwrap_or(text.len())])
            } else {
                text
            }
        }
    }
}

/// ANSI colours for terminals (never when NO_COLOR is set or stdout is not a terminal).
pub struct Paint {
    enabled: bool,
}

impl Paint {
    pub fn for_stdout() -> Self {
        use std::io::IsTerminal;
        Paint { enabled: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() }
    }

    pub fn action(&self, action: crate::plan::Action, text: &str) -> String {
        use crate::plan::Action;
        let code = match action {
            Action::Create => "32",
            Action::Update => "33",
            Action::Replace => "35",
            Action::Delete => "31",
            Action::NoOp => return text.to_string(),
        };
        if self.enabled {
            format!("\u{1b}[{code}m{text}\u{1b}[0m")
        } else {
            text.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sensitive_fields_are_redacted() {
        assert_eq!(shown("data[\"slack-token\"]", &Some(json!("xoxb-1"))), "(sensitive)");
        assert_eq!(shown("spec.replicas", &Some(json!(3))), "3");
    }
}
