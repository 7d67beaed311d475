//! Plan views: the same `Plan` printed for people, for machines and for PR comments.

pub mod check;
pub mod history;
pub mod human;
pub mod json;
pub mod markdown;

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
