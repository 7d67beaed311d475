//! Catalog settings of the safety report: tier limits (profiles only), reasoned waivers, and the
//! traffic each service expects per environment.

use std::collections::BTreeMap;

use super::build::Context;
use super::decode::{closest, expect_string, Fields, Spanned};
use super::model::{Limits, MIN_REASON_CHARS, WAIVABLE};
use super::problem::{Problem, Problems};
use super::schema::table;
use super::tree::{Node, Value};
use super::values::{Duration, Percent};
use crate::rules;

/// `limits { … }` comes from the service's profile; a service may not loosen its own tier.
pub fn decode_limits(merged: Option<&Node>, own: &Node, context: &str, problems: &mut Problems) -> Limits {
    if let Some(entry) = own.entries().and_then(|e| e.iter().find(|e| e.key == "limits")) {
        problems.push(
            Problem::new(rules::LIMITS_IN_SERVICE, &entry.key_span, format!("{context} sets its own `limits`"))
                .label("limits belong to profiles")
                .help("tier limits come from the service's profile (modules/); to accept a breach, add a reasoned `waivers { … }` entry"),
        );
    }
    let mut limits = Limits::default();
    let Some(node) = merged else { return limits };
    let Some(mut f) = Fields::of(node, &table::LIMITS, format!("`limits` of {context}"), problems) else {
        return limits;
    };
    let duration_help = "write a duration such as \"3m\"";
    let percent_help = "write a percentage such as \"5%\"";
    limits.max_rollback = f.parsed("max_rollback", problems, Duration::parse, duration_help).map(|v| v.value);
    limits.max_exposure = f.parsed("max_exposure", problems, Percent::parse, percent_help).map(|v| v.value);
    limits.min_pdb = f.parsed("min_pdb", problems, Percent::parse, percent_help).map(|v| v.value);
    limits.max_deploy_time = f.parsed("max_deploy_time", problems, Duration::parse, duration_help).map(|v| v.value);
    f.finish(problems);
    limits
}

/// `waivers { exposure = "why this is acceptable" }`: each key a waivable limit, each value a reason.
pub fn decode_waivers(node: Option<&Node>, context: &str, problems: &mut Problems) -> BTreeMap<String, String> {
    let mut waivers = BTreeMap::new();
    let Some(node) = node else { return waivers };
    let Some(entries) = node.entries() else {
        problems.push(
            super::decode::wrong_type(node, &format!("`waivers` of {context}"), "a block of limit = \"reason\"")
                .help("write waivers { exposure = \"why this is acceptable\" }"),
        );
        return waivers;
    };
    for entry in entries {
        if !WAIVABLE.contains(&entry.key.as_str()) {
            problems.push(
                Problem::new(
                    rules::UNKNOWN_WAIVER,
                    &entry.key_span,
                    format!("`{}` is not a limit that can be waived", entry.key),
                )
                .help(match closest(&entry.key, &WAIVABLE) {
                    Some(k) => format!("did you mean `{k}`?"),
                    None => format!("waivable: {}", WAIVABLE.join(", ")),
                }),
            );
            continue;
        }
        let Some(reason) = expect_string(&entry.node, &format!("waiver `{}` of {context}", entry.key), problems) else {
            continue;
        };
        if reason.value.trim().chars().count() < MIN_REASON_CHARS {
            problems.push(
                Problem::new(rules::UNREASONED_WAIVER, &reason.span, format!("waiver `{}` gives no real reason", entry.key))
                    .label("too short")
                    .help("say why the breach is acceptable and until when, e.g. \"12 replicas until the ALB router lands (PLAT-142)\""),
            );
            continue;
        }
        waivers.insert(entry.key.clone(), reason.value);
    }
    waivers
}

/// Requests per second per environment: a number for all, or `{ default = …, prod = … }`.
pub fn decode_expected_rps(
    node: Option<&Node>,
    context: &str,
    ctx: &Context,
    problems: &mut Problems,
) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let Some(node) = node else { return out };
    let number = |n: &Node, problems: &mut Problems| -> Option<f64> {
        let value = match n.value {
            Value::Int(i) => i as f64,
            Value::Float(f) => f,
            _ => {
                problems.push(
                    super::decode::wrong_type(n, &format!("`expected_rps` of {context}"), "a number")
                        .help("write e.g. 250"),
                );
                return None;
            }
        };
        if value < 0.0 {
            problems.push(
                Problem::new(rules::OUT_OF_RANGE, &n.span, "expected_rps cannot be negative")
                    .help("write the usual requests per second, e.g. 250"),
            );
            return None;
        }
        Some(value)
    };
    match &node.value {
        Value::Map(entries) => {
            let known: Vec<&str> = ctx.environments.iter().map(|e| e.name.as_str()).collect();
            let mut default = None;
            for entry in entries {
                let Some(value) = number(&entry.node, problems) else { continue };
                if entry.key == "default" {
                    default = Some(value);
                } else if known.contains(&entry.key.as_str()) {
                    out.insert(entry.key.clone(), value);
                } else {
                    let key = Spanned::new(entry.key.clone(), entry.key_span.clone());
                    problems.push(super::build::unknown_reference(
                        rules::UNKNOWN_ENVIRONMENT,
                        "environment",
                        &key,
                        &known,
                        "environment \"NAME\" { … }",
                    ));
                }
            }
            if let Some(default) = default {
                for env in known {
                    out.entry(env.to_string()).or_insert(default);
                }
            }
        }
        _ => {
            if let Some(value) = number(node, problems) {
                for env in ctx.environments {
                    out.insert(env.name.clone(), value);
                }
            }
        }
    }
    out
}
