//! The traffic router's object for a service in one environment: an Istio VirtualService, an
//! ALB Ingress or a Gateway API HTTPRoute, routing to the stable Service (and, for a canary,
//! to the canary Service with weight 0 until the Argo Rollouts controller shifts it).
//!
//! Splitting is host-level (one route over the stable and canary Services) rather than Istio
//! subset-level: the Services exist for every strategy already, the controller points them at
//! the right pods, and no DestinationRule subsets need re-labelling on every rollout.

use serde_json::{json, Value};

use crate::catalog::{names, Environment, Platform, Router, Service, ServiceEnv, StrategyKind};

use super::templates::Templates;
use super::RenderError;

/// Names of the routes the controller adds above the primary route while a canary runs.
pub const HEADER_ROUTE: &str = "canary-header";
pub const MIRROR_ROUTE: &str = "canary-mirror";

/// The routes a canary's steps add and the controller removes when the rollout ends.
pub fn managed_routes(settings: &ServiceEnv) -> Vec<&'static str> {
    let traffic = &settings.traffic;
    let mut routes = Vec::new();
    if traffic.header_route.is_some() {
        routes.push(HEADER_ROUTE);
    }
    if traffic.mirror.is_some() {
        routes.push(MIRROR_ROUTE);
    }
    routes
}

pub fn router_object(
    platform: &Platform,
    env: &Environment,
    service: &Service,
    settings: &ServiceEnv,
    labels: &impl serde::Serialize,
    templates: &Templates,
) -> Result<Option<Value>, RenderError> {
    let traffic = &settings.traffic;
    let name = &service.name;
    // Blue/green switches the active Service's selector; the route only has to reach it.
    let canary_service = (settings.strategy == StrategyKind::Canary).then(|| names::canary_service(name));
    let common = |extra: Value| {
        let mut context = json!({
            "name": name,
            "namespace": env.namespace,
            "labels": labels,
            "service_name": name,
            "canary_service": canary_service,
            "port": service.port,
            "hosts": traffic.hosts,
        });
        if let (Some(context), Value::Object(extra)) = (context.as_object_mut(), extra) {
            context.extend(extra);
        }
        context
    };
    let body = match traffic.router {
        Router::None => return Ok(None),
        Router::Istio => {
            let mut hosts = vec![name.clone()];
            hosts.extend(traffic.hosts.iter().cloned());
            // Through a gateway and inside the mesh alike, so callers on either path are split.
            let gateways: Vec<String> = traffic
                .gateway
                .iter()
                .map(|g| g.path())
                .chain(traffic.gateway.as_ref().map(|_| "mesh".into()))
                .collect();
            templates
                .render_yaml("kube/virtualservice.yaml.j2", common(json!({ "hosts": hosts, "gateways": gateways })))?
        }
        Router::Alb => {
            let alb_group = format!("{}-{}", platform.name, env.name);
            let port = match canary_service {
                Some(_) => json!({ "name": "use-annotation" }),
                None => json!({ "number": service.port }),
            };
            let http = json!({ "paths": [{
                "path": "/",
                "pathType": "Prefix",
                "backend": { "service": { "name": name, "port": port } },
            }]});
            templates.render_yaml(
                "kube/ingress.yaml.j2",
                common(json!({ "alb": traffic.alb, "alb_group": alb_group, "probes": service.probes, "http": http })),
            )?
        }
        Router::GatewayApi => {
            templates.render_yaml("kube/httproute.yaml.j2", common(json!({ "gateway": traffic.gateway })))?
        }
    };
    Ok(Some(body))
}
