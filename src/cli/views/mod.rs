//! Plan views: the same `Plan` printed for people, for machines and for PR comments.

pub mod check;
pub mod history;
pub mod human;
pub mod json;
pub mod markdown;
pub mod progress;
pub mod status;
pub mod table;
pub mod validate;

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
        Some(v) => short(&Some(crate::redact::body(v))),
        None => short(value),
    }
}

/// Documents (arrays and objects) longer than this are shortened in human and Markdown plans.
const DOCUMENT_LIMIT: usize = 160;

/// A field value in one line: strings as JSON strings, documents compactly, absence as a dash.
///
/// Strings, numbers and booleans are always shown whole: an image reference or a digest cut short
/// (a PR comment showing 43 of 64 hex digits) is worse than a long line. Only a document longer
/// than [`DOCUMENT_LIMIT`] is shortened, and then only between its elements, never inside a
/// string, with a marker saying how much was left out (`--format json` has it whole).
pub fn short(value: &Option<Value>) -> String {
    match value {
        None => "(absent)".to_string(),
        Some(v @ (Value::Array(_) | Value::Object(_))) => {
            let text = v.to_string();
            if text.chars().count() <= DOCUMENT_LIMIT {
                return text;
            }
            let cut = document_cut(&text, DOCUMENT_LIMIT);
            let left_out = text[cut..].chars().count();
            format!("{} … ({left_out} more characters; `--format json` shows all)", &text[..cut])
        }
        Some(v) => v.to_string(),
    }
}

/// The byte offset at which to shorten compact JSON `text`: just after the last `,`, `[` or `{`
/// outside any string within the first `limit` characters, so that no string is cut.
fn document_cut(text: &str, limit: usize) -> usize {
    let (mut in_string, mut escaped, mut cut) = (false, false, 0);
    for (count, (i, c)) in text.char_indices().enumerate() {
        if count >= limit {
            break;
        }
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else {
            match c {
                '"' => in_string = true,
                ',' | '[' | '{' => cut = i + 1,
                _ => {}
            }
        }
    }
    cut
}

/// Colours for a stream, decided the way every anstream-based tool decides (clap, cargo):
/// `NO_COLOR` turns them off whatever else is set, `CLICOLOR_FORCE` turns them on even into a
/// pipe, `CLICOLOR=0` off; otherwise only a terminal (not `TERM=dumb`) gets them.
pub struct Paint {
    enabled: bool,
}

impl Paint {
    pub fn for_stdout() -> Self {
        Paint::from_choice(anstream::AutoStream::choice(&std::io::stdout()))
    }

    pub fn for_stderr() -> Self {
        Paint::from_choice(anstream::AutoStream::choice(&std::io::stderr()))
    }

    fn from_choice(choice: anstream::ColorChoice) -> Self {
        Paint { enabled: !matches!(choice, anstream::ColorChoice::Never) }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn action(&self, action: crate::plan::Action, text: &str) -> String {
        use crate::plan::Action;
        use owo_colors::OwoColorize;
        if !self.enabled {
            return text.to_string();
        }
        match action {
            Action::Create => text.green().to_string(),
            Action::Update => text.yellow().to_string(),
            Action::Replace => text.magenta().to_string(),
            Action::Delete => text.red().to_string(),
            Action::NoOp => text.to_string(),
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

    #[test]
    fn long_strings_are_shown_whole_and_documents_are_cut_between_elements() {
        let image =
            format!("123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/payment-service@sha256:{}", "ab".repeat(32));
        assert_eq!(short(&Some(json!(image))), format!("\"{image}\""));
        let long = "x".repeat(500);
        assert_eq!(short(&Some(json!(long))), format!("\"{long}\""));

        let containers = json!([{ "name": "app", "image": image, "args": ["--port", "8080"] }, { "name": "sidecar", "image": image }]);
        let shown = short(&Some(containers.clone()));
        assert!(shown.contains(" … ("), "{shown}");
        assert!(shown.ends_with("more characters; `--format json` shows all)"), "{shown}");
        let kept = &shown[..shown.find(" … (").unwrap()];
        assert!(containers.to_string().starts_with(kept));
        // Every string begun is ended: the image is there whole or not at all.
        assert_eq!(kept.matches('"').count() % 2, 0, "{kept}");
        for (i, _) in kept.match_indices("sha256:") {
            assert!(kept[i..].starts_with(&format!("sha256:{}\"", "ab".repeat(32))), "{kept}");
        }
        assert_eq!(short(&Some(json!({"a": 1}))), "{\"a\":1}");
    }
}
