//! The validated catalog: plain data with every default applied and every reference resolved.
//! Render reads only this; it never sees syntax, spans or profiles.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::values::{Duration, Percent};

#[derive(Debug, Clone, Serialize)]
pub struct Model {
    pub platform: Platform,
    pub clusters: Vec<Cluster>,
    /// In declaration order, which is also promotion order (dev → staging → prod).
    pub environments: Vec<Environment>,
    pub notifications: Vec<NotificationRoute>,
    pub services: Vec<Service>,
    /// Images that must not be deployed again (`quarantine "IMAGE" { … }`), cleared ones included.
    pub quarantines: Vec<Quarantine>,
    /// Where the catalog was read from (a file or a directory).
    #[serde(skip)]
    pub root: PathBuf,
}

impl Model {
    /// The repository every deploy job commits its promotion to, and the one Argo CD reads:
    /// `platform.catalog_repo`, else the one GitHub repository all services build from (a
    /// monorepo, the catalog beside the code). `None` when services build from several
    /// repositories (or none on GitHub) and the catalog names none: `check` refuses that where
    /// something commits or syncs (policy::catalog-repo-unwritable).
    ///
    /// The default counts GitHub Actions services and CodePipeline services whose source is
    /// GitHub (through the CodeStar connection): both check out a GitHub repository and commit
    /// promotions to the catalog repository, so a default that ignored the pipelines would pick
    /// the Actions services' repository while a pipeline built from another one, and nobody could
    /// tell which of the two holds the catalog. With the pipelines counted, such a catalog has no
    /// default and must name `catalog_repo`; a catalog whose services all build from one GitHub
    /// repository (pipelines included, or pipelines only) gets it as the default, so Argo CD has a
    /// repository to read. CodeCommit sources do not count: the catalog repository is on GitHub
    /// (Argo CD and the workflows read it there), so a CodeCommit-sourced pipeline always builds
    /// outside it.
    pub fn catalog_repo(&self) -> Option<GitRepo> {
        if let Some(repo) = &self.platform.catalog_repo {
            return Some(repo.clone());
        }
        let mut repos = self
            .services
            .iter()
            .filter(|s| match s.ci.system {
                CiSystem::GithubActions => true,
                CiSystem::Codepipeline => s.ci.source == CiSource::Github,
            })
            .map(|s| &s.repo);
        let first = repos.next()?;
        repos.all(|r| r.same_repository(first)).then(|| first.clone())
    }

    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name == name)
    }

    pub fn cluster(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.name == name)
    }

    pub fn notification(&self, name: &str) -> Option<&NotificationRoute> {
        self.notifications.iter().find(|n| n.name == name)
    }

    /// The quarantine in force that forbids `image` (a tag or digest) for `service` in `env`.
    pub fn quarantined(&self, service: &str, env: &str, image: &str) -> Option<&Quarantine> {
        self.quarantines.iter().find(|q| q.holds(service, env, image))
    }
}

/// An image rolled back in GitOps mode (or put there by hand), checked in with the catalog so
/// that CI's `render` and Argo CD, which only see git, cannot bring it back: a catalog naming it
/// for the service in a covered environment is invalid (`catalog::quarantined-image`) until the
/// entry is cleared with a reason.
#[derive(Debug, Clone, Serialize)]
pub struct Quarantine {
    /// The tag or `sha256:` digest, as `image_tag` writes it.
    pub image: String,
    pub service: String,
    /// Where it may not run; empty: every environment.
    pub environments: Vec<String>,
    pub reason: String,
    /// Why it may run again; a cleared entry stays as the record and forbids nothing.
    pub cleared: Option<String>,
    /// `FILE:LINE:COL` of the entry, for messages.
    pub location: String,
}

impl Quarantine {
    pub fn holds(&self, service: &str, env: &str, image: &str) -> bool {
        self.cleared.is_none()
            && self.service == service
            && self.image == image
            && (self.environments.is_empty() || self.environments.iter().any(|e| e == env))
    }
}

