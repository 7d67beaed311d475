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

use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::render::{Address, DesiredSet, Resource};

/// Seconds before the controller retries after an `Error` measurement
/// (`DefaultErrorRetryInterval` in argo-rollouts), regardless of the metric's interval.
pub const ERROR_RETRY_SECS: u64 = 10;

/// Argo Rollouts' default `consecutiveErrorLimit`.
pub const DEFAULT_CONSECUTIVE_ERROR_LIMIT: u32 = 4;

/// Guard for series that never end (an empty series is "no data" forever).
const MAX_MEASUREMENTS: u32 = 10_000;

/// Tolerance when comparing measurement times with sample timestamps.
const TIME_EPSILON: f64 = 1e-6;

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

// ---------------------------------------------------------------------------------------------
// Metric specs
// ---------------------------------------------------------------------------------------------

/// One metric of an AnalysisTemplate, with Argo's defaults applied. Durations are whole seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricSpec {
    pub name: String,
    /// 0 when the metric has no `interval` (a one-shot metric unless `count` says otherwise).
    pub interval_secs: u64,
    pub initial_delay_secs: u64,
    pub count: Option<u32>,
    pub failure_limit: u32,
    pub consecutive_error_limit: u32,
    pub inconclusive_limit: u32,
    pub success_condition: Option<String>,
    pub failure_condition: Option<String>,
}

impl MetricSpec {
    /// Argo's `EffectiveCount`: the explicit count, else 1 for a metric without an interval, else
    /// none (the metric runs until the analysis is stopped).
    pub fn effective_count(&self) -> Option<u32> {
        match self.count {
            Some(count) => Some(count),
            None if self.interval_secs == 0 => Some(1),
            None => None,
        }
    }
}

/// The metrics of an AnalysisTemplate body (the whole object, `spec.metrics`).
pub fn metric_specs(template_body: &Value) -> Result<Vec<MetricSpec>, SimulateError> {
    if let Some(kind) = template_body.get("kind").and_then(Value::as_str) {
        if !matches!(kind, "AnalysisTemplate" | "ClusterAnalysisTemplate" | "AnalysisRun") {
            return Err(SimulateError::Template(format!("expected an AnalysisTemplate, got a {kind}")));
        }
    }
    let metrics = template_body
        .pointer("/spec/metrics")
        .and_then(Value::as_array)
        .ok_or_else(|| SimulateError::Template("no `spec.metrics` list".into()))?;
    metrics
        .iter()
        .enumerate()
        .map(|(i, metric)| {
            let name = metric
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| SimulateError::Template(format!("metric #{} has no name", i + 1)))?
                .to_string();
            let spec_err = |reason: String| SimulateError::Spec { metric: name.clone(), reason };
            let duration = |key: &str| -> Result<u64, SimulateError> {
                match metric.get(key) {
                    None | Some(Value::Null) => Ok(0),
                    Some(Value::String(text)) => {
                        parse_go_duration(text).map_err(|reason| spec_err(format!("{key}: {reason}")))
                    }
                    Some(other) => Err(spec_err(format!("{key}: expected a duration string like \"1m\", got {other}"))),
                }
            };
            let int = |key: &str| -> Result<Option<u32>, SimulateError> {
                int_or_string(metric.get(key)).map_err(|reason| spec_err(format!("{key}: {reason}")))
            };
            let condition = |key: &str| -> Option<String> {
                metric.get(key).and_then(Value::as_str).map(str::trim).filter(|c| !c.is_empty()).map(String::from)
            };
            Ok(MetricSpec {
                interval_secs: duration("interval")?,
                initial_delay_secs: duration("initialDelay")?,
                count: int("count")?,
                failure_limit: int("failureLimit")?.unwrap_or(0),
                consecutive_error_limit: int("consecutiveErrorLimit")?.unwrap_or(DEFAULT_CONSECUTIVE_ERROR_LIMIT),
                inconclusive_limit: int("inconclusiveLimit")?.unwrap_or(0),
                success_condition: condition("successCondition"),
                failure_condition: condition("failureCondition"),
                name,
            })
        })
        .collect()
}

/// Argo's count and limits are `intstr`: a number, or a string holding one.
fn int_or_string(value: Option<&Value>) -> Result<Option<u32>, String> {
    let text = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.trim().to_string(),
        Some(other) => return Err(format!("expected a whole number, got {other}")),
    };
    if text.contains("{{") {
        return Err(format!("`{text}` is an unresolved argument; the replay needs a literal number"));
    }
    if text.starts_with('-') {
        return Err(format!("{text} is negative; the replay supports only limits and counts >= 0"));
    }
    text.parse::<u32>().map(Some).map_err(|_| format!("expected a whole number, got `{text}`"))
}

