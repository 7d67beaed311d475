//! Decoding a service's delivery settings: canary steps and pauses, blue/green, SLO analysis,
//! PodDisruptionBudget and autoscaling.

use std::collections::BTreeMap;

use super::build::{positive_int, unknown_reference, Context, DEFAULT_PROMETHEUS};
use super::decode::{expect_int, expect_string, Fields, Spanned};
use super::model::{BlueGreen, Canary, Pause, Pdb, Probes, ServiceEnv, Slo, SmokeTest};
use super::problem::{Problem, Problems};
use super::schema::table;
use super::service::{decode_replicas, DEFAULT_SMOKE_IMAGE};
use super::tree::{Node, Value};
use super::values::{Duration, Percent};
use crate::rules;

pub(super) fn decode_canary(node: Option<&Node>, context: &str, problems: &mut Problems) -> Option<Canary> {
    let default_steps = vec![10, 50, 100];
    let default_pauses = vec![Pause::For(Duration::from_secs(120)), Pause::For(Duration::from_secs(300))];
    let Some(node) = node else {
        return Some(Canary {
            steps: default_steps,
            pauses: default_pauses,
            analysis_from_step: 1,
            max_surge: "25%".into(),
        });
    };
    let mut c = Fields::of(node, &table::CANARY, format!("`canary` of {context}"), problems)?;
    let steps_node = c.node("steps");
    let pauses_node = c.node("pauses");
    let from = c.int("analysis_from_step", problems);
    let max_surge = c.node("max_surge").and_then(|n| match &n.value {
        Value::Int(i) if *i >= 0 => Some(Spanned::new(i.to_string(), n.span.clone())),
        _ => expect_string(n, "`canary.max_surge`", problems),
    });
    c.finish(problems);

    let steps: Vec<Spanned<i64>> = match steps_node {
        Some(n) => match &n.value {
            Value::List(items) => items.iter().filter_map(|i| expect_int(i, "each canary step", problems)).collect(),
            _ => {
                problems.push(
                    super::decode::wrong_type(n, "`canary.steps`", "a list of traffic weights")
                        .help("write e.g. steps = [5, 20, 50, 100]"),
                );
                return None;
            }
        },
        None => default_steps.iter().map(|s| Spanned::new(*s as i64, node.span.clone())).collect(),
    };
    let mut ok = true;
    if steps.is_empty() {
        problems.push(
            Problem::new(rules::CANARY_STEPS, &node.span, "canary has no steps")
                .help("write e.g. steps = [5, 20, 50, 100]"),
        );
        return None;
    }
    for (i, step) in steps.iter().enumerate() {
        if step.value < 1 || step.value > 100 {
            ok = false;
            problems.push(
                Problem::new(rules::CANARY_STEPS, &step.span, format!("canary weight {} is outside 1–100", step.value))
                    .label("not a traffic percentage")
                    .help("weights are percentages of traffic, from 1 to 100"),
            );
        } else if i > 0 && step.value <= steps[i - 1].value {
            ok = false;
            problems.push(
                Problem::new(
                    rules::CANARY_STEPS,
                    &step.span,
                    format!("canary weight {} does not increase (previous step is {})", step.value, steps[i - 1].value),
                )
                .label("not increasing")
                .help("list weights in strictly increasing order, e.g. [5, 20, 50, 100]"),
            );
        }
    }
    let last = steps.last().expect("checked non-empty");
    if ok && last.value != 100 {
        ok = false;
        problems.push(
            Problem::new(rules::CANARY_STEPS, &last.span, format!("the last canary weight is {}, not 100", last.value))
                .label("final step")
                .help("end with 100 so full promotion is an explicit step, e.g. [.., 50, 100]"),
        );
    }

    let mut written_pauses = None;
    let pauses: Vec<Spanned<Pause>> = match pauses_node {
        Some(n) => match &n.value {
            Value::List(items) => {
                written_pauses = Some(items.len());
                items.iter().filter_map(|i| decode_pause(i, problems)).collect()
            }
            _ => {
                problems.push(
                    super::decode::wrong_type(n, "`canary.pauses`", "a list of durations")
                        .help("write e.g. pauses = [\"5m\", \"10m\", \"10m\"]"),
                );
                return None;
            }
        },
        None if steps_node.is_none() => default_pauses.iter().map(|p| Spanned::new(*p, node.span.clone())).collect(),
        None => {
            steps.iter().skip(1).map(|s| Spanned::new(Pause::For(Duration::from_secs(120)), s.span.clone())).collect()
        }
    };
    let pause_count = written_pauses.unwrap_or(pauses.len());
    if pause_count + 1 != steps.len() {
        ok = false;
        let span = pauses_node.map(|n| n.span.clone()).unwrap_or_else(|| node.span.clone());
        problems.push(
            Problem::new(
                rules::CANARY_PAUSES,
                &span,
                format!(
                    "{} pause(s) for {} steps: a canary pauses once between consecutive steps",
                    pause_count,
                    steps.len()
                ),
            )
            .label("pauses do not match steps")
            .help(format!(
                "give exactly {} pause(s), one after each step except the last",
                steps.len().saturating_sub(1)
            )),
        );
    }
    let analysis_from_step = match from {
        Some(v) if v.value >= 1 && (v.value as usize) <= steps.len() => v.value as usize,
        Some(v) => {
            ok = false;
            problems.push(
                Problem::new(
                    rules::OUT_OF_RANGE,
                    &v.span,
                    format!("analysis_from_step {} is not one of the {} steps", v.value, steps.len()),
                )
                .help(format!("use a step position from 1 to {}", steps.len())),
            );
            1
        }
        None => 1,
    };
    let max_surge = match max_surge {
        Some(s) if is_int_or_percent(&s.value) => s.value,
        Some(s) => {
            problems.push(
                Problem::new(
                    rules::MALFORMED_VALUE,
                    &s.span,
                    format!("max_surge `{}` is neither a count nor a percentage", s.value),
                )
                .help("write e.g. \"25%\" or \"1\""),
            );
            return None;
        }
        None => "25%".into(),
    };
    ok.then(|| Canary {
        steps: steps.iter().map(|s| s.value as u32).collect(),
        pauses: pauses.into_iter().map(|p| p.value).collect(),
        analysis_from_step,
        max_surge,
    })
}

