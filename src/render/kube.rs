//! Kubernetes objects for every environment: the shared namespace and notification ConfigMap,
//! and per service the ServiceAccount, Services, AnalysisTemplates, migration Job, Rollout, PDB
//! and HPA.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};

use crate::catalog::names;
use crate::catalog::values::{trim_float, Duration};
use crate::catalog::{
    EnvValue, Environment, Model, NotifyEvent, Pause, Pdb, Service, ServiceEnv, SpreadMode, StrategyKind,
    READINESS_PERIOD,
};

use super::address::SHARED_OWNER;
use super::resource::KubeObject;
use super::templates::Templates;
use super::traffic;
use super::{aws, RenderError};

pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const CATALOG_LABEL: &str = "glidepath.dev/catalog";
pub const SERVICE_LABEL: &str = "glidepath.dev/service";
pub const ENV_LABEL: &str = "glidepath.dev/environment";
pub const SLO_ANNOTATION: &str = "glidepath.dev/slo";
pub const POD_SECURITY_ENFORCE: &str = "pod-security.kubernetes.io/enforce";
/// The pod label the Argo Rollouts controller gives each version's pods.
const POD_TEMPLATE_HASH: &str = "rollouts-pod-template-hash";

type Labels = BTreeMap<String, String>;

/// Everything rendered into one environment, in a stable order.
pub fn render_environment(
    model: &Model,
    env: &Environment,
    templates: &Templates,
) -> Result<Vec<(String, KubeObject)>, RenderError> {
    let mut out = Vec::new();
    let mut namespace_labels = env_labels(model, env);
    // The apiserver's PodSecurity admission refuses pods below this standard in the namespace.
    namespace_labels.insert(POD_SECURITY_ENFORCE.into(), env.pod_security.name().into());
    let namespace = templates
        .render_yaml("kube/namespace.yaml.j2", json!({ "namespace": env.namespace, "labels": namespace_labels }))?;
    out.push((SHARED_OWNER.to_string(), object(env, namespace)));
    if let Some(config_map) = notification_config_map(model, env, templates)? {
        out.push((SHARED_OWNER.to_string(), object(env, config_map)));
    }
    let services: Vec<&Service> = model.services.iter().filter(|s| s.environments.contains(&env.name)).collect();
    // The services are spread over the cores, taken back in catalog order, so the objects and the
    // first error are those of rendering them one after another.
    for run in crate::parallel::runs(&services, |run| services_objects(model, env, run, templates)) {
        out.extend(run?);
    }
    Ok(out)
}

/// The objects of `services` in `env`, each with its owner.
fn services_objects(
    model: &Model,
    env: &Environment,
    services: &[&Service],
    templates: &Templates,
) -> Result<Vec<(String, KubeObject)>, RenderError> {
    let mut out = Vec::new();
    for service in services {
        let settings = &service.per_env[&env.name];
        for body in service_objects(model, env, service, settings, templates)? {
            out.push((service.name.clone(), object(env, body)));
        }
    }
    Ok(out)
}

fn object(env: &Environment, body: Value) -> KubeObject {
    let text = |v: &Value| v.as_str().map(str::to_string);
    KubeObject {
        env: env.name.clone(),
        api_version: text(&body["apiVersion"]).unwrap_or_default(),
        kind: text(&body["kind"]).unwrap_or_default(),
        namespace: text(&body["metadata"]["namespace"]),
        name: text(&body["metadata"]["name"]).unwrap_or_default(),
        body,
        manifest: None,
    }
}

fn env_labels(model: &Model, env: &Environment) -> Labels {
    Labels::from([
        (MANAGED_BY.into(), "glidepath".into()),
        (CATALOG_LABEL.into(), model.platform.name.clone()),
        (ENV_LABEL.into(), env.name.clone()),
    ])
}

fn service_labels(model: &Model, env: &Environment, service: &Service) -> Labels {
    let mut labels = env_labels(model, env);
    labels.insert("app.kubernetes.io/name".into(), service.name.clone());
    labels.insert("app.kubernetes.io/part-of".into(), model.platform.name.clone());
    labels.insert(SERVICE_LABEL.into(), service.name.clone());
    labels.insert("glidepath.dev/team".into(), service.team.clone());
    labels.insert("glidepath.dev/tier".into(), service.tier.to_string());
    labels
}

fn selector(service: &Service) -> Labels {
    Labels::from([("app.kubernetes.io/name".into(), service.name.clone())])
}

