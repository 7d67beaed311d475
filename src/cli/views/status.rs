//! `glidepath status` views: one row per service, then the analysis behind each row.

use std::fmt::Write;

use crate::providers::kube::{AnalysisSummary, RolloutProgress};

fn step(p: &RolloutProgress) -> String {
    p.step.map(|(done, all)| format!("{done}/{all}")).unwrap_or_else(|| "-".into())
}

fn weight(p: &RolloutProgress) -> String {
    p.weight.map(|w| format!("{w}%")).unwrap_or_else(|| "-".into())
}

fn replicas(p: &RolloutProgress) -> String {
    let r = &p.replicas;
    format!("{}/{} ready, {} updated", r.ready, r.desired, r.updated)
}

/// `Background Failed: error-rate 1✓ 2✗ (last [0.5])`
fn analysis_line(run: &AnalysisSummary) -> String {
    let metrics: Vec<String> = run
        .metrics
        .iter()
        .map(|m| {
            let mut text = format!("{} {} {}✓ {}✗", m.name, m.phase, m.successful, m.failed);
            if m.errors > 0 {
                write!(text, " {} error", m.errors).ok();
            }
            if let Some(v) = &m.last_value {
                write!(text, " (last {v})").ok();
            }
            text
        })
        .collect();
    if metrics.is_empty() {
        return format!("{} {}: no measurement yet", run.kind, run.phase);
    }
    format!("{} {}: {}", run.kind, run.phase, metrics.join(", "))
}

fn phase(p: &RolloutProgress) -> String {
    if p.aborted {
        format!("{} (aborted)", p.phase)
    } else {
        p.phase.clone()
    }
}

/// The rollouts as a table; `width` is the terminal's (see [`super::table`]): the phase and
/// replica counts wrap to fit it, service names never do.
pub fn human(heading: &str, progress: &[RolloutProgress], width: Option<usize>) -> String {
    use super::table::Column;
    let mut out = format!("Rollouts in {heading}\n\n");
    let rows: Vec<Vec<String>> = progress
        .iter()
        .map(|p| vec![p.service.clone(), p.strategy.clone(), phase(p), step(p), weight(p), replicas(p)])
        .collect();
    let column = |header, wraps| Column { header, wraps };
    let columns = [
        column("SERVICE", false),
        column("STRATEGY", false),
        column("PHASE", true),
        column("STEP", false),
        column("WEIGHT", false),
        column("REPLICAS", true),
    ];
    out.push_str(&super::table::layout(&columns, &rows, width));
    for p in progress.iter().filter(|p| !p.image.is_empty()) {
        writeln!(out, "\n{}: {}", p.service, p.image).ok();
        if let Some(message) = &p.message {
            writeln!(out, "  {message}").ok();
        }
        for run in &p.analysis {
            writeln!(out, "  analysis {}", analysis_line(run)).ok();
            if let Some(message) = &run.message {
                writeln!(out, "    {message}").ok();
            }
        }
    }
    out
}

pub fn markdown(heading: &str, progress: &[RolloutProgress]) -> String {
    let mut out = format!("### Rollouts in {heading}\n\n| Service | Strategy | Phase | Step | Weight | Replicas | Analysis |\n|---|---|---|---|---|---|---|\n");
    for p in progress {
        let analysis: Vec<String> = p.analysis.iter().map(analysis_line).collect();
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            p.service,
            p.strategy,
            phase(p),
            step(p),
            weight(p),
            replicas(p),
            analysis.join("<br>")
        )
        .ok();
    }
    out
}

pub fn json(env: &str, namespace: &str, progress: &[RolloutProgress]) -> String {
    let value = serde_json::json!({ "environment": env, "namespace": namespace, "rollouts": progress });
    serde_json::to_string_pretty(&value).expect("status serializes") + "\n"
}
