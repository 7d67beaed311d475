//! Saved plans (`plan --out FILE`, `apply FILE`): the complete plan with before/after bodies,
//! its selection and the fingerprints of what it was made from, so apply can refuse a plan
//! that no longer matches the world.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Change, Permissions, Plan, Selection};
use crate::kinds::ProviderId;

/// Version 2 carries everything apply sends (`send`, `contested`, permissions), so a saved plan
/// is carried out by a fresh process exactly as planned.
pub const FORMAT: &str = "glidepath-plan/2";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format: String,
    pub catalog: PathBuf,
    pub catalog_name: String,
    pub envs: Vec<String>,
    /// The providers selected; empty means all.
    pub providers: Vec<ProviderId>,
    /// The `--target` prefixes; empty means all.
    #[serde(default)]
    pub targets: Vec<String>,
    pub permissions: Permissions,
    pub live_fingerprint: String,
    pub desired_fingerprint: String,
    /// The pending changes, complete (bodies, what to send, contested fields).
    pub changes: Vec<Change>,
}

/// A change as a saved plan keeps it: bodies and what to send with secrets redacted (its
/// fields are redacted already, `plan::plan`).
fn redacted_change(change: &Change) -> Change {
    let redact = |v: &Option<serde_json::Value>| v.as_ref().map(crate::redact::body);
    Change {
        before: redact(&change.before),
        after: redact(&change.after),
        send: redact(&change.send),
        note: change.note.as_deref().map(crate::redact::text),
        contested: change.contested.as_deref().map(crate::redact::text),
        ..change.clone()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("cannot read plan {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path} is not a glidepath plan: {reason}")]
    Invalid { path: String, reason: String },
    #[error("cannot write plan {path}: {reason}")]
    Write { path: String, reason: String },
}

impl SavedPlan {
    pub fn new(plan: &Plan, catalog: &Path, catalog_name: &str, selection: &Selection) -> Self {
        SavedPlan {
            format: FORMAT.into(),
            catalog: catalog.to_path_buf(),
            catalog_name: catalog_name.to_string(),
            envs: selection.envs.clone(),
            providers: selection.providers.clone(),
            targets: selection.targets.clone(),
            permissions: plan.permissions,
            live_fingerprint: plan.live_fingerprint.clone(),
            desired_fingerprint: plan.desired_fingerprint.clone(),
            // A saved plan is a file people pass around: it holds no secret. Apply carries out
            // the fresh plan it was checked against (`staleness`), which has the real bodies.
            changes: plan.pending().map(redacted_change).collect(),
        }
    }

    pub fn selection(&self) -> Selection {
        Selection { envs: self.envs.clone(), providers: self.providers.clone(), targets: self.targets.clone() }
    }

    /// Why `fresh` (planned again now) is not the plan that was saved, if it is not.
    pub fn staleness(&self, fresh: &Plan) -> Option<String> {
        if fresh.desired_fingerprint != self.desired_fingerprint {
            return Some("the catalog renders differently than when the plan was made".into());
        }
        if fresh.live_fingerprint != self.live_fingerprint {
            return Some(format!(
                "the live state changed since the plan was made (it planned {} change(s); now there are {})",
                self.changes.len(),
                fresh.pending().count()
            ));
        }
        None
    }

    pub fn save(&self, path: &Path) -> Result<(), PlanFileError> {
        use std::io::Write;
        let fail = |e: std::io::Error| PlanFileError::Write { path: path.display().to_string(), reason: e.to_string() };
        let mut text = serde_json::to_string_pretty(self).expect("plans serialize");
        text.push('\n');
        let temp = path.with_extension("tmp");
        let mut file =
            crate::redact::private_file(std::fs::OpenOptions::new().write(true).create(true).truncate(true), &temp)
                .map_err(fail)?;
        file.write_all(text.as_bytes()).and_then(|_| file.sync_all()).map_err(fail)?;
        std::fs::rename(&temp, path).map_err(fail)
    }

    pub fn load(path: &Path) -> Result<Self, PlanFileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| PlanFileError::Read { path: shown.clone(), reason: e.to_string() })?;
        let plan: SavedPlan = serde_json::from_str(&text)
            .map_err(|e| PlanFileError::Invalid { path: shown.clone(), reason: e.to_string() })?;
        if plan.format != FORMAT {
            return Err(PlanFileError::Invalid {
                path: shown,
                reason: format!("format {} (this glidepath reads {FORMAT})", plan.format),
            });
        }
        Ok(plan)
    }
}