/// What the SLO annotation and notifications say the service is held to.
pub fn slo_summary(service: &Service) -> String {
    format!("error rate <= {}, p99 latency <= {}", service.slo.max_error_rate, service.slo.p99_latency)
}

#[derive(Serialize)]
struct CanaryStep {
    weight: u32,
    /// Pauses after this step: durations or "manual"; none after the last step.
    pauses: Vec<String>,
}

/// The canary's steps for one environment. Where the environment requires approval, the
/// rollout also waits for a person (`kubectl argo rollouts promote`) before the final step.
fn canary_steps(service: &Service, env: &Environment) -> Vec<CanaryStep> {
    let canary = &service.canary;
    let last = canary.steps.len().saturating_sub(1);
    canary
        .steps
        .iter()
        .enumerate()
        .map(|(i, weight)| {
            let mut pauses: Vec<String> = canary
                .pauses
                .get(i)
                .map(|p| match p {
                    Pause::For(d) => d.to_string(),
                    Pause::Manual => "manual".to_string(),
                })
                .into_iter()
                .collect();
            let gated = pauses.iter().any(|p| p == "manual");
            if env.approval && last > 0 && i + 1 == last && !gated {
                pauses.push("manual".to_string());
            }
            CanaryStep { weight: *weight, pauses }
        })
        .collect()
}

fn service_objects(
    model: &Model,
    env: &Environment,
    service: &Service,
    settings: &ServiceEnv,
    templates: &Templates,
) -> Result<Vec<Value>, RenderError> {
    let labels = service_labels(model, env, service);
    let ns = &env.namespace;
    let name = &service.name;
    let mut objects = Vec::new();

    let irsa_role_arn = (!service.aws_policies.is_empty()).then(|| aws::irsa_role_arn(model, &env.name, name));
    objects.push(templates.render_yaml(
        "kube/serviceaccount.yaml.j2",
        json!({ "name": name, "namespace": ns, "labels": labels, "irsa_role_arn": irsa_role_arn }),
    )?);

    let (second_service, second_role) = match settings.strategy {
        StrategyKind::Canary => (names::canary_service(name), "canary"),
        StrategyKind::BlueGreen => (names::preview_service(name), "preview"),
    };
    let first_role = if settings.strategy == StrategyKind::Canary { "stable" } else { "active" };
    for (service_name, role) in [(name.clone(), first_role), (second_service.clone(), second_role)] {
        objects.push(templates.render_yaml(
            "kube/service.yaml.j2",
            json!({ "service_name": service_name, "role": role, "namespace": ns, "labels": labels, "selector": selector(service), "port": service.port }),
        )?);
    }

    let slo_template = names::slo_template(name);
    let window = rate_window(service.slo.interval);
    // Post-promotion analysis must end for a blue/green rollout to complete, so it needs a count.
    let count = match settings.strategy {
        StrategyKind::Canary => service.slo.count,
        StrategyKind::BlueGreen => Some(service.slo.count.unwrap_or(5)),
    };
    objects.push(templates.render_yaml(
        "kube/analysistemplate-slo.yaml.j2",
        json!({
            "name": name, "namespace": ns, "labels": labels, "template_name": slo_template,
            "slo": {
                "interval": service.slo.interval.to_string(),
                "initial_delay": initial_delay(service, settings.strategy).map(|d| d.to_string()),
                "count": count,
                "failure_limit": service.slo.failure_limit,
                "max_error_fraction": trim_float(service.slo.max_error_rate.fraction),
                "p99_seconds": trim_float(service.slo.p99_latency.millis as f64 / 1000.0),
                "prometheus": service.slo.prometheus,
                "request_metric": service.slo.request_metric,
                "latency_metric": service.slo.latency_metric,
                "window": window.to_string(),
            },
        }),
    )?);

    let smoke = &service.blue_green.smoke_test;
    let smoke_template = names::smoke_template(name);
    if settings.strategy == StrategyKind::BlueGreen {
        let smoke_url = format!("http://{second_service}.{ns}.svc.cluster.local:{}{}", service.port, smoke.path);
        objects.push(templates.render_yaml(
            "kube/analysistemplate-smoke.yaml.j2",
            json!({ "namespace": ns, "labels": labels, "template_name": smoke_template, "smoke": smoke, "smoke_url": smoke_url }),
        )?);
    }

    if let Some(route) = traffic::router_object(&model.platform, env, service, settings, &labels, templates)? {
        objects.push(route);
    }
    if let Some(migrations) = &service.migrations {
        objects.push(migration_job(model, env, service, settings, migrations, &labels, templates)?);
    }
    objects.push(rollout(model, env, service, settings, &labels, templates, &slo_template, &smoke_template)?);

    let pdb = match &service.pdb {
        Pdb::MinAvailable(v) => json!({ "min_available": int_or_string(v) }),
        Pdb::MaxUnavailable(v) => json!({ "max_unavailable": int_or_string(v) }),
    };
    objects.push(templates.render_yaml(
        "kube/poddisruptionbudget.yaml.j2",
        json!({ "name": name, "namespace": ns, "labels": labels, "selector": selector(service), "pdb": pdb }),
    )?);

    if let (Some(hpa), Some(max)) = (&service.hpa, settings.max_replicas) {
        objects.push(templates.render_yaml(
            "kube/horizontalpodautoscaler.yaml.j2",
            json!({ "name": name, "namespace": ns, "labels": labels, "hpa": hpa, "replicas": settings.replicas, "max_replicas": max }),
        )?);
    }
    Ok(objects)
}

