//! The `traffic` blocks: which router splits a canary's traffic and what it needs.
//!
//! The platform's block sets the default, an environment's overrides it field by field, and a
//! service's (profile-able) picks its own router, hosts, header route and mirror. Settings that
//! belong to another router than the one in force are errors, not silently ignored values.

use std::collections::BTreeMap;

use super::decode::{Fields, Spanned};
use super::model::{AlbSettings, Environment, HeaderRoute, ObjectRef, Router, Traffic, TrafficSettings};
use super::names::is_dns_label;
use super::problem::{Problem, Problems};
use super::schema::table;
use super::source::Span;
use super::tree::Node;
use crate::rules;

/// Which router each setting belongs to.
const ROUTER_OF_FIELD: [(&str, &[Router]); 4] = [
    ("gateway", &[Router::Istio, Router::GatewayApi]),
    ("ingress_class", &[Router::Alb]),
    ("scheme", &[Router::Alb]),
    ("certificate", &[Router::Alb]),
];

/// Decodes a platform or environment `traffic` block over `base` (the platform's settings).
pub(super) fn decode_settings(
    node: Option<&Node>,
    base: &TrafficSettings,
    context: &str,
    problems: &mut Problems,
) -> TrafficSettings {
    let mut settings = base.clone();
    let Some(node) = node else { return settings };
    let context = format!("`traffic` of {context}");
    let Some(mut f) = Fields::of(node, &table::TRAFFIC_SETTINGS, context.clone(), problems) else { return settings };
    if let Some(router) = decode_router(&mut f, problems) {
        settings.router = router.value;
    }
    if let Some(domain) = f.string("domain", problems) {
        if check_host(&domain, "domain", problems) {
            settings.domain = Some(domain.value);
        }
    }
    let mut written: Vec<(&'static str, Span)> = Vec::new();
    if let Some(gateway) = f.string("gateway", problems) {
        written.push(("gateway", gateway.span.clone()));
        settings.gateway = parse_object_ref(&gateway, problems).or(settings.gateway);
    }
    if let Some(class) = f.string("ingress_class", problems) {
        written.push(("ingress_class", class.span.clone()));
        if check_name(&class, "ingress_class", problems) {
            settings.alb.ingress_class = class.value;
        }
    }
    if let Some(scheme) = f.string("scheme", problems) {
        written.push(("scheme", scheme.span.clone()));
        if ["internal", "internet-facing"].contains(&scheme.value.as_str()) {
            settings.alb.scheme = scheme.value;
        } else {
            problems.push(
                Problem::new(rules::MALFORMED_VALUE, &scheme.span, format!("`{}` is not an ALB scheme", scheme.value))
                    .label("unknown scheme")
                    .help("use \"internal\" (reachable inside the VPC) or \"internet-facing\""),
            );
        }
    }
    if let Some(certificate) = f.string("certificate", problems) {
        written.push(("certificate", certificate.span.clone()));
        if is_acm_arn(&certificate.value) {
            settings.alb.certificate = Some(certificate.value);
        } else {
            problems.push(
                Problem::new(
                    rules::MALFORMED_VALUE,
                    &certificate.span,
                    format!("`{}` is not an ACM certificate ARN", certificate.value),
                )
                .label("expected an ACM certificate ARN")
                .help("write arn:aws:acm:REGION:ACCOUNT:certificate/ID"),
            );
        }
    }
    let span = f.span.clone();
    f.finish(problems);
    for (field, at) in written {
        check_field_fits(field, &at, settings.router, &context, problems);
    }
    if settings.router == Router::GatewayApi && settings.gateway.is_none() {
        problems.push(
            Problem::new(rules::ROUTER_SETTINGS, &span, format!("{context}: the gateway-api router needs a `gateway`"))
                .label("no parent Gateway")
                .help("name the Gateway the HTTPRoutes attach to: gateway = \"NAMESPACE/NAME\""),
        );
    }
    settings
}

/// A service's `traffic` block, resolved in each of its environments.
pub(super) fn decode_service_traffic(
    node: Option<&Node>,
    service: &str,
    environments: &[&Environment],
    canary_in: &BTreeMap<String, bool>,
    context: &str,
    problems: &mut Problems,
) -> BTreeMap<String, Traffic> {
    let own = node.and_then(|n| decode_service_block(n, context, problems)).unwrap_or_default();
    let resolved: BTreeMap<String, Traffic> = environments
        .iter()
        .map(|env| {
            let canary = canary_in.get(&env.name).copied().unwrap_or(false);
            (env.name.clone(), resolve(&own, service, env, canary, context, problems))
        })
        .collect();
    // Header routes and mirrors are Istio routes: they apply in the environments routed by Istio,
    // and a setting that applies nowhere is an error rather than a silent no-op.
    let routers: Vec<&str> = resolved.values().map(|t| t.router.name()).collect();
    if !resolved.values().any(|t| t.router == Router::Istio) {
        for (field, span) in [
            ("mirror", own.mirror.as_ref().map(|m| &m.span)),
            ("header_route", own.header_route.as_ref().map(|h| &h.span)),
        ] {
            if let Some(span) = span {
                problems.push(unsupported(span, field, &routers, context));
            }
        }
    }
    resolved
}

#[derive(Default)]
struct ServiceTraffic {
    router: Option<Spanned<Router>>,
    hosts: Option<Vec<Spanned<String>>>,
    header_route: Option<Spanned<HeaderRoute>>,
    mirror: Option<Spanned<u32>>,
}

fn decode_service_block(node: &Node, context: &str, problems: &mut Problems) -> Option<ServiceTraffic> {
    let mut f = Fields::of(node, &table::SERVICE_TRAFFIC, format!("`traffic` of {context}"), problems)?;
    let router = decode_router(&mut f, problems);
    let hosts = f
        .strings("hosts", problems)
        .map(|hosts| hosts.into_iter().filter(|h| check_host(h, "each of `hosts`", problems)).collect::<Vec<_>>());
    let header_route = decode_header_route(&mut f, problems);
    let mirror = f.string("mirror", problems).and_then(|m| match m.value.trim_end_matches('%').parse::<u32>() {
        Ok(p) if (1..=100).contains(&p) && m.value.ends_with('%') => Some(Spanned::new(p, m.span)),
        _ => {
            problems.push(
                Problem::new(rules::MALFORMED_VALUE, &m.span, format!("mirror `{}` is not a percentage", m.value))
                    .label("expected 1%–100%")
                    .help("write the share of requests copied to the canary, such as mirror = \"10%\""),
            );
            None
        }
    });
    f.finish(problems);
    Some(ServiceTraffic { router, hosts, header_route, mirror })
}

/// `header_route = { name = "x-canary", value = "always" }`.
fn decode_header_route(f: &mut Fields, problems: &mut Problems) -> Option<Spanned<HeaderRoute>> {
    let node = f.node("header_route")?;
    let mut h = Fields::of(node, &table::HEADER_ROUTE, "`traffic.header_route`", problems)?;
    let name = h.required_string("name", "name = \"x-canary\"", problems);
    let value = h.required_string("value", "value = \"always\"", problems);
    h.finish(problems);
    let (name, value) = (name?, value?);
    // Header names are HTTP tokens; ALB and Istio both match them case-insensitively.
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.value.is_empty() || !name.value.chars().all(token) {
        problems.push(
            Problem::new(rules::MALFORMED_VALUE, &name.span, format!("`{}` is not an HTTP header name", name.value))
                .label("not a header name")
                .help("use letters, digits and `-`, such as \"x-canary\""),
        );
        return None;
    }
    if value.value.is_empty() || value.value.chars().any(|c| c.is_control()) {
        problems.push(
            Problem::new(rules::MALFORMED_VALUE, &value.span, "a header value must be non-empty printable text")
                .help("write the exact value requests carry, such as \"always\""),
        );
        return None;
    }
    Some(Spanned::new(HeaderRoute { name: name.value.to_ascii_lowercase(), value: value.value }, node.span.clone()))
}

fn resolve(
    own: &ServiceTraffic,
    service: &str,
    env: &Environment,
    canary: bool,
    context: &str,
    problems: &mut Problems,
) -> Traffic {
    let settings = &env.traffic;
    let router = own.router.as_ref().map(|r| r.value).unwrap_or(settings.router);
    // The environment's gateway is its router's: an Istio Gateway is not a Gateway API Gateway.
    let gateway = settings.gateway.clone().filter(|_| router == settings.router);
    if router == Router::None {
        return Traffic::default();
    }
    let hosts: Vec<String> = match (&own.hosts, &settings.domain) {
        (Some(hosts), _) => hosts.iter().map(|h| h.value.clone()).collect(),
        (None, Some(domain)) => vec![format!("{service}.{domain}")],
        (None, None) => Vec::new(),
    };
    let where_ = format!("{context} in environment `{}`", env.name);
    if router == Router::GatewayApi && gateway.is_none() {
        if let Some(r) = &own.router {
            problems.push(
                Problem::new(
                    rules::ROUTER_SETTINGS,
                    &r.span,
                    format!("{where_}: the gateway-api router needs a Gateway"),
                )
                .label("no parent Gateway")
                .help(format!("set gateway = \"NAMESPACE/NAME\" in the `traffic` block of environment `{}`", env.name)),
            );
        }
    }
    if router == Router::Istio && gateway.is_some() && hosts.is_empty() {
        let at = own.router.as_ref().map(|r| r.span.clone());
        if let Some(at) = at {
            problems.push(
                Problem::new(
                    rules::ROUTER_SETTINGS,
                    &at,
                    format!("{where_}: a route through an Istio gateway needs hosts"),
                )
                .help("set `hosts` here, or `domain` in the environment's `traffic` block"),
            );
        }
    }
    // Header routes and mirrors are canary steps; a blue/green environment has none to add.
    Traffic {
        router,
        hosts,
        gateway,
        alb: if router == Router::Alb { settings.alb.clone() } else { AlbSettings::default() },
        header_route: own.header_route.as_ref().filter(|_| canary && router == Router::Istio).map(|h| h.value.clone()),
        mirror: own.mirror.as_ref().filter(|_| canary && router == Router::Istio).map(|m| m.value),
    }
}

fn unsupported(span: &Span, field: &str, routers: &[&str], context: &str) -> Problem {
    let mut routers = routers.to_vec();
    routers.sort();
    routers.dedup();
    Problem::new(
        rules::ROUTER_SETTINGS,
        span,
        format!("{context}: `{field}` needs the istio router, but its environments route with {}", routers.join(", ")),
    )
    .label("applies nowhere")
    .help(format!("route at least one environment with router = \"istio\", or remove `{field}`"))
}

fn decode_router(f: &mut Fields, problems: &mut Problems) -> Option<Spanned<Router>> {
    let names: Vec<&str> = Router::ALL.iter().map(|r| r.name()).collect();
    f.parsed("router", problems, Router::parse, &format!("use one of: {}", names.join(", ")))
}

/// A setting written for another router than the one in force.
fn check_field_fits(field: &str, at: &Span, router: Router, context: &str, problems: &mut Problems) {
    let Some((_, routers)) = ROUTER_OF_FIELD.iter().find(|(f, _)| *f == field) else { return };
    if routers.contains(&router) {
        return;
    }
    let names: Vec<&str> = routers.iter().map(|r| r.name()).collect();
    problems.push(
        Problem::new(
            rules::ROUTER_SETTINGS,
            at,
            format!(
                "{context}: `{field}` belongs to the {} router, but the router here is {}",
                names.join(" or "),
                router.name()
            ),
        )
        .label("setting of another router")
        .help(format!("set router = \"{}\" or remove `{field}`", names[0])),
    );
}

/// `NAMESPACE/NAME` of a gateway.
fn parse_object_ref(text: &Spanned<String>, problems: &mut Problems) -> Option<ObjectRef> {
    match text.value.split_once('/') {
        Some((namespace, name)) if is_dns_label(namespace) && is_dns_label(name) => {
            Some(ObjectRef { namespace: namespace.into(), name: name.into() })
        }
        _ => {
            problems.push(
                Problem::new(
                    rules::MALFORMED_VALUE,
                    &text.span,
                    format!("gateway `{}` is not NAMESPACE/NAME", text.value),
                )
                .label("expected NAMESPACE/NAME")
                .help("write the gateway's namespace and name, such as \"istio-system/public\""),
            );
            None
        }
    }
}

fn check_name(text: &Spanned<String>, field: &str, problems: &mut Problems) -> bool {
    if is_dns_label(&text.value) {
        return true;
    }
    problems.push(
        Problem::new(rules::MALFORMED_VALUE, &text.span, format!("`{field}` `{}` is not a DNS label", text.value))
            .help("use lower-case letters, digits and `-`, such as \"alb\""),
    );
    false
}

/// A DNS host name (a leading `*.` wildcard allowed), as routes match them.
fn check_host(text: &Spanned<String>, field: &str, problems: &mut Problems) -> bool {
    let host = text.value.strip_prefix("*.").unwrap_or(&text.value);
    let valid = host.len() <= 253 && host.contains('.') && host.split('.').all(is_dns_label);
    if valid {
        return true;
    }
    problems.push(
        Problem::new(rules::MALFORMED_VALUE, &text.span, format!("{field} `{}` is not a DNS name", text.value))
            .label("not a host name")
            .help("write a lower-case host name such as \"shop.example.com\" (no scheme, port or path)"),
    );
    false
}

fn is_acm_arn(arn: &str) -> bool {
    arn.strip_prefix("arn:aws:acm:").is_some_and(|rest| {
        let parts: Vec<&str> = rest.splitn(3, ':').collect();
        parts.len() == 3 && parts[2].strip_prefix("certificate/").is_some_and(|id| !id.is_empty())
    })
}
