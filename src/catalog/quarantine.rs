//! Decoding `quarantine "IMAGE" { … }` entries: images a GitOps rollback took out of an
//! environment, checked in so that every command that reads the catalog (CI's `render`
//! included, hence Argo CD) refuses to bring them back until the entry is cleared with a reason.

use super::build::{unknown_reference, Context};
use super::decode::{expect_strings, Fields};
use super::model::{Quarantine, MIN_REASON_CHARS};
use super::problem::{Problem, Problems};
use super::schema::table;
use super::tree::Node;
use crate::rules;

/// Every entry of the `quarantines` group; an entry with a problem is reported and left out.
pub(super) fn decode_all(
    group: Option<&Node>,
    ctx: &Context,
    services: &[&str],
    problems: &mut Problems,
) -> Vec<Quarantine> {
    let Some(group) = group else { return Vec::new() };
    let Some(entries) = group.entries() else {
        problems.push(
            Problem::new(rules::WRONG_TYPE, &group.span, "`quarantine` entries must be blocks named by image")
                .help("write `quarantine \"1.4.3\" { service = \"…\" reason = \"…\" }`"),
        );
        return Vec::new();
    };
    let mut out: Vec<Quarantine> = Vec::new();
    for entry in entries {
        let context = format!("quarantine `{}`", entry.key);
        let Some(mut f) = Fields::of(&entry.node, &table::QUARANTINE, context.clone(), problems) else { continue };
        let service = f.required_string("service", "service = \"checkout\"", problems);
        let reason = f.required_string("reason", "reason = \"aborted by analysis: 5xx at 50% (INC-231)\"", problems);
        let environments =
            f.node("environments").and_then(|n| expect_strings(n, &format!("`environments` in {context}"), problems));
        let cleared = f.string("cleared", problems);
        f.finish(problems);
        let mut ok = true;
        if let Some(service) = &service {
            if !services.contains(&service.value.as_str()) {
                // A typo would forbid nothing; a record of a removed service is deleted with it.
                problems.push(
                    Problem::new(
                        rules::MALFORMED_VALUE,
                        &service.span,
                        format!("{context} names no service of the catalog"),
                    )
                    .help(format!("name one of: {}", services.join(", "))),
                );
                ok = false;
            }
        }
        for env in environments.iter().flatten() {
            if !ctx.environments.iter().any(|e| e.name == env.value) {
                let known: Vec<&str> = ctx.environments.iter().map(|e| e.name.as_str()).collect();
                problems.push(unknown_reference(
                    rules::UNKNOWN_ENVIRONMENT,
                    "environment",
                    env,
                    &known,
                    "environment \"NAME\" { … }",
                ));
                ok = false;
            }
        }
        for text in [&reason, &cleared].into_iter().flatten() {
            if text.value.trim().chars().count() < MIN_REASON_CHARS {
                problems.push(
                    Problem::new(rules::MALFORMED_VALUE, &text.span, format!("{context} gives no real reason"))
                        .help("say what happened and where it is tracked, in at least 15 characters"),
                );
                ok = false;
            }
        }
        let (Some(service), Some(reason), true) = (service, reason, ok) else { continue };
        if let Some(first) = out.iter().find(|q| q.image == entry.key && q.service == service.value) {
            problems.push(
                Problem::new(
                    rules::DUPLICATE_NAME,
                    &entry.key_span,
                    format!("{context} of {} is declared twice", service.value),
                )
                .help(format!("keep one; the first is at {}", first.location)),
            );
            continue;
        }
        out.push(Quarantine {
            image: entry.key.clone(),
            service: service.value,
            environments: environments.unwrap_or_default().into_iter().map(|e| e.value).collect(),
            reason: reason.value,
            cleared: cleared.map(|c| c.value),
            location: entry.key_span.location(),
        });
    }
    out
}