#[allow(clippy::too_many_arguments)]
fn rollout(
    model: &Model,
    env: &Environment,
    service: &Service,
    settings: &ServiceEnv,
    labels: &Labels,
    templates: &Templates,
    slo_template: &str,
    smoke_template: &str,
) -> Result<Value, RenderError> {
    let name = &service.name;
    let image = image_reference(&aws::ecr_repository_uri(model, service), &settings.image_tag);
    let mut pod_labels = selector(service);
    pod_labels.insert("app.kubernetes.io/part-of".into(), model.platform.name.clone());
    pod_labels.insert("app.kubernetes.io/version".into(), version_label(&settings.image_tag));
    pod_labels.insert(MANAGED_BY.into(), "glidepath".into());

    let mut annotations = subscription_annotations(model, service);
    annotations.insert(SLO_ANNOTATION.into(), slo_summary(service));

    let canary_steps = canary_steps(service, env);
    let managed_routes = traffic::managed_routes(settings);
    let env_vars: Vec<Value> = service
        .env_vars
        .iter()
        .map(|(k, v)| match v {
            EnvValue::Plain(value) => json!({ "name": k, "value": value }),
            EnvValue::Secret { secret, key } => {
                json!({ "name": k, "valueFrom": { "secretKeyRef": { "name": secret, "key": key } } })
            }
        })
        .collect();
    let container_resources = container_resources(service);
    let warmup = service.probes.warmup.as_secs_ceil();
    let auto_promote = service.blue_green.auto_promote.unwrap_or(!env.approval);
    templates.render_yaml(
        "kube/rollout.yaml.j2",
        json!({
            "name": name,
            "namespace": env.namespace,
            "labels": labels,
            "annotations": annotations,
            // With an HPA, the autoscaler owns spec.replicas; glidepath must not fight it.
            "replicas_field": if service.hpa.is_some() { None } else { Some(settings.replicas) },
            "progress_deadline_seconds": 600 + warmup,
            "selector": selector(service),
            "pod_labels": pod_labels,
            "image": image,
            "port": service.port,
            "env_vars": env_vars,
            "container_resources": container_resources,
            "probes": service.probes,
            "startup_failure_threshold": warmup.div_ceil(5).max(1) + 3,
            "readiness_period_seconds": READINESS_PERIOD.millis / 1000,
            "strategy": match settings.strategy { StrategyKind::Canary => "canary", StrategyKind::BlueGreen => "blue_green" },
            "canary_service": names::canary_service(name),
            "preview_service": names::preview_service(name),
            "max_surge": int_or_string(&service.canary.max_surge),
            "canary_steps": &canary_steps,
            // The header and mirror routes are set by steps right after the first weight.
            "analysis_starting_step": analysis_starting_step(&canary_steps, service.canary.analysis_from_step)
                + if service.canary.analysis_from_step > 1 { managed_routes.len() } else { 0 },
            "traffic": settings.traffic,
            "managed_routes": managed_routes,
            "header_route_name": traffic::HEADER_ROUTE,
            "mirror_route_name": traffic::MIRROR_ROUTE,
            "slo_template": slo_template,
            "pre_promotion_template": smoke_template,
            "auto_promote": auto_promote,
            "scale_down_delay_seconds": service.blue_green.scale_down_delay.as_secs_ceil(),
            "automount_token": automount_token(service),
            "pod_security_context": pod_security_context(service),
            "container_security_context": container_security_context(service),
            "spread": spread_constraints(service, settings),
        }),
    )
}

