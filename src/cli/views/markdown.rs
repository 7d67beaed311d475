//! The plan as a pull-request comment: a summary line, a table of changes, field diffs folded.

use std::fmt::Write;

use super::{shown, PlanContext};
use crate::plan::{Action, Change, Plan};

pub fn plan(plan: &Plan, ctx: &PlanContext) -> String {
    let mut out = String::new();
    let s = &plan.summary;
    writeln!(out, "### glidepath plan\n").ok();
    writeln!(out, "_{}_\n", ctx.source_line()).ok();
    if !plan.has_changes() {
        writeln!(out, "**No changes.** {} resources match the catalog.", s.unchanged).ok();
        return out;
    }
    writeln!(
        out,
        "**{} to create, {} to update, {} to replace, {} to delete**, {} unchanged.\n",
        s.create, s.update, s.replace, s.delete, s.unchanged
    )
    .ok();
    let (kept, destroyed): (Vec<_>, Vec<_>) = plan.pending().partition(|c| !c.action.destroys());
    write_table(&mut out, &kept);
    if !destroyed.is_empty() {
        writeln!(out, "\n#### Deletes and replacements (applied only with `--allow-delete`)\n").ok();
        write_table(&mut out, &destroyed);
    }
    if !ctx.safety.is_empty() {
        writeln!(out, "\n**Safety** (glidepath check):\n").ok();
        for line in &ctx.safety {
            writeln!(out, "- {line}").ok();
        }
    }
    let updates: Vec<_> = plan.pending().filter(|c| matches!(c.action, Action::Update | Action::Replace)).collect();
    if !updates.is_empty() {
        writeln!(out, "\n<details><summary>Field changes ({} resources)</summary>\n\n```diff", updates.len()).ok();
        for change in updates {
            writeln!(out, "@@ {} @@", change.address).ok();
            for field in &change.fields {
                writeln!(
                    out,
                    "- {}: {}\n+ {}: {}",
                    field.path,
                    shown(&field.path, &field.before),
                    field.path,
                    shown(&field.path, &field.after)
                )
                .ok();
            }
        }
        writeln!(out, "```\n</details>").ok();
    }
    out
}

fn write_table(out: &mut String, changes: &[&Change]) {
    if changes.is_empty() {
        return;
    }
    writeln!(out, "| | Action | Address |\n|---|---|---|").ok();
    for change in changes {
        writeln!(out, "| `{}` | {} | `{}` |", change.action.symbol(), change.action.verb(), change.address).ok();
    }
}
