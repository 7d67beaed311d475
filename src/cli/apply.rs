//! `glidepath apply`: carries out a plan (or a saved one) in order under the state lock,
//! writing the state after every live change and the audit trail at the end.

use super::args::{ApplyArgs, SelectArgs};
use super::commands::{confirm, context, prepare, print_stats, save, Planned};
use super::views;
use super::{CliError, EXIT_OK};
use crate::plan::file::SavedPlan;
use crate::plan::{self};
use crate::state;
use crate::state::audit::{self, AuditRecord, ChangeOutcome};
use crate::state::store::Store;

/// Carries out the plan in order, holding the state lock. After every change that succeeds the
/// state file is written, so an apply that fails midway keeps what it did, and running it again
/// converges. Every apply is appended to the audit trail.
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
    let store = Store::open(&select.state)?;
    let _lock = store.lock("apply")?;
    let mut planned = prepare(&select, &selection, store)?;
    if let Some(saved) = &saved {
        if let Some(reason) = saved.staleness(&planned.plan) {
            return Err(CliError::StalePlan(reason));
        }
    }
    let ctx = context(&select, &planned);
    print!("{}", views::human::plan(&planned.plan, &ctx));
    if planned.check.fails() {
        return Err(CliError::CheckFailed(planned.check.findings.iter().filter(|f| f.fails()).count()));
    }
    if !planned.plan.has_changes() {
        print_stats(&select, &planned);
        return Ok(EXIT_OK);
    }
    let destructive = planned.plan.pending().filter(|c| c.action.destroys()).count();
    if destructive > 0 && !args.allow_delete {
        println!("{destructive} delete(s)/replacement(s) will be skipped: pass --allow-delete to carry them out.");
    }
    // A saved plan was reviewed when it was made; applying it asks no second time.
    if !args.auto_approve && saved.is_none() {
        confirm()?;
    }
    let mut audit = AuditRecord {
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
    let result = carry_out(args, &select, &mut planned, &mut audit);
    if let Err(e) = &result {
        audit.result = format!("failed: {e}");
    }
    planned.store.append_audit(&audit)?;
    print_stats(&select, &planned);
    result
}

fn carry_out(
    args: &ApplyArgs,
    select: &SelectArgs,
    planned: &mut Planned,
    audit: &mut AuditRecord,
) -> Result<u8, CliError> {
    let changes: Vec<_> = planned.plan.pending().cloned().collect();
    let total = changes.iter().filter(|c| args.allow_delete || !c.action.destroys()).count();
    let (mut applied, mut recorded_only) = (0, 0);
    let state_path = &select.state;
    for change in &changes {
        let mut outcome = ChangeOutcome {
            address: change.address.to_string(),
            action: change.action.verb().into(),
            outcome: "skipped".into(),
            error: None,
            image: rollout_image(change),
        };
        if change.action.destroys() && !args.allow_delete {
            audit.changes.push(outcome);
            continue;
        }
        match planned.provider_for(&change.address) {
            Some(provider) => {
                let stored = match provider.apply(change) {
                    Ok(stored) => stored,
                    Err(error) => {
                        if recorded_only > 0 {
                            save(&planned.store, &mut planned.state)?;
                        }
                        outcome.outcome = "failed".into();
                        outcome.error = Some(error.to_string());
                        audit.changes.push(outcome);
                        eprintln!(
                        "error: {error}\n{applied} of {total} change(s) were carried out and recorded in {}; fix the cause and run apply again to continue.",
                        state_path.display()
                    );
                        return Err(CliError::ApplyFailed);
                    }
                };
                println!("  {} {}: {} done", change.action.symbol(), change.address, change.action.verb());
                applied += 1;
                planned.state.record_change(change, stored);
                // Written after every live change, so a failure later loses nothing done so far.
                save(&planned.store, &mut planned.state)?;
                outcome.outcome = "applied".into();
            }
            None => {
                planned.state.record_change(change, None);
                recorded_only += 1;
                outcome.outcome = "recorded".into();
            }
        }
        audit.changes.push(outcome);
    }
    if recorded_only > 0 {
        save(&planned.store, &mut planned.state)?;
    }
    if total == 0 {
        println!("Nothing to do: the only changes are deletes or replacements, and --allow-delete was not given.");
    } else {
        if applied > 0 {
            println!("Applied {applied} change(s).");
        }
        if recorded_only > 0 {
            println!(
                "Recorded {recorded_only} change(s) in {} (serial {}). Offline for these: nothing was changed in AWS or the cluster for them.",
                state_path.display(),
                planned.state.serial
            );
        }
    }
    Ok(EXIT_OK)
}

/// The image a Rollout change deploys, for the audit trail (and staging-drift checks).
fn rollout_image(change: &plan::Change) -> Option<String> {
    if change.address.kind() != "Rollout" {
        return None;
    }
    crate::render::kube::app_image(change.after.as_ref()?)
}
