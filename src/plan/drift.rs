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
}
