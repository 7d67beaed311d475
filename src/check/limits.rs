//! A safety report against the service's tier limits: breaches are errors where the
//! environment enforces limits (warnings elsewhere) unless a reasoned waiver accepts them.

use super::finding::Finding;
use super::safety::{percent, Bound, SafetyReport, Visibility};
use crate::catalog::{Environment, Service};
use crate::rules::{self, Rule};

pub fn evaluate(service: &Service, env: &Environment, report: &SafetyReport) -> Vec<Finding> {
    let limits = &service.limits;
    let mut out = Vec::new();
    // Not a limit but a broken analysis, in every environment: it aborts good versions too.
    if report.errors_before_data > report.consecutive_error_limit {
        out.push(Finding {
            code: rules::ANALYSIS_ERRORS_BEFORE_DATA.code,
            severity: rules::ANALYSIS_ERRORS_BEFORE_DATA.severity,
            service: Some(service.name.clone()),
            environment: Some(env.name.clone()),
            message: format!(
                "the first {} measurements come before the new version's metrics can be rated (pods Ready, then two scrapes) and find no data; over consecutiveErrorLimit {} in a row, Argo Rollouts aborts every version, good ones too: raise slo.initial_delay or leave it unset",
                report.errors_before_data, report.consecutive_error_limit
            ),
            location: service.location.clone(),
            waived: None,
        });
    }
    // A one-replica dev environment breaks every limit by design; the report still shows its
    // numbers, but only environments that enforce limits get findings.
    if !env.enforce_limits {
        return out;
    }
    // A rule's registered severity and waiver decide how its breach is reported.
    let mut push = |rule: &Rule, message: String| {
        out.push(Finding {
            code: rule.code,
            severity: rule.severity,
            service: Some(service.name.clone()),
            environment: Some(env.name.clone()),
            message,
            location: service.location.clone(),
            waived: rule.waiver.and_then(|key| service.waivers.get(key)).cloned(),
        });
    };
    if let Some(max) = limits.max_rollback {
        let over = match report.rollback {
            Bound::Within(d) => d > max,
            Bound::Unbounded | Bound::AfterPromotion => true,
        };
        if over {
            push(
                rules::ROLLBACK_OVER_LIMIT,
                format!(
                    "a bad version is rolled back within {}, over the tier limit of {max}",
                    report.rollback.describe()
                ),
            );
        }
    }
    if let Some(max) = limits.max_exposure {
        if report.exposure > max.fraction + 1e-9 {
            push(
                rules::EXPOSURE_OVER_LIMIT,
                format!(
                    "a bad version gets {} of traffic before analysis can fail it, over the tier limit of {max}{}",
                    percent(report.exposure),
                    if report.capacity.replicas < 100 {
                        format!(" ({} replicas carry the first step)", report.capacity.replicas)
                    } else {
                        String::new()
                    }
                ),
            );
        }
    }
    if let Some(min) = limits.min_pdb {
        if report.capacity.pdb_keeps + 1e-9 < min.fraction {
            push(
                rules::PDB_BELOW_LIMIT,
                format!(
                    "the PodDisruptionBudget keeps {} of pods, under the tier minimum of {min}",
                    percent(report.capacity.pdb_keeps)
                ),
            );
        }
    }
    if let Some(max) = limits.max_deploy_time {
        if report.promotion > max {
            push(
                rules::DEPLOY_TIME_OVER_BUDGET,
                format!(
                    "full promotion takes {} (manual gates not counted), over the budget of {max}",
                    report.promotion
                ),
            );
        }
    }
    if report.capacity.allowed_disruptions == 0 {
        push(
            rules::DRAIN_DEADLOCK,
            format!(
                "with {} replica(s) the PodDisruptionBudget allows no eviction: node drains block",
                report.capacity.replicas
            ),
        );
    }
    for step in &report.steps {
        if (step.effective - step.requested as f64).abs() > 0.5 {
            push(
                rules::WEIGHT_UNREACHABLE,
                format!(
                    "setWeight {} is really {} with {} replicas and no traffic router",
                    step.requested,
                    percent(step.effective / 100.0),
                    report.capacity.replicas
                ),
            );
        }
    }
    if let Some(ends) = report.analysis_ends {
        push(
            rules::ANALYSIS_ENDS_EARLY,
            format!(
                "analysis ends after {} (slo.count), before full promotion: later steps are not watched",
                ends.describe()
            ),
        );
    }
    if let Some(d) = &report.detectability {
        match d.verdict {
            Visibility::Visible => {}
            Visibility::Blind => push(
                rules::BLIND_ANALYSIS,
                format!(
                    "a {} window sees about {:.0} requests of the new version: {:.1} errors at the max error rate, too few to tell it from zero",
                    d.window, d.requests_per_window, d.errors_at_threshold
                ),
            ),
            Visibility::NoData => push(
                rules::ANALYSIS_NO_DATA,
                format!("a {} window sees under one request of the new version: measurements return no data and error", d.window),
            ),
        }
    }
    out
}