pub(super) fn decode_pause(node: &Node, problems: &mut Problems) -> Option<Spanned<Pause>> {
    let text = expect_string(node, "each canary pause", problems)?;
    if text.value == "manual" {
        return Some(Spanned::new(Pause::Manual, text.span));
    }
    match Duration::parse(&text.value) {
        Ok(d) if d.millis >= 1000 => Some(Spanned::new(Pause::For(d), text.span)),
        Ok(_) => {
            problems.push(
                Problem::new(
                    rules::MALFORMED_VALUE,
                    &text.span,
                    format!("pause `{}` is shorter than a second", text.value),
                )
                .help("Argo Rollouts pauses in whole seconds; use e.g. \"30s\""),
            );
            None
        }
        Err(reason) => {
            problems.push(
                Problem::new(rules::MALFORMED_VALUE, &text.span, format!("pause: {reason}"))
                    .label("malformed duration")
                    .help("write a duration such as \"5m\" or \"30s\", or \"manual\" to wait for promotion"),
            );
            None
        }
    }
}

pub(super) fn is_int_or_percent(text: &str) -> bool {
    let number = text.strip_suffix('%').unwrap_or(text);
    !number.is_empty() && number.chars().all(|c| c.is_ascii_digit())
}

pub(super) fn decode_blue_green(
    node: Option<&Node>,
    context: &str,
    probes: Option<&Probes>,
    problems: &mut Problems,
) -> Option<BlueGreen> {
    let default_delay = Duration::from_secs(30);
    // Without a smoke_test block the preview is still checked, on its readiness path.
    let default_smoke = SmokeTest {
        path: probes.map(|p| p.readiness.clone()).unwrap_or_else(|| "/".into()),
        image: DEFAULT_SMOKE_IMAGE.into(),
    };
    let Some(node) = node else {
        return Some(BlueGreen { auto_promote: None, scale_down_delay: default_delay, smoke_test: default_smoke });
    };
    let mut b = Fields::of(node, &table::BLUE_GREEN, format!("`blue_green` of {context}"), problems)?;
    let auto_promote = b.boolean("auto_promote", problems).map(|v| v.value);
    let delay = b.parsed("scale_down_delay", problems, Duration::parse, "write a duration such as \"30s\"");
    let smoke = match b.node("smoke_test") {
        Some(n) => {
            let mut s = Fields::of(n, &table::SMOKE_TEST, format!("`blue_green.smoke_test` of {context}"), problems)?;
            let path = s.string("path", problems);
            let image = s.string("image", problems);
            s.finish(problems);
            SmokeTest {
                path: path.map(|p| p.value).unwrap_or(default_smoke.path),
                image: image.map(|i| i.value).unwrap_or(default_smoke.image),
            }
        }
        None => default_smoke,
    };
    b.finish(problems);
    Some(BlueGreen {
        auto_promote,
        scale_down_delay: delay.map(|d| d.value).unwrap_or(default_delay),
        smoke_test: smoke,
    })
}

