//! A safety report against the service's tier limits: breaches are errors where the
//! environment enforces limits (warnings elsewhere) unless a reasoned waiver accepts them.

use super::finding::{Finding, Severity};
use super::safety::{percent, Bound, SafetyReport, Visibility};
use crate::catalog::values::trim_float;
use crate::catalog::{Environment, Pdb, Service, StrategyKind};
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
    // Not a tier limit either: a budget that allows no eviction hangs node drains and cluster
    // upgrades wherever it is. An error where limits are enforced, a warning elsewhere.
    if report.capacity.allowed_disruptions == 0 {
        let rule = rules::DRAIN_DEADLOCK;
        out.push(Finding {
            code: rule.code,
            severity: if env.enforce_limits { Severity::Error } else { Severity::Warning },
            service: Some(service.name.clone()),
            environment: Some(env.name.clone()),
            message: format!(
                "with {} replica(s) the PodDisruptionBudget ({}) allows no voluntary eviction, so node drains and cluster upgrades hang: {}",
                report.capacity.replicas,
                describe_pdb(&service.pdb),
                drain_fix(&service.pdb, report.capacity.replicas)
            ),
            location: service.location.clone(),
            waived: rule.waiver.and_then(|key| service.waivers.get(key)).cloned(),
        });
    }
    // Not a limit: a canary or blue/green runs the old version beside the migrated schema.
    if let Some(migrations) = service.migrations.as_ref().filter(|m| !m.backward_compatible) {
        let rule = rules::MIGRATION_NOT_COMPATIBLE;
        let strategy = match service.per_env.get(&env.name).map(|s| s.strategy) {
            Some(StrategyKind::BlueGreen) => "blue/green: the active version serves until the switch",
            _ => "canary: the stable version serves beside the canary",
        };
        out.push(Finding {
            code: rule.code,
            severity: rule.severity,
            service: Some(service.name.clone()),
            environment: Some(env.name.clone()),
            message: format!(
                "the migration ({}) runs before the new version takes traffic, but the running version keeps serving ({strategy}) and an abort returns traffic to it; it is not declared compatible with that version: make it additive (expand now, contract in a later version) and set `migrations {{ backward_compatible = true }}`",
                migrations.command.join(" ")
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

fn describe_pdb(pdb: &Pdb) -> String {
    match pdb {
        Pdb::MinAvailable(v) => format!("minAvailable {v}"),
        Pdb::MaxUnavailable(v) => format!("maxUnavailable {v}"),
    }
}

/// How to let one pod go: the replica count at which the same budget allows an eviction, and a
/// `max_unavailable` that keeps the same share but rounds up (Kubernetes rounds both fields up).
fn drain_fix(pdb: &Pdb, replicas: u32) -> String {
    let percent = |v: &str| v.strip_suffix('%').and_then(|p| p.parse::<f64>().ok());
    match pdb {
        Pdb::MinAvailable(v) => {
            let (enough, keep) = match (percent(v), v.parse::<u32>()) {
                (Some(p), _) => {
                    let enough = (replicas + 1..=10_000)
                        .find(|r| (*r as f64 * p / 100.0).ceil() < *r as f64)
                        .filter(|_| p < 100.0);
                    (enough, (p < 100.0).then(|| format!("\"{}%\"", trim_float(100.0 - p))))
                }
                (None, Ok(min)) => (Some(min + 1), None),
                (None, Err(_)) => (None, None),
            };
            let max = keep.unwrap_or_else(|| "1".to_string());
            match enough {
                Some(r) => format!(
                    "run at least {r} replicas here, or set `pdb {{ max_unavailable = {max} }}` instead of min_available"
                ),
                None => format!("set `pdb {{ max_unavailable = {max} }}` instead of min_available"),
            }
        }
        Pdb::MaxUnavailable(_) => "set `pdb { max_unavailable = 1 }` or more".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fix_names_the_replicas_that_let_one_pod_go_and_the_rounding_up_alternative() {
        let eighty = Pdb::MinAvailable("80%".into());
        // ceil(0.8 × 4) = 4 keeps every pod; ceil(0.8 × 5) = 4 lets one go.
        assert_eq!(
            drain_fix(&eighty, 4),
            "run at least 5 replicas here, or set `pdb { max_unavailable = \"20%\" }` instead of min_available"
        );
        assert!(drain_fix(&Pdb::MinAvailable("50%".into()), 1).starts_with("run at least 2 replicas here"));
        assert!(drain_fix(&Pdb::MinAvailable("3".into()), 3).starts_with("run at least 4 replicas here"));
        assert_eq!(
            drain_fix(&Pdb::MinAvailable("100%".into()), 3),
            "set `pdb { max_unavailable = 1 }` instead of min_available"
        );
        assert_eq!(drain_fix(&Pdb::MaxUnavailable("0".into()), 3), "set `pdb { max_unavailable = 1 }` or more");
    }
}