/// How an environment's cluster objects are delivered (`environment.delivery`, defaulting to
/// `platform.delivery`). Either way a promotion is a commit to the catalog repository (or a pull
/// request for an environment with `approval`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// `glidepath apply` writes them (server-side apply); the deploy job runs it and waits for
    /// the rollout.
    #[default]
    Push,
    /// Argo CD syncs the rendered `gitops/` tree from git: the deploy job commits the
    /// re-rendered tree too and waits for the rollout Argo CD syncs; `rollback` also restores the
    /// catalog and quarantines the image, `drift` reads the Applications.
    Gitops,
}

impl Delivery {
    pub const ALL: [Delivery; 2] = [Delivery::Push, Delivery::Gitops];

    pub fn name(self) -> &'static str {
        match self {
            Delivery::Push => "push",
            Delivery::Gitops => "gitops",
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|d| d.name() == text).ok_or_else(|| format!("`{text}` is not a delivery mode"))
    }
}

/// The retention periods CloudWatch Logs accepts (PutRetentionPolicy's `retentionInDays`).
pub const LOG_RETENTION_DAYS: [u32; 22] =
    [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];
pub const DEFAULT_LOG_RETENTION_DAYS: u32 = 30;

#[derive(Debug, Clone, Serialize)]
pub struct Platform {
    /// The catalog's name: prefix of AWS names and the `glidepath.dev/catalog` label.
    pub name: String,
    pub aws_account_id: String,
    pub region: String,
    pub github_org: String,
    /// How many tagged images each ECR repository keeps.
    pub ecr_keep_images: u32,
    /// Days after which untagged ECR images expire.
    pub ecr_untagged_days: u32,
    /// Days the CodeBuild projects' log groups keep their events: one of
    /// [`LOG_RETENTION_DAYS`].
    pub log_retention_days: u32,
    /// Default Prometheus address for analysis, overridable per service.
    pub prometheus: String,
    /// How often Prometheus scrapes the apps: new pods' metrics can be rated two scrapes after
    /// they serve, which sets when analysis can first see a new version.
    pub scrape_interval: Duration,
    /// CodeStar (CodeConnections) connection to GitHub: the source of GitHub-hosted CodePipelines.
    pub codestar_connection: Option<String>,
    /// CodeBuild image of the pipelines' deploy and test projects (glidepath, kubectl, the Argo
    /// Rollouts plugin and k6 on its PATH).
    pub pipeline_image: Option<String>,
    /// Where workflow jobs download glidepath from (`{org}` and `{version}` are filled in); unset,
    /// the pin table's pattern (`templates/tools.yaml`).
    pub glidepath_release: Option<String>,
    /// The sha256 of that download, pinned; unset, jobs verify it against the `.sha256` file
    /// published beside it (`scripts/release` writes both).
    pub glidepath_sha256: Option<String>,
    /// How promotions reach the clusters: `glidepath apply` in the deploy job, or Argo CD.
    pub delivery: Delivery,
    /// The GitHub secret holding the token deploy jobs push promotions with; unset, the job's
    /// own `GITHUB_TOKEN` with `contents: write`.
    pub promotion_token_secret: Option<String>,
    /// The AWS Secrets Manager secret (name) holding the GitHub token CodePipeline deploy
    /// projects push promotions to the catalog repository with, when their pipeline's source is
    /// another repository (CodeBuild holds a credential for its source only).
    pub pipeline_promotion_token_secret: Option<String>,
    /// The repository that holds the catalog (and, in gitops mode, the rendered `gitops/` tree
    /// Argo CD reads): where every deploy job commits its promotion. Unset, see
    /// [`Model::catalog_repo`].
    pub catalog_repo: Option<GitRepo>,
    /// Default routing of every environment (each may override it).
    pub traffic: TrafficSettings,
    /// Default Pod Security Standard enforced on every environment's namespace.
    pub pod_security: PodSecurityLevel,
}

