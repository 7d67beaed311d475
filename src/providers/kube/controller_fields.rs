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

use crate::kinds::KubeKind;
use crate::render::traffic::{HEADER_ROUTE, MIRROR_ROUTE};

/// The selector label the Argo Rollouts controller manages on Services.
pub const POD_TEMPLATE_HASH: &str = "rollouts-pod-template-hash";
/// Annotations the controller writes: the Rollout's revision, and on each Service it points, the
/// Rollout that owns the pointing.
const CONTROLLER_ANNOTATIONS: [&str; 2] =
    ["rollout.argoproj.io/revision", "argo-rollouts.argoproj.io/managed-by-rollouts"];
/// Annotation prefix the controller writes on an ALB Ingress: the weighted forward action of
/// each canary step (annotations are a granular map, so applying never touches it), and the
/// annotation where it lists the ones it manages.
const ALB_ACTIONS: &str = "alb.ingress.kubernetes.io/actions.";
const ALB_MANAGED: &str = "rollouts.argoproj.io/managed-alb-annotations";
/// The label the Gateway API plugin puts on an HTTPRoute while a canary is in progress.
const GATEWAY_API_IN_PROGRESS: &str = "rollouts.argoproj.io/gatewayapi-canary";

/// Where a router keeps its weighted backends: the list of routes, each route's list of
/// backends, and the field naming a backend. Istio's `spec.http` and Gateway API's
/// `spec.rules` are atomic lists for server-side apply: whoever sends them sends all of them.
struct WeightedRoutes {
    routes: &'static str,
    backends: &'static str,
    backend_name: &'static str,
}

fn weighted_routes(kind: KubeKind) -> Option<WeightedRoutes> {
    match kind {
        KubeKind::VirtualService => {
            Some(WeightedRoutes { routes: "/spec/http", backends: "route", backend_name: "/destination/host" })
        }
        KubeKind::HttpRoute => {
            Some(WeightedRoutes { routes: "/spec/rules", backends: "backendRefs", backend_name: "/name" })
        }
        KubeKind::Namespace
        | KubeKind::ServiceAccount
        | KubeKind::ConfigMap
        | KubeKind::Service
        | KubeKind::PodDisruptionBudget
        | KubeKind::HorizontalPodAutoscaler
        | KubeKind::AnalysisTemplate
        | KubeKind::Rollout
        | KubeKind::Ingress
        | KubeKind::Job => None,
    }
}

fn is_managed_route(route: &Value) -> bool {
    route["name"].as_str().is_some_and(|name| [HEADER_ROUTE, MIRROR_ROUTE].contains(&name))
}

/// Whether an apply of `kind` must carry over fields a controller wrote.
pub fn carries(kind: KubeKind) -> bool {
    kind == KubeKind::Service || weighted_routes(kind).is_some()
}

/// Copies controller-managed fields of `live` into `manifest` (of kind `kind`), so an apply in
/// the middle of a rollout agrees with the controller instead of resetting it.
pub fn carry_over(kind: KubeKind, manifest: &mut Value, live: &Value) {
    if kind == KubeKind::Service {
        let Some(hash) = live["spec"]["selector"].get(POD_TEMPLATE_HASH).cloned() else { return };
        if let Some(selector) = manifest["spec"]["selector"].as_object_mut() {
            selector.insert(POD_TEMPLATE_HASH.into(), hash);
        }
        return;
    }
    let Some(shape) = weighted_routes(kind) else { return };
    let Some(live_routes) = live.pointer(shape.routes).and_then(Value::as_array) else { return };
    let Some(routes) = manifest.pointer_mut(shape.routes).and_then(Value::as_array_mut) else { return };
    let live_rendered: Vec<&Value> = live_routes.iter().filter(|r| !is_managed_route(r)).collect();
    // Unchanged routes: send the live list as it is, with the fields the server defaulted (an
    // atomic list that differs only in defaults is still a different value to the server).
    if routes.len() == live_rendered.len() && routes.iter().zip(&live_rendered).all(|(r, l)| written_in(r, l)) {
        *routes = live_routes.clone();
        return;
    }
    // Changed routes: the change goes out with the controller's weights and routes kept, and the
    // server reports the conflict with the controller for a person to decide (--force-conflicts).
    for (route, live_route) in routes.iter_mut().zip(&live_rendered) {
        let Some(backends) = route.get_mut(shape.backends).and_then(Value::as_array_mut) else { continue };
        let live_backends = live_route[shape.backends].as_array().cloned().unwrap_or_default();
        for backend in backends.iter_mut() {
            let name = backend.pointer(shape.backend_name).cloned();
            let weight = live_backends
                .iter()
                .find(|b| b.pointer(shape.backend_name) == name.as_ref())
                .map(|b| b["weight"].clone());
            if let (Some(weight), Some(backend)) = (weight.filter(|w| !w.is_null()), backend.as_object_mut()) {
                backend.insert("weight".into(), weight);
            }
        }
    }
    let managed: Vec<Value> = live_routes.iter().filter(|r| is_managed_route(r)).cloned().collect();
    for (i, route) in managed.into_iter().enumerate() {
        routes.insert(i, route);
    }
}