/// How long a migration may run before the Job fails (and apply with it).
pub const MIGRATION_DEADLINE_SECONDS: u64 = 900;
/// The label on a migration Job's pods (they must not carry `app.kubernetes.io/name`: the
/// service's Services and PDB select by it).
pub const MIGRATION_LABEL: &str = "glidepath.dev/migration";

/// The Job that runs a version's migration once, before the Rollout changes: the app's image,
/// the migration's command and secret, the service account and the app's hardening. Its name
/// ends in a digest of its spec: a Job's pod template is immutable, so whatever would change it
/// (a new image, command or secret) is a new Job, run once.
fn migration_job(
    model: &Model,
    env: &Environment,
    service: &Service,
    settings: &ServiceEnv,
    migrations: &crate::catalog::Migrations,
    labels: &Labels,
    templates: &Templates,
) -> Result<Value, RenderError> {
    let name = &service.name;
    let image = image_reference(&aws::ecr_repository_uri(model, service), &settings.image_tag);
    let pod_labels = Labels::from([
        (MIGRATION_LABEL.into(), name.clone()),
        ("app.kubernetes.io/component".into(), "migration".into()),
        ("app.kubernetes.io/part-of".into(), model.platform.name.clone()),
        ("app.kubernetes.io/version".into(), version_label(&settings.image_tag)),
        (MANAGED_BY.into(), "glidepath".into()),
    ]);
    let mut job = templates.render_yaml(
        "kube/migration-job.yaml.j2",
        json!({
            "job_name": name,
            "namespace": env.namespace,
            "labels": labels,
            "annotations": {},
            "deadline_seconds": MIGRATION_DEADLINE_SECONDS,
            "pod_labels": pod_labels,
            "service_account": name,
            "automount_token": automount_token(service),
            "pod_security_context": pod_security_context(service),
            "container_security_context": container_security_context(service),
            "container_resources": container_resources(service),
            "image": image,
            "migrations": migrations,
        }),
    )?;
    job["metadata"]["name"] = json!(migration_job_name(name, &job["spec"]));
    Ok(job)
}

/// `SERVICE-migrate-` and the first 10 hex digits of the spec's digest, within 63 characters.
fn migration_job_name(service: &str, spec: &Value) -> String {
    let digest = crate::digest::digest(spec);
    let hash = &digest.trim_start_matches("sha256:")[..10];
    let prefix = &service[..service.len().min(names::DNS_LABEL_MAX - "-migrate-".len() - hash.len())];
    format!("{}-migrate-{hash}", prefix.trim_end_matches('-'))
}

/// Whether an object is a migration Job glidepath rendered.
pub fn is_migration_job(body: &Value) -> bool {
    body["kind"] == "Job" && body["spec"]["template"]["metadata"]["labels"][MIGRATION_LABEL].is_string()
}

fn container_resources(service: &Service) -> Value {
    let mut resources = json!({
        "requests": { "cpu": service.resources.cpu, "memory": service.resources.memory },
        "limits": { "memory": service.resources.memory_limit },
    });
    if let Some(cpu_limit) = &service.resources.cpu_limit {
        resources["limits"]["cpu"] = json!(cpu_limit);
    }
    resources
}

/// The pod's hardening under the restricted Pod Security Standard, less what the service relaxes.
fn pod_security_context(service: &Service) -> Value {
    let security = &service.security;
    let mut context = serde_json::Map::new();
    if !security.relaxed("run_as_root") {
        context.insert("runAsNonRoot".into(), json!(true));
    }
    if let Some(user) = security.run_as_user {
        context.insert("runAsUser".into(), json!(user));
    }
    if !security.relaxed("seccomp") {
        context.insert("seccompProfile".into(), json!({ "type": "RuntimeDefault" }));
    }
    Value::Object(context)
}

/// Each container's hardening (app and migration), less what the service relaxes.
fn container_security_context(service: &Service) -> Value {
    let security = &service.security;
    let mut context = serde_json::Map::new();
    if !security.relaxed("privilege_escalation") {
        context.insert("allowPrivilegeEscalation".into(), json!(false));
    }
    if !security.relaxed("writable_root_filesystem") {
        context.insert("readOnlyRootFilesystem".into(), json!(true));
    }
    if !security.relaxed("capabilities") {
        context.insert("capabilities".into(), json!({ "drop": ["ALL"] }));
    }
    Value::Object(context)
}