impl Platform {
    /// Stands in for a platform block with problems, so the rest of the catalog is still checked.
    pub fn placeholder() -> Self {
        Platform {
            name: "catalog".into(),
            aws_account_id: "000000000000".into(),
            region: "us-east-1".into(),
            github_org: "org".into(),
            ecr_keep_images: 30,
            ecr_untagged_days: 7,
            log_retention_days: DEFAULT_LOG_RETENTION_DAYS,
            prometheus: String::new(),
            scrape_interval: DEFAULT_SCRAPE_INTERVAL,
            codestar_connection: None,
            pipeline_image: None,
            glidepath_release: None,
            glidepath_sha256: None,
            delivery: Delivery::Push,
            promotion_token_secret: None,
            pipeline_promotion_token_secret: None,
            catalog_repo: None,
            traffic: TrafficSettings::default(),
            pod_security: PodSecurityLevel::Restricted,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Cluster {
    pub name: String,
    /// The EKS cluster's name in AWS.
    pub eks_name: String,
    pub region: String,
    /// The cluster's OIDC issuer host/path (without https://); read from EKS at plan time when unset.
    pub oidc_issuer: Option<String>,
    pub kube_context: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    pub name: String,
    pub cluster: String,
    pub namespace: String,
    /// Default delivery strategy of services here.
    pub strategy: StrategyKind,
    /// Whether promotion into this environment needs a person's approval.
    pub approval: bool,
    /// AWS endpoint override (an emulator in tests), else the standard endpoint.
    pub aws_endpoint: Option<String>,
    /// Whether tier limits are enforced here (default: where approval is required).
    pub enforce_limits: bool,
    /// How traffic reaches services here and is split between versions (the platform's
    /// `traffic` block, overridden by the environment's).
    pub traffic: TrafficSettings,
    /// The Pod Security Standard the namespace enforces (`pod-security.kubernetes.io/enforce`).
    pub pod_security: PodSecurityLevel,
    /// Pushed by `apply` or synced by Argo CD from the GitOps tree (default: `platform.delivery`).
    pub delivery: Delivery,
}

/// A Pod Security Standard level, enforced by the apiserver's PodSecurity admission on a
/// namespace's pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PodSecurityLevel {
    /// Hardened pods only: what glidepath renders unless a service relaxes it.
    #[default]
    Restricted,
    /// Known privilege escalations refused; root, default capabilities and no seccomp allowed.
    Baseline,
    /// Nothing refused.
    Privileged,
}

impl PodSecurityLevel {
    pub const ALL: [PodSecurityLevel; 3] =
        [PodSecurityLevel::Restricted, PodSecurityLevel::Baseline, PodSecurityLevel::Privileged];

    pub fn name(self) -> &'static str {
        match self {
            PodSecurityLevel::Restricted => "restricted",
            PodSecurityLevel::Baseline => "baseline",
            PodSecurityLevel::Privileged => "privileged",
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|l| l.name() == text)
            .ok_or_else(|| format!("`{text}` is not a Pod Security Standard level"))
    }
}

/// What splits traffic between a canary and its stable version. Without a router the split is
/// carried by pod counts (5 % of 3 pods is 33 %); with one, the router sends the weight asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Router {
    #[default]
    None,
    /// An Istio VirtualService the Argo Rollouts controller re-weights.
    Istio,
    /// An AWS Load Balancer Controller Ingress whose forward action the controller writes.
    Alb,
    /// A Gateway API HTTPRoute, re-weighted through the Argo Rollouts Gateway API plugin.
    GatewayApi,
}

impl Router {
    pub const ALL: [Router; 4] = [Router::Istio, Router::Alb, Router::GatewayApi, Router::None];

