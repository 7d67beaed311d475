//! Catalog settings of the pods themselves: hardening (`security`, relaxed only with a reason,
//! like waivers), the Pod Security Standard environments enforce, and topology spreading.

use std::collections::BTreeMap;

use super::decode::{closest, expect_string, Fields, Spanned};
use super::model::{
    Environment, PodSecurityLevel, Security, Spread, SpreadMode, MIN_REASON_CHARS, RELAXABLE, RESTRICTED_FORBIDS,
};
use super::problem::{Problem, Problems};
use super::schema::table;
use super::tree::Node;
use crate::rules;

/// `security { run_as_user = 10001, relax { run_as_root = "why" } }`. Returns the settings and
/// where each relaxation was written, for the check against the environments' standard.
pub fn decode_security(
    node: Option<&Node>,
    context: &str,
    problems: &mut Problems,
) -> (Security, BTreeMap<String, Spanned<String>>) {
    let mut security = Security::default();
    let mut spans = BTreeMap::new();
    let Some(node) = node else { return (security, spans) };
    let Some(mut f) = Fields::of(node, &table::SECURITY, format!("`security` of {context}"), problems) else {
        return (security, spans);
    };
    if let Some(user) = f.int("run_as_user", problems) {
        if (1..=i64::from(i32::MAX)).contains(&user.value) {
            security.run_as_user = Some(user.value as u32);
        } else {
            problems.push(
                Problem::new(
                    rules::OUT_OF_RANGE,
                    &user.span,
                    format!("`security.run_as_user` of {context} must be a non-root user id, found {}", user.value),
                )
                .label("not a non-root uid")
                .help("use the image's numeric user id (1 to 2147483647); to run as root, relax `run_as_root` with a reason"),
            );
        }
    }
    if let Some(relax) = f.node("relax") {
        decode_relax(relax, context, &mut security, &mut spans, problems);
    }
    f.finish(problems);
    (security, spans)
}

fn decode_relax(
    node: &Node,
    context: &str,
    security: &mut Security,
    spans: &mut BTreeMap<String, Spanned<String>>,
    problems: &mut Problems,
) {
    let Some(entries) = node.entries() else {
        problems.push(
            super::decode::wrong_type(
                node,
                &format!("`security.relax` of {context}"),
                "a block of setting = \"reason\"",
            )
            .help("write relax { writable_root_filesystem = \"why the app must write outside /tmp\" }"),
        );
        return;
    };
    for entry in entries {
        if !RELAXABLE.contains(&entry.key.as_str()) {
            problems.push(
                Problem::new(
                    rules::UNKNOWN_RELAXATION,
                    &entry.key_span,
                    format!("`{}` is not a hardening setting that can be relaxed", entry.key),
                )
                .label("not relaxable")
                .help(match closest(&entry.key, &RELAXABLE) {
                    Some(k) => format!("did you mean `{k}`?"),
                    None => format!("relaxable: {}", RELAXABLE.join(", ")),
                }),
            );
            continue;
        }
        let what = format!("relaxation `{}` of {context}", entry.key);
        let Some(reason) = expect_string(&entry.node, &what, problems) else { continue };
        if reason.value.trim().chars().count() < MIN_REASON_CHARS {
            problems.push(
                Problem::new(
                    rules::UNREASONED_RELAXATION,
                    &reason.span,
                    format!("relaxation `{}` gives no real reason", entry.key),
                )
                .label("too short")
                .help("say why the pod needs it and until when, e.g. \"the image runs nginx as root until PLAT-311 rebuilds it\""),
            );
            continue;
        }
        security.relax.insert(entry.key.clone(), reason.value.clone());
        spans.insert(entry.key.clone(), Spanned::new(entry.key.clone(), entry.key_span.clone()));
    }
}

/// A relaxation the restricted standard refuses, for a service deployed where it is enforced:
/// the apiserver would refuse every pod, so the rollout could never start.
pub fn check_against_standard(
    relaxed: &BTreeMap<String, Spanned<String>>,
    deployed: &[&Environment],
    problems: &mut Problems,
) {
    let strict: Vec<&str> =
        deployed.iter().filter(|e| e.pod_security == PodSecurityLevel::Restricted).map(|e| e.name.as_str()).collect();
    if strict.is_empty() {
        return;
    }
    for key in RESTRICTED_FORBIDS {
        let Some(at) = relaxed.get(key) else { continue };
        problems.push(
            Problem::new(
                rules::POD_SECURITY_CONFLICT,
                &at.span,
                format!(
                    "relaxing `{key}` breaks the restricted Pod Security Standard that {} enforce{}",
                    strict.join(", "),
                    if strict.len() == 1 { "s" } else { "" }
                ),
            )
            .label("refused under restricted")
            .help(format!(
                "the apiserver would refuse every pod: set `pod_security = \"baseline\"` on environment {} (or the platform), or drop the relaxation",
                strict.join(", ")
            )),
        );
    }
}

/// `pod_security = "restricted" | "baseline" | "privileged"` on the platform or an environment.
pub fn decode_level(f: &mut Fields, default: PodSecurityLevel, problems: &mut Problems) -> PodSecurityLevel {
    f.parsed(
        "pod_security",
        problems,
        PodSecurityLevel::parse,
        "use \"restricted\" (the default), \"baseline\" or \"privileged\"",
    )
    .map(|l| l.value)
    .unwrap_or(default)
}

/// `spread { zone = "soft", node = "hard" }`: each `soft` (the default), `hard` or `off`.
pub fn decode_spread(node: Option<&Node>, context: &str, problems: &mut Problems) -> Spread {
    let mut spread = Spread::default();
    let Some(node) = node else { return spread };
    let Some(mut f) = Fields::of(node, &table::SPREAD, format!("`spread` of {context}"), problems) else {
        return spread;
    };
    let help = "use \"soft\" (ScheduleAnyway, the default), \"hard\" (DoNotSchedule) or \"off\"";
    if let Some(zone) = f.parsed("zone", problems, SpreadMode::parse, help) {
        spread.zone = zone.value;
    }
    if let Some(node) = f.parsed("node", problems, SpreadMode::parse, help) {
        spread.node = node.value;
    }
    f.finish(problems);
    spread
}