/// A Go `time.ParseDuration` string (`"1m"`, `"30s"`, `"1m30s"`, `"1.5h"`, `"0"`) in whole seconds.
pub fn parse_go_duration(text: &str) -> Result<u64, String> {
    let s = text.trim();
    if s.contains("{{") {
        return Err(format!("`{s}` is an unresolved argument; the replay needs a literal duration"));
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() || s.starts_with('-') {
        return Err(format!("`{text}` is not a duration (expected e.g. \"1m\", \"30s\", \"1m30s\")"));
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    let mut nanos: f64 = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() || number == "." {
            return Err(format!("`{text}` is not a duration (expected e.g. \"1m\", \"30s\", \"1m30s\")"));
        }
        let amount: f64 = number.parse().map_err(|_| format!("`{text}`: bad number `{number}`"))?;
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("`{text}`: missing unit after `{number}` (use ns, us, ms, s, m or h)")),
            other => return Err(format!("`{text}`: unknown unit `{other}` (use ns, us, ms, s, m or h)")),
        };
        nanos += amount * scale;
        rest = &rest[unit_len..];
    }
    let secs = nanos / 1e9;
    if (secs - secs.round()).abs() > 1e-9 {
        return Err(format!("`{text}` is not a whole number of seconds; the replay works in seconds"));
    }
    Ok(secs.round() as u64)
}

/// The rendered SLO AnalysisTemplate of `service` in `env`: `ENV/SERVICE/k8s/AnalysisTemplate/SERVICE-slo`.
pub fn slo_template<'a>(desired: &'a DesiredSet, env: &str, service: &str) -> Result<&'a Value, SimulateError> {
    let text = format!("{env}/{service}/k8s/AnalysisTemplate/{service}-slo");
    let address: Address = text.parse().map_err(SimulateError::Template)?;
    match desired.resources.get(&address) {
        Some(Resource::Kube(object)) => Ok(&object.body),
        Some(Resource::Aws(_)) => Err(SimulateError::Template(format!("{text} is not a Kubernetes object"))),
        None => Err(SimulateError::Template(format!(
            "the catalog renders no {text}: is `{service}` deployed to `{env}` with an `slo` block?"
        ))),
    }
}

/// The metric called `name`, or the template's first metric when no name is given.
pub fn select_metric<'a>(specs: &'a [MetricSpec], name: Option<&str>) -> Result<&'a MetricSpec, SimulateError> {
    let available = || specs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ");
    match name {
        None => specs.first().ok_or_else(|| SimulateError::Template("the template has no metrics".into())),
        Some(name) => specs.iter().find(|s| s.name == name).ok_or_else(|| SimulateError::NoSuchMetric {
            name: name.to_string(),
            available: if specs.is_empty() { "none".into() } else { available() },
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Series
// ---------------------------------------------------------------------------------------------

/// One recorded value of the metric's query, `t_secs` seconds from the start of the series.
/// `value: None` is no data (an empty CSV cell).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    pub t_secs: f64,
    #[serde(serialize_with = "serialize_value")]
    pub value: Option<f64>,
}

/// Parses a recorded series. A text starting with `{` is a Prometheus range-query response
/// (`/api/v1/query_range`, `resultType: matrix`, one series; timestamps become offsets from its
/// first sample; `"NaN"` values are kept; an empty `result` is no data everywhere, an empty
/// series). Anything else is CSV with a `timestamp,value` header: timestamps are seconds from the
/// start, or RFC 3339 times (`2026-11-25T10:00:00Z`) taken relative to the first row; an empty
/// value is no data. Blank lines and `#` comments are skipped; timestamps must increase.
pub fn parse_series(text: &str) -> Result<Vec<Sample>, SimulateError> {
    let text = text.trim_start_matches('\u{feff}');
    if text.trim_start().starts_with('{') {
        parse_prometheus_json(text)
    } else {
        parse_csv(text)
    }
}

fn parse_csv(text: &str) -> Result<Vec<Sample>, SimulateError> {
    let csv_err = |line: usize, reason: String| SimulateError::Csv { line, reason };
    let mut lines =
        text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())).filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
    let (header_line, header) = lines.next().ok_or_else(|| SimulateError::Series("the CSV is empty".into()))?;
    let columns: Vec<String> = header.split(',').map(|c| unquote(c).to_ascii_lowercase()).collect();
    let position = |name: &str| columns.iter().position(|c| c == name);
    let (Some(ts_col), Some(value_col)) = (position("timestamp"), position("value")) else {
        return Err(csv_err(header_line, format!("expected the header `timestamp,value`, got `{header}`")));
    };

    #[derive(PartialEq, Clone, Copy)]
    enum TimeKind {
        Seconds,
        Rfc3339,
    }
    let mut kind: Option<TimeKind> = None;
    let mut first_rfc3339: Option<f64> = None;
    let mut samples: Vec<Sample> = Vec::new();
    for (line, row) in lines {
        let cells: Vec<&str> = row.split(',').map(unquote).collect();
        if cells.len() != columns.len() {
            return Err(csv_err(
                line,
                format!(
                    "{} column(s), but the header has {} (write no data as an empty value: `60,`)",
                    cells.len(),
                    columns.len()
                ),
            ));
        }
        let ts_text = cells[ts_col];
        let (this_kind, raw) = match ts_text.parse::<f64>() {
            Ok(secs) if secs.is_finite() => (TimeKind::Seconds, secs),
            Ok(_) => return Err(csv_err(line, format!("timestamp `{ts_text}` is not a finite number"))),
            Err(_) => match parse_rfc3339(ts_text) {
                Ok(unix) => (TimeKind::Rfc3339, unix),
                Err(reason) => {
                    return Err(csv_err(
                        line,
                        format!("timestamp `{ts_text}` is neither seconds nor an RFC 3339 time ({reason})"),
                    ))
                }
            },
        };
        match kind {
            None => kind = Some(this_kind),
            Some(k) if k != this_kind => {
                return Err(csv_err(line, "timestamps mix seconds and RFC 3339 times".into()));
            }
            _ => {}
        }
        let t_secs = match this_kind {
            TimeKind::Seconds => raw,
            TimeKind::Rfc3339 => raw - *first_rfc3339.get_or_insert(raw),
        };
        let value_text = cells[value_col];
        let value = if value_text.is_empty() {
            None
        } else {
            Some(parse_sample_value(value_text).map_err(|reason| csv_err(line, reason))?)
        };
        if let Some(last) = samples.last() {
            if t_secs <= last.t_secs {
                return Err(csv_err(line, format!("timestamp `{ts_text}` does not come after the previous row's")));
            }
        }
        samples.push(Sample { t_secs, value });
    }
    Ok(samples)
}