    pub fn name(self) -> &'static str {
        match self {
            Router::None => "none",
            Router::Istio => "istio",
            Router::Alb => "alb",
            Router::GatewayApi => "gateway-api",
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        Router::ALL.into_iter().find(|r| r.name() == text).ok_or_else(|| format!("`{text}` is not a traffic router"))
    }
}

/// A namespaced object the routes attach to: an Istio Gateway or a Gateway API Gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectRef {
    pub namespace: String,
    pub name: String,
}

impl ObjectRef {
    /// `NAMESPACE/NAME`, as Istio names gateways in a VirtualService.
    pub fn path(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// An environment's routing settings (its `traffic` block over the platform's).
#[derive(Debug, Clone, Default, Serialize)]
pub struct TrafficSettings {
    pub router: Router,
    /// Services are reached at `SERVICE.DOMAIN` unless they name their own `hosts`.
    pub domain: Option<String>,
    /// The Istio Gateway or the Gateway API Gateway the routes attach to.
    pub gateway: Option<ObjectRef>,
    pub alb: AlbSettings,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlbSettings {
    pub ingress_class: String,
    /// `internal` or `internet-facing`.
    pub scheme: String,
    /// ACM certificate of the HTTPS listener; without one the ALB listens on HTTP only.
    pub certificate: Option<String>,
}

impl Default for AlbSettings {
    fn default() -> Self {
        AlbSettings { ingress_class: "alb".into(), scheme: "internal".into(), certificate: None }
    }
}

/// A service's routing in one environment.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Traffic {
    pub router: Router,
    /// Host names the route answers for (Istio also always routes the in-mesh service name).
    pub hosts: Vec<String>,
    pub gateway: Option<ObjectRef>,
    pub alb: AlbSettings,
    /// Requests carrying this header reach the canary from its first step (canary only).
    pub header_route: Option<HeaderRoute>,
    /// Percentage of requests also copied to the canary, whose responses are dropped (Istio).
    pub mirror: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeaderRoute {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StrategyKind {
    Canary,
    BlueGreen,
}

impl StrategyKind {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "canary" => Ok(StrategyKind::Canary),
            "blue_green" | "blue-green" | "bluegreen" => Ok(StrategyKind::BlueGreen),
            other => Err(format!("`{other}` is not a strategy")),
        }
    }
}

/// Rollout events a route can be told about; each is an Argo Rollouts notification trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotifyEvent {
    RolloutAborted,
    AnalysisRunFailed,
    AnalysisRunError,
    RolloutCompleted,
    RolloutPaused,
    RolloutStepCompleted,
    RolloutUpdated,
}

impl NotifyEvent {
    pub const ALL: [NotifyEvent; 7] = [
        NotifyEvent::RolloutAborted,
        NotifyEvent::AnalysisRunFailed,
        NotifyEvent::AnalysisRunError,
        NotifyEvent::RolloutCompleted,
        NotifyEvent::RolloutPaused,
        NotifyEvent::RolloutStepCompleted,
        NotifyEvent::RolloutUpdated,
    ];

    pub fn name(self) -> &'static str {
        match self {
            NotifyEvent::RolloutAborted => "rollout-aborted",
            NotifyEvent::AnalysisRunFailed => "analysis-run-failed",
            NotifyEvent::AnalysisRunError => "analysis-run-error",
            NotifyEvent::RolloutCompleted => "rollout-completed",
            NotifyEvent::RolloutPaused => "rollout-paused",
            NotifyEvent::RolloutStepCompleted => "rollout-step-completed",
            NotifyEvent::RolloutUpdated => "rollout-updated",
        }
    }