/// Only pods that call the AWS APIs through IRSA, or that say why they need the Kubernetes API,
/// get a service-account token: anything else that reads it could act as the service.
fn automount_token(service: &Service) -> bool {
    !service.aws_policies.is_empty() || service.security.relaxed("service_account_token")
}

/// Zone and node spreading for a service that runs more than one pod here. The selector matches
/// the service's pods and `matchLabelKeys` the version's hash, so the canary's pods are spread
/// among themselves, and so are the stable ones.
fn spread_constraints(service: &Service, settings: &ServiceEnv) -> Vec<Value> {
    if settings.replicas.max(settings.max_replicas.unwrap_or(0)) < 2 {
        return Vec::new();
    }
    [("topology.kubernetes.io/zone", service.spread.zone), ("kubernetes.io/hostname", service.spread.node)]
        .into_iter()
        .filter_map(|(key, mode)| {
            let when = match mode {
                SpreadMode::Soft => "ScheduleAnyway",
                SpreadMode::Hard => "DoNotSchedule",
                SpreadMode::Off => return None,
            };
            Some(json!({
                "maxSkew": 1,
                "topologyKey": key,
                "whenUnsatisfiable": when,
                "labelSelector": { "matchLabels": selector(service) },
                "matchLabelKeys": [POD_TEMPLATE_HASH],
            }))
        })
        .collect()
}

/// The image of a Rollout body's `app` container (what a rollout deploys).
pub fn app_image(rollout: &Value) -> Option<String> {
    rollout["spec"]["template"]["spec"]["containers"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == "app")
        .and_then(|c| c["image"].as_str())
        .map(str::to_string)
}

/// `REPO:TAG`, or `REPO@sha256:…` when the catalog pins a digest.
pub fn image_reference(repository: &str, tag: &str) -> String {
    if tag.starts_with("sha256:") {
        format!("{repository}@{tag}")
    } else {
        format!("{repository}:{tag}")
    }
}

/// The version label: the tag, or `sha256-` and the first 12 digits of a digest (label values
/// cannot hold `:` and stop at 63 characters).
fn version_label(tag: &str) -> String {
    match tag.strip_prefix("sha256:") {
        Some(hex) => format!("sha256-{}", &hex[..12.min(hex.len())]),
        None => tag.to_string(),
    }
}

/// `notifications.argoproj.io/subscribe.<trigger>.<service>` annotations for the service's routes.
fn subscription_annotations(model: &Model, service: &Service) -> Labels {
    let mut slack: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut annotations = Labels::new();
    for route in service.notify.iter().filter_map(|r| model.notification(r)) {
        for event in &route.events {
            if let Some(channel) = &route.slack {
                slack.entry(event.trigger()).or_default().push(channel.trim_start_matches('#').to_string());
            }
            if route.webhook.is_some() {
                annotations.insert(
                    format!("notifications.argoproj.io/subscribe.{}.{}", event.trigger(), route.name),
                    String::new(),
                );
            }
        }
    }
    for (trigger, channels) in slack {
        annotations.insert(format!("notifications.argoproj.io/subscribe.{trigger}.slack"), channels.join(";"));
    }
    annotations
}

/// Argo counts every setWeight and pause as a step; analysis starts at the setWeight of the
/// catalog's 1-based `analysis_from_step`.
fn analysis_starting_step(steps: &[CanaryStep], analysis_from_step: usize) -> usize {
    steps.iter().take(analysis_from_step.saturating_sub(1)).map(|s| 1 + s.pauses.len()).sum()
}