fn unquote(cell: &str) -> &str {
    let cell = cell.trim();
    cell.strip_prefix('"').and_then(|c| c.strip_suffix('"')).unwrap_or(cell).trim()
}

/// A sample value as Prometheus writes it: a decimal number, `NaN`, `+Inf` or `-Inf`.
fn parse_sample_value(text: &str) -> Result<f64, String> {
    text.trim().parse::<f64>().map_err(|_| format!("value `{text}` is not a number (or NaN, +Inf, -Inf)"))
}

fn parse_prometheus_json(text: &str) -> Result<Vec<Sample>, SimulateError> {
    let bad = |reason: String| SimulateError::PrometheusJson(reason);
    let doc: Value = serde_json::from_str(text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    match doc.get("status").and_then(Value::as_str) {
        Some("success") => {}
        Some(status) => {
            let error = doc.get("error").and_then(Value::as_str).unwrap_or("no error message");
            return Err(bad(format!("the query did not succeed (status `{status}`): {error}")));
        }
        None => return Err(bad("no `status` field; expected a /api/v1/query_range response".into())),
    }
    let data = doc.get("data").ok_or_else(|| bad("no `data` field".into()))?;
    match data.get("resultType").and_then(Value::as_str) {
        Some("matrix") => {}
        Some(other) => {
            return Err(bad(format!(
                "resultType is `{other}`; record the query with a range query (resultType matrix)"
            )))
        }
        None => return Err(bad("no `data.resultType` field".into())),
    }
    let result = data.get("result").and_then(Value::as_array).ok_or_else(|| bad("no `data.result` list".into()))?;
    let series = match result.as_slice() {
        [] => return Ok(Vec::new()),
        [one] => one,
        many => {
            let labels: Vec<String> =
                many.iter().take(3).map(|s| s.get("metric").map(Value::to_string).unwrap_or_default()).collect();
            return Err(bad(format!(
                "the query returned {} series ({}{}); the replay takes one — aggregate the query (e.g. with sum())",
                many.len(),
                labels.join(", "),
                if many.len() > 3 { ", ..." } else { "" }
            )));
        }
    };
    let values =
        series.get("values").and_then(Value::as_array).ok_or_else(|| bad("the series has no `values` list".into()))?;
    let mut samples: Vec<Sample> = Vec::with_capacity(values.len());
    let mut first: Option<f64> = None;
    for (i, pair) in values.iter().enumerate() {
        let at = |reason: String| bad(format!("values[{i}]: {reason}"));
        let [ts, value] = pair.as_array().map(Vec::as_slice).unwrap_or_default() else {
            return Err(at(format!("expected [timestamp, \"value\"], got {pair}")));
        };
        let ts = match ts {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.parse::<f64>().ok(),
            _ => None,
        }
        .filter(|t| t.is_finite())
        .ok_or_else(|| at(format!("timestamp {ts} is not a number")))?;
        let value = match value {
            Value::String(s) => parse_sample_value(s).map_err(&at)?,
            Value::Number(n) => n.as_f64().ok_or_else(|| at(format!("value {n} is not a number")))?,
            other => return Err(at(format!("value {other} is not a string"))),
        };
        let t_secs = ts - *first.get_or_insert(ts);
        if let Some(last) = samples.last() {
            if t_secs <= last.t_secs {
                return Err(at("timestamps must increase".into()));
            }
        }
        samples.push(Sample { t_secs, value: Some(value) });
    }
    Ok(samples)
}

/// Seconds since the Unix epoch of an RFC 3339 time: `2026-11-25T10:00:00Z`,
/// `2026-11-25T10:00:00.5+01:00` (a space may replace the `T`).
pub fn parse_rfc3339(text: &str) -> Result<f64, String> {
    let b = text.trim().as_bytes();
    let digits = |from: usize, len: usize| -> Result<i64, String> {
        let part = b.get(from..from + len).ok_or("too short")?;
        if !part.iter().all(u8::is_ascii_digit) {
            return Err(format!("expected digits at position {}", from + 1));
        }
        Ok(part.iter().fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')))
    };
    let expect = |at: usize, options: &[u8]| -> Result<(), String> {
        match b.get(at) {
            Some(c) if options.contains(c) => Ok(()),
            _ => Err(format!("expected `{}` at position {}", options[0] as char, at + 1)),
        }
    };
    let year = digits(0, 4)?;
    expect(4, b"-")?;
    let month = digits(5, 2)?;
    expect(7, b"-")?;
    let day = digits(8, 2)?;
    expect(10, b"Tt ")?;
    let hour = digits(11, 2)?;
    expect(13, b":")?;
    let minute = digits(14, 2)?;
    expect(16, b":")?;
    let second = digits(17, 2)?;
    let mut pos = 19;
    let mut fraction = 0.0;
    if b.get(pos) == Some(&b'.') {
        let start = pos + 1;
        let mut end = start;
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        if end == start {
            return Err("expected digits after `.`".into());
        }
        fraction = format!("0.{}", std::str::from_utf8(&b[start..end]).unwrap_or("0")).parse().unwrap_or(0.0);
        pos = end;
    }
    let offset_secs = match b.get(pos) {
        Some(b'Z' | b'z') if pos + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if pos + 6 == b.len() => {
            let hours = digits(pos + 1, 2)?;
            expect(pos + 3, b":")?;
            let minutes = digits(pos + 4, 2)?;
            let offset = hours * 3600 + minutes * 60;
            if *sign == b'-' {
                -offset
            } else {
                offset
            }
        }
        _ => return Err("expected `Z` or an offset like `+02:00` after the time".into()),
    };
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => return Err(format!("month {month} out of range")),
    };
    if day < 1 || day > days_in_month {
        return Err(format!("day {day} out of range"));
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err("time of day out of range".into());
    }
    let days = days_from_civil(year, month, day);
    Ok((days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs) as f64 + fraction)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

// ---------------------------------------------------------------------------------------------
// Replay
// ---------------------------------------------------------------------------------------------

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
/// (the semantics are in the module documentation). Stops at the first verdict, or when the next
/// measurement would fall after the last sample (`Verdict::Running`).
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

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

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
fn serialize_value<S: Serializer>(value: &Option<f64>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) if v.is_finite() => serializer.serialize_f64(*v),
        Some(v) => serializer.serialize_str(&format_value(Some(*v))),
        None => serializer.serialize_none(),
    }
}

