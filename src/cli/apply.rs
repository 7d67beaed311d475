//! `glidepath apply`: plans (or loads a saved plan and checks it is still current), then hands
//! the plan to the executor under the state lock, with a progress view, and writes the audit
//! trail at the end.

use super::args::{ApplyArgs, ApplyFormat};
use super::commands::{confirm, context, prepare_loaded, print_stats};
use super::views;
use super::views::progress::{HumanProgress, JsonProgress};
use super::{CliError, EXIT_OK};
use crate::apply::{self, ApplyHook, StateLedger};
use crate::plan::file::SavedPlan;
use crate::plan::Permissions;
use crate::providers::{Provider, Providers};
use crate::state;
use crate::state::audit::{self, AuditRecord};
use crate::state::store::Store;

/// Carries out the plan in order, holding the state lock. A saved plan is applied exactly as
/// saved once a fresh plan shows the catalog and the live state unchanged since. Every apply is
/// appended to the audit trail.
pub fn apply(args: &ApplyArgs) -> Result<u8, CliError> {
    let saved = args.plan_file.as_deref().map(SavedPlan::load).transpose()?;
    let mut select = args.select.clone();
    let selection = match &saved {
        Some(saved) => {
            select.catalog.catalog = saved.catalog.clone();
            saved.selection()
        }
        None => args.select.selection(),
    };
    let json = args.format == ApplyFormat::Json;
    // The catalog is checked before anything is written: an invalid one leaves no lock, no
    // `.glidepath/` and no audit record behind.
    let loaded = super::commands::load(&select.catalog)?;
    // Argo CD owns a GitOps environment's cluster objects: refused before the lock is taken.
    selection.writable(&loaded.0, args.force_gitops)?;
    let store = Store::open(&select.state)?;
    let _lock = store.lock("apply")?;
    let mut planned = prepare_loaded(&select, &selection, store, loaded)?;
    if let Some(saved) = &saved {
        if let Some(reason) = saved.staleness(&planned.plan) {
            return Err(CliError::StalePlan(reason));
        }
        // What was reviewed is what runs: the fresh plan is the saved one (same catalog render,
        // same live state), with the real bodies the saved file redacts; permissions are saved.
        planned.plan.permissions = saved.permissions;
    }
    let permissions = &mut planned.plan.permissions;
    *permissions = Permissions {
        allow_delete: permissions.allow_delete || args.allow_delete,
        force_conflicts: permissions.force_conflicts || select.force_conflicts,
    };
    let ctx = context(&select, &planned);
    if json {
        outln!("{}", views::progress::plan_event(&planned.plan));
    } else {
        out!("{}", views::human::plan(&planned.plan, &ctx));
    }
    if planned.check.fails() {
        return Err(CliError::CheckFailed(planned.check.findings.iter().filter(|f| f.fails()).count()));
    }
    if !planned.plan.has_changes() {
        print_stats(&select, &planned);
        return Ok(EXIT_OK);
    }
    let destructive = planned.plan.pending().filter(|c| c.action.destroys()).count();
    if destructive > 0 && !planned.plan.permissions.allow_delete && !json {
        outln!("{destructive} delete(s)/replacement(s) will be skipped: pass --allow-delete to carry them out.");
    }
    // A saved plan was reviewed when it was made; applying it asks no second time.
    if !args.auto_approve && saved.is_none() {
        confirm()?;
    }
    let mut record = AuditRecord {
        time: state::lock::now(),
        who: audit::who(&select.catalog.catalog),
        host: state::lock::host(),
        aws: planned
            .aws
            .as_ref()
            .map(|p| format!("{} ({})", p.target().caller, ctx.aws_live.clone().unwrap_or_default())),
        revision: audit::revision(&select.catalog.catalog),
        plan_digest: planned.plan.desired_fingerprint.clone(),
        result: "applied".into(),
        changes: Vec::new(),
    };
    let mut human = HumanProgress;
    let mut lines = JsonProgress;
    let hook: &mut dyn ApplyHook = if json { &mut lines } else { &mut human };
    let outcome = {
        let mut live: Vec<&mut dyn Provider> = Vec::new();
        if let Some(aws) = planned.aws.as_mut() {
            live.push(aws);
        }
        if let Some(cluster) = planned.cluster.as_mut() {
            live.push(cluster);
        }
        let mut ledger = StateLedger::new(&planned.store, &mut planned.state);
        apply::execute(&planned.plan, &mut Providers::new(live), &mut ledger, hook)
    };
    record.changes = outcome.changes.clone();
    if let Some(error) = &outcome.failure {
        record.result = format!("failed: {}", CliError::ApplyFailed);
        if !json {
            eprintln!(
                "error: {error}\n{} of {} change(s) were carried out and recorded in {}; fix the cause and run apply again to continue.",
                outcome.applied,
                outcome.total,
                select.state.display()
            );
        }
    }
    planned.store.append_audit(&record)?;
    if json {
        outln!("{}", views::progress::done_event(&outcome, &planned.state));
    } else if outcome.failure.is_none() {
        out!("{}", views::progress::human_summary(&outcome, &select.state, planned.state.serial));
    }
    print_stats(&select, &planned);
    if outcome.failure.is_some() {
        return Err(CliError::ApplyFailed);
    }
    Ok(EXIT_OK)
}
