//! The replay: measurements taken on Argo's schedule, their outcomes and the metric's verdict.

use serde::Serialize;

use super::expr;
use super::report::serialize_value;
use super::series::Sample;
use super::spec::MetricSpec;
use super::SimulateError;

/// Seconds before the controller retries after an `Error` measurement
/// (`DefaultErrorRetryInterval` in argo-rollouts), regardless of the metric's interval.
pub const ERROR_RETRY_SECS: u64 = 10;

/// Guard for series that never end (an empty series is "no data" forever).
const MAX_MEASUREMENTS: u32 = 10_000;

/// Tolerance when comparing measurement times with sample timestamps.
const TIME_EPSILON: f64 = 1e-6;

/// The phase of one measurement, as Argo names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Outcome {
    Successful,
    Failed,
    Error,
    Inconclusive,
}

/// One measurement: its 1-based number, when it ran (seconds from the analysis start), the value
/// it read (`None`: no data) and its outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measurement {
    pub index: u32,
    pub t_secs: u64,
    #[serde(serialize_with = "serialize_value")]
    pub value: Option<f64>,
    pub outcome: Outcome,
}

/// How the metric ends. `Failed` and `Error` abort the rollout, `Inconclusive` pauses it,
/// `Successful` lets it continue; `Running` means the series ended first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "phase")]
pub enum Verdict {
    Failed { at_secs: u64, measurement: u32 },
    Error { at_secs: u64, measurement: u32 },
    Inconclusive { at_secs: u64 },
    Successful { at_secs: u64 },
    Running,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Simulation {
    pub metric: String,
    pub measurements: Vec<Measurement>,
    pub verdict: Verdict,
}

/// Replays `series` through `spec`, the analysis starting `start_secs` seconds into the series
/// (the semantics are in the `check::simulate` module documentation). Stops at the first verdict, or
/// when the next measurement would fall after the last sample (`Verdict::Running`).
pub fn simulate(spec: &MetricSpec, series: &[Sample], start_secs: f64) -> Result<Simulation, SimulateError> {
    if !start_secs.is_finite() {
        return Err(SimulateError::Series(format!("start offset {start_secs} is not a finite number of seconds")));
    }
    if series.windows(2).any(|w| w[1].t_secs <= w[0].t_secs) || series.iter().any(|s| !s.t_secs.is_finite()) {
        return Err(SimulateError::Series("sample timestamps must be finite and increasing".into()));
    }
    let effective_count = spec.effective_count();
    if spec.interval_secs == 0 && effective_count.is_some_and(|c| c > 1) {
        return Err(SimulateError::Spec {
            metric: spec.name.clone(),
            reason: format!("count {} needs an interval between measurements", effective_count.unwrap_or(0)),
        });
    }
    let compile = |condition: &Option<String>| -> Result<Option<expr::Expr>, SimulateError> {
        condition
            .as_deref()
            .map(|text| {
                expr::compile(text).map_err(|reason| SimulateError::Condition { condition: text.to_string(), reason })
            })
            .transpose()
    };
    let success = compile(&spec.success_condition)?;
    let failure = compile(&spec.failure_condition)?;

    let series_end = series.last().map(|s| s.t_secs);
    let mut measurements = Vec::new();
    let (mut failed, mut inconclusive, mut consecutive_errors, mut count) = (0u32, 0u32, 0u32, 0u32);
    let mut t = spec.initial_delay_secs;
    let verdict = loop {
        let at = start_secs + t as f64;
        if series_end.is_some_and(|end| at > end + TIME_EPSILON) || measurements.len() as u32 >= MAX_MEASUREMENTS {
            break Verdict::Running;
        }
        let value = value_at(series, at, spec.interval_secs);
        let outcome = measure(success.as_ref(), failure.as_ref(), value);
        let index = measurements.len() as u32 + 1;
        measurements.push(Measurement { index, t_secs: t, value, outcome });
        match outcome {
            Outcome::Successful => (count, consecutive_errors) = (count + 1, 0),
            Outcome::Failed => (count, failed, consecutive_errors) = (count + 1, failed + 1, 0),
            Outcome::Inconclusive => (count, inconclusive, consecutive_errors) = (count + 1, inconclusive + 1, 0),
            Outcome::Error => consecutive_errors += 1,
        }
        // assessMetricStatus: the limits first (one counter moves per measurement, so at most one
        // trips), then the count.
        if failed > spec.failure_limit {
            break Verdict::Failed { at_secs: t, measurement: index };
        }
        if inconclusive > spec.inconclusive_limit {
            break Verdict::Inconclusive { at_secs: t };
        }
        if consecutive_errors > spec.consecutive_error_limit {
            break Verdict::Error { at_secs: t, measurement: index };
        }
        if effective_count.is_some_and(|c| count >= c) {
            break Verdict::Successful { at_secs: t };
        }
        t += if outcome == Outcome::Error { ERROR_RETRY_SECS } else { spec.interval_secs };
    };
    Ok(Simulation { metric: spec.name.clone(), measurements, verdict })
}

/// The value a measurement at series time `at` reads: the latest sample at or before `at`, unless
/// it is older than one interval (then, as for a missing or empty sample, no data).
fn value_at(series: &[Sample], at: f64, interval_secs: u64) -> Option<f64> {
    let after = series.partition_point(|s| s.t_secs <= at + TIME_EPSILON);
    let sample = series[..after].last()?;
    if interval_secs > 0 && at - sample.t_secs > interval_secs as f64 + TIME_EPSILON {
        return None;
    }
    sample.value
}

/// Argo's `EvaluateResult` for one value (`None`: an empty result vector).
fn measure(success: Option<&expr::Expr>, failure: Option<&expr::Expr>, value: Option<f64>) -> Outcome {
    let result: Vec<f64> = value.into_iter().collect();
    let eval = |condition: Option<&expr::Expr>| condition.map(|c| expr::eval_condition(c, &result)).transpose();
    let (Ok(success_holds), Ok(failure_holds)) = (eval(success), eval(failure)) else {
        return Outcome::Error;
    };
    let (success_holds, failure_holds) = match (success_holds, failure_holds) {
        (None, None) => return Outcome::Successful,
        (Some(s), None) => (s, !s),
        (None, Some(f)) => (!f, f),
        (Some(s), Some(f)) => (s, f),
    };
    if failure_holds {
        Outcome::Failed
    } else if success_holds {
        Outcome::Successful
    } else {
        Outcome::Inconclusive
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::simulate::render_human;
    use crate::check::simulate::test_support::spec;

    /// One sample per minute, starting at 0.
    fn per_minute(values: &[Option<f64>]) -> Vec<Sample> {
        values.iter().enumerate().map(|(i, v)| Sample { t_secs: i as f64 * 60.0, value: *v }).collect()
    }

    fn outcomes(sim: &Simulation) -> Vec<Outcome> {
        sim.measurements.iter().map(|m| m.outcome).collect()
    }

    fn times(sim: &Simulation) -> Vec<u64> {
        sim.measurements.iter().map(|m| m.t_secs).collect()
    }

    use super::Outcome::{Error as E, Failed as F, Inconclusive as I, Successful as S};

    #[test]
    fn failure_limit_is_exceeded_not_reached() {
        // failureLimit 1: the first failure is tolerated, the second fails the metric.
        let spec = MetricSpec { failure_limit: 1, ..spec(Some("result[0] <= 0.01"), None) };
        let series = per_minute(&[Some(0.001), Some(0.05), Some(0.002), Some(0.06), Some(0.001)]);
        let sim = simulate(&spec, &series, 0.0).unwrap();
        assert_eq!(outcomes(&sim), vec![S, F, S, F]);
        assert_eq!(sim.verdict, Verdict::Failed { at_secs: 180, measurement: 4 });

        // failureLimit 0: the first failure fails it.
        let strict = MetricSpec { failure_limit: 0, ..spec };
        let sim = simulate(&strict, &series, 0.0).unwrap();
        assert_eq!(sim.verdict, Verdict::Failed { at_secs: 60, measurement: 2 });
        assert!(
            render_human(&sim).contains("would ABORT at 1m00s (measurement 2): 1 failed measurement > failureLimit 0")
        );
    }

    #[test]
    fn nan_fails_a_success_only_condition_and_passes_a_failure_only_one() {
        let series = per_minute(&[Some(f64::NAN), Some(f64::NAN)]);
        let sim = simulate(&spec(Some("result[0] <= 0.01"), None), &series, 0.0).unwrap();
        assert_eq!(outcomes(&sim), vec![F]);
        let sim = simulate(&spec(None, Some("result[0] > 0.01")), &series, 0.0).unwrap();
        assert_eq!(outcomes(&sim), vec![S, S]);
        assert_eq!(sim.verdict, Verdict::Running);
    }

    #[test]
    fn both_conditions_can_be_inconclusive() {
        let both = spec(Some("result[0] <= 0.01"), Some("result[0] > 0.05"));
        let series = per_minute(&[Some(0.001), Some(0.06), Some(0.03)]);
        // failureLimit 0 trips on the 0.06; with a higher limit, 0.03 is inconclusive and pauses.
        assert_eq!(outcomes(&simulate(&both, &series, 0.0).unwrap()), vec![S, F]);
        let lenient = MetricSpec { failure_limit: 5, ..both };
        let sim = simulate(&lenient, &series, 0.0).unwrap();
        assert_eq!(outcomes(&sim), vec![S, F, I]);
        assert_eq!(sim.verdict, Verdict::Inconclusive { at_secs: 120 });
        assert!(render_human(&sim)
            .contains("would PAUSE at 2m00s (measurement 3): 1 inconclusive measurement > inconclusiveLimit 0"));
    }

    #[test]
    fn no_data_errors_retry_after_ten_seconds_and_trip_the_consecutive_error_limit() {
        // One sample at 0, then nothing until 600. At 60 the 0s sample is exactly one interval old:
        // still data. At 120 it is too old: no data, an error, retried every 10s; the 5th
        // consecutive error (> limit 4) puts the metric in Error.
        let series = vec![Sample { t_secs: 0.0, value: Some(0.001) }, Sample { t_secs: 600.0, value: Some(0.001) }];
        let sim = simulate(&spec(Some("result[0] <= 0.01"), None), &series, 0.0).unwrap();
        assert_eq!(outcomes(&sim), vec![S, S, E, E, E, E, E]);
        assert_eq!(times(&sim), vec![0, 60, 120, 130, 140, 150, 160]);
        assert_eq!(sim.verdict, Verdict::Error { at_secs: 160, measurement: 7 });
        assert!(render_human(&sim)
            .contains("would ABORT at 2m40s (measurement 7): 5 consecutive errors > consecutiveErrorLimit 4"));
    }

    #[test]
    fn consecutive_errors_reset_on_a_completed_measurement() {
        // Errors at 0,10,20,30 (4, not > limit 4); the success at 40 resets the counter, so four
        // more errors (100..130) do not trip it either.
        let series = vec![
            Sample { t_secs: 0.0, value: None },
            Sample { t_secs: 40.0, value: Some(0.001) },
            Sample { t_secs: 41.0, value: None },
            Sample { t_secs: 140.0, value: Some(0.001) },
        ];
        let sim = simulate(&spec(Some("result[0] <= 0.01"), None), &series, 0.0).unwrap();
        assert_eq!(outcomes(&sim), vec![E, E, E, E, S, E, E, E, E, S]);
        assert_eq!(times(&sim), vec![0, 10, 20, 30, 40, 100, 110, 120, 130, 140]);
        assert_eq!(sim.verdict, Verdict::Running);
        let tight = MetricSpec { consecutive_error_limit: 3, ..spec(Some("result[0] <= 0.01"), None) };
        assert_eq!(simulate(&tight, &series, 0.0).unwrap().verdict, Verdict::Error { at_secs: 30, measurement: 4 });

        // A failed measurement resets it too (Argo resets on every non-error outcome): with
        // consecutiveErrorLimit 1, E F E E trips at the 4th measurement, not the 3rd.
        let series = vec![
            Sample { t_secs: 0.0, value: None },
            Sample { t_secs: 10.0, value: Some(0.05) },
            Sample { t_secs: 11.0, value: None },
            Sample { t_secs: 300.0, value: None },
        ];
        let one = MetricSpec { consecutive_error_limit: 1, failure_limit: 1, ..spec(Some("result[0] <= 0.01"), None) };
        let sim = simulate(&one, &series, 0.0).unwrap();
        assert_eq!(outcomes(&sim), vec![E, F, E, E]);
        assert_eq!(times(&sim), vec![0, 10, 70, 80]);
        assert_eq!(sim.verdict, Verdict::Error { at_secs: 80, measurement: 4 });
    }

    #[test]
    fn samples_older_than_an_interval_are_no_data() {
        let series = vec![Sample { t_secs: 0.0, value: Some(0.001) }, Sample { t_secs: 300.0, value: Some(0.001) }];
        let thirty = MetricSpec { interval_secs: 30, ..spec(Some("result[0] <= 0.01"), None) };
        let sim = simulate(&thirty, &series, 0.0).unwrap();
        // 0 and 30 read the 0s sample (30 is exactly one interval old); 60 is too old.
        assert_eq!(outcomes(&sim)[..3], [S, S, E]);
        assert_eq!(sim.measurements[1].value, Some(0.001));
        assert_eq!(sim.measurements[2].value, None);
    }

    #[test]
    fn count_completes_the_metric_and_errors_do_not_count() {
        let counted = MetricSpec { count: Some(3), failure_limit: 1, ..spec(Some("result[0] <= 0.01"), None) };
        let series = per_minute(&[Some(0.001), Some(0.05), Some(0.001), Some(0.001), Some(0.001)]);
        let sim = simulate(&counted, &series, 0.0).unwrap();
        assert_eq!(outcomes(&sim), vec![S, F, S]);
        assert_eq!(sim.verdict, Verdict::Successful { at_secs: 120 });
        assert!(render_human(&sim).contains("would PASS at 2m00s: count reached after 3 measurements"));

        // An error in between: 4 measurements for a count of 3.
        let gap = vec![
            Sample { t_secs: 0.0, value: Some(0.001) },
            Sample { t_secs: 60.0, value: None },
            Sample { t_secs: 70.0, value: Some(0.001) },
            Sample { t_secs: 500.0, value: Some(0.001) },
        ];
        let sim = simulate(&counted, &gap, 0.0).unwrap();
        assert_eq!(outcomes(&sim), vec![S, E, S, S]);
        assert_eq!(times(&sim), vec![0, 60, 70, 130]);
        assert_eq!(sim.verdict, Verdict::Successful { at_secs: 130 });

        // The series ends before the count: still running.
        let short = per_minute(&[Some(0.001), Some(0.001)]);
        let sim = simulate(&counted, &short, 0.0).unwrap();
        assert_eq!(sim.verdict, Verdict::Running);
        assert!(render_human(&sim).contains("still running: the series ends after measurement 2 at 1m00s"));
    }

    #[test]
    fn initial_delay_and_start_offset_shift_the_schedule() {
        let delayed = MetricSpec { initial_delay_secs: 90, ..spec(Some("result[0] <= 0.01"), None) };
        let series = per_minute(&[Some(0.05), Some(0.05), Some(0.001), Some(0.001), Some(0.001), Some(0.05)]);
        // Measurements at 90 (reads the 60s sample: 0.05 → fails, limit 0).
        let sim = simulate(&delayed, &series, 0.0).unwrap();
        assert_eq!(sim.measurements[0].t_secs, 90);
        assert_eq!(sim.measurements[0].value, Some(0.05));
        assert_eq!(sim.verdict, Verdict::Failed { at_secs: 90, measurement: 1 });
        // Starting 30s into the series, measurement 1 at series time 120 reads 0.001; the 0.05 at
        // 300s is read by the measurement at run time 270 (measurement 4).
        let sim = simulate(&delayed, &series, 30.0).unwrap();
        assert_eq!(outcomes(&sim), vec![S, S, S, F]);
        assert_eq!(times(&sim), vec![90, 150, 210, 270]);
        assert_eq!(sim.verdict, Verdict::Failed { at_secs: 270, measurement: 4 });
    }

    #[test]
    fn empty_series_is_no_data_until_the_error_limit() {
        let sim = simulate(&spec(Some("result[0] <= 0.01"), None), &[], 0.0).unwrap();
        assert_eq!(outcomes(&sim), vec![E; 5]);
        assert_eq!(sim.verdict, Verdict::Error { at_secs: 40, measurement: 5 });
    }

    #[test]
    fn bad_conditions_and_specs_are_reported_before_replaying() {
        let err = simulate(&spec(Some("result[0] <== 1"), None), &[], 0.0).unwrap_err().to_string();
        assert!(err.starts_with("condition `result[0] <== 1`"), "{err}");
        let no_interval = MetricSpec { interval_secs: 0, count: Some(3), ..spec(None, None) };
        assert!(simulate(&no_interval, &[], 0.0).unwrap_err().to_string().contains("needs an interval"));
        // Neither condition: every measurement with or without data succeeds.
        let sim = simulate(&spec(None, None), &per_minute(&[None, Some(1.0)]), 0.0).unwrap();
        assert_eq!(outcomes(&sim), vec![S, S]);
    }
}
