//! `glidepath check`: how bad a bad deploy can get (the safety report, against tier limits),
//! cross-artifact policy checks, and replaying recorded metrics through an analysis (`simulate`).

pub mod finding;
pub mod identity;
mod limits;
pub mod policy;
pub mod safety;
pub mod simulate;

use serde::Serialize;

use crate::catalog::{names, Model, StrategyKind};
use crate::kinds::KubeKind;
use crate::render::{Address, DesiredSet};
pub use finding::{Finding, Severity};
use safety::{Rendered, SafetyReport};

/// Everything `check` found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub reports: Vec<SafetyReport>,
    pub findings: Vec<Finding>,
}

impl CheckResult {
    /// Whether anything fails the check (an unwaived error).
    pub fn fails(&self) -> bool {
        self.findings.iter().any(Finding::fails)
    }

    pub fn report(&self, service: &str, env: &str) -> Option<&SafetyReport> {
        self.reports.iter().find(|r| r.service == service && r.environment == env)
    }
}

pub fn check(model: &Model, desired: &DesiredSet) -> CheckResult {
    let mut reports = Vec::new();
    let mut findings = Vec::new();
    for service in &model.services {
        for env_name in &service.environments {
            let Some(env) = model.environment(env_name) else { continue };
            let body = |kind: KubeKind, name: String| {
                desired.resources.get(&Address::scoped(env_name, &service.name, kind, name)).map(|r| r.body_ref())
            };
            let (Some(rollout), Some(slo), Some(pdb)) = (
                body(KubeKind::Rollout, service.name.clone()),
                body(KubeKind::AnalysisTemplate, names::slo_template(&service.name)),
                body(KubeKind::PodDisruptionBudget, service.name.clone()),
            ) else {
                continue;
            };
            let smoke = body(KubeKind::AnalysisTemplate, names::smoke_template(&service.name));
            let hpa = body(KubeKind::HorizontalPodAutoscaler, service.name.clone());
            let rendered = Rendered {
                rollout: &rollout,
                slo_template: &slo,
                smoke_template: smoke
                    .as_deref()
                    .filter(|_| service.per_env[env_name].strategy == StrategyKind::BlueGreen),
                pdb: &pdb,
                hpa: hpa.as_deref(),
            };
            let report = safety::report(service, env, &rendered);
            findings.extend(limits::evaluate(service, env, &report));
            reports.push(report);
        }
    }
    findings.extend(policy::check(model, desired));
    findings.sort_by(|a, b| {
        (!a.fails(), &a.location, a.code, &a.environment).cmp(&(!b.fails(), &b.location, b.code, &b.environment))
    });
    CheckResult { reports, findings }
}