pub(super) fn decode_slo(node: Option<&Node>, context: &str, ctx: &Context, problems: &mut Problems) -> Option<Slo> {
    let mut slo = Slo {
        max_error_rate: Percent { fraction: 0.01 },
        p99_latency: Duration { millis: 500 },
        prometheus: if ctx.platform.prometheus.is_empty() {
            DEFAULT_PROMETHEUS.into()
        } else {
            ctx.platform.prometheus.clone()
        },
        interval: Duration::from_secs(60),
        count: None,
        failure_limit: 1,
        initial_delay: None,
        scrape_interval: ctx.platform.scrape_interval,
        request_metric: "http_requests_total".into(),
        latency_metric: "http_request_duration_seconds_bucket".into(),
    };
    let Some(node) = node else { return Some(slo) };
    let mut s = Fields::of(node, &table::SLO, format!("`slo` of {context}"), problems)?;
    if let Some(v) =
        s.parsed("max_error_rate", problems, Percent::parse, "write a percentage such as \"1%\" or \"0.5%\"")
    {
        slo.max_error_rate = v.value;
    }
    if let Some(v) = s.parsed("p99_latency", problems, Duration::parse, "write a duration such as \"500ms\" or \"1s\"")
    {
        slo.p99_latency = v.value;
    }
    if let Some(v) = s.string("prometheus", problems) {
        slo.prometheus = v.value;
    }
    let range = (Duration::from_secs(1), Duration::from_secs(3600));
    if let Some(v) = s.duration_within("interval", range, problems, "write a duration such as \"1m\" or \"30s\"") {
        slo.interval = v.value;
    }
    if s.node("count").is_some() {
        slo.count = Some(positive_int(&mut s, "count", 5, problems));
    }
    if let Some(v) = s.int("failure_limit", problems) {
        if v.value < 0 {
            problems.push(
                Problem::new(rules::OUT_OF_RANGE, &v.span, "failure_limit cannot be negative")
                    .help("0 aborts on the first failed measurement"),
            );
        } else {
            slo.failure_limit = v.value as u32;
        }
    }
    if let Some(v) = s.parsed("initial_delay", problems, Duration::parse, "write a duration such as \"30s\"") {
        slo.initial_delay = Some(v.value);
    }
    if let Some(v) = s.string("request_metric", problems) {
        slo.request_metric = v.value;
    }
    if let Some(v) = s.string("latency_metric", problems) {
        slo.latency_metric = v.value;
    }
    s.finish(problems);
    Some(slo)
}

pub(super) fn decode_pdb(node: Option<&Node>, context: &str, problems: &mut Problems) -> Option<Pdb> {
    let Some(node) = node else { return Some(Pdb::MaxUnavailable("1".into())) };
    let mut p = Fields::of(node, &table::PDB, format!("`pdb` of {context}"), problems)?;
    let read = |p: &mut Fields, name: &'static str, problems: &mut Problems| -> Option<Spanned<String>> {
        let n = p.node(name)?;
        match &n.value {
            Value::Int(i) if *i >= 0 => Some(Spanned::new(i.to_string(), n.span.clone())),
            Value::Str(s) if s.ends_with('%') && Percent::parse(s).is_ok() => {
                Some(Spanned::new(s.clone(), n.span.clone()))
            }
            _ => {
                problems.push(
                    Problem::new(
                        rules::MALFORMED_VALUE,
                        &n.span,
                        format!("`pdb.{name}` must be a pod count or a percentage"),
                    )
                    .help("write a number (2) or a percentage (\"80%\")"),
                );
                None
            }
        }
    };
    let min = read(&mut p, "min_available", problems);
    let max = read(&mut p, "max_unavailable", problems);
    let span = p.span.clone();
    p.finish(problems);
    match (min, max) {
        (Some(_), Some(m)) => {
            problems.push(
                Problem::new(rules::PDB_CONFLICT, &m.span, "set either `min_available` or `max_unavailable`, not both")
                    .help("Kubernetes accepts only one of them"),
            );
            None
        }
        (Some(m), None) => Some(Pdb::MinAvailable(m.value)),
        (None, Some(m)) => Some(Pdb::MaxUnavailable(m.value)),
        (None, None) => {
            problems.push(
                Problem::new(rules::MISSING_FIELD, &span, format!("`pdb` of {context} sets no limit"))
                    .help("add `min_available = \"80%\"` or `max_unavailable = 1`"),
            );
            None
        }
    }
}

