//! Live rollout progress, as the Argo Rollouts controller reports it in the Rollout's status and
//! its AnalysisRuns: what `glidepath status` shows. Reading is here; turning the two API objects
//! into a `RolloutProgress` is pure (`progress_of`) and unit-tested.

use kube::api::{Api, DynamicObject, ListParams};
use serde::Serialize;
use serde_json::Value;

use super::{diagnose, ownership_selector, KubeProvider};
use crate::catalog::Model;
use crate::kinds::{Crd, KubeApi, KubeKind};
use crate::providers::ProviderError;

/// One service's rollout in one environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RolloutProgress {
    pub service: String,
    /// `canary` or `blue_green`; `not deployed` when the cluster has no Rollout for the service.
    pub strategy: String,
    /// The controller's phase: Healthy, Progressing, Paused or Degraded (`-` before it has looked).
    pub phase: String,
    pub message: Option<String>,
    /// The update was aborted: the stable version takes all traffic.
    pub aborted: bool,
    /// Canary: steps completed and steps in all (setWeight and pause steps alike).
    pub step: Option<(u32, u32)>,
    /// Canary: the share of pods/traffic the new version has now, in percent.
    pub weight: Option<u32>,
    /// The image the Rollout's spec asks for.
    pub image: String,
    /// Pod-template hashes: the version serving as stable (active) and the one being rolled out.
    pub stable_revision: Option<String>,
    pub updated_revision: Option<String>,
    pub replicas: Replicas,
    /// The analysis runs of the revision being rolled out, oldest first.
    pub analysis: Vec<AnalysisSummary>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Replicas {
    pub desired: u64,
    pub updated: u64,
    pub ready: u64,
    pub available: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalysisSummary {
    pub name: String,
    /// When it runs: Background (canary), PrePromotion, PostPromotion or Step.
    pub kind: String,
    /// Pending, Running, Successful, Failed, Error or Inconclusive.
    pub phase: String,
    pub message: Option<String>,
    pub metrics: Vec<MetricSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricSummary {
    pub name: String,
    pub phase: String,
    pub successful: u64,
    pub failed: u64,
    pub errors: u64,
    pub inconclusive: u64,
    /// The value of the latest measurement, as Argo recorded it (e.g. `[0.5]`).
    pub last_value: Option<String>,
}

impl RolloutProgress {
    fn not_deployed(service: &str) -> RolloutProgress {
        RolloutProgress {
            service: service.to_string(),
            strategy: "not deployed".into(),
            phase: "-".into(),
            message: None,
            aborted: false,
            step: None,
            weight: None,
            image: String::new(),
            stable_revision: None,
            updated_revision: None,
            replicas: Replicas::default(),
            analysis: Vec::new(),
        }
    }
}

/// Read for `status`, never managed: the controller creates them.
const ANALYSIS_RUNS: KubeApi =
    KubeApi { group: "argoproj.io", version: "v1alpha1", plural: "analysisruns", namespaced: true, crd: Crd::Required };
const HASH_LABEL: &str = "rollouts-pod-template-hash";

impl KubeProvider {
    /// The progress of every catalog service deployed to `env`, in catalog order: two list calls
    /// (Rollouts with glidepath's labels, and AnalysisRuns) whatever the number of services.
    pub fn rollout_progress(&self, model: &Model, env: &str) -> Result<Vec<RolloutProgress>, ProviderError> {
        let cluster = &self.envs[env];
        let rollouts = self.api(env, KubeKind::Rollout);
        let selector = ownership_selector(&self.catalog, env);
        let listed = self
            .once("list rollouts", rollouts.list(&ListParams::default().labels(&selector)))
            .map_err(|e| diagnose(e, &format!("Rollouts in environment {env}"), "list", env, cluster))?;
        let runs: Api<DynamicObject> = self.api_for(env, "AnalysisRun", ANALYSIS_RUNS);
        let runs = self
            .once("list analysisruns", runs.list(&ListParams::default()))
            .map_err(|e| diagnose(e, &format!("AnalysisRuns in environment {env}"), "list", env, cluster))?;
        let to_value = |o: DynamicObject| serde_json::to_value(o).unwrap_or_default();
        let rollouts: Vec<Value> = listed.items.into_iter().map(to_value).collect();
        let runs: Vec<Value> = runs.items.into_iter().map(to_value).collect();
        let deployed: Vec<&str> = model
            .services
            .iter()
            .filter(|s| s.environments.iter().any(|e| e == env))
            .map(|s| s.name.as_str())
            .collect();
        Ok(deployed
            .into_iter()
            .map(|service| match rollouts.iter().find(|r| r["metadata"]["name"] == service) {
                Some(rollout) => progress_of(rollout, &runs),
                None => RolloutProgress::not_deployed(service),
            })
            .collect())
    }
}

/// A Rollout and the AnalysisRuns of its namespace → its progress.
pub fn progress_of(rollout: &Value, runs: &[Value]) -> RolloutProgress {
    let spec = &rollout["spec"];
    let status = &rollout["status"];
    let text = |v: &Value| v.as_str().map(str::to_string);
    let count = |v: &Value| v.as_u64().unwrap_or(0);
    let canary = &spec["strategy"]["canary"];
    let strategy = if canary.is_object() { "canary" } else { "blue_green" };
    let aborted = status["abort"].as_bool().unwrap_or(false);
    let steps = canary["steps"].as_array().cloned().unwrap_or_default();
    let step_index = status["currentStepIndex"].as_u64();
    let (step, weight) = if strategy == "canary" {
        let total = steps.len() as u32;
        let index = step_index.map(|i| i as u32);
        (index.map(|i| (i, total)), Some(canary_weight(&steps, index, aborted)))
    } else {
        (None, None)
    };
    let image = spec["template"]["spec"]["containers"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "app").or(c.first()))
        .and_then(|c| text(&c["image"]))
        .unwrap_or_default();
    let stable_revision = text(&status["stableRS"]).or_else(|| text(&status["blueGreen"]["activeSelector"]));
    let updated_revision = text(&status["currentPodHash"]);
    let uid = &rollout["metadata"]["uid"];
    let mut analysis: Vec<&Value> = runs
        .iter()
        .filter(|run| {
            run["metadata"]["ownerReferences"].as_array().is_some_and(|o| o.iter().any(|o| &o["uid"] == uid))
                && updated_revision.is_some()
                && text(&run["metadata"]["labels"][HASH_LABEL]) == updated_revision
        })
        .collect();
    analysis.sort_by_key(|run| run["metadata"]["creationTimestamp"].as_str().unwrap_or_default().to_string());
    RolloutProgress {
        service: text(&rollout["metadata"]["name"]).unwrap_or_default(),
        strategy: strategy.into(),
        phase: text(&status["phase"]).unwrap_or_else(|| "-".into()),
        message: text(&status["message"]).filter(|m| !m.is_empty()),
        aborted,
        step,
        weight,
        image,
        stable_revision,
        updated_revision,
        replicas: Replicas {
            desired: spec["replicas"].as_u64().unwrap_or(count(&status["replicas"])),
            updated: count(&status["updatedReplicas"]),
            ready: count(&status["readyReplicas"]),
            available: count(&status["availableReplicas"]),
        },
        analysis: analysis.into_iter().map(analysis_summary).collect(),
    }
}

/// The controller's rule for a basic canary's weight: the last setWeight at or before the current
/// step; 100 once every step is done (or with no step index, which means fully promoted); 0 once
/// aborted.
fn canary_weight(steps: &[Value], index: Option<u32>, aborted: bool) -> u32 {
    if aborted {
        return 0;
    }
    let Some(index) = index else { return 100 };
    if index as usize >= steps.len() {
        return 100;
    }
    steps[..=index as usize].iter().rev().find_map(|s| s["setWeight"].as_u64()).unwrap_or(0) as u32
}

fn analysis_summary(run: &Value) -> AnalysisSummary {
    let status = &run["status"];
    let text = |v: &Value| v.as_str().map(str::to_string);
    let count = |v: &Value| v.as_u64().unwrap_or(0);
    let metrics = status["metricResults"]
        .as_array()
        .map(|results| {
            results
                .iter()
                .map(|m| MetricSummary {
                    name: text(&m["name"]).unwrap_or_default(),
                    phase: text(&m["phase"]).unwrap_or_else(|| "Pending".into()),
                    successful: count(&m["successful"]),
                    failed: count(&m["failed"]),
                    errors: count(&m["error"]),
                    inconclusive: count(&m["inconclusive"]),
                    last_value: m["measurements"]
                        .as_array()
                        .and_then(|ms| ms.last())
                        .and_then(|last| text(&last["value"]).or_else(|| text(&last["message"]))),
                })
                .collect()
        })
        .unwrap_or_default();
    AnalysisSummary {
        name: text(&run["metadata"]["name"]).unwrap_or_default(),
        kind: text(&run["metadata"]["labels"]["rollout-type"]).unwrap_or_else(|| "-".into()),
        phase: text(&status["phase"]).unwrap_or_else(|| "Pending".into()),
        message: text(&status["message"]).filter(|m| !m.is_empty()),
        metrics,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canary_rollout(step: Option<u64>, abort: bool) -> Value {
        let mut status = json!({
            "phase": "Paused", "message": "CanaryPauseStep", "stableRS": "aaa", "currentPodHash": "bbb",
            "replicas": 5, "updatedReplicas": 1, "readyReplicas": 5, "availableReplicas": 5, "abort": abort,
        });
        if let Some(step) = step {
            status["currentStepIndex"] = json!(step);
        }
        json!({
            "metadata": {"name": "checkout", "uid": "u-1"},
            "spec": {
                "replicas": 4,
                "strategy": {"canary": {"steps": [
                    {"setWeight": 25}, {"pause": {"duration": "10s"}},
                    {"setWeight": 50}, {"pause": {"duration": "10s"}}, {"setWeight": 100}
                ]}},
                "template": {"spec": {"containers": [{"name": "app", "image": "repo/checkout:1.1.0"}]}}
            },
            "status": status,
        })
    }

    fn run(name: &str, hash: &str, created: &str, phase: &str) -> Value {
        json!({
            "metadata": {"name": name, "creationTimestamp": created,
                         "labels": {"rollouts-pod-template-hash": hash, "rollout-type": "Background"},
                         "ownerReferences": [{"uid": "u-1"}]},
            "status": {"phase": phase, "metricResults": [
                {"name": "error-rate", "phase": phase, "successful": 1, "failed": 2, "error": 1,
                 "measurements": [{"value": "[0]"}, {"value": "[0.5]"}]}
            ]}
        })
    }

    #[test]
    fn weight_follows_the_last_set_weight_at_or_before_the_current_step() {
        let at = |step, abort| progress_of(&canary_rollout(step, abort), &[]);
        assert_eq!((at(Some(0), false).weight, at(Some(0), false).step), (Some(25), Some((0, 5))));
        assert_eq!(at(Some(1), false).weight, Some(25), "pausing keeps the weight");
        assert_eq!(at(Some(3), false).weight, Some(50));
        assert_eq!(at(Some(5), false).weight, Some(100), "every step done");
        assert_eq!(at(None, false).weight, Some(100), "no step index: fully promoted");
        assert_eq!(at(Some(3), true).weight, Some(0), "aborted: all traffic on stable");
    }

    #[test]
    fn only_the_current_revisions_runs_count_oldest_first() {
        let runs = [
            run("old", "aaa", "2026-01-01T00:00:00Z", "Successful"),
            run("second", "bbb", "2026-01-01T00:02:00Z", "Failed"),
            run("first", "bbb", "2026-01-01T00:01:00Z", "Successful"),
        ];
        let progress = progress_of(&canary_rollout(Some(2), true), &runs);
        let names: Vec<&str> = progress.analysis.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["first", "second"]);
        let metric = &progress.analysis[1].metrics[0];
        assert_eq!((metric.successful, metric.failed, metric.errors), (1, 2, 1));
        assert_eq!(metric.last_value.as_deref(), Some("[0.5]"));
        assert_eq!(progress.analysis[1].kind, "Background");
        assert!(progress.aborted);
        assert_eq!(progress.image, "repo/checkout:1.1.0");
        assert_eq!(
            (progress.stable_revision.as_deref(), progress.updated_revision.as_deref()),
            (Some("aaa"), Some("bbb"))
        );
        assert_eq!(progress.replicas, Replicas { desired: 4, updated: 1, ready: 5, available: 5 });
    }

    #[test]
    fn blue_green_has_no_steps_and_takes_the_active_selector_as_stable() {
        let rollout = json!({
            "metadata": {"name": "web", "uid": "u-2"},
            "spec": {"strategy": {"blueGreen": {"activeService": "web"}},
                     "template": {"spec": {"containers": [{"name": "app", "image": "repo/web:2"}]}}},
            "status": {"phase": "Healthy", "blueGreen": {"activeSelector": "ccc"}, "currentPodHash": "ccc"}
        });
        let progress = progress_of(&rollout, &[]);
        assert_eq!((progress.strategy.as_str(), progress.step, progress.weight), ("blue_green", None, None));
        assert_eq!(progress.stable_revision.as_deref(), Some("ccc"));
    }
}
