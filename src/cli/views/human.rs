//! The plan for people: grouped by environment and service, Terraform's `+ ~ -` symbols,
//! field-level changes for updates.

use std::fmt::Write;

use super::{shown, Paint, PlanContext};
use crate::plan::{Action, Change, Plan};
use crate::render::Address;

pub fn plan(plan: &Plan, ctx: &PlanContext) -> String {
    let mut out = String::new();
    writeln!(out, "{}\n", ctx.source_line()).ok();
    if !plan.has_changes() {
        writeln!(out, "No changes. {} resources match the catalog.", plan.summary.unchanged).ok();
        for line in &ctx.safety {
            writeln!(out, "  {line}").ok();
        }
        return out;
    }
    let (kept, destroyed): (Vec<_>, Vec<_>) = plan.pending().partition(|c| !c.action.destroys());
    write_grouped(&mut out, &kept);
    if !destroyed.is_empty() {
        writeln!(out, "\nDeletes and replacements (carried out only with --allow-delete):").ok();
        write_grouped(&mut out, &destroyed);
    }
    if !ctx.safety.is_empty() {
        writeln!(out, "\nSafety (glidepath check):").ok();
        for line in &ctx.safety {
            writeln!(out, "  {line}").ok();
        }
    }
    let s = &plan.summary;
    writeln!(
        out,
        "\nPlan: {} to create, {} to update, {} to replace, {} to delete, {} unchanged.",
        s.create, s.update, s.replace, s.delete, s.unchanged
    )
    .ok();
    out
}

/// Changes grouped by environment and service; within a group, in apply order.
fn write_grouped(out: &mut String, changes: &[&Change]) {
    let paint = Paint::for_stdout();
    let group_of = |address: &Address| match &address.scope {
        None => (String::new(), address.provider().to_string()),
        Some(scope) => (scope.env.clone(), format!("{} / {}", scope.env, scope.owner)),
    };
    let mut sorted: Vec<_> = changes.iter().enumerate().collect();
    sorted.sort_by_key(|(order, c)| (group_of(&c.address), *order));
    let mut current_group = String::new();
    for (_, change) in sorted {
        let (_, group) = group_of(&change.address);
        if group != current_group {
            writeln!(out, "{group}").ok();
            current_group = group;
        }
        let line = format!("{} {}  ({})", change.action.symbol(), change.address, change.action.verb());
        writeln!(out, "  {}", paint.action(change.action, &line)).ok();
        if let Some(note) = &change.note {
            writeln!(out, "      ! {note}").ok();
        }
        if matches!(change.action, Action::Update | Action::Replace) {
            for field in &change.fields {
                writeln!(
                    out,
                    "      ~ {}: {} → {}",
                    field.path,
                    shown(&field.path, &field.before),
                    shown(&field.path, &field.after)
                )
                .ok();
            }
        }
    }
}
