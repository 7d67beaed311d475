//! Fields that controllers write into objects glidepath applies. The Argo Rollouts controller
//! points each Service a Rollout names (stable/canary, active/preview) at one revision by adding
//! `rollouts-pod-template-hash` to its selector. A Service's selector is an atomic map for
//! server-side apply, so applying the rendered selector without it would conflict with the
//! controller on every apply after the first rollout, and forcing it would drop the hash and send
//! traffic to every revision at once. Carrying the live value into the manifest makes the apply
//! agree with the controller: no conflict, and the controller stays in charge of it. Comparisons
//! (plan, drift) leave the field out, as it changes with every rollout, and the annotations the
//! controller writes on the same objects (found by the end-to-end test's drift check).

use serde_json::Value;

/// The selector label the Argo Rollouts controller manages on Services.
pub const POD_TEMPLATE_HASH: &str = "rollouts-pod-template-hash";
/// Annotations the controller writes: the Rollout's revision, and on each Service it points, the
/// Rollout that owns the pointing.
const CONTROLLER_ANNOTATIONS: [&str; 2] =
    ["rollout.argoproj.io/revision", "argo-rollouts.argoproj.io/managed-by-rollouts"];

/// Copies controller-managed fields of `live` into `manifest` (of kind `kind`).
pub fn carry_over(kind: &str, manifest: &mut Value, live: &Value) {
    if kind != "Service" {
        return;
    }
    let Some(hash) = live["spec"]["selector"].get(POD_TEMPLATE_HASH).cloned() else { return };
    if let Some(selector) = manifest["spec"]["selector"].as_object_mut() {
        selector.insert(POD_TEMPLATE_HASH.into(), hash);
    }
}

/// Removes controller-managed fields from a server's object before it is compared.
pub fn drop_from(kind: &str, object: &mut Value) {
    if let Some(annotations) = object.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut) {
        for key in CONTROLLER_ANNOTATIONS {
            annotations.remove(key);
        }
    }
    if kind != "Service" {
        return;
    }
    if let Some(selector) = object.pointer_mut("/spec/selector").and_then(Value::as_object_mut) {
        selector.remove(POD_TEMPLATE_HASH);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service(selector: Value) -> Value {
        json!({"kind": "Service", "spec": {"selector": selector, "ports": [{"port": 80}]}})
    }

    #[test]
    fn the_controllers_revision_hash_is_kept_in_a_service_selector() {
        let mut manifest = service(json!({"app.kubernetes.io/name": "cart"}));
        let live = service(json!({"app.kubernetes.io/name": "cart", POD_TEMPLATE_HASH: "6fd6c46947"}));
        carry_over("Service", &mut manifest, &live);
        assert_eq!(
            manifest["spec"]["selector"],
            json!({"app.kubernetes.io/name": "cart", POD_TEMPLATE_HASH: "6fd6c46947"})
        );
    }

    #[test]
    fn comparisons_leave_the_hash_and_the_controllers_annotations_out() {
        let mut live = service(json!({"app.kubernetes.io/name": "cart", POD_TEMPLATE_HASH: "6fd6c46947"}));
        live["metadata"] =
            json!({"annotations": {"argo-rollouts.argoproj.io/managed-by-rollouts": "cart", "team": "x"}});
        drop_from("Service", &mut live);
        let mut expected = service(json!({"app.kubernetes.io/name": "cart"}));
        expected["metadata"] = json!({"annotations": {"team": "x"}});
        assert_eq!(live, expected);
    }

    #[test]
    fn nothing_is_added_where_the_controller_has_not_written() {
        let rendered = service(json!({"app.kubernetes.io/name": "cart"}));
        let mut manifest = rendered.clone();
        carry_over("Service", &mut manifest, &rendered);
        assert_eq!(manifest, rendered);
        let mut other = json!({"kind": "ConfigMap", "spec": {"selector": {}}});
        carry_over("ConfigMap", &mut other, &service(json!({POD_TEMPLATE_HASH: "x"})));
        assert_eq!(other["spec"]["selector"], json!({}));
    }
}
