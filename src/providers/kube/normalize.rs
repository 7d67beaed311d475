//! Makes a server's object comparable with another: drops what the server alone maintains
//! (managed fields, versions, uid, timestamps, status), as `kubectl diff` does, and what
//! controllers maintain in objects glidepath applies (`controller_fields`).

use serde_json::Value;

use crate::kinds::KubeKind;

const SERVER_METADATA: [&str; 7] = [
    "managedFields",
    "resourceVersion",
    "generation",
    "uid",
    "creationTimestamp",
    "selfLink",
    "deletionGracePeriodSeconds",
];

pub fn normalize(mut object: Value, kind: KubeKind) -> Value {
    let api_version = kind.api().api_version();
    super::controller_fields::drop_from(kind, &mut object);
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
        // List items come without their type; put it back so bodies compare.
        map.insert("apiVersion".into(), Value::String(api_version));
        map.insert("kind".into(), Value::String(kind.name().into()));
        if let Some(metadata) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            for key in SERVER_METADATA {
                metadata.remove(key);
            }
            if let Some(annotations) = metadata.get_mut("annotations").and_then(Value::as_object_mut) {
                annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
            }
            if metadata.get("annotations").and_then(Value::as_object).is_some_and(|a| a.is_empty()) {
                metadata.remove("annotations");
            }
        }
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn server_fields_are_dropped_and_type_restored() {
        let live = json!({
            "metadata": {"name": "a", "uid": "1", "resourceVersion": "9", "managedFields": [], "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "spec": {"x": 1},
            "status": {"phase": "Healthy"}
        });
        assert_eq!(
            normalize(live, KubeKind::Rollout),
            json!({"metadata": {"name": "a"}, "spec": {"x": 1}, "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout"})
        );
    }
}
