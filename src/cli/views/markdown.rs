//! The plan as a pull-request comment: a summary line, a table of changes, field diffs folded.

use std::fmt::Write;

use super::{short, PlanContext};
use crate::plan::{Action, Plan};

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
    writeln!(out, "| | Action | Address |\n|---|---|---|").ok();
    for change in plan.pending() {
        writeln!(out, "| `{}` | {} | `{}` |", change.action.symbol(), change.action.verb(), change.address).ok();
    }
    let updates: Vec<_> = plan.pending().filter(|c| matches!(c.action, Action::Update | Action::Replace)).collect();
    if !updates.is_empty() {
        writeln!(out, "\n<details><summary>Field changes ({} resources)</summary>\n\n```diff", updates.len()).ok();
        for change in updates {
            writeln!(out, "@@ {} @@", change.address).ok();
            for field in &change.fields {
                writeln!(out, "- {}: {}\n+ {}: {}", field.path, short(&field.before), field.path, short(&field.after))
                    .ok();
            }
        }
        writeln!(out, "```\n</details>").ok();
    }
    out
}
