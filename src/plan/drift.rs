//! Drift: owned resources whose live state differs from what the last apply recorded, and
//! environments running an image the previous environment never ran.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use super::diff::{diff, FieldChange};
use crate::render::Address;

#[derive(Debug, Clone, Serialize)]
pub struct Drifted {
    pub address: Address,
    /// `changed`, or `missing` (deleted behind glidepath's back).
    pub kind: String,
    pub fields: Vec<FieldChange>,
}

/// Compares each recorded body with the live one; `recorded` and `live` are keyed by address
/// and already narrowed to what was read live.
pub fn drifted(recorded: &BTreeMap<Address, Value>, live: &BTreeMap<Address, Value>) -> Vec<Drifted> {
    recorded
        .iter()
        .filter_map(|(address, then)| match live.get(address) {
            None => Some(Drifted { address: address.clone(), kind: "missing".into(), fields: Vec::new() }),
            Some(now) => {
                // Recorded bodies are redacted (`State::record_change`); compare like with like.
                let fields = diff(&crate::redact::body(then), &crate::redact::body(now));
                (!fields.is_empty()).then(|| Drifted { address: address.clone(), kind: "changed".into(), fields })
            }
        })
        .collect()
}

/// A GitOps environment's Application that Argo CD reports out of step with git: OutOfSync (a
/// live object differs from the rendered tree, or the commit is not synced yet), Degraded or
/// Missing, or absent altogether.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutOfSync {
    pub application: String,
    pub environment: String,
    /// Argo CD's sync status (`Synced`, `OutOfSync`, `Unknown`), or `absent`.
    pub sync: String,
    /// Argo CD's health status (`Healthy`, `Progressing`, `Degraded`, `Missing`, …).
    pub health: String,
    /// The objects behind it: `KIND NAME: STATUS` for each one not Synced, or not Healthy where
    /// the Application's health is Degraded or Missing.
    pub resources: Vec<String>,
}

/// The Applications of one GitOps environment (`expected`: the names the rendered ApplicationSet
/// generates) against the live Application objects. An Application that is Synced and whose
/// health is neither Degraded nor Missing is in step (Progressing and Suspended are a rollout at
/// work, not drift).
pub fn out_of_sync(environment: &str, expected: &[String], applications: &[Value]) -> Vec<OutOfSync> {
    let text = |v: &Value| v.as_str().unwrap_or("Unknown").to_string();
    let mut out = Vec::new();
    for name in expected {
        let Some(app) = applications.iter().find(|a| a["metadata"]["name"] == name.as_str()) else {
            out.push(OutOfSync {
                application: name.clone(),
                environment: environment.into(),
                sync: "absent".into(),
                health: "Unknown".into(),
                resources: Vec::new(),
            });
            continue;
        };
        let status = &app["status"];
        let (sync, health) = (text(&status["sync"]["status"]), text(&status["health"]["status"]));
        let unhealthy = health == "Degraded" || health == "Missing";
        if sync == "Synced" && !unhealthy {
            continue;
        }
        let resources = status["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| {
                let (sync, health) = (text(&r["status"]), r["health"]["status"].as_str().unwrap_or("Healthy"));
                let what = format!("{} {}", text(&r["kind"]), text(&r["name"]));
                if sync != "Synced" {
                    Some(format!("{what}: {sync}"))
                } else if unhealthy && health != "Healthy" {
                    Some(format!("{what}: {health}"))
                } else {
                    None
                }
            })
            .collect();
        out.push(OutOfSync { application: name.clone(), environment: environment.into(), sync, health, resources });
    }
    out
}

#[derive(Debug, Clone, Serialize)]
pub struct Unpromoted {
    pub service: String,
    pub environment: String,
    pub image: String,
    /// The environment before it in promotion order, which never ran the image.
    pub previous: String,
}