    /// The Argo Rollouts trigger that fires for this event.
    pub fn trigger(self) -> String {
        format!("on-{}", self.name())
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let wanted = text.strip_prefix("on-").unwrap_or(text);
        NotifyEvent::ALL
            .into_iter()
            .find(|e| e.name() == wanted)
            .ok_or_else(|| format!("`{text}` is not a rollout event"))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct NotificationRoute {
    pub name: String,
    /// Slack channel, e.g. `#payments-oncall` (token from the notification secret).
    pub slack: Option<String>,
    /// Webhook URL; `$key` references a key of the notification secret instead of a literal.
    pub webhook: Option<String>,
    /// SNS email subscribers.
    pub email: Vec<String>,
    /// SNS https subscribers.
    pub https: Vec<String>,
    pub events: Vec<NotifyEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GitRepo {
    pub owner: String,
    pub name: String,
}

impl GitRepo {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    /// Whether both name the same GitHub repository: GitHub matches owners and names without
    /// regard to case, and `NAME.git` is the same repository as `NAME`.
    pub fn same_repository(&self, other: &GitRepo) -> bool {
        let name = |r: &GitRepo| r.name.strip_suffix(".git").unwrap_or(&r.name).to_ascii_lowercase();
        self.owner.eq_ignore_ascii_case(&other.owner) && name(self) == name(other)
    }
}

/// One container environment variable's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum EnvValue {
    /// A literal, never a secret (`catalog::plaintext-secret`).
    Plain(String),
    /// `{ secret = "NAME", key = "KEY" }`: read from a key of a Secret in the namespace.
    Secret { secret: String, key: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct Service {
    pub name: String,
    /// `file:line:col` of the service's declaration, for reports.
    #[serde(skip)]
    pub location: String,
    pub profile: Option<String>,
    pub repo: GitRepo,
    pub team: String,
    /// 1 = business critical … 3 = best effort.
    pub tier: u8,
    pub ecr_repository: String,
    pub port: u16,
    /// Environments the service is deployed to, in promotion order.
    pub environments: Vec<String>,
    pub per_env: BTreeMap<String, ServiceEnv>,
    pub resources: Resources,
    pub probes: Probes,
    pub migrations: Option<Migrations>,
    pub canary: Canary,
    pub blue_green: BlueGreen,
    pub slo: Slo,
    pub pdb: Pdb,
    pub hpa: Option<Hpa>,
    pub notify: Vec<String>,
    /// Container environment variables, sorted by name: plain values, or references to a key of
    /// a Kubernetes Secret (the catalog refuses secrets written in plain text).
    pub env_vars: BTreeMap<String, EnvValue>,
    pub ci: Ci,
    /// Managed policy ARNs attached to the service's IRSA role.
    pub aws_policies: Vec<String>,
    /// The tier's limits, from the profile.
    pub limits: Limits,
    /// Accepted breaches of `limits`, by limit, with the reason.
    pub waivers: BTreeMap<String, String>,
    /// Usual requests per second, by environment (for detectability).
    pub expected_rps: BTreeMap<String, f64>,
    /// How the pods are hardened, and what the service relaxes (with reasons).
    pub security: Security,
    /// How multi-replica pods are spread over zones and nodes.
    pub spread: Spread,
}

/// Pod hardening settings of a service. Everything is hardened unless relaxed with a reason.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Security {
    /// A numeric user to run as, for images whose `USER` is a name (the kubelet cannot check a
    /// name against `runAsNonRoot`).
    pub run_as_user: Option<u32>,
    /// Relaxed settings (keys of [`RELAXABLE`]) with the reason given.
    pub relax: BTreeMap<String, String>,
}

impl Security {
    pub fn relaxed(&self, key: &str) -> bool {
        self.relax.contains_key(key)
    }
}

/// A waiver or relaxation must say why: a one-word reason is not a reason.
pub const MIN_REASON_CHARS: usize = 15;

/// Hardening settings a service may relax with a reason (`security { relax { KEY = "why" } }`).
pub const RELAXABLE: [&str; 6] = [
    "run_as_root",
    "privilege_escalation",
    "capabilities",
    "seccomp",
    "writable_root_filesystem",
    "service_account_token",
];

/// The relaxations the restricted Pod Security Standard refuses (baseline admits them all).
pub const RESTRICTED_FORBIDS: [&str; 4] = ["run_as_root", "privilege_escalation", "capabilities", "seccomp"];

/// Spreading of a service's pods over one topology domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpreadMode {
    /// Preferred: `whenUnsatisfiable: ScheduleAnyway`.
    Soft,
    /// Required: `whenUnsatisfiable: DoNotSchedule`; pods stay Pending rather than pile up.
    Hard,
    /// No constraint.
    Off,
}

impl SpreadMode {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "soft" => Ok(SpreadMode::Soft),
            "hard" => Ok(SpreadMode::Hard),
            "off" => Ok(SpreadMode::Off),
            other => Err(format!("`{other}` is not a spread mode")),
        }
    }
}