// ---------------------------------------------------------------------------------------------
// Condition expressions
// ---------------------------------------------------------------------------------------------

/// A recursive-descent parser, a type check (as `expr.Compile` does against Argo's environment)
/// and an evaluator for the subset of expr-lang that metric conditions use.
mod expr {
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub enum CmpOp {
        Lt,
        Le,
        Gt,
        Ge,
        Eq,
        Ne,
    }

    #[derive(Debug, Clone, PartialEq)]
    pub enum Expr {
        Num(f64),
        Bool(bool),
        Result,
        Index(Box<Expr>, Box<Expr>),
        Call(Func, Box<Expr>),
        Not(Box<Expr>),
        Neg(Box<Expr>),
        Cmp(CmpOp, Box<Expr>, Box<Expr>),
        And(Box<Expr>, Box<Expr>),
        Or(Box<Expr>, Box<Expr>),
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    pub enum Func {
        Len,
        IsNaN,
        IsInf,
    }

    #[derive(Debug, Clone, PartialEq)]
    enum Tok {
        Num(f64),
        Ident(String),
        Op(&'static str),
    }

    const SUPPORTED: &str =
        "conditions may use result, result[N], len(result), isNaN(x), isInf(x), numbers, true/false, \
         < <= > >= == !=, && (and), || (or), ! (not), unary - and parentheses";

