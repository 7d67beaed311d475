//! The rollout safety report: for each service and environment, computed from the rendered
//! Rollout and AnalysisTemplates with the Argo Rollouts controller's semantics.
//!
//! Canary (background analysis): the steps run in order, each `setWeight` at once and each
//! `pause` for its duration (a manual pause waits for a person). Analysis starts when the
//! rollout reaches `startingStep` (an index that counts pauses too), takes its first
//! measurement after `initialDelay` and then one every `interval`; a metric fails when more
//! than `failureLimit` measurements failed. So a version that breaches the SLO from the start
//! is rolled back within
//!
//!   rollback = t(startingStep) + initialDelay + failureLimit × interval
//!
//! (the slowest metric counts), provided the new version's metrics can be rated by the first
//! measurement: its pods Ready and scraped twice (`Service::metrics_delay`, counted from the
//! first canary step or, for blue/green, from the switch). glidepath renders `initialDelay` to
//! wait for that. A measurement taken earlier finds no data: an `Error`, retried after 10 s
//! whatever the interval, so the bound grows by 10 s per such error, and more than
//! `consecutiveErrorLimit` (4) of them in a row abort the rollout even of a good version.
//! Without a traffic router, a weight is carried by pods:
//! ceil(replicas × weight / 100) of `replicas`, so 5 % of 3 replicas is really 33 %.
//! Blue/green: the pre-promotion smoke test sees the preview only (no user traffic); an SLO
//! breach it misses takes all traffic until post-promotion analysis fails, within
//! initialDelay + failureLimit × interval of the switch.

use serde::Serialize;
use serde_json::Value;

use super::simulate::{DEFAULT_CONSECUTIVE_ERROR_LIMIT, ERROR_RETRY_SECS};
use crate::catalog::values::{Duration, Percent};
use crate::catalog::{Environment, Router, Service, StrategyKind};

/// A time that is bounded, or not (a manual pause can wait forever).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    Within(Duration),
    Unbounded,
    /// Never: the rollout is fully promoted (and background analysis stops) before it can fail.
    AfterPromotion,
}