pub(super) struct HpaSpec {
    pub(super) cpu_target: u32,
    max: BTreeMap<String, Spanned<u32>>,
    default_max: Option<Spanned<u32>>,
    span: super::source::Span,
}

pub(super) fn decode_hpa(node: Option<&Node>, context: &str, problems: &mut Problems) -> Option<HpaSpec> {
    let node = node?;
    let mut h = Fields::of(node, &table::HPA, format!("`hpa` of {context}"), problems)?;
    let cpu_target = match h.int("cpu_target", problems) {
        Some(v) if (1..=100).contains(&v.value) => v.value as u32,
        Some(v) => {
            problems.push(
                Problem::new(
                    rules::OUT_OF_RANGE,
                    &v.span,
                    format!("cpu_target {} is not a utilisation percentage", v.value),
                )
                .help("use 1–100, e.g. 70"),
            );
            70
        }
        None => 70,
    };
    let mut max = BTreeMap::new();
    let mut default_max = None;
    match h.node("max_replicas") {
        Some(n) => match &n.value {
            Value::Map(entries) => {
                for e in entries {
                    if let Some(v) = decode_replicas(&e.node, &format!("`hpa.max_replicas.{}`", e.key), problems) {
                        let v = Spanned::new(v, e.node.span.clone());
                        if e.key == "default" {
                            default_max = Some(v)
                        } else {
                            max.insert(e.key.clone(), v);
                        }
                    }
                }
            }
            _ => {
                default_max =
                    decode_replicas(n, "`hpa.max_replicas`", problems).map(|v| Spanned::new(v, n.span.clone()))
            }
        },
        None => h.missing("max_replicas", "max_replicas = { default = 10, prod = 40 }", problems),
    }
    let span = h.span.clone();
    h.finish(problems);
    Some(HpaSpec { cpu_target, max, default_max, span })
}

/// With an HPA, `replicas` is its minimum; each environment needs a maximum at least that large.
pub(super) fn apply_hpa_bounds(
    hpa: &HpaSpec,
    per_env: &mut BTreeMap<String, ServiceEnv>,
    context: &str,
    problems: &mut Problems,
) {
    for (env, settings) in per_env.iter_mut() {
        let Some(max) = hpa.max.get(env).or(hpa.default_max.as_ref()) else {
            problems.push(
                Problem::new(
                    rules::MISSING_FIELD,
                    &hpa.span,
                    format!("`hpa` of {context} has no max_replicas for `{env}`"),
                )
                .help(format!("add `{env} = N` or `default = N` to max_replicas")),
            );
            continue;
        };
        if max.value < settings.replicas {
            problems.push(
                Problem::new(
                    rules::OUT_OF_RANGE,
                    &max.span,
                    format!("hpa max_replicas {} in `{env}` is below replicas {}", max.value, settings.replicas),
                )
                .help("replicas is the autoscaler's minimum: raise max_replicas or lower replicas"),
            );
        }
        settings.max_replicas = Some(max.value);
    }
    for (env, max) in &hpa.max {
        if !per_env.contains_key(env) {
            let known: Vec<&str> = per_env.keys().map(String::as_str).collect();
            problems.push(unknown_reference(
                rules::UNKNOWN_ENVIRONMENT,
                "environment",
                &Spanned::new(env.clone(), max.span.clone()),
                &known,
                "environment \"NAME\" { … }",
            ));
        }
    }
}
