//! Apply progress: a line per change for people (`[12/247] + ADDRESS: create done (3.1s)`), or
//! JSON lines for CI systems (`apply --format json`): one `plan` event, one `change` event per
//! change, one `done` event. The line formats are documented in the README.

use std::fmt::Write;
use std::path::Path;

use serde_json::json;

use crate::apply::{ApplyHook, ApplyOutcome, Outcome, Step};
use crate::plan::{Change, Plan};
use crate::state::State;

/// The human view: one line per change carried out, as it finishes.
pub struct HumanProgress;

impl ApplyHook for HumanProgress {
    fn finished(&mut self, step: Step, change: &Change, outcome: &Outcome) {
        if let Outcome::Applied = outcome {
            let width = step.total.to_string().len();
            outln!(
                "  [{:>width$}/{}] {} {}: {} done ({:.1}s)",
                step.index,
                step.total,
                change.action.symbol(),
                change.address,
                change.action.verb(),
                step.elapsed.as_secs_f64()
            );
        }
    }
}

/// The machine view: every change as one JSON object on its own line.
pub struct JsonProgress;

impl ApplyHook for JsonProgress {
    fn finished(&mut self, step: Step, change: &Change, outcome: &Outcome) {
        let error = match outcome {
            Outcome::Failed(e) => Some(e.to_string()),
            _ => None,
        };
        let event = json!({
            "event": "change",
            "index": step.index,
            "total": step.total,
            "address": change.address,
            "action": change.action,
            "outcome": outcome.word(),
            "error": error,
            "elapsed_seconds": round(step.elapsed.as_secs_f64()),
        });
        outln!("{event}");
    }
}

fn round(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

/// The first line of `apply --format json`: what the plan will do, and the version of the
/// lines' format (it changes only when a field changes meaning, as for the plan JSON).
pub fn plan_event(plan: &Plan) -> String {
    json!({
        "event": "plan",
        "format_version": "1.0",
        "has_changes": plan.has_changes(),
        "summary": plan.summary,
        "allow_delete": plan.permissions.allow_delete,
    })
    .to_string()
}

/// The last line of `apply --format json`.
pub fn done_event(outcome: &ApplyOutcome, state: &State) -> String {
    json!({
        "event": "done",
        "result": if outcome.failure.is_some() { "failed" } else { "applied" },
        "error": outcome.failure.as_ref().map(|e| e.to_string()),
        "applied": outcome.applied,
        "recorded": outcome.recorded,
        "skipped": outcome.skipped,
        "total": outcome.total,
        "state_serial": state.serial,
    })
    .to_string()
}

/// What a successful apply says at the end.
pub fn human_summary(outcome: &ApplyOutcome, state_path: &Path, serial: u64) -> String {
    let mut out = String::new();
    if outcome.total == 0 {
        out.push_str(
            "Nothing to do: the only changes are deletes or replacements, and --allow-delete was not given.\n",
        );
        return out;
    }
    if outcome.applied > 0 {
        writeln!(out, "Applied {} change(s).", outcome.applied).ok();
    }
    if outcome.recorded > 0 {
        writeln!(
            out,
            "Recorded {} change(s) in {} (serial {serial}). Offline for these: nothing was changed in AWS or the cluster for them.",
            outcome.recorded,
            state_path.display()
        )
        .ok();
    }
    out
}
