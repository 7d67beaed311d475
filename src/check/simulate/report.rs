//! Output: the human-readable table and verdict line, and how values serialize to JSON.

use serde::Serializer;

use super::replay::{Outcome, Simulation, Verdict};

/// A table of the measurements and a closing line with the verdict, e.g.
/// `would ABORT at 4m00s (measurement 5): 2 failed measurements > failureLimit 1`.
///
/// The limit in the closing line is derived from the measurements: the replay stops at the first
/// measurement that takes a counter past its limit, so at that point the counter is limit + 1.
pub fn render_human(sim: &Simulation) -> String {
    let mut out = format!("metric {}: {} measurement(s)\n", sim.metric, sim.measurements.len());
    let values: Vec<String> = sim.measurements.iter().map(|m| format_value(m.value)).collect();
    let width = values.iter().map(String::len).max().unwrap_or(0).max("value".len());
    out.push_str(&format!("{:>4}  {:>9}  {:<width$}  outcome\n", "#", "t", "value"));
    for (m, value) in sim.measurements.iter().zip(&values) {
        out.push_str(&format!("{:>4}  {:>9}  {:<width$}  {:?}\n", m.index, format_secs(m.t_secs), value, m.outcome));
    }
    let count = |outcome: Outcome| sim.measurements.iter().filter(|m| m.outcome == outcome).count();
    let plural = |n: usize, word: &str| if n == 1 { format!("{n} {word}") } else { format!("{n} {word}s") };
    let line = match &sim.verdict {
        Verdict::Failed { at_secs, measurement } => {
            let failed = count(Outcome::Failed);
            format!(
                "would ABORT at {} (measurement {measurement}): {} > failureLimit {}",
                format_secs(*at_secs),
                plural(failed, "failed measurement"),
                failed.saturating_sub(1)
            )
        }
        Verdict::Error { at_secs, measurement } => {
            let errors = sim.measurements.iter().rev().take_while(|m| m.outcome == Outcome::Error).count();
            format!(
                "would ABORT at {} (measurement {measurement}): {} > consecutiveErrorLimit {} (the metric errs)",
                format_secs(*at_secs),
                plural(errors, "consecutive error"),
                errors.saturating_sub(1)
            )
        }
        Verdict::Inconclusive { at_secs } => {
            let inconclusive = count(Outcome::Inconclusive);
            format!(
                "would PAUSE at {}{}: {} > inconclusiveLimit {} (the rollout waits for a manual decision)",
                format_secs(*at_secs),
                sim.measurements.last().map(|m| format!(" (measurement {})", m.index)).unwrap_or_default(),
                plural(inconclusive, "inconclusive measurement"),
                inconclusive.saturating_sub(1)
            )
        }
        Verdict::Successful { at_secs } => {
            let counted = sim.measurements.len() - count(Outcome::Error);
            format!(
                "would PASS at {}: count reached after {} ({} failed, {} inconclusive, {} errors, all within limits)",
                format_secs(*at_secs),
                plural(counted, "measurement"),
                count(Outcome::Failed),
                count(Outcome::Inconclusive),
                count(Outcome::Error)
            )
        }
        Verdict::Running => match sim.measurements.last() {
            Some(last) => format!(
                "still running: the series ends after measurement {} at {} with no verdict ({} failed, {} inconclusive)",
                last.index,
                format_secs(last.t_secs),
                count(Outcome::Failed),
                count(Outcome::Inconclusive)
            ),
            None => "still running: the series ends before the first measurement".to_string(),
        },
    };
    out.push_str(&line);
    out.push('\n');
    out
}

/// `90` → `1m30s`, `240` → `4m00s`, `3725` → `1h02m05s`.
pub fn format_secs(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    if h > 0 {
        format!("{h}h{m:02}m{s:02}s")
    } else {
        format!("{m}m{s:02}s")
    }
}

fn format_value(value: Option<f64>) -> String {
    match value {
        None => "no data".to_string(),
        Some(v) if v.is_nan() => "NaN".to_string(),
        Some(v) if v.is_infinite() => if v > 0.0 { "+Inf" } else { "-Inf" }.to_string(),
        Some(v) => format!("{v}"),
    }
}

/// JSON has no NaN or infinities: those become Prometheus' strings, no data becomes `null`.
pub(super) fn serialize_value<S: Serializer>(value: &Option<f64>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) if v.is_finite() => serializer.serialize_f64(*v),
        Some(v) => serializer.serialize_str(&format_value(Some(*v))),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::simulate::Measurement;
    use crate::check::simulate::Outcome::{Error as E, Failed as F, Successful as S};
    use serde_json::json;

    #[test]
    fn json_output_shape() {
        let sim = Simulation {
            metric: "error-rate".into(),
            measurements: vec![
                Measurement { index: 1, t_secs: 0, value: Some(0.004), outcome: S },
                Measurement { index: 2, t_secs: 60, value: Some(f64::NAN), outcome: F },
                Measurement { index: 3, t_secs: 70, value: None, outcome: E },
            ],
            verdict: Verdict::Failed { at_secs: 60, measurement: 2 },
        };
        assert_eq!(
            serde_json::to_value(&sim).unwrap(),
            json!({
                "metric": "error-rate",
                "measurements": [
                    {"index": 1, "t_secs": 0, "value": 0.004, "outcome": "Successful"},
                    {"index": 2, "t_secs": 60, "value": "NaN", "outcome": "Failed"},
                    {"index": 3, "t_secs": 70, "value": null, "outcome": "Error"},
                ],
                "verdict": {"phase": "Failed", "at_secs": 60, "measurement": 2},
            })
        );
        assert_eq!(serde_json::to_value(Verdict::Running).unwrap(), json!({"phase": "Running"}));
    }

    #[test]
    fn human_table() {
        let sim = Simulation {
            metric: "error-rate".into(),
            measurements: vec![
                Measurement { index: 1, t_secs: 0, value: Some(0.004), outcome: S },
                Measurement { index: 2, t_secs: 90, value: None, outcome: E },
            ],
            verdict: Verdict::Running,
        };
        let text = render_human(&sim);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "metric error-rate: 2 measurement(s)");
        assert_eq!(lines[1], "   #          t  value    outcome");
        assert_eq!(lines[2], "   1      0m00s  0.004    Successful");
        assert_eq!(lines[3], "   2      1m30s  no data  Error");
        assert_eq!(format_secs(3725), "1h02m05s");
    }
}