    fn tokenize(src: &str) -> Result<Vec<(usize, Tok)>, String> {
        let chars: Vec<char> = src.chars().collect();
        let mut out = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let col = i + 1;
            if c.is_whitespace() {
                i += 1;
                continue;
            }
            if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                    let mut j = i + 1;
                    if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                        j += 1;
                    }
                    if j < chars.len() && chars[j].is_ascii_digit() {
                        i = j;
                        while i < chars.len() && chars[i].is_ascii_digit() {
                            i += 1;
                        }
                    }
                }
                let text: String = chars[start..i].iter().collect();
                let n = text.parse::<f64>().map_err(|_| format!("bad number `{text}` at column {col}"))?;
                out.push((col, Tok::Num(n)));
                continue;
            }
            if c.is_alphabetic() || c == '_' {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push((col, Tok::Ident(chars[start..i].iter().collect())));
                continue;
            }
            let next = chars.get(i + 1).copied();
            let (op, len): (&'static str, usize) = match (c, next) {
                ('<', Some('=')) => ("<=", 2),
                ('>', Some('=')) => (">=", 2),
                ('=', Some('=')) => ("==", 2),
                ('!', Some('=')) => ("!=", 2),
                ('&', Some('&')) => ("&&", 2),
                ('|', Some('|')) => ("||", 2),
                ('<', _) => ("<", 1),
                ('>', _) => (">", 1),
                ('!', _) => ("!", 1),
                ('(', _) => ("(", 1),
                (')', _) => (")", 1),
                ('[', _) => ("[", 1),
                (']', _) => ("]", 1),
                ('-', _) => ("-", 1),
                ('=', _) => return Err(format!("`=` at column {col} is not a comparison; use `==`")),
                _ => return Err(format!("unsupported `{c}` at column {col}; {SUPPORTED}")),
            };
            out.push((col, Tok::Op(op)));
            i += len;
        }
        Ok(out)
    }

    struct Parser {
        toks: Vec<(usize, Tok)>,
        pos: usize,
        end_col: usize,
    }

    impl Parser {
        fn peek(&self) -> Option<&Tok> {
            self.toks.get(self.pos).map(|(_, t)| t)
        }

        fn col(&self) -> usize {
            self.toks.get(self.pos).map(|(c, _)| *c).unwrap_or(self.end_col)
        }

        fn is_op(&self, op: &str) -> bool {
            matches!(self.peek(), Some(Tok::Op(o)) if *o == op)
        }

        fn is_ident(&self, name: &str) -> bool {
            matches!(self.peek(), Some(Tok::Ident(i)) if i == name)
        }

        fn expect_op(&mut self, op: &str) -> Result<(), String> {
            if self.is_op(op) {
                self.pos += 1;
                Ok(())
            } else {
                Err(format!("expected `{op}` at column {}, found {}", self.col(), self.describe()))
            }
        }

        fn describe(&self) -> String {
            match self.peek() {
                None => "the end of the condition".into(),
                Some(Tok::Num(n)) => format!("`{n}`"),
                Some(Tok::Ident(i)) => format!("`{i}`"),
                Some(Tok::Op(o)) => format!("`{o}`"),
            }
        }

        fn or(&mut self) -> Result<Expr, String> {
            let mut left = self.and()?;
            while self.is_op("||") || self.is_ident("or") {
                self.pos += 1;
                left = Expr::Or(Box::new(left), Box::new(self.and()?));
            }
            Ok(left)
        }

        fn and(&mut self) -> Result<Expr, String> {
            let mut left = self.comparison()?;
            while self.is_op("&&") || self.is_ident("and") {
                self.pos += 1;
                left = Expr::And(Box::new(left), Box::new(self.comparison()?));
            }
            Ok(left)
        }

        fn comparison(&mut self) -> Result<Expr, String> {
            let mut left = self.unary()?;
            loop {
                let op = match self.peek() {
                    Some(Tok::Op("<")) => CmpOp::Lt,
                    Some(Tok::Op("<=")) => CmpOp::Le,
                    Some(Tok::Op(">")) => CmpOp::Gt,
                    Some(Tok::Op(">=")) => CmpOp::Ge,
                    Some(Tok::Op("==")) => CmpOp::Eq,
                    Some(Tok::Op("!=")) => CmpOp::Ne,
                    _ => return Ok(left),
                };
                self.pos += 1;
                left = Expr::Cmp(op, Box::new(left), Box::new(self.unary()?));
            }
        }

        fn unary(&mut self) -> Result<Expr, String> {
            if self.is_op("!") || self.is_ident("not") {
                self.pos += 1;
                return Ok(Expr::Not(Box::new(self.unary()?)));
            }
            if self.is_op("-") {
                self.pos += 1;
                return Ok(match self.unary()? {
                    Expr::Num(n) => Expr::Num(-n),
                    other => Expr::Neg(Box::new(other)),
                });
            }
            self.postfix()
        }

        fn postfix(&mut self) -> Result<Expr, String> {
            let mut base = self.primary()?;
            while self.is_op("[") {
                self.pos += 1;
                let index = self.or()?;
                self.expect_op("]")?;
                base = Expr::Index(Box::new(base), Box::new(index));
            }
            Ok(base)
        }

        fn primary(&mut self) -> Result<Expr, String> {
            let col = self.col();
            let Some((_, tok)) = self.toks.get(self.pos).cloned() else {
                return Err(format!("unexpected end of the condition at column {col}"));
            };
            self.pos += 1;
            match tok {
                Tok::Num(n) => Ok(Expr::Num(n)),
                Tok::Op("(") => {
                    let inner = self.or()?;
                    self.expect_op(")")?;
                    Ok(inner)
                }
                Tok::Op(op) => Err(format!("unexpected `{op}` at column {col}")),
                Tok::Ident(name) => match name.as_str() {
                    "result" => Ok(Expr::Result),
                    "true" => Ok(Expr::Bool(true)),
                    "false" => Ok(Expr::Bool(false)),
                    "len" | "isNaN" | "isInf" => {
                        let func = match name.as_str() {
                            "len" => Func::Len,
                            "isNaN" => Func::IsNaN,
                            _ => Func::IsInf,
                        };
                        self.expect_op("(")?;
                        let arg = self.or()?;
                        self.expect_op(")")?;
                        Ok(Expr::Call(func, Box::new(arg)))
                    }
                    other => Err(format!("unknown name `{other}` at column {col}; {SUPPORTED}")),
                },
            }
        }
    }

    pub fn parse(src: &str) -> Result<Expr, String> {
        let toks = tokenize(src)?;
        if toks.is_empty() {
            return Err("the condition is empty".into());
        }
        let mut parser = Parser { toks, pos: 0, end_col: src.chars().count() + 1 };
        let expr = parser.or()?;
        if parser.pos < parser.toks.len() {
            return Err(format!("unexpected {} at column {}", parser.describe(), parser.col()));
        }
        Ok(expr)
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Ty {
        Num,
        Bool,
        /// `result`: a vector that also stands for its single value where a number is expected.
        Result,
    }

    fn ty_name(ty: Ty) -> &'static str {
        match ty {
            Ty::Num => "a number",
            Ty::Bool => "a bool",
            Ty::Result => "`result`",
        }
    }

    fn numeric(ty: Ty, what: &str) -> Result<(), String> {
        match ty {
            Ty::Num | Ty::Result => Ok(()),
            Ty::Bool => Err(format!("{what} needs a number, got a bool")),
        }
    }

    fn boolean(ty: Ty, what: &str) -> Result<(), String> {
        match ty {
            Ty::Bool => Ok(()),
            other => Err(format!("{what} needs a bool, got {}", ty_name(other))),
        }
    }

    fn check(e: &Expr) -> Result<Ty, String> {
        Ok(match e {
            Expr::Num(_) => Ty::Num,
            Expr::Bool(_) => Ty::Bool,
            Expr::Result => Ty::Result,
            Expr::Index(base, index) => {
                if check(base)? != Ty::Result {
                    return Err("only `result` can be indexed".into());
                }
                numeric(check(index)?, "an index")?;
                Ty::Num
            }
            Expr::Call(Func::Len, arg) => {
                if check(arg)? != Ty::Result {
                    return Err("len() takes `result`".into());
                }
                Ty::Num
            }
            Expr::Call(func, arg) => {
                numeric(check(arg)?, if *func == Func::IsNaN { "isNaN()" } else { "isInf()" })?;
                Ty::Bool
            }
            Expr::Not(inner) => {
                boolean(check(inner)?, "`!`")?;
                Ty::Bool
            }
            Expr::Neg(inner) => {
                numeric(check(inner)?, "unary `-`")?;
                Ty::Num
            }
            Expr::Cmp(op, a, b) => {
                let (a, b) = (check(a)?, check(b)?);
                let both_bool = a == Ty::Bool && b == Ty::Bool;
                if both_bool && matches!(op, CmpOp::Eq | CmpOp::Ne) {
                    return Ok(Ty::Bool);
                }
                if a == Ty::Bool || b == Ty::Bool {
                    return Err(format!("cannot compare {} with {}", ty_name(a), ty_name(b)));
                }
                Ty::Bool
            }
            Expr::And(a, b) | Expr::Or(a, b) => {
                let what = if matches!(e, Expr::And(..)) { "`&&`" } else { "`||`" };
                boolean(check(a)?, what)?;
                boolean(check(b)?, what)?;
                Ty::Bool
            }
        })
    }

    /// Parses and type-checks a condition; it must produce a bool.
    pub fn compile(src: &str) -> Result<Expr, String> {
        let expr = parse(src)?;
        match check(&expr)? {
            Ty::Bool => Ok(expr),
            other => Err(format!("a condition must be true or false, but this is {}", ty_name(other))),
        }
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Val<'a> {
        Num(f64),
        Bool(bool),
        Vec(&'a [f64]),
    }

    fn num(v: Val<'_>) -> Result<f64, String> {
        match v {
            Val::Num(n) => Ok(n),
            Val::Vec([one]) => Ok(*one),
            Val::Vec([]) => Err("`result` is empty (no data)".into()),
            Val::Vec(many) => Err(format!("`result` has {} values; index it", many.len())),
            Val::Bool(_) => Err("expected a number, got a bool".into()),
        }
    }

    fn boolean_val(v: Val<'_>) -> Result<bool, String> {
        match v {
            Val::Bool(b) => Ok(b),
            _ => Err("expected a bool".into()),
        }
    }

    fn eval<'a>(e: &Expr, result: &'a [f64]) -> Result<Val<'a>, String> {
        Ok(match e {
            Expr::Num(n) => Val::Num(*n),
            Expr::Bool(b) => Val::Bool(*b),
            Expr::Result => Val::Vec(result),
            Expr::Index(base, index) => {
                let Val::Vec(items) = eval(base, result)? else { return Err("only `result` can be indexed".into()) };
                let i = num(eval(index, result)?)?;
                if i.fract() != 0.0 || !i.is_finite() {
                    return Err(format!("index {i} is not a whole number"));
                }
                let len = items.len() as f64;
                let at = if i < 0.0 { len + i } else { i };
                if at < 0.0 || at >= len {
                    let no_data = if items.is_empty() { " (no data)" } else { "" };
                    return Err(format!("index out of range: result[{i}] of {} value(s){no_data}", items.len()));
                }
                Val::Num(items[at as usize])
            }
            Expr::Call(Func::Len, arg) => match eval(arg, result)? {
                Val::Vec(items) => Val::Num(items.len() as f64),
                _ => return Err("len() takes `result`".into()),
            },
            Expr::Call(Func::IsNaN, arg) => Val::Bool(num(eval(arg, result)?)?.is_nan()),
            Expr::Call(Func::IsInf, arg) => Val::Bool(num(eval(arg, result)?)?.is_infinite()),
            Expr::Not(inner) => Val::Bool(!boolean_val(eval(inner, result)?)?),
            Expr::Neg(inner) => Val::Num(-num(eval(inner, result)?)?),
            Expr::Cmp(op, a, b) => {
                let (a, b) = (eval(a, result)?, eval(b, result)?);
                if let (Val::Bool(x), Val::Bool(y)) = (a, b) {
                    return match op {
                        CmpOp::Eq => Ok(Val::Bool(x == y)),
                        CmpOp::Ne => Ok(Val::Bool(x != y)),
                        _ => Err("cannot order bools".into()),
                    };
                }
                // IEEE comparisons: anything compared with NaN is false (and != is true).
                let (x, y) = (num(a)?, num(b)?);
                Val::Bool(match op {
                    CmpOp::Lt => x < y,
                    CmpOp::Le => x <= y,
                    CmpOp::Gt => x > y,
                    CmpOp::Ge => x >= y,
                    CmpOp::Eq => x == y,
                    CmpOp::Ne => x != y,
                })
            }
            // Short-circuit, as expr does: `len(result) > 0 && result[0] < 1` is false, not an
            // error, when there is no data.
            Expr::And(a, b) => Val::Bool(boolean_val(eval(a, result)?)? && boolean_val(eval(b, result)?)?),
            Expr::Or(a, b) => Val::Bool(boolean_val(eval(a, result)?)? || boolean_val(eval(b, result)?)?),
        })
    }

    /// Evaluates a compiled condition against a measurement's result vector.
    pub fn eval_condition(e: &Expr, result: &[f64]) -> Result<bool, String> {
        boolean_val(eval(e, result)?)
    }

    #[cfg(test)]
    pub fn eval_text(src: &str, result: &[f64]) -> Result<bool, String> {
        eval_condition(&compile(src)?, result)
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(success: Option<&str>, failure: Option<&str>) -> MetricSpec {
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

    // ---- evaluator ----

    #[test]
    fn evaluator_handles_the_supported_grammar() {
        let t = |src: &str, result: &[f64]| expr::eval_text(src, result).unwrap_or_else(|e| panic!("{src}: {e}"));
        assert!(t("result[0] <= 0.01", &[0.01]));
        assert!(!t("result[0] <= 0.01", &[0.0101]));
        assert!(t("result <= 0.01", &[0.004]), "result stands for its single value");
        assert!(t("result[0] >= 0.95 && result[0] < 1", &[0.97]));
        assert!(t("result[0] > 5 || result[0] == 1", &[1.0]));
        assert!(t("!(result[0] > 1)", &[0.5]));
        assert!(t("not (result[0] > 1) and true", &[0.5]));
        assert!(t("result[0] != 2", &[1.0]));
        assert!(t("result[0] > -1e-3", &[0.0]));
        assert!(t("result[-1] == 3", &[3.0]));
        assert!(t("len(result) == 1", &[3.0]));
        assert!(t("len(result) == 0", &[]));
        assert!(t("isNaN(result[0])", &[f64::NAN]));
        assert!(t("isInf(result[0])", &[f64::INFINITY]));
        assert!(t("(true == true) != false", &[]));
        // Precedence: && binds tighter than ||.
        assert!(t("true || false && false", &[]));
        assert!(!t("(true || false) && false", &[]));
    }

    #[test]
    fn nan_compares_false_and_empty_results_error() {
        assert!(!expr::eval_text("result[0] <= 0.01", &[f64::NAN]).unwrap());
        assert!(!expr::eval_text("result[0] > 0.01", &[f64::NAN]).unwrap());
        assert!(expr::eval_text("result[0] != 0.01", &[f64::NAN]).unwrap());
        let err = expr::eval_text("result[0] <= 0.01", &[]).unwrap_err();
        assert!(err.contains("index out of range") && err.contains("no data"), "{err}");
        assert!(expr::eval_text("result <= 0.01", &[]).unwrap_err().contains("no data"));
        // Short-circuiting keeps a guarded condition from erroring.
        assert!(!expr::eval_text("len(result) > 0 && result[0] < 1", &[]).unwrap());
    }

    #[test]
    fn evaluator_rejects_what_it_does_not_support() {
        let err = |src: &str| expr::compile(src).unwrap_err();
        assert!(err("result[0] + 1 > 2").contains("unsupported `+` at column 11"), "{}", err("result[0] + 1 > 2"));
        assert!(err("asFloat(result) > 1").contains("unknown name `asFloat`"));
        assert!(err("result[0] = 1").contains("use `==`"));
        assert!(err("result[0] <= ").contains("unexpected end"));
        assert!(err("(result[0] <= 1").contains("expected `)`"));
        assert!(err("result[0] <= 1 2").contains("unexpected `2`"));
        assert!(err("result[0]").contains("must be true or false"));
        assert!(err("result[0] && true").contains("needs a bool"));
        assert!(err("true < false").contains("cannot compare"));
        assert!(err("len(1) > 0").contains("len() takes `result`"));
        assert!(err("result.value > 1").contains("unsupported `.`"));
        assert!(err("").contains("empty"));
    }

    // ---- durations and specs ----

    #[test]
    fn go_durations_parse_to_seconds() {
        assert_eq!(parse_go_duration("1m"), Ok(60));
        assert_eq!(parse_go_duration("30s"), Ok(30));
        assert_eq!(parse_go_duration("1m30s"), Ok(90));
        assert_eq!(parse_go_duration("1h"), Ok(3600));
        assert_eq!(parse_go_duration("1.5m"), Ok(90));
        assert_eq!(parse_go_duration("2000ms"), Ok(2));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert!(parse_go_duration("60").unwrap_err().contains("missing unit"));
        assert!(parse_go_duration("5d").unwrap_err().contains("unknown unit `d`"));
        assert!(parse_go_duration("500ms").unwrap_err().contains("whole number of seconds"));
        assert!(parse_go_duration("{{args.interval}}").unwrap_err().contains("unresolved"));
    }

    #[test]
    fn metric_specs_apply_argo_defaults() {
        let body = json!({
            "kind": "AnalysisTemplate",
            "spec": {"metrics": [
                {"name": "error-rate", "interval": "1m", "failureLimit": 1, "successCondition": "result[0] <= 0.01",
                 "provider": {"prometheus": {"query": "q"}}},
                {"name": "smoke", "initialDelay": "1m30s", "count": "3", "interval": "30s",
                 "consecutiveErrorLimit": 2, "inconclusiveLimit": 1,
                 "successCondition": "result[0] > 0", "failureCondition": "result[0] < 0"},
            ]}
        });
        let specs = metric_specs(&body).unwrap();
        assert_eq!(specs[0], MetricSpec { failure_limit: 1, ..spec(Some("result[0] <= 0.01"), None) });
        assert_eq!(specs[0].effective_count(), None);
        assert_eq!(
            specs[1],
            MetricSpec {
                name: "smoke".into(),
                interval_secs: 30,
                initial_delay_secs: 90,
                count: Some(3),
                failure_limit: 0,
                consecutive_error_limit: 2,
                inconclusive_limit: 1,
                success_condition: Some("result[0] > 0".into()),
                failure_condition: Some("result[0] < 0".into()),
            }
        );
        assert_eq!(select_metric(&specs, None).unwrap().name, "error-rate");
        assert_eq!(select_metric(&specs, Some("smoke")).unwrap().name, "smoke");
        let missing = select_metric(&specs, Some("latency")).unwrap_err().to_string();
        assert!(missing.contains("error-rate, smoke"), "{missing}");

        let negative = json!({"spec": {"metrics": [{"name": "m", "failureLimit": -1}]}});
        assert!(metric_specs(&negative).unwrap_err().to_string().contains("negative"));
        assert!(metric_specs(&json!({"kind": "Rollout"})).is_err());
        // No interval and no count: one measurement.
        let once = json!({"spec": {"metrics": [{"name": "m"}]}});
        assert_eq!(metric_specs(&once).unwrap()[0].effective_count(), Some(1));
    }

    // ---- parsers ----

    #[test]
    fn csv_with_seconds_and_gaps() {
        let text = "# recorded by hand\ntimestamp,value\n0,0.004\n\n30,\n60,NaN\n90, 0.05 \n";
        let series = parse_series(text).unwrap();
        assert_eq!(series.len(), 4);
        assert_eq!(series[0], Sample { t_secs: 0.0, value: Some(0.004) });
        assert_eq!(series[1], Sample { t_secs: 30.0, value: None });
        assert!(series[2].value.unwrap().is_nan());
        assert_eq!(series[3], Sample { t_secs: 90.0, value: Some(0.05) });
        // Columns in another order.
        assert_eq!(parse_series("value,timestamp\n0.5,10\n").unwrap(), vec![Sample { t_secs: 10.0, value: Some(0.5) }]);
    }

    #[test]
    fn csv_with_rfc3339_times_is_relative_to_the_first_row() {
        let text = "timestamp,value\n2026-11-25T10:00:00Z,0.001\n2026-11-25T10:01:30Z,0.002\n2026-11-25T11:02:00+01:00,0.003\n";
        let series = parse_series(text).unwrap();
        let times: Vec<f64> = series.iter().map(|s| s.t_secs).collect();
        assert_eq!(times, vec![0.0, 90.0, 120.0]);
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0.0));
        assert_eq!(parse_rfc3339("2024-11-25T10:00:00Z"), Ok(1_732_528_800.0));
        assert_eq!(parse_rfc3339("2000-03-01T00:00:00.25Z"), Ok(951_868_800.25));
        assert!(parse_rfc3339("2026-02-30T00:00:00Z").is_err());
        assert!(parse_rfc3339("2026-11-25T10:00:00").is_err());
    }

    #[test]
    fn csv_errors_name_the_line() {
        let err = |text: &str| parse_series(text).unwrap_err().to_string();
        assert!(err("time,val\n0,1\n").contains("line 1: expected the header `timestamp,value`"));
        assert!(err("timestamp,value\n0,1\n0,2\n").contains("line 3"));
        assert!(err("timestamp,value\n0,1\n60,abc\n").contains("line 3: value `abc`"));
        assert!(err("timestamp,value\n0,1\nyesterday,1\n").contains("line 3: timestamp `yesterday`"));
        assert!(err("timestamp,value\n0,1\n2026-11-25T10:00:00Z,1\n").contains("mix"));
        assert!(err("timestamp,value\n60\n").contains("line 2: 1 column(s)"));
    }

    #[test]
    fn prometheus_matrix_json() {
        let text = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"service":"payment-service"},"values":[[1732528800,"0.004"],[1732528830.5,"NaN"],[1732528860,"+Inf"]]}]}}"#;
        let series = parse_series(text).unwrap();
        assert_eq!(series.len(), 3);
        assert_eq!(series[0], Sample { t_secs: 0.0, value: Some(0.004) });
        assert_eq!(series[1].t_secs, 30.5);
        assert!(series[1].value.unwrap().is_nan());
        assert_eq!(series[2].value, Some(f64::INFINITY));

        let empty = r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        assert_eq!(parse_series(empty).unwrap(), vec![]);

        let err = |text: &str| parse_series(text).unwrap_err().to_string();
        assert!(err(r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#).contains("parse error"));
        assert!(err(r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#).contains("range query"));
        assert!(err(r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"1"},"values":[]},{"metric":{"a":"2"},"values":[]}]}}"#)
            .contains("2 series"));
        assert!(err(r#"{"status":"success""#).contains("not valid JSON"));
    }

    // ---- semantics ----

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
