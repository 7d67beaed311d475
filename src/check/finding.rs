//! What `check` reports: a coded finding with a severity, a one-line message, where in the
//! catalog it comes from, and the waiver that accepted it, if any.

use serde::Serialize;

use crate::rules::Code;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Fails `check` and every `plan` (exit 1).
    Error,
    Warning,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The rule's stable code (`check::exposure-over-limit`): see `crate::rules`.
    pub code: Code,
    pub severity: Severity,
    pub service: Option<String>,
    pub environment: Option<String>,
    pub message: String,
    /// `file:line:col` in the catalog.
    pub location: String,
    /// The reason a waiver gives, when the service waived this; a waived finding never fails.
    pub waived: Option<String>,
}

impl Finding {
    pub fn fails(&self) -> bool {
        self.severity == Severity::Error && self.waived.is_none()
    }

    pub fn one_line(&self) -> String {
        let scope = match (&self.service, &self.environment) {
            (Some(s), Some(e)) => format!("{s} in {e}: "),
            (Some(s), None) => format!("{s}: "),
            _ => String::new(),
        };
        let level = match (self.severity, &self.waived) {
            (_, Some(_)) => "waived",
            (Severity::Error, None) => "error",
            (Severity::Warning, None) => "warning",
        };
        let mut line = format!("{}: {level}[{}]: {scope}{}", self.location, self.code, self.message);
        if let Some(reason) = &self.waived {
            line.push_str(&format!(" (waived: {reason})"));
        }
        line
    }
}
