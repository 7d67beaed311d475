//! The plan for machines. `format_version` changes only when a field changes meaning.

use serde_json::json;

use super::PlanContext;
use crate::plan::Plan;

pub const FORMAT_VERSION: &str = "1.0";

pub fn plan(plan: &Plan, ctx: &PlanContext) -> String {
    let changes: Vec<_> = plan
        .pending()
        .map(|c| {
            let mut change = json!({
                "address": c.address,
                "action": c.action,
                "environment": c.address.env(),
                "kind": c.address.kind(),
                "name": c.address.name(),
                "fields": c.fields,
            });
            // What the human plan prints under a change, only where there is something to say.
            for (key, text) in [("note", &c.note), ("contested", &c.contested)] {
                if let Some(text) = text {
                    change[key] = json!(text);
                }
            }
            change
        })
        .collect();
    let document = json!({
        "format_version": FORMAT_VERSION,
        "mode": {
            "aws": if ctx.aws_live.is_some() { "live" } else { "offline" },
            "cluster": if ctx.cluster_live.is_some() { "live" } else { "offline" },
        },
        "state": { "path": ctx.state_path.display().to_string(), "serial": ctx.state_serial },
        "has_changes": plan.has_changes(),
        "summary": plan.summary,
        "safety": ctx.safety,
        "check_fails": ctx.check_fails,
        "changes": changes,
    });
    let mut text = serde_json::to_string_pretty(&document).expect("plan serializes");
    text.push('\n');
    text
}
