//! Plan views: the same `Plan` printed for people, for machines and for PR comments.

pub mod human;
pub mod json;
pub mod markdown;

use std::path::Path;

use serde_json::Value;

/// What a view says about where the "before" side came from.
pub struct PlanContext<'a> {
    pub state_path: &'a Path,
    pub state_serial: u64,
}

impl PlanContext<'_> {
    pub fn source_line(&self) -> String {
        format!(
            "offline plan: compared with the state recorded in {} (serial {}), not with live AWS or cluster state",
            self.state_path.display(),
            self.state_serial
        )
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