/// The namespace's notification services, templates and triggers for the routes its services use.
fn notification_config_map(
    model: &Model,
    env: &Environment,
    templates: &Templates,
) -> Result<Option<Value>, RenderError> {
    let routes: Vec<_> = model
        .notifications
        .iter()
        .filter(|r| r.slack.is_some() || r.webhook.is_some())
        .filter(|r| model.services.iter().any(|s| s.environments.contains(&env.name) && s.notify.contains(&r.name)))
        .collect();
    if routes.is_empty() {
        return Ok(None);
    }
    let mut data: BTreeMap<String, String> = BTreeMap::new();
    if routes.iter().any(|r| r.slack.is_some()) {
        data.insert("service.slack".into(), "token: $slack-token\n".into());
    }
    for route in routes.iter().filter(|r| r.webhook.is_some()) {
        let url = route.webhook.as_deref().unwrap_or_default();
        data.insert(
            format!("service.webhook.{}", route.name),
            // Quoted: a URL is one scalar whatever it holds (the catalog refuses control characters too).
            format!(
                "url: {}\nheaders:\n  - name: Content-Type\n    value: application/json\n",
                super::templates::yaml_quote(url)
            ),
        );
    }
    let mut events: Vec<NotifyEvent> = routes.iter().flat_map(|r| r.events.iter().copied()).collect();
    events.sort();
    events.dedup();
    let go = json!({
        "name": "{{.rollout.metadata.name}}",
        "namespace": "{{.rollout.metadata.namespace}}",
        "image": "{{range $c := .rollout.spec.template.spec.containers}}{{if eq $c.name \"app\"}}{{$c.image}}{{end}}{{end}}",
        "slo": format!("{{{{index .rollout.metadata.annotations \"{SLO_ANNOTATION}\"}}}}"),
        "phase": "{{.rollout.status.phase}}",
    });
    for event in events {
        let webhooks: Vec<&str> = routes
            .iter()
            .filter(|r| r.webhook.is_some() && r.events.contains(&event))
            .map(|r| r.name.as_str())
            .collect();
        let body = templates.render_text(
            "kube/notification-template.yaml.j2",
            json!({ "headline": headline(event), "event": event.name(), "webhooks": webhooks, "go": go }),
        )?;
        // The controller reads this text as YAML: it must parse, like every document we render.
        if let Err(e) = super::yaml_subset::validate(&body) {
            return Err(RenderError::Yaml {
                template: "kube/notification-template.yaml.j2".into(),
                reason: e.to_string(),
                text: body,
            });
        }
        data.insert(format!("template.{}", event.name()), format!("{}\n", body.trim()));
        data.insert(format!("trigger.{}", event.trigger()), format!("- send: [{}]\n", event.name()));
    }
    templates
        .render_yaml(
            "kube/notification-configmap.yaml.j2",
            json!({ "namespace": env.namespace, "labels": env_labels(model, env), "data": data }),
        )
        .map(Some)
}

fn headline(event: NotifyEvent) -> &'static str {
    match event {
        NotifyEvent::RolloutAborted => {
            "ROLLED BACK: the new version breached its SLO or stalled; the stable version keeps serving."
        }
        NotifyEvent::AnalysisRunFailed => "Analysis FAILED: the new version breached its SLO.",
        NotifyEvent::AnalysisRunError => {
            "Analysis ERROR: metrics could not be read (no data or Prometheus unreachable)."
        }
        NotifyEvent::RolloutCompleted => "Rollout completed: the new version is fully promoted.",
        NotifyEvent::RolloutPaused => "Rollout paused, waiting for promotion.",
        NotifyEvent::RolloutStepCompleted => "Rollout step completed.",
        NotifyEvent::RolloutUpdated => "Rollout started: a new version is being delivered.",
    }
}

/// The first measurement waits until the new version's metrics can be rated (unless the catalog
/// sets `slo.initial_delay`): measured earlier it finds no data, an error, and five errors in a
/// row abort even a good version. A canary's analysis that starts at a later step (after timed
/// pauses) waits only for what is left of that time; after a manual pause, not at all.
fn initial_delay(service: &Service, strategy: StrategyKind) -> Option<Duration> {
    if let Some(set) = service.slo.initial_delay {
        return (set.millis > 0).then_some(set);
    }
    let mut already = 0;
    if strategy == StrategyKind::Canary {
        for pause in service.canary.pauses.iter().take(service.canary.analysis_from_step.saturating_sub(1)) {
            match pause {
                Pause::For(d) => already += d.millis,
                Pause::Manual => return None,
            }
        }
    }
    let left = service.metrics_delay(strategy).millis.saturating_sub(already);
    (left > 0).then_some(Duration { millis: left })
}

/// PromQL rate window: at least two measurement intervals and never under a minute, so a
/// window always spans several scrapes.
fn rate_window(interval: Duration) -> Duration {
    Duration { millis: (interval.millis * 2).max(60_000) }
}

fn int_or_string(text: &str) -> Value {
    match text.parse::<i64>() {
        Ok(n) => json!(n),
        Err(_) => json!(text),
    }
}
