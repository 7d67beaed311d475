//! `glidepath simulate`: replay a recorded metric series through one metric of an Argo Rollouts
//! AnalysisTemplate, measurement by measurement, and say when (and why) the analysis would stop.
//!
//! The replay follows the Argo Rollouts analysis controller (`analysis/analysis.go`,
//! `utils/evaluate/evaluate.go`, `metricproviders/prometheus/prometheus.go`):
//!
//! * **Schedule.** The run starts at t=0, which is `start_secs` seconds into the series. The first
//!   measurement is taken at `initialDelay` (0 when unset). After a completed measurement the next
//!   one is due `interval` later — except after an `Error` measurement, which the controller
//!   retries after `DefaultErrorRetryInterval` (10s) whatever the interval ([`ERROR_RETRY_SECS`]).
//! * **Reading the series.** A measurement at t reads the latest sample with timestamp ≤ t. A
//!   sample more than one `interval` older than t, a missing sample, and an empty CSV value are
//!   *no data*: the condition sees an empty `result` vector, as when Prometheus returns an empty
//!   vector. `result[0]` on it is an evaluation error, so the measurement is an `Error`. A `NaN`
//!   sample is a value: every comparison with NaN is false, so with only a `successCondition` it
//!   is a `Failed` measurement (with only a `failureCondition` it would pass).
//! * **One measurement's outcome** (`EvaluateResult`): a condition that fails to evaluate makes the
//!   measurement `Error`. With both conditions: `Failed` if `failureCondition` holds, else
//!   `Successful` if `successCondition` holds, else `Inconclusive`. With only `successCondition`:
//!   `Successful` if it holds, else `Failed`. With only `failureCondition`: `Failed` if it holds,
//!   else `Successful`. With neither: `Successful`.
//! * **Counters** (`runMeasurements`): Successful/Failed/Inconclusive measurements increment the
//!   metric's `count` and reset the consecutive-error counter; an `Error` increments only the
//!   consecutive-error counter (errors do not count toward `count`).
//! * **Metric verdict** (`assessMetricStatus`), checked after every measurement: `Failed` when
//!   failed > `failureLimit` (default 0) — the rollout aborts; `Inconclusive` when inconclusive >
//!   `inconclusiveLimit` (default 0) — the rollout pauses; `Error` when consecutive errors >
//!   `consecutiveErrorLimit` (default 4) — the rollout aborts. Otherwise, with a `count` (or with
//!   neither `interval` nor `count`, which means count 1) the metric is `Successful` once `count`
//!   non-error measurements were taken. Without a count the metric runs until the series ends, and
//!   the replay reports it as still running.
//!
//! Conditions are parsed by a small recursive-descent evaluator covering what glidepath's templates
//! (and most hand-written Prometheus conditions) use: `result`, `result[N]`, `len(result)`,
//! `isNaN(x)`, `isInf(x)`, numbers, `true`/`false`, `< <= > >= == !=`, `&&`/`and`, `||`/`or`,
//! `!`/`not`, unary minus and parentheses. Since a replayed measurement has a single value,
//! `result` is a vector of one element (none when there is no data) that also stands for its value
//! where a number is expected (`result <= 0.01`, as for a Prometheus scalar query).

mod expr;
mod replay;
mod report;
mod series;
mod spec;

pub use replay::{simulate, Measurement, Outcome, Simulation, Verdict, ERROR_RETRY_SECS};
pub use report::{format_secs, render_human};
pub use series::{parse_rfc3339, parse_series, Sample};
pub use spec::{
    metric_specs, parse_go_duration, select_metric, slo_template, MetricSpec, DEFAULT_CONSECUTIVE_ERROR_LIMIT,
};

#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error("analysis template: {0}")]
    Template(String),
    #[error("metric `{metric}`: {reason}")]
    Spec { metric: String, reason: String },
    #[error("the analysis template has no metric `{name}` (it has: {available})")]
    NoSuchMetric { name: String, available: String },
    #[error("condition `{condition}`: {reason}")]
    Condition { condition: String, reason: String },
    #[error("metric series, line {line}: {reason}")]
    Csv { line: usize, reason: String },
    #[error("metric series (Prometheus JSON): {0}")]
    PrometheusJson(String),
    #[error("metric series: {0}")]
    Series(String),
}

/// Fixtures shared by the submodules' unit tests.
#[cfg(test)]
mod test_support {
    use super::MetricSpec;

    pub(super) fn spec(success: Option<&str>, failure: Option<&str>) -> MetricSpec {
        MetricSpec {
            name: "error-rate".into(),
            interval_secs: 60,
            initial_delay_secs: 0,
            count: None,
            failure_limit: 0,
            consecutive_error_limit: 4,
            inconclusive_limit: 0,
            success_condition: success.map(String::from),
            failure_condition: failure.map(String::from),
        }
    }
}
