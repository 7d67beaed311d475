//! `glidepath check`: how bad a bad deploy can get (the safety report, against tier limits),
//! cross-artifact policy checks, and replaying recorded metrics through an analysis (`simulate`).

pub mod finding;
pub mod identity;
mod limits;
pub mod policy;
pub mod safety;
pub mod simulate;

use serde::Serialize;

use crate::catalog::{names, Environment, Model, Service, StrategyKind};
use crate::kinds::KubeKind;
use crate::render::{workflow, Address, DesiredSet, RenderError, Stage};
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

/// The safety reports and policy findings of one whole rendered set.
pub fn check(model: &Model, desired: &DesiredSet) -> CheckResult {
    let mut run = CheckRun::new(model);
    run.global(desired);
    for env in &model.environments {
        run.environment(desired, &env.name);
    }
    run.finish(desired)
}

/// [`check`] of the catalog, rendered one environment at a time (`render::render_by_environment`):
/// the same result, holding the AWS resources and one environment's objects instead of the
/// fleet's (at 3,000 services, the rendered set was most of `check`'s memory).
pub fn check_catalog(model: &Model) -> Result<CheckResult, RenderError> {
    check_catalog_and(model, |_| {})
}

/// [`check_catalog`], showing each stage to `visit` after checking it: a caller that reads the
/// rendered catalog too (an offline plan) renders it once.
pub fn check_catalog_and(model: &Model, mut visit: impl FnMut(&Stage<'_>)) -> Result<CheckResult, RenderError> {
    let mut run = CheckRun::new(model);
    let global = crate::render::render_by_environment(model, |stage| {
        match &stage {
            Stage::Global(desired) => run.global(desired),
            Stage::Environment(env, desired) => run.environment(desired, &env.name),
        }
        visit(&stage);
    })?;
    Ok(run.finish(&global))
}

/// The safety report of `service` in `env` from its rendered objects there, when it has them.
fn safety_report(service: &Service, env: &Environment, desired: &DesiredSet) -> Option<SafetyReport> {
    let body = |kind: KubeKind, name: String| {
        desired.resources.get(&Address::scoped(&env.name, &service.name, kind, name)).map(|r| r.body_ref())
    };
    let (Some(rollout), Some(slo), Some(pdb)) = (
        body(KubeKind::Rollout, service.name.clone()),
        body(KubeKind::AnalysisTemplate, names::slo_template(&service.name)),
        body(KubeKind::PodDisruptionBudget, service.name.clone()),
    ) else {
        return None;
    };
    let smoke = body(KubeKind::AnalysisTemplate, names::smoke_template(&service.name));
    let hpa = body(KubeKind::HorizontalPodAutoscaler, service.name.clone());
    let rendered = Rendered {
        rollout: &rollout,
        slo_template: &slo,
        smoke_template: smoke.as_deref().filter(|_| service.per_env[&env.name].strategy == StrategyKind::BlueGreen),
        pdb: &pdb,
        hpa: hpa.as_deref(),
    };
    Some(safety::report(service, env, &rendered))
}

/// A check in phases (the AWS resources, then each environment's objects), whose result is that
/// of one pass over the whole set: reports in service then environment order, findings sorted.
struct CheckRun<'m> {
    model: &'m Model,
    /// Each report with its place in a pass over the whole set (service, then its environment).
    reports: Vec<((usize, usize), SafetyReport)>,
    findings: Vec<Finding>,
    policy: policy::PolicyRun,
    workflows: workflow::Renderer,
}

impl<'m> CheckRun<'m> {
    fn new(model: &'m Model) -> Self {
        CheckRun {
            model,
            reports: Vec::new(),
            findings: Vec::new(),
            policy: policy::PolicyRun::default(),
            workflows: workflow::Renderer::new(),
        }
    }

    fn global(&mut self, desired: &DesiredSet) {
        let (model, renderer) = (self.model, &self.workflows);
        // A workflow that does not render is a render error `render`/`plan` report; check what does.
        self.policy.global(model, desired, |service| renderer.render_document(model, service).ok());
    }

    fn environment(&mut self, desired: &DesiredSet, env_name: &str) {
        let model = self.model;
        let Some(env) = model.environment(env_name) else { return };
        // Each (service, its place among the service's environments) here.
        let services: Vec<(usize, usize, &Service)> = model
            .services
            .iter()
            .enumerate()
            .filter_map(|(index, s)| Some((index, s.environments.iter().position(|e| e == env_name)?, s)))
            .collect();
        // Each service's report is its own: over the cores, taken back in catalog order.
        let reports = crate::parallel::runs(&services, |run| {
            run.iter()
                .filter_map(|&(index, place, service)| {
                    let report = safety_report(service, env, desired)?;
                    Some((limits::evaluate(service, env, &report), ((index, place), report)))
                })
                .collect::<Vec<_>>()
        });
        for (findings, report) in reports.into_iter().flatten() {
            self.findings.extend(findings);
            self.reports.push(report);
        }
        self.policy.environment(model, desired, env_name);
    }

    fn finish(mut self, desired: &DesiredSet) -> CheckResult {
        // Stable sorts: what ties keeps the order of one pass over the whole set.
        self.reports.sort_by_key(|(place, _)| *place);
        self.findings.extend(self.policy.finish(self.model, desired));
        self.findings.sort_by(|a, b| {
            (!a.fails(), &a.location, a.code, &a.environment).cmp(&(!b.fails(), &b.location, b.code, &b.environment))
        });
        CheckResult { reports: self.reports.into_iter().map(|(_, report)| report).collect(), findings: self.findings }
    }
}
