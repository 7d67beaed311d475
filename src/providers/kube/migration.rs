//! A service's migration Job gates its Rollout: apply waits for the Job it just sent to finish
//! before going on (the Job's rank comes before the Rollout's), and a failed Job stops the apply,
//! so the Rollout of a version whose migration failed is never changed.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{diagnose, KubeProvider};
use crate::kinds::KubeKind;
use crate::providers::{ErrorKind, ProviderError};
use crate::render::kube::MIGRATION_DEADLINE_SECONDS;
use crate::render::Address;

const POLL: Duration = Duration::from_millis(500);

/// Where a Job is: its `Complete` or `Failed` condition, if it has one.
#[derive(Debug, PartialEq, Eq)]
enum Finished {
    Complete,
    /// The reason and message of the `Failed` condition.
    Failed(String),
}

fn finished(job: &Value) -> Option<Finished> {
    let conditions = job["status"]["conditions"].as_array()?;
    let holds = |kind: &str| conditions.iter().find(|c| c["type"] == kind && c["status"] == "True");
    if holds("Complete").is_some() {
        return Some(Finished::Complete);
    }
    holds("Failed").map(|c| {
        let reason = c["reason"].as_str().unwrap_or("Failed");
        match c["message"].as_str().filter(|m| !m.is_empty()) {
            Some(message) => Finished::Failed(format!("{reason}: {message}")),
            None => Finished::Failed(reason.to_string()),
        }
    })
}

impl KubeProvider {
    /// A failed migration Job the catalog still wants stops the plan: it is unchanged, so apply
    /// would not wait for it, and the Rollout would change without its migration.
    pub(super) fn refuse_failed_job(&self, address: &Address, job: &Value) -> Result<(), ProviderError> {
        let Some(Finished::Failed(why)) = finished(job) else { return Ok(()) };
        let (env, _) = Self::locate(address)?;
        let cluster = &self.envs[env];
        let name = address.name();
        let kubectl = format!("kubectl --context {} -n {}", cluster.context, cluster.namespace);
        Err(ProviderError::new(
            ErrorKind::Failed,
            &address.to_string(),
            "read",
            format!(
                "migration Job {name} failed in environment {env} ({why}); its service's Rollout will not change                  until a migration succeeds. Read its logs ({kubectl} logs job/{name}), then fix the migration (a                  new image or command is a new Job) or delete this one to run it again ({kubectl} delete job {name})"
            ),
        ))
    }

    /// Why apply must wait for a Job the catalog wants that exists but has not finished: an apply
    /// sent it and was interrupted (killed, or its server stopped answering) before the Job
    /// ended, so its service's Rollout has not changed. Unchanged in itself, it would be planned
    /// as nothing to do and the next apply would change the Rollout without waiting for it.
    pub(super) fn unfinished_job(&self, address: &Address, job: &Value) -> Option<String> {
        if finished(job).is_some() {
            return None;
        }
        Some(format!(
            "migration Job {} has not finished (an earlier apply sent it and stopped before it ended): apply waits \
             for it before its service's Rollout changes",
            address.name()
        ))
    }

    /// Polls the Job at `address` until it completes (returns it as the server has it) or fails
    /// (an error naming the Job and how to read its logs). The Job's own deadline bounds the wait;
    /// a minute more covers the controller noticing it.
    pub(super) async fn await_job(&self, address: &Address) -> Result<Value, ProviderError> {
        let (env, _) = Self::locate(address)?;
        let cluster = &self.envs[env];
        let name = address.name();
        let target = address.to_string();
        let logs = format!("kubectl logs --context {} -n {} job/{name}", cluster.context, cluster.namespace);
        let limit = Duration::from_secs(MIGRATION_DEADLINE_SECONDS + 60);
        let started = Instant::now();
        let jobs = self.api(env, KubeKind::Job);
        loop {
            // Each poll is bounded like any request: a server that stops answering ends the wait
            // with an error naming it, within `providers::timeout`'s limits.
            let job = self
                .request("get jobs", || jobs.get(name))
                .await
                .map_err(|e| diagnose(e, &target, "wait for migration", env, cluster))?;
            let job = serde_json::to_value(job)
                .map_err(|e| ProviderError::new(ErrorKind::Failed, &target, "wait for migration", e.to_string()))?;
            match finished(&job) {
                Some(Finished::Complete) => return Ok(job),
                Some(Finished::Failed(why)) => {
                    return Err(ProviderError::new(
                        ErrorKind::Failed,
                        &target,
                        "wait for migration",
                        format!(
                            "migration Job {name} failed in environment {env} ({why}); the Rollout was not changed. \
                             Read its logs: {logs}"
                        ),
                    ))
                }
                None if started.elapsed() > limit => {
                    return Err(ProviderError::new(
                        ErrorKind::Failed,
                        &target,
                        "wait for migration",
                        format!(
                            "migration Job {name} in environment {env} did not finish within {}s; the Rollout was \
                             not changed. Read its logs: {logs}",
                            limit.as_secs()
                        ),
                    ))
                }
                None => tokio::time::sleep(POLL).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_job_is_finished_by_its_complete_or_failed_condition() {
        assert_eq!(finished(&json!({"status": {}})), None);
        assert_eq!(
            finished(&json!({"status": {"conditions": [{"type": "Complete", "status": "True"}]}})),
            Some(Finished::Complete)
        );
        let failed = json!({"status": {"conditions": [
            {"type": "FailureTarget", "status": "True"},
            {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}});
        assert_eq!(
            finished(&failed),
            Some(Finished::Failed("BackoffLimitExceeded: Job has reached the specified backoff limit".into()))
        );
        assert_eq!(finished(&json!({"status": {"conditions": [{"type": "Failed", "status": "False"}]}})), None);
    }
}
