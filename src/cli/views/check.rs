//! The safety report and findings: a table for people, JSON for machines, Markdown for PRs.

use std::fmt::Write;

use serde_json::json;

use crate::check::safety::{percent, Bound, SafetyReport, Visibility};
use crate::check::CheckResult;

fn rollback(r: &SafetyReport) -> String {
    match r.rollback {
        Bound::Within(d) => d.to_string(),
        Bound::Unbounded => "∞".into(),
        Bound::AfterPromotion => "never".into(),
    }
}

fn promotion(r: &SafetyReport) -> String {
    if r.manual_gates > 0 {
        format!("{} + {} manual", r.promotion, r.manual_gates)
    } else {
        r.promotion.to_string()
    }
}

fn detect(r: &SafetyReport) -> String {
    match &r.detectability {
        None => "-".into(),
        Some(d) => match d.verdict {
            Visibility::Visible => format!("ok ({:.0} req/window)", d.requests_per_window),
            Visibility::Blind => format!("BLIND ({:.0} req/window)", d.requests_per_window),
            Visibility::NoData => "NO DATA".into(),
        },
    }
}

/// Each canary step's share of requests and canary pods: `5%·1 20%·3 50%·6 100%·12`.
fn steps(r: &SafetyReport) -> String {
    if r.steps.is_empty() {
        return "-".into();
    }
    r.steps.iter().map(|s| format!("{}·{}", percent(s.effective / 100.0), s.canary_pods)).collect::<Vec<_>>().join(" ")
}

fn rows(result: &CheckResult) -> Vec<[String; 10]> {
    result
        .reports
        .iter()
        .map(|r| {
            [
                format!("{} / {}", r.service, r.environment),
                rollback(r),
                percent(r.exposure),
                r.exposure_percent_minutes.map(|v| format!("{v:.0}")).unwrap_or_else(|| "∞".into()),
                promotion(r),
                format!("{}/{} (+{})", r.capacity.min_ready, r.capacity.replicas, r.capacity.surge),
                format!("{} ({})", percent(r.capacity.pdb_keeps), r.capacity.allowed_disruptions),
                detect(r),
                r.router.name().to_string(),
                steps(r),
            ]
        })
        .collect()
}

const HEADERS: [&str; 10] = [
    "service / env",
    "rollback ≤",
    "exposure ≤",
    "%·min",
    "promotion",
    "ready (+surge)",
    "pdb keeps (evictable)",
    "detectability",
    "router",
    "traffic·canary pods per step",
];

/// The report as a table; `width` is the terminal's (see [`super::table`]): free-text columns
/// wrap to fit it, numbers and names never do.
pub fn human(result: &CheckResult, width: Option<usize>) -> String {
    let mut out = String::new();
    let rows: Vec<Vec<String>> = rows(result).into_iter().map(Vec::from).collect();
    // Free text (promotion with its gates, detectability notes, the per-step list) may wrap.
    let wraps = |header: &str| matches!(header, "promotion" | "detectability" | "traffic·canary pods per step");
    let columns: Vec<super::table::Column> =
        HEADERS.iter().map(|h| super::table::Column { header: h, wraps: wraps(h) }).collect();
    out.push_str(&super::table::layout(&columns, &rows, width));
    writeln!(out).ok();
    for finding in &result.findings {
        writeln!(out, "{}", finding.one_line()).ok();
    }
    writeln!(out, "\n{}", summary(result)).ok();
    out
}

pub fn summary(result: &CheckResult) -> String {
    let errors = result.findings.iter().filter(|f| f.fails()).count();
    let warnings = result.findings.iter().filter(|f| !f.fails() && f.waived.is_none()).count();
    let waived = result.findings.iter().filter(|f| f.waived.is_some()).count();
    format!(
        "Check: {errors} error(s), {warnings} warning(s), {waived} waived, {} service environment(s).",
        result.reports.len()
    )
}

pub fn json(result: &CheckResult) -> String {
    let document = json!({
        "format_version": "1.0",
        "fails": result.fails(),
        "reports": result.reports,
        "findings": result.findings,
    });
    let mut text = serde_json::to_string_pretty(&document).expect("check serializes");
    text.push('\n');
    text
}

pub fn markdown(result: &CheckResult) -> String {
    let mut out = String::new();
    writeln!(out, "### glidepath check\n\n**{}**\n", summary(result)).ok();
    writeln!(out, "| {} |", HEADERS.join(" | ")).ok();
    writeln!(out, "|{}", "---|".repeat(HEADERS.len())).ok();
    for row in rows(result) {
        writeln!(out, "| {} |", row.join(" | ")).ok();
    }
    if !result.findings.is_empty() {
        writeln!(out).ok();
        for finding in &result.findings {
            writeln!(out, "- `{}`", finding.one_line()).ok();
        }
    }
    out
}

/// The lines a plan shows: the headline of each service environment the plan changes, and
/// every finding that fails.
pub fn plan_lines(result: &CheckResult, changed: &[(String, String)]) -> Vec<String> {
    let mut lines: Vec<String> = result
        .reports
        .iter()
        .filter(|r| changed.iter().any(|(s, e)| s == &r.service && e == &r.environment))
        .map(|r| format!("{} {}: {}", r.service, r.environment, r.headline()))
        .collect();
    lines.extend(result.findings.iter().filter(|f| f.fails()).map(|f| f.one_line()));
    lines
}