/// Topology spread of a service's pods when it runs more than one replica.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Spread {
    /// Over `topology.kubernetes.io/zone`.
    pub zone: SpreadMode,
    /// Over `kubernetes.io/hostname`.
    pub node: SpreadMode,
}

impl Default for Spread {
    fn default() -> Self {
        Spread { zone: SpreadMode::Soft, node: SpreadMode::Soft }
    }
}

/// Limits of a tier, checked in environments that enforce them. Unset = no limit.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Limits {
    /// Longest time from a bad version going live to automatic rollback.
    pub max_rollback: Option<Duration>,
    /// Largest share of traffic a bad version may get before analysis can fail it.
    pub max_exposure: Option<Percent>,
    /// Smallest share of pods a PodDisruptionBudget must keep.
    pub min_pdb: Option<Percent>,
    /// Longest automated time to full promotion (manual gates not counted).
    pub max_deploy_time: Option<Duration>,
}

/// Limits (and checks) a service may waive with a reason.
pub const WAIVABLE: [&str; 6] = ["rollback", "exposure", "pdb", "deploy_time", "detectability", "drain"];

/// What differs per environment for one service.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceEnv {
    pub replicas: u32,
    pub image_tag: String,
    pub strategy: StrategyKind,
    /// Upper bound for the HPA in this environment, when autoscaling.
    pub max_replicas: Option<u32>,
    pub traffic: Traffic,
}