/// Images running in an environment that the previous environment never ran.
/// `running` maps (service, env) to the image running now; `ran` to every image ever applied.
pub fn unpromoted(
    order: &[String],
    running: &BTreeMap<(String, String), String>,
    ran: &BTreeMap<(String, String), BTreeSet<String>>,
) -> Vec<Unpromoted> {
    let mut out = Vec::new();
    for ((service, env), image) in running {
        let Some(position) = order.iter().position(|e| e == env) else { continue };
        let Some(previous) = position.checked_sub(1).map(|p| &order[p]) else { continue };
        let key = (service.clone(), previous.clone());
        let before: BTreeSet<&String> = ran.get(&key).into_iter().flatten().chain(running.get(&key)).collect();
        // A service not deployed to the previous environment has nothing to compare with.
        if before.is_empty() || before.contains(image) {
            continue;
        }
        out.push(Unpromoted {
            service: service.clone(),
            environment: env.clone(),
            image: image.clone(),
            previous: previous.clone(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changed_and_missing_resources_are_drift() {
        let a: Address = "aws/iam_role/r".parse().unwrap();
        let b: Address = "aws/sns_topic/t".parse().unwrap();
        let recorded = BTreeMap::from([(a.clone(), json!({"x": 1})), (b.clone(), json!({"y": 1}))]);
        let live = BTreeMap::from([(a.clone(), json!({"x": 2}))]);
        let found = drifted(&recorded, &live);
        assert_eq!(found.len(), 2);
        assert_eq!((found[0].kind.as_str(), found[0].fields[0].path.as_str()), ("changed", "x"));
        assert_eq!(found[1].kind, "missing");
    }

    #[test]
    fn an_image_the_previous_environment_never_ran_is_unpromoted() {
        let order = vec!["dev".to_string(), "staging".to_string(), "prod".to_string()];
        let key = |s: &str, e: &str| (s.to_string(), e.to_string());
        let running = BTreeMap::from([
            (key("api", "dev"), "api:3".to_string()),
            (key("api", "staging"), "api:2".to_string()),
            (key("api", "prod"), "api:hotfix".to_string()),
        ]);
        let ran = BTreeMap::from([(key("api", "dev"), BTreeSet::from(["api:2".to_string()]))]);
        let found = unpromoted(&order, &running, &ran);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].environment.as_str(), found[0].image.as_str()), ("prod", "api:hotfix"));
    }

    #[test]
    fn applications_out_of_step_with_git_are_drift() {
        let app = |name: &str, sync: &str, health: &str, resources: Value| json!({"metadata": {"name": name}, "status": {"sync": {"status": sync}, "health": {"status": health}, "resources": resources}});
        let live = vec![
            app("web-prod", "Synced", "Healthy", json!([])),
            // A canary at work: not drift.
            app("api-prod", "Synced", "Progressing", json!([])),
            app(
                "cart-prod",
                "OutOfSync",
                "Healthy",
                json!([
                    {"kind": "Service", "name": "cart", "status": "Synced", "health": {"status": "Healthy"}},
                    {"kind": "Rollout", "name": "cart", "status": "OutOfSync", "health": {"status": "Healthy"}},
                ]),
            ),
            app(
                "pay-prod",
                "Synced",
                "Degraded",
                json!([
                    {"kind": "Rollout", "name": "pay", "status": "Synced", "health": {"status": "Degraded"}},
                    {"kind": "Service", "name": "pay", "status": "Synced"},
                ]),
            ),
        ];
        let expected: Vec<String> =
            ["web-prod", "api-prod", "cart-prod", "pay-prod", "gone-prod"].iter().map(|s| s.to_string()).collect();
        let found = out_of_sync("prod", &expected, &live);
        let summary: Vec<(String, String, String, Vec<String>)> =
            found.into_iter().map(|d| (d.application, d.sync, d.health, d.resources)).collect();
        assert_eq!(
            summary,
            vec![
                ("cart-prod".into(), "OutOfSync".into(), "Healthy".into(), vec!["Rollout cart: OutOfSync".to_string()]),
                ("pay-prod".into(), "Synced".into(), "Degraded".into(), vec!["Rollout pay: Degraded".to_string()]),
                ("gone-prod".into(), "absent".into(), "Unknown".into(), vec![]),
            ]
        );
    }
}