/// Whether everything `rendered` says is also in `live` (which may hold more: server defaults),
/// weights aside, which the controller owns.
fn written_in(rendered: &Value, live: &Value) -> bool {
    match (rendered, live) {
        (Value::Object(r), Value::Object(l)) => {
            r.iter().filter(|(k, _)| *k != "weight").all(|(k, v)| l.get(k).is_some_and(|lv| written_in(v, lv)))
        }
        (Value::Array(r), Value::Array(l)) => r.len() == l.len() && r.iter().zip(l).all(|(a, b)| written_in(a, b)),
        (r, l) => r == l,
    }
}

/// Removes controller-managed fields from a server's object before it is compared.
pub fn drop_from(kind: KubeKind, object: &mut Value) {
    if let Some(annotations) = object.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut) {
        for key in CONTROLLER_ANNOTATIONS {
            annotations.remove(key);
        }
        if kind == KubeKind::Ingress {
            annotations.retain(|key, _| !key.starts_with(ALB_ACTIONS) && key != ALB_MANAGED);
        }
    }
    if kind == KubeKind::HttpRoute {
        if let Some(labels) = object.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
            labels.remove(GATEWAY_API_IN_PROGRESS);
        }
    }
    if kind == KubeKind::Service {
        if let Some(selector) = object.pointer_mut("/spec/selector").and_then(Value::as_object_mut) {
            selector.remove(POD_TEMPLATE_HASH);
        }
    }
    let Some(shape) = weighted_routes(kind) else { return };
    let Some(routes) = object.pointer_mut(shape.routes).and_then(Value::as_array_mut) else { return };
    routes.retain(|r| !is_managed_route(r));
    for route in routes {
        for backend in route.get_mut(shape.backends).and_then(Value::as_array_mut).into_iter().flatten() {
            if let Some(backend) = backend.as_object_mut() {
                backend.remove("weight");
            }
        }
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
        carry_over(KubeKind::Service, &mut manifest, &live);
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
        drop_from(KubeKind::Service, &mut live);
        let mut expected = service(json!({"app.kubernetes.io/name": "cart"}));
        expected["metadata"] = json!({"annotations": {"team": "x"}});
        assert_eq!(live, expected);
    }

    #[test]
    fn nothing_is_added_where_the_controller_has_not_written() {
        let rendered = service(json!({"app.kubernetes.io/name": "cart"}));
        let mut manifest = rendered.clone();
        carry_over(KubeKind::Service, &mut manifest, &rendered);
        assert_eq!(manifest, rendered);
        let mut other = json!({"kind": "ConfigMap", "spec": {"selector": {}}});
        carry_over(KubeKind::ConfigMap, &mut other, &service(json!({POD_TEMPLATE_HASH: "x"})));
        assert_eq!(other["spec"]["selector"], json!({}));
    }

    fn virtual_service(canary_weight: u64, extra_route: Option<Value>) -> Value {
        let mut http = vec![json!({"name": "primary", "route": [
            {"destination": {"host": "cart", "port": {"number": 80}}, "weight": 100 - canary_weight},
            {"destination": {"host": "cart-canary", "port": {"number": 80}}, "weight": canary_weight},
        ]})];
        if let Some(route) = extra_route {
            http.insert(0, route);
        }
        json!({"kind": "VirtualService", "spec": {"hosts": ["cart"], "http": http}})
    }

    #[test]
    fn a_virtual_service_keeps_the_controllers_weights_and_header_route() {
        let header = json!({"name": HEADER_ROUTE, "match": [{"headers": {"x-canary": {"exact": "1"}}}],
                            "route": [{"destination": {"host": "cart-canary"}, "weight": 100}]});
        let live = virtual_service(20, Some(header.clone()));
        let mut manifest = virtual_service(0, None);
        carry_over(KubeKind::VirtualService, &mut manifest, &live);
        assert_eq!(manifest, live, "the apply sends what the controller set");

        let mut rendered = virtual_service(0, None);
        let mut live = live;
        drop_from(KubeKind::VirtualService, &mut live);
        drop_from(KubeKind::VirtualService, &mut rendered);
        assert_eq!(live, rendered, "weights and managed routes are left out of comparisons");
    }

    #[test]
    fn an_http_route_keeps_the_plugins_weights_but_not_a_renamed_backend() {
        let route = |stable: &str, weight: u64| {
            json!({"kind": "HTTPRoute", "spec": {"rules": [{"backendRefs": [
                {"name": stable, "port": 80, "weight": 100 - weight},
                {"name": "cart-canary", "port": 80, "weight": weight},
            ]}]}})
        };
        let mut manifest = route("cart-v2", 0);
        carry_over(KubeKind::HttpRoute, &mut manifest, &route("cart", 30));
        assert_eq!(manifest["spec"]["rules"][0]["backendRefs"][0]["weight"], 100, "a new backend starts as rendered");
        assert_eq!(manifest["spec"]["rules"][0]["backendRefs"][1]["weight"], 30);
    }

    #[test]
    fn an_ingress_is_compared_without_the_controllers_alb_action() {
        let mut live = json!({"kind": "Ingress", "metadata": {"annotations": {
            "alb.ingress.kubernetes.io/actions.cart": "{\"type\":\"forward\"}",
            "alb.ingress.kubernetes.io/scheme": "internal",
        }}});
        drop_from(KubeKind::Ingress, &mut live);
        assert_eq!(live["metadata"]["annotations"], json!({"alb.ingress.kubernetes.io/scheme": "internal"}));
    }
}
