//! Every block of the catalog and the fields it takes: the one table the decoder reads fields by
//! (`Fields::of` takes a `Block`, and asking for a field the table does not declare is a bug
//! caught by every test that decodes a catalog) and the JSON Schema is generated from.

use crate::catalog::model::{Delivery, NotifyEvent, PodSecurityLevel, Router, RELAXABLE, WAIVABLE};

/// A group of settings: `name { … }` in HCL, a mapping in YAML.
#[derive(Debug)]
pub struct Block {
    /// How the JSON Schema names its definition.
    pub id: &'static str,
    pub doc: &'static str,
    pub fields: &'static [Field],
}

#[derive(Debug)]
pub struct Field {
    pub name: &'static str,
    pub shape: Shape,
    /// Required when written in full; a service that `use`s a profile may get it from there.
    pub required: bool,
    pub doc: &'static str,
}

/// What a field's value looks like, as far as a schema can say without the rest of the catalog.
#[derive(Debug)]
pub enum Shape {
    Text,
    /// One of the names listed (model enums keep their own lists; the schema asks them).
    Choice(fn() -> Vec<String>),
    Int {
        min: i64,
        max: i64,
    },
    Number {
        min: f64,
    },
    Bool,
    /// "30s", "1m30s", "500ms"
    Duration,
    /// "1%", "0.5%"
    Percent,
    /// A whole number or "N%" (Kubernetes IntOrString)
    IntOrPercent,
    /// "250m", "1", "256Mi"
    Quantity,
    Texts,
    /// A list of names from `Choice`'s kind of list.
    Choices(fn() -> Vec<String>),
    Ints,
    /// A value for every environment, or `{ default = …, ENV = … }`.
    PerEnvironment(&'static Shape),
    Block(&'static Block),
    /// `kind "name" { … }` in HCL: a mapping of names to blocks.
    Named(&'static Block),
    /// A mapping from the listed keys to a reason.
    Reasons(fn() -> Vec<String>),
    /// A mapping of environment-variable names to text or a secret reference.
    EnvVars,
    /// `kind "IMAGE" { … }` in HCL: a mapping of image tags or sha256 digests to blocks.
    Images(&'static Block),
}

impl Block {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

const fn field(name: &'static str, shape: Shape, doc: &'static str) -> Field {
    Field { name, shape, required: false, doc }
}

const fn required(name: &'static str, shape: Shape, doc: &'static str) -> Field {
    Field { name, shape, required: true, doc }
}

fn strategies() -> Vec<String> {
    // What `StrategyKind::parse` accepts.
    names(&["canary", "blue_green", "blue-green", "bluegreen"])
}
fn routers() -> Vec<String> {
    Router::ALL.iter().map(|r| r.name().to_string()).collect()
}
fn delivery_modes() -> Vec<String> {
    Delivery::ALL.iter().map(|d| d.name().to_string()).collect()
}
fn pod_security_levels() -> Vec<String> {
    PodSecurityLevel::ALL.iter().map(|l| l.name().to_string()).collect()
}
fn deliveries() -> Vec<String> {
    Delivery::ALL.iter().map(|d| d.name().to_string()).collect()
}
fn events() -> Vec<String> {
    // `NotifyEvent::parse` takes the name or the Argo Rollouts trigger (on-NAME).
    NotifyEvent::ALL.iter().flat_map(|e| [e.name().to_string(), e.trigger()]).collect()
}
fn relaxable() -> Vec<String> {
    names(&RELAXABLE)
}
fn waivable() -> Vec<String> {
    names(&WAIVABLE)
}
fn spread_modes() -> Vec<String> {
    names(&["soft", "hard", "off"])
}
fn ci_systems() -> Vec<String> {
    names(&["github_actions", "codepipeline"])
}
fn ci_trusts() -> Vec<String> {
    names(&["branch", "environment"])
}
fn ci_sources() -> Vec<String> {
    names(&["github", "codecommit"])
}
fn alb_schemes() -> Vec<String> {
    names(&["internal", "internet-facing"])
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

const REPLICAS: Shape = Shape::Int { min: 1, max: 10_000 };
const PORT: Shape = Shape::Int { min: 1, max: 65_535 };
const POSITIVE: Shape = Shape::Int { min: 1, max: u32::MAX as i64 };

pub static CATALOG: Block = Block {
    id: "catalog",
    doc: "A glidepath catalog file. A catalog is every such file in a directory (and modules/ for profiles); \
          each file may hold any of these parts.",
    fields: &[
        field(
            "platform",
            Shape::Block(&PLATFORM),
            "The AWS account, region and GitHub organisation (exactly one per catalog).",
        ),
        field("clusters", Shape::Named(&CLUSTER), "EKS clusters by name."),
        field("environments", Shape::Named(&ENVIRONMENT), "Environments by name, in promotion order."),
        field("notifications", Shape::Named(&NOTIFICATION), "Notification routes by name."),
        field("profiles", Shape::Named(&PROFILE), "Reusable service settings by name (`use = \"NAME\"`)."),
        field("services", Shape::Named(&SERVICE), "Services by name."),
        field(
            "quarantines",
            Shape::Images(&QUARANTINE),
            "Images that must not be deployed again, by tag or sha256 digest (`glidepath rollback` in GitOps mode writes them).",
        ),
    ],
};

pub static QUARANTINE: Block = Block {
    id: "quarantine",
    doc: "An image the catalog may not name for the service in these environments until cleared.",
    fields: &[
        required("service", Shape::Text, "The service the image belongs to."),
        required("reason", Shape::Text, "Why it is quarantined (at least 15 characters)."),
        field("environments", Shape::Texts, "Where it may not run (default: every environment)."),
        field("cleared", Shape::Text, "Why it may run again (at least 15 characters); the entry then forbids nothing."),
    ],
};

pub static PLATFORM: Block = Block {
    id: "platform",
    doc: "Settings shared by every service.",
    fields: &[
        required("name", Shape::Text, "The catalog's name, a prefix of every AWS name, e.g. \"shop\"."),
        required("aws_account_id", Shape::Text, "The 12-digit AWS account id, quoted."),
        required("region", Shape::Text, "The AWS region, e.g. \"eu-west-1\"."),
        required("github_org", Shape::Text, "The GitHub organisation that owns the services' repositories."),
        field("ecr_keep_images", POSITIVE, "Tagged images each ECR repository keeps (default 30)."),
        field("ecr_untagged_days", POSITIVE, "Days before untagged images expire (default 7)."),
        field("log_retention_days", POSITIVE, "CloudWatch Logs retention in days (a value CloudWatch accepts)."),
        field("prometheus", Shape::Text, "The Prometheus URL analysis queries."),
        field("scrape_interval", Shape::Duration, "Prometheus' scrape interval, 1s to 10m (default 30s)."),
        field("codestar_connection", Shape::Text, "The CodeStar connection ARN CodePipeline reads GitHub through."),
        field("pipeline_image", Shape::Text, "The deployer image CodeBuild's deploy and test projects run."),
        field("glidepath_release", Shape::Text, "The https URL deploy jobs download glidepath from."),
        field("glidepath_sha256", Shape::Text, "The release binary's sha256 (64 hex digits), checked before use."),
        field(
            "delivery",
            Shape::Choice(delivery_modes),
            "How promotions reach clusters: push (deploy jobs apply, the default) or gitops (Argo CD syncs).",
        ),
        field(
            "promotion_token_secret",
            Shape::Text,
            "The GitHub secret deploy jobs push promotions with (default: the job's GITHUB_TOKEN).",
        ),
        field(
            "pipeline_promotion_token_secret",
            Shape::Text,
            "The AWS Secrets Manager secret (its name) holding a GitHub token with contents write on the catalog repository, which CodePipeline deploy projects push promotions with when their source is another repository.",
        ),
        field(
            "catalog_repo",
            Shape::Text,
            "OWNER/NAME of the repository holding the catalog and the gitops/ tree, where deploy jobs commit promotions (default: the one repository the GitHub Actions services build from).",
        ),
        field("traffic", Shape::Block(&TRAFFIC_SETTINGS), "The default traffic router and its settings."),
        field(
            "pod_security",
            Shape::Choice(pod_security_levels),
            "The Pod Security Standard pods meet (default restricted).",
        ),
    ],
};

pub static CLUSTER: Block = Block {
    id: "cluster",
    doc: "An EKS cluster.",
    fields: &[
        field("eks_name", Shape::Text, "The EKS cluster name (default: the block's name)."),
        field("region", Shape::Text, "The cluster's region (default: the platform's)."),
        field("oidc_issuer", Shape::Text, "The cluster's OIDC issuer URL, for IRSA roles."),
        field("kube_context", Shape::Text, "The kubeconfig context plan and apply use."),
    ],
};

pub static ENVIRONMENT: Block = Block {
    id: "environment",
    doc: "An environment: a namespace on a cluster.",
    fields: &[
        required("cluster", Shape::Text, "The cluster it runs on."),
        field("namespace", Shape::Text, "Its namespace (default: the block's name)."),
        field("strategy", Shape::Choice(strategies), "The default delivery strategy."),
        field("approval", Shape::Bool, "Promotion into it needs an approval."),
        field("aws_endpoint", Shape::Text, "An AWS endpoint override (tests, LocalStack)."),
        field("enforce_limits", Shape::Bool, "`check` fails on a limit exceeded here (default: approval)."),
        field("traffic", Shape::Block(&TRAFFIC_SETTINGS), "The traffic router here, over the platform's."),
        field("pod_security", Shape::Choice(pod_security_levels), "The Pod Security Standard here."),
        field(
            "delivery",
            Shape::Choice(deliveries),
            "push (default: `apply` writes the cluster) or gitops (Argo CD syncs the rendered tree).",
        ),
    ],
};

pub static NOTIFICATION: Block = Block {
    id: "notification",
    doc: "Where rollout events go.",
    fields: &[
        field("slack", Shape::Text, "A Slack channel."),
        field("webhook", Shape::Text, "A webhook URL."),
        field("email", Shape::Texts, "E-mail addresses (SNS subscriptions)."),
        field("https", Shape::Texts, "HTTPS endpoints (SNS subscriptions)."),
        field("events", Shape::Choices(events), "Rollout events sent (default: aborted, degraded, completed)."),
    ],
};

pub static TRAFFIC_SETTINGS: Block = Block {
    id: "traffic-settings",
    doc: "Which router splits traffic, and its settings.",
    fields: &[
        field("router", Shape::Choice(routers), "The router (default none: split by pod counts)."),
        field("domain", Shape::Text, "Hosts default to SERVICE.DOMAIN."),
        field("gateway", Shape::Text, "NAMESPACE/NAME of the Gateway HTTPRoutes attach to (gateway-api)."),
        field("ingress_class", Shape::Text, "The ALB IngressClass (alb)."),
        field("scheme", Shape::Choice(alb_schemes), "The ALB scheme (alb)."),
        field("certificate", Shape::Text, "An ACM certificate ARN (alb)."),
    ],
};

/// A service's fields; a profile takes the same ones, none required.
const SERVICE_FIELDS: &[Field] = &[
    field("use", Shape::Text, "The profile these settings are merged over."),
    required("repo", Shape::Text, "The GitHub repository, OWNER/NAME or NAME."),
    required("team", Shape::Text, "The owning team (a label value)."),
    field("tier", Shape::Int { min: 1, max: 3 }, "1 business critical, 2 important, 3 best effort (default)."),
    field("ecr_repository", Shape::Text, "The ECR repository (default PLATFORM/SERVICE)."),
    required("port", PORT, "The container's HTTP port."),
    field("environments", Shape::Texts, "The environments it deploys to (default: all)."),
    field("replicas", Shape::PerEnvironment(&REPLICAS), "Replicas (default 2)."),
    required("image_tag", Shape::PerEnvironment(&Shape::Text), "The image tag or digest (sha256:…) per environment."),
    field(
        "strategy",
        Shape::PerEnvironment(&Shape::Choice(strategies)),
        "canary or blue_green, over the environment's.",
    ),
    field("resources", Shape::Block(&RESOURCES), "CPU and memory."),
    field("probes", Shape::Block(&PROBES), "Readiness and liveness probes."),
    field("migrations", Shape::Block(&MIGRATIONS), "The database migration run once per version."),
    field("canary", Shape::Block(&CANARY), "Canary steps."),
    field("blue_green", Shape::Block(&BLUE_GREEN), "Blue/green settings."),
    field("slo", Shape::Block(&SLO), "What analysis measures."),
    field("pdb", Shape::Block(&PDB), "The PodDisruptionBudget."),
    field("hpa", Shape::Block(&HPA), "A HorizontalPodAutoscaler."),
    field("notify", Shape::Texts, "Notification routes."),
    field("env", Shape::EnvVars, "Environment variables: text, or { secret = …, key = … }."),
    field("ci", Shape::Block(&CI), "How it is built and promoted."),
    field("aws_policies", Shape::Texts, "IAM policy ARNs for its IRSA role."),
    field("limits", Shape::Block(&LIMITS), "Safety limits `check` enforces."),
    field("waivers", Shape::Reasons(waivable), "Limits waived, each with a reason."),
    field("expected_rps", Shape::PerEnvironment(&Shape::Number { min: 0.0 }), "Usual requests per second."),
    field("security", Shape::Block(&SECURITY), "Pod hardening and its relaxations."),
    field("spread", Shape::Block(&SPREAD), "Topology spread."),
    field("traffic", Shape::Block(&SERVICE_TRAFFIC), "Hosts, header routes and mirroring."),
];

pub static SERVICE: Block =
    Block { id: "service", doc: "A service delivered to its environments.", fields: SERVICE_FIELDS };

pub static PROFILE: Block =
    Block { id: "profile", doc: "Service settings shared by `use = \"NAME\"`.", fields: SERVICE_FIELDS };

pub static RESOURCES: Block = Block {
    id: "resources",
    doc: "Container resources.",
    fields: &[
        field("cpu", Shape::Quantity, "CPU request (default 250m)."),
        field("memory", Shape::Quantity, "Memory request and limit (default 256Mi)."),
        field("cpu_limit", Shape::Quantity, "CPU limit (default none)."),
        field("memory_limit", Shape::Quantity, "Memory limit (default: the request)."),
    ],
};

pub static PROBES: Block = Block {
    id: "probes",
    doc: "HTTP probes.",
    fields: &[
        field("readiness", Shape::Text, "Readiness path, e.g. \"/health/ready\" (required to route traffic)."),
        field("liveness", Shape::Text, "Liveness path."),
        field("port", PORT, "Probe port (default: the service's)."),
        field("warmup", Shape::Duration, "Time before probes start, up to 1h (default 10s)."),
    ],
};

pub static MIGRATIONS: Block = Block {
    id: "migrations",
    doc: "A migration Job run once per version before traffic.",
    fields: &[
        required("command", Shape::Texts, "The migration command, e.g. [\"flyway\", \"migrate\"]."),
        field("secret", Shape::Text, "The Secret holding the database credentials."),
        field("backward_compatible", Shape::Bool, "The running version keeps working after it (expand/contract)."),
    ],
};

pub static CANARY: Block = Block {
    id: "canary",
    doc: "Canary steps.",
    fields: &[
        field("steps", Shape::Ints, "Traffic weights, increasing, up to 100."),
        field("pauses", Shape::Texts, "A pause after each step: a duration or \"manual\"."),
        field("analysis_from_step", POSITIVE, "The step analysis starts at."),
        field("max_surge", Shape::IntOrPercent, "Extra pods during the update."),
    ],
};

pub static BLUE_GREEN: Block = Block {
    id: "blue-green",
    doc: "Blue/green settings.",
    fields: &[
        field("auto_promote", Shape::Bool, "Promote after analysis without a manual step."),
        field("scale_down_delay", Shape::Duration, "How long the old version stays after the switch."),
        field("smoke_test", Shape::Block(&SMOKE_TEST), "A request made to the preview before promotion."),
    ],
};

pub static SMOKE_TEST: Block = Block {
    id: "smoke-test",
    doc: "The pre-promotion smoke test.",
    fields: &[
        field("path", Shape::Text, "The path requested."),
        field("image", Shape::Text, "The image making the request."),
    ],
};

pub static SLO: Block = Block {
    id: "slo",
    doc: "What analysis measures and when it fails.",
    fields: &[
        field("max_error_rate", Shape::Percent, "Highest acceptable error rate."),
        field("p99_latency", Shape::Duration, "Highest acceptable p99 latency."),
        field("prometheus", Shape::Text, "The Prometheus URL (over the platform's)."),
        field("interval", Shape::Duration, "Time between measurements."),
        field("count", POSITIVE, "Measurements per analysis."),
        field("failure_limit", Shape::Int { min: 0, max: i32::MAX as i64 }, "Failed measurements tolerated."),
        field("initial_delay", Shape::Duration, "Time before the first measurement."),
        field("request_metric", Shape::Text, "The request counter's metric name."),
        field("latency_metric", Shape::Text, "The latency histogram's metric name."),
    ],
};

pub static PDB: Block = Block {
    id: "pdb",
    doc: "The PodDisruptionBudget: one of the two.",
    fields: &[
        field("min_available", Shape::IntOrPercent, "Pods that must stay up."),
        field("max_unavailable", Shape::IntOrPercent, "Pods that may be evicted at once."),
    ],
};

pub static HPA: Block = Block {
    id: "hpa",
    doc: "Autoscaling on CPU.",
    fields: &[
        field("cpu_target", Shape::Int { min: 1, max: 100 }, "Target CPU utilisation in percent."),
        required("max_replicas", Shape::PerEnvironment(&REPLICAS), "Upper bound per environment."),
    ],
};

pub static CI: Block = Block {
    id: "ci",
    doc: "How the service is built and promoted.",
    fields: &[
        field("system", Shape::Choice(ci_systems), "github_actions (default) or codepipeline."),
        field("trust", Shape::Choice(ci_trusts), "What the CI role trusts: a branch or GitHub environments."),
        field("branch", Shape::Text, "The branch builds run from (default main)."),
        field("source", Shape::Choice(ci_sources), "Where CodePipeline reads the source."),
        field("path", Shape::Text, "The service's folder in a shared repository (\".\" for its own)."),
        field("shared_paths", Shape::Texts, "Other folders whose changes rebuild it."),
        field("unit_tests", Shape::Text, "The unit-test command."),
        field("integration_tests", Shape::Text, "The integration-test command."),
        field("load_test", Shape::Text, "The load-test command."),
    ],
};

pub static LIMITS: Block = Block {
    id: "limits",
    doc: "Safety limits `check` enforces.",
    fields: &[
        field("max_rollback", Shape::Duration, "Longest time a bad version may take to roll back."),
        field("max_exposure", Shape::Percent, "Largest share of traffic a bad version may see."),
        field("min_pdb", Shape::Percent, "Smallest share of pods a budget keeps."),
        field("max_deploy_time", Shape::Duration, "Longest rollout."),
    ],
};

pub static SECURITY: Block = Block {
    id: "security",
    doc: "Pod hardening (the restricted Pod Security Standard by default).",
    fields: &[
        field("run_as_user", Shape::Int { min: 1, max: i32::MAX as i64 }, "The non-root user id."),
        field("relax", Shape::Reasons(relaxable), "Hardening settings relaxed, each with a reason."),
    ],
};

pub static SPREAD: Block = Block {
    id: "spread",
    doc: "Topology spread constraints.",
    fields: &[
        field("zone", Shape::Choice(spread_modes), "Across zones (default soft)."),
        field("node", Shape::Choice(spread_modes), "Across nodes (default soft)."),
    ],
};

pub static SERVICE_TRAFFIC: Block = Block {
    id: "service-traffic",
    doc: "A service's routing.",
    fields: &[
        field("router", Shape::Choice(routers), "The router, over the environment's."),
        field("hosts", Shape::Texts, "Host names routed to it."),
        field("header_route", Shape::Block(&HEADER_ROUTE), "Requests with this header go to the canary (istio)."),
        field("mirror", Shape::Percent, "Share of requests copied to the canary (istio), 1% to 100%."),
    ],
};

pub static HEADER_ROUTE: Block = Block {
    id: "header-route",
    doc: "A header that selects the canary.",
    fields: &[
        required("name", Shape::Text, "The header's name."),
        required("value", Shape::Text, "The value that selects the canary."),
    ],
};

pub static SECRET_REF: Block = Block {
    id: "secret-ref",
    doc: "A key of a Secret in the service's namespace.",
    fields: &[required("secret", Shape::Text, "The Secret's name."), required("key", Shape::Text, "The key in it.")],
};