#[derive(Debug, Clone, Serialize)]
pub struct Resources {
    pub cpu: String,
    pub memory: String,
    pub cpu_limit: Option<String>,
    pub memory_limit: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Probes {
    pub readiness: String,
    pub liveness: Option<String>,
    pub port: u16,
    /// How long the app may take to start before liveness counts (a startup probe covers it).
    pub warmup: Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct Migrations {
    pub command: Vec<String>,
    /// Secret whose keys become the migration container's environment.
    pub secret: Option<String>,
    /// The team states that the schema after this migration still serves the running version
    /// (expand/contract): during a canary or blue/green the old pods keep running against it.
    pub backward_compatible: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Canary {
    /// Traffic weights in percent, strictly increasing, ending at 100.
    pub steps: Vec<u32>,
    /// One pause after each step but the last.
    pub pauses: Vec<Pause>,
    /// 1-based position in `steps` from which background analysis runs.
    pub analysis_from_step: usize,
    pub max_surge: String,
}

#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pause {
    For(Duration),
    /// Waits for a person to promote.
    Manual,
}

#[derive(Debug, Clone, Serialize)]
pub struct BlueGreen {
    /// None: promote automatically unless the environment requires approval.
    pub auto_promote: Option<bool>,
    pub scale_down_delay: Duration,
    /// Pre-promotion check of the preview service (default: its readiness path).
    pub smoke_test: SmokeTest,
}

#[derive(Debug, Clone, Serialize)]
pub struct SmokeTest {
    /// Path requested on the preview service before promotion.
    pub path: String,
    pub image: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Slo {
    pub max_error_rate: Percent,
    pub p99_latency: Duration,
    pub prometheus: String,
    pub interval: Duration,
    /// Measurements per analysis run; unset = until the rollout completes (canary background analysis).
    pub count: Option<u32>,
    pub failure_limit: u32,
    pub initial_delay: Option<Duration>,
    /// The platform's Prometheus scrape interval.
    pub scrape_interval: Duration,
    /// Counter with `service`, `namespace`, `status` and `rollouts_pod_template_hash` labels.
    pub request_metric: String,
    /// Histogram (`_bucket`) with the same labels.
    pub latency_metric: String,
}

/// Prometheus' scrape interval where the platform does not say (kube-prometheus-stack's default).
pub const DEFAULT_SCRAPE_INTERVAL: Duration = Duration { millis: 30_000 };
/// The rendered readiness probe's period: a started pod is Ready within one period.
pub const READINESS_PERIOD: Duration = Duration { millis: 5_000 };

impl Service {
    /// How long after a new version's pods are created (canary), or start taking traffic
    /// (blue/green: the previews are Ready before the switch), its metrics can first be rated:
    /// the pods Ready (warm-up plus a readiness period), then two scrapes, as `rate()` needs two
    /// samples. An analysis measuring earlier finds no data, and Argo Rollouts aborts after five
    /// such errors in a row, ten seconds apart, even when the new version is good.
    pub fn metrics_delay(&self, strategy: StrategyKind) -> Duration {
        let ready = match strategy {
            StrategyKind::Canary => self.probes.warmup.millis + READINESS_PERIOD.millis,
            StrategyKind::BlueGreen => 0,
        };
        Duration { millis: ready + 2 * self.slo.scrape_interval.millis }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pdb {
    MinAvailable(String),
    MaxUnavailable(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct Hpa {
    pub cpu_target: u32,
}

/// How a service is built and delivered: which CI system, where its code lives, what it runs.
#[derive(Debug, Clone, Serialize)]
pub struct Ci {
    pub system: CiSystem,
    /// Who may assume the GitHub Actions CI role; CodePipelines always build `branch()`.
    pub trust: CiTrust,
    /// Where the CodePipeline takes the code from (GitHub Actions always run on GitHub).
    pub source: CiSource,
    /// Directory of the service inside its repository: docker build context, trigger path filter.
    pub path: String,
    /// Other directories whose changes also start a build (shared libraries, protos, a monorepo's
    /// common build files).
    pub shared_paths: Vec<String>,
    /// Unit tests, run in the service's directory before the image is built (CodePipeline).
    pub unit_tests: String,
    /// Integration tests against the first environment, with `BASE_URL` set (CodePipeline).
    pub integration_tests: String,
    /// k6 script (relative to `path`) run against the environment before the last (CodePipeline).
    pub load_test: String,
}

impl Ci {
    /// The branch builds start from.
    pub fn branch(&self) -> &str {
        match &self.trust {
            CiTrust::Branch(branch) => branch,
            CiTrust::Environment => DEFAULT_BRANCH,
        }
    }

    /// The path patterns of which a change must touch one to start a build: the service's
    /// directory and its shared paths. None: a repository of its own builds on every push.
    pub fn path_filters(&self) -> Option<Vec<String>> {
        (self.path != ".")
            .then(|| std::iter::once(&self.path).chain(&self.shared_paths).map(|dir| format!("{dir}/**")).collect())
    }
}

/// The branch builds start from when the CI role trusts GitHub environments instead of a branch.
pub const DEFAULT_BRANCH: &str = "main";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CiSystem {
    /// A workflow per service in `.github/workflows/`, assuming the CI role over GitHub OIDC.
    GithubActions,
    /// An AWS CodePipeline per service with CodeBuild projects, rendered and applied by glidepath.
    Codepipeline,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CiTrust {
    /// Workflows on this branch may assume the CI role.
    Branch(String),
    /// Jobs running in a GitHub environment named like the glidepath environment may.
    Environment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CiSource {
    /// The service's GitHub repository through the platform's CodeStar connection.
    Github,
    /// A CodeCommit repository of the platform's account named like the service's repository.
    Codecommit,
}
