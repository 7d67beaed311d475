//! The audit trail: one JSON line per apply, appended to `audit.jsonl` next to the state:
//! who, when, from which catalog revision, the plan's digest, and each change's outcome.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::StateError;
use crate::kinds::{Kind, KubeKind};
use crate::plan::Change;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangeOutcome {
    pub address: String,
    pub action: String,
    /// `applied`, `recorded` (offline), `failed` or `skipped` (a delete without --allow-delete).
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The image a Rollout change deploys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

impl ChangeOutcome {
    /// What became of `change` (`outcome` in the words above).
    pub fn of(change: &Change, outcome: &str, error: Option<String>) -> Self {
        ChangeOutcome {
            address: change.address.to_string(),
            action: change.action.verb().into(),
            outcome: outcome.into(),
            error,
            image: rollout_image(change),
        }
    }
}

/// The image a Rollout change deploys, for the audit trail (and staging-drift checks).
fn rollout_image(change: &Change) -> Option<String> {
    if change.address.kind != Kind::Kube(KubeKind::Rollout) {
        return None;
    }
    crate::render::kube::app_image(change.after.as_ref()?)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditRecord {
    pub time: String,
    pub who: String,
    pub host: String,
    /// The AWS account/endpoint applied to, when AWS was live.
    #[serde(default)]
    pub aws: Option<String>,
    /// The catalog's git revision (`+dirty` with uncommitted changes), if it is in git.
    pub revision: Option<String>,
    pub plan_digest: String,
    pub result: String,
    pub changes: Vec<ChangeOutcome>,
}

impl AuditRecord {
    /// The record as it may be stored: error messages (which can quote a server's answer or a
    /// body) with anything secret-looking redacted. Addresses never hold one (`redact::stand_in`).
    pub fn redacted(&self) -> AuditRecord {
        let mut record = self.clone();
        for change in &mut record.changes {
            change.error = change.error.as_deref().map(crate::redact::text);
        }
        record.result = crate::redact::text(&record.result);
        record
    }
}

pub fn audit_path(state: &Path) -> PathBuf {
    state.with_file_name("audit.jsonl")
}

pub fn append(state: &Path, record: &AuditRecord) -> Result<(), StateError> {
    let path = audit_path(state);
    let fail = |e: std::io::Error| StateError::Write { path: path.display().to_string(), reason: e.to_string() };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let mut file =
        crate::redact::private_file(std::fs::OpenOptions::new().create(true).append(true), &path).map_err(fail)?;
    let mut line = serde_json::to_string(&record.redacted()).expect("audit records serialize");
    line.push('\n');
    file.write_all(line.as_bytes()).and_then(|_| file.sync_all()).map_err(fail)
}

pub fn read(state: &Path) -> Result<Vec<AuditRecord>, StateError> {
    let path = audit_path(state);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StateError::Read { path: path.display().to_string(), reason: e.to_string() }),
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| StateError::Corrupt {
                path: format!("{}:{}", path.display(), i + 1),
                reason: e.to_string(),
            })
        })
        .collect()
}

/// `git rev-parse HEAD` of the catalog, with `+dirty` when it has uncommitted changes.
pub fn revision(catalog: &Path) -> Option<String> {
    let dir = if catalog.is_dir() { catalog.to_path_buf() } else { catalog.parent()?.to_path_buf() };
    let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
    let run = |args: &[&str]| {
        std::process::Command::new("git").args(args).current_dir(&dir).output().ok().filter(|o| o.status.success())
    };
    let head = String::from_utf8(run(&["rev-parse", "HEAD"])?.stdout).ok()?.trim().to_string();
    let dirty = run(&["status", "--porcelain", "--", "."]).is_some_and(|o| !o.stdout.is_empty());
    Some(if dirty { format!("{head}+dirty") } else { head })
}

/// Who applied: the git author's email if configured, else the operating-system user with where
/// the name came from (`alice (from $USER)`), `unknown` only when nothing names one.
pub fn who(catalog: &Path) -> String {
    let dir = if catalog.is_dir() { catalog } else { catalog.parent().unwrap_or(Path::new(".")) };
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    std::process::Command::new("git")
        .args(["config", "user.email"])
        .current_dir(dir)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| match super::lock::user_and_source() {
            Some((user, source)) => format!("{user} (from {source})"),
            None => "unknown".into(),
        })
}