impl Bound {
    fn plus(self, d: Duration) -> Bound {
        match self {
            Bound::Within(t) => Bound::Within(Duration { millis: t.millis + d.millis }),
            other => other,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Bound::Within(d) => d.to_string(),
            Bound::Unbounded => "unbounded (a manual pause comes first)".into(),
            Bound::AfterPromotion => "never (the rollout is fully promoted before analysis can fail it)".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// Weight the Rollout asks for, in percent.
    pub requested: u32,
    /// The share of requests the canary gets, in percent: the weight with a traffic router,
    /// what its pods carry without one.
    pub effective: f64,
    /// Canary pods at this step: ceil(replicas × weight / 100), as the controller scales them.
    pub canary_pods: u32,
    /// When the step starts, from the first canary pods.
    pub at: Bound,
}

#[derive(Debug, Clone, Serialize)]
pub struct Capacity {
    pub replicas: u32,
    /// Pods kept ready throughout the rollout.
    pub min_ready: u32,
    /// Extra pods the rollout needs at its peak.
    pub surge: u32,
    /// Pods a node drain may evict at once under the PDB (0 = drains block).
    pub allowed_disruptions: u32,
    /// The share of pods the PDB keeps.
    pub pdb_keeps: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Detectability {
    pub requests_per_second: f64,
    /// Share of those requests the new version gets while it is first measured.
    pub share: f64,
    pub window: Duration,
    /// Requests the new version serves in one analysis window.
    pub requests_per_window: f64,
    /// Failed requests expected in a window at exactly the max error rate.
    pub errors_at_threshold: f64,
    pub verdict: Visibility,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// At least 3 errors expected per window at the threshold (the rule of three).
    Visible,
    /// Too few requests to tell the max error rate from zero.
    Blind,
    /// Less than one request per window: the query returns no data and measurements error.
    NoData,
}

#[derive(Debug, Clone, Serialize)]
pub struct SafetyReport {
    pub service: String,
    pub environment: String,
    pub strategy: StrategyKind,
    /// What splits the canary's traffic (`none`: its pods do).
    pub router: Router,
    /// From a bad version going live to automatic rollback, when it breaches the SLO.
    pub rollback: Bound,
    /// A version whose pods never become ready is aborted after this.
    pub not_ready_abort: Duration,
    /// Measurements that find no data yet (the new version's metrics not rateable) and error,
    /// before the first that can judge it; over `consecutiveErrorLimit`, good versions abort.
    pub errors_before_data: u64,
    pub consecutive_error_limit: u64,
    /// Largest share of traffic a bad version gets before analysis can fail it.
    pub exposure: f64,
    /// Traffic share × minutes a bad version serves before analysis can fail it.
    pub exposure_percent_minutes: Option<f64>,
    pub steps: Vec<Step>,
    /// Automated time to full promotion (manual gates not counted) and how many gates there are.
    pub promotion: Duration,
    pub manual_gates: u32,
    /// When a counted analysis ends before full promotion: the later steps are not watched.
    pub analysis_ends: Option<Bound>,
    pub capacity: Capacity,
    pub detectability: Option<Detectability>,
}

impl SafetyReport {
    /// `rollback ≤ 1m00s, exposure ≤ 5%`: the numbers a PR comment shows.
    pub fn headline(&self) -> String {
        let rollback = match self.rollback {
            Bound::Within(d) => format!("rollback ≤ {d}"),
            Bound::Unbounded => "rollback unbounded".into(),
            Bound::AfterPromotion => "no rollback (promoted before analysis can fail)".into(),
        };
        format!("{rollback}, exposure ≤ {}", percent(self.exposure))
    }
}

/// A share as a percentage with at most one decimal: 0.16667 → "16.7%".
pub fn percent(fraction: f64) -> String {
    let tenths = (fraction * 1000.0).round() / 10.0;
    Percent { fraction: tenths / 100.0 }.to_string()
}

fn duration_field(value: &Value) -> Option<Duration> {
    match value {
        Value::String(s) => Duration::parse(s).ok(),
        Value::Number(n) => n.as_u64().map(Duration::from_secs),
        _ => None,
    }
}

/// One analysis metric's timing.
#[derive(Debug, Clone)]
pub struct MetricTiming {
    pub interval: Duration,
    pub initial_delay: Duration,
    pub failure_limit: u64,
    pub count: Option<u64>,
    pub consecutive_error_limit: u64,
}

impl MetricTiming {
    /// Measurements before the new version's metrics exist (`data_after` from the start of the
    /// run): each finds no data, errors, and is retried 10 s later.
    pub fn errors_before_data(&self, data_after: Duration) -> u64 {
        let missing = data_after.millis.saturating_sub(self.initial_delay.millis);
        missing.div_ceil(ERROR_RETRY_SECS * 1000)
    }

    /// From the start of the run to the measurement that fails the metric, for a version that
    /// breaches from its first data on.
    pub fn time_to_fail(&self, data_after: Duration) -> Duration {
        let first_with_data = self.initial_delay.millis + self.errors_before_data(data_after) * ERROR_RETRY_SECS * 1000;
        Duration { millis: first_with_data + self.failure_limit * self.interval.millis }
    }

    /// From the start of the run to its last measurement, when counted.
    pub fn time_to_end(&self) -> Option<Duration> {
        self.count.map(|c| Duration { millis: self.initial_delay.millis + c.saturating_sub(1) * self.interval.millis })
    }
}

pub fn metric_timings(template: &Value) -> Vec<MetricTiming> {
    template["spec"]["metrics"]
        .as_array()
        .map(|metrics| {
            metrics
                .iter()
                .map(|m| MetricTiming {
                    interval: duration_field(&m["interval"]).unwrap_or(Duration::from_secs(0)),
                    initial_delay: duration_field(&m["initialDelay"]).unwrap_or(Duration::from_secs(0)),
                    failure_limit: m["failureLimit"].as_u64().unwrap_or(0),
                    count: m["count"].as_u64(),
                    consecutive_error_limit: m["consecutiveErrorLimit"]
                        .as_u64()
                        .unwrap_or(DEFAULT_CONSECUTIVE_ERROR_LIMIT as u64),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The rate window of the first Prometheus query (`[2m]`), which bounds what one measurement sees.
pub fn rate_window(template: &Value) -> Option<Duration> {
    let query = template["spec"]["metrics"][0]["provider"]["prometheus"]["query"].as_str()?;
    let start = query.rfind('[')?;
    let end = query[start..].find(']')? + start;
    Duration::parse(&query[start + 1..end]).ok()
}

/// Everything rendered for one service in one environment that the report reads.
pub struct Rendered<'a> {
    pub rollout: &'a Value,
    pub slo_template: &'a Value,
    pub smoke_template: Option<&'a Value>,
    pub pdb: &'a Value,
    pub hpa: Option<&'a Value>,
}

fn scaled(value: &Value, replicas: u32) -> Option<u32> {
    match value {
        Value::Number(n) => n.as_u64().map(|v| v as u32),
        Value::String(s) => {
            let pct: f64 = s.strip_suffix('%')?.parse().ok()?;
            // Kubernetes rounds both PDB fields up.
            Some((replicas as f64 * pct / 100.0).ceil() as u32)
        }
        _ => None,
    }
}

pub fn report(service: &Service, env: &Environment, rendered: &Rendered) -> SafetyReport {
    let settings = &service.per_env[&env.name];
    let rollout = rendered.rollout;
    let replicas = rollout["spec"]["replicas"]
        .as_u64()
        .or_else(|| rendered.hpa.and_then(|h| h["spec"]["minReplicas"].as_u64()))
        .unwrap_or(1) as u32;
    let timings = metric_timings(rendered.slo_template);
    // When the new version's metrics can be rated, from the start of the analysis run.
    let data_delay = service.metrics_delay(settings.strategy);
    let data_after = match settings.strategy {
        StrategyKind::Canary => match analysis_start(rollout) {
            Bound::Within(t) => Duration { millis: data_delay.millis.saturating_sub(t.millis) },
            Bound::Unbounded | Bound::AfterPromotion => Duration::from_secs(0),
        },
        StrategyKind::BlueGreen => data_delay,
    };
    let slowest_fail = timings.iter().map(|t| t.time_to_fail(data_after)).max().unwrap_or(Duration::from_secs(0));
    let errors_before_data = timings.iter().map(|t| t.errors_before_data(data_after)).max().unwrap_or(0);
    let consecutive_error_limit =
        timings.iter().map(|t| t.consecutive_error_limit).min().unwrap_or(DEFAULT_CONSECUTIVE_ERROR_LIMIT as u64);
    let not_ready_abort = Duration::from_secs(rollout["spec"]["progressDeadlineSeconds"].as_u64().unwrap_or(600));
    let capacity = capacity(rollout, rendered.pdb, replicas, settings.strategy);
    let window = rate_window(rendered.slo_template).unwrap_or(Duration::from_secs(60));

    let (rollback, exposure, exposure_pm, steps, promotion, manual_gates, analysis_ends, measured_share) =
        match settings.strategy {
            StrategyKind::Canary => canary(rollout, &timings, slowest_fail, replicas),
            StrategyKind::BlueGreen => {
                let smoke_deadline = rendered
                    .smoke_template
                    .and_then(|t| t["spec"]["metrics"][0]["provider"]["job"]["spec"]["activeDeadlineSeconds"].as_u64())
                    .map(Duration::from_secs)
                    .unwrap_or(Duration::from_secs(0));
                let auto = rollout["spec"]["strategy"]["blueGreen"]["autoPromotionEnabled"].as_bool().unwrap_or(true);
                let post = timings.iter().filter_map(MetricTiming::time_to_end).max().unwrap_or(Duration::from_secs(0));
                let promotion = Duration { millis: smoke_deadline.millis + post.millis };
                // The preview takes no user traffic; what the smoke test misses is all traffic until
                // post-promotion analysis fails.
                (Bound::Within(slowest_fail), 0.0, Some(0.0), Vec::new(), promotion, u32::from(!auto), None, 1.0)
            }
        };

    let detectability = service.expected_rps.get(&env.name).map(|rps| {
        let requests = rps * measured_share * window.millis as f64 / 1000.0;
        let errors = requests * service.slo.max_error_rate.fraction;
        let verdict = if requests < 1.0 {
            Visibility::NoData
        } else if errors < 3.0 {
            Visibility::Blind
        } else {
            Visibility::Visible
        };
        Detectability {
            requests_per_second: *rps,
            share: measured_share,
            window,
            requests_per_window: requests,
            errors_at_threshold: errors,
            verdict,
        }
    });

    SafetyReport {
        service: service.name.clone(),
        environment: env.name.clone(),
        strategy: settings.strategy,
        router: settings.traffic.router,
        rollback,
        not_ready_abort,
        errors_before_data,
        consecutive_error_limit,
        exposure,
        exposure_percent_minutes: exposure_pm,
        steps,
        promotion,
        manual_gates,
        analysis_ends,
        capacity,
        detectability,
    }
}

/// When a canary's analysis starts: the time of its `startingStep` (timed pauses before it).
fn analysis_start(rollout: &Value) -> Bound {
    let canary = &rollout["spec"]["strategy"]["canary"];
    let starting = canary["analysis"]["startingStep"].as_u64().unwrap_or(0) as usize;
    let mut at = Bound::Within(Duration::from_secs(0));
    for step in canary["steps"].as_array().into_iter().flatten().take(starting) {
        if let Some(pause) = step.get("pause") {
            at = match duration_field(&pause["duration"]) {
                Some(d) => at.plus(d),
                None => Bound::Unbounded,
            };
        }
    }
    at
}

type CanaryNumbers = (Bound, f64, Option<f64>, Vec<Step>, Duration, u32, Option<Bound>, f64);

fn canary(rollout: &Value, timings: &[MetricTiming], slowest_fail: Duration, replicas: u32) -> CanaryNumbers {
    let canary = &rollout["spec"]["strategy"]["canary"];
    let router = canary.get("trafficRouting").is_some();
    let effective = |w: u32| -> f64 {
        if router || w >= 100 {
            w as f64 / 100.0
        } else {
            ((replicas as f64 * w as f64 / 100.0).ceil() / replicas as f64).min(1.0)
        }
    };

    let mut at = Bound::Within(Duration::from_secs(0));
    let mut steps = Vec::new();
    let mut promotion = Duration::from_secs(0);
    let mut manual_gates = 0;
    // (start, share) of each stretch of constant traffic, while the time is known.
    let mut segments: Vec<(Duration, f64)> = Vec::new();
    for step in canary["steps"].as_array().into_iter().flatten() {
        if let Some(weight) = step["setWeight"].as_u64() {
            let share = effective(weight as u32);
            let canary_pods = ((replicas as u64 * weight).div_ceil(100)) as u32;
            steps.push(Step { requested: weight as u32, effective: share * 100.0, canary_pods, at });
            if let Bound::Within(t) = at {
                segments.push((t, share));
            }
        } else if let Some(pause) = step.get("pause") {
            match duration_field(&pause["duration"]) {
                Some(d) => {
                    at = at.plus(d);
                    promotion = Duration { millis: promotion.millis + d.millis };
                }
                None => {
                    at = Bound::Unbounded;
                    manual_gates += 1;
                }
            }
        }
    }
    let analysis_start = analysis_start(rollout);
    // Background analysis stops once the rollout is fully promoted: a failure that would come
    // later never comes.
    let rollback = match (analysis_start.plus(slowest_fail), at) {
        (Bound::Within(fail), Bound::Within(promoted)) if fail > promoted => Bound::AfterPromotion,
        (bound, _) => bound,
    };
    let (exposure, exposure_pm) = match rollback {
        Bound::Within(fail_at) => {
            let mut share_at_fail = 0.0;
            let mut area = 0.0;
            for (i, (start, share)) in segments.iter().enumerate() {
                if start.millis > fail_at.millis {
                    break;
                }
                let end = segments.get(i + 1).map(|(s, _)| s.millis).unwrap_or(u64::MAX).min(fail_at.millis);
                area += share * 100.0 * (end - start.millis) as f64 / 60_000.0;
                share_at_fail = *share;
            }
            (share_at_fail, Some(area))
        }
        Bound::Unbounded | Bound::AfterPromotion => (1.0, None),
    };
    let analysis_ends =
        timings.iter().filter_map(MetricTiming::time_to_end).max().map(|end| analysis_start.plus(end)).filter(|end| {
            match (end, at) {
                (Bound::Within(e), Bound::Within(p)) => e.millis < p.millis,
                (Bound::Within(_), Bound::Unbounded) => true,
                _ => false,
            }
        });
    let measured_share = steps
        .iter()
        .rev()
        .find(|s| match (s.at, analysis_start) {
            (Bound::Within(a), Bound::Within(b)) => a.millis <= b.millis,
            _ => false,
        })
        .map(|s| s.effective / 100.0)
        .unwrap_or(0.0);
    (rollback, exposure, exposure_pm, steps, promotion, manual_gates, analysis_ends, measured_share)
}

fn capacity(rollout: &Value, pdb: &Value, replicas: u32, strategy: StrategyKind) -> Capacity {
    let surge = match strategy {
        StrategyKind::BlueGreen => replicas,
        StrategyKind::Canary => match &rollout["spec"]["strategy"]["canary"]["maxSurge"] {
            Value::Number(n) => n.as_u64().unwrap_or(0) as u32,
            Value::String(s) => {
                let pct: f64 = s.trim_end_matches('%').parse().unwrap_or(25.0);
                (replicas as f64 * pct / 100.0).ceil() as u32
            }
            _ => (replicas as f64 * 0.25).ceil() as u32,
        },
    };
    let spec = &pdb["spec"];
    let allowed = if let Some(min) = scaled(&spec["minAvailable"], replicas) {
        replicas.saturating_sub(min)
    } else {
        scaled(&spec["maxUnavailable"], replicas).unwrap_or(replicas).min(replicas)
    };
    Capacity {
        replicas,
        min_ready: replicas,
        surge,
        allowed_disruptions: allowed,
        pdb_keeps: if replicas == 0 { 1.0 } else { (replicas - allowed) as f64 / replicas as f64 },
    }
}
