//! Fields that controllers write into objects glidepath applies. The Argo Rollouts controller
//! points each Service a Rollout names (stable/canary, active/preview) at one revision by adding
//! `rollouts-pod-template-hash` to its selector. A Service's selector is an atomic map for
//! server-side apply, so applying the rendered selector without it would conflict with the
//! controller on every apply after the first rollout, and forcing it would drop the hash and send
//! traffic to every revision at once. Carrying the live value into the manifest makes the apply
//! agree with the controller: no conflict, no diff, and the controller stays in charge of it.

use serde_json::Value;

/// The selector label the Argo Rollouts controller manages on Services.
pub const POD_TEMPLATE_HASH: &str = "rollouts-pod-template-hash";

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
        assert_eq!(manifest["spec"]["selector"], json!({"app.kubernetes.io/name": "cart", POD_TEMPLATE_HASH: "6fd6c46947"}));
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
