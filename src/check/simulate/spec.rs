//! The metrics of an AnalysisTemplate: `MetricSpec`, Argo's defaults, Go durations and picking a metric.

use serde::Serialize;
use serde_json::Value;

use super::SimulateError;
use crate::render::{Address, DesiredSet, Resource};

/// Argo Rollouts' default `consecutiveErrorLimit`.
pub const DEFAULT_CONSECUTIVE_ERROR_LIMIT: u32 = 4;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::simulate::test_support::spec;
    use serde_json::json;

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
}
