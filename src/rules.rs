//! Every rule glidepath reports, declared once with its code, where it is found, its severity
//! and its documentation: what it finds, why that matters, and the fix.
//!
//! Catalog problems (`Problem::new`) and `check` findings take a rule from here, and a [`Code`]
//! can only be made by this module, so an unregistered code cannot be reported. `tests/rules.rs`
//! holds every rule to a fixture that triggers it and an entry in the README;
//! `glidepath explain CODE` prints a rule's documentation.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::check::Severity;

/// A registered rule's stable code, such as `catalog::unknown-field`. Users, CI logs and
/// snapshots match on these strings: never change one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Code(&'static str);

impl Code {
    pub const fn as_str(self) -> &'static str {
        self.0
    }

    /// The rule this code belongs to.
    pub fn rule(self) -> &'static Rule {
        lookup(self.0).expect("a Code is only made for a registered rule")
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.0)
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

impl PartialEq<str> for Code {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// Which part of glidepath finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Catalog validation (`validate`, and first in every command): the catalog is rejected and
    /// nothing is rendered or changed. Codes `catalog::…`.
    Validation,
    /// `check`'s safety report against the service's tier limits. Codes `check::…`.
    Limits,
    /// `check`'s policy checks of the rendered artifacts. Codes `policy::…`.
    Policy,
}

impl Stage {
    /// The prefix of this stage's codes.
    pub fn prefix(self) -> &'static str {
        match self {
            Stage::Validation => "catalog::",
            Stage::Limits => "check::",
            Stage::Policy => "policy::",
        }
    }
}

/// One rule, Ruff-style: a stable code and what a user needs to act on it.
#[derive(Debug)]
pub struct Rule {
    pub code: Code,
    pub stage: Stage,
    /// How it is reported. Validation problems are always errors; a limit breach is an error
    /// where the environment enforces limits (and only reported there).
    pub severity: Severity,
    /// The `waivers { KEY = "reason" }` key that accepts it, for limits a service may waive.
    pub waiver: Option<&'static str>,
    /// What it finds.
    pub what: &'static str,
    /// Why that matters.
    pub why: &'static str,
    /// How to fix it.
    pub fix: &'static str,
}

impl Rule {
    /// The rule's documentation as `glidepath explain` prints it.
    pub fn explain(&self) -> String {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let stage = match self.stage {
            Stage::Validation => "catalog validation (every command)",
            Stage::Limits => "`glidepath check`, safety report against the tier limits",
            Stage::Policy => "`glidepath check`, policy check of the rendered artifacts",
        };
        let mut text = format!(
            "{} ({severity}, {stage})\n\nWhat it finds: {}\n\nWhy it matters: {}\n\nFix: {}\n",
            self.code, self.what, self.why, self.fix
        );
        if let Some(key) = self.waiver {
            text.push_str(&format!("\nWaivable: `waivers {{ {key} = \"why this is acceptable, until when\" }}`\n"));
        }
        text
    }
}

/// The rule with this code, if there is one.
pub fn lookup(code: &str) -> Option<&'static Rule> {
    ALL.iter().copied().find(|rule| rule.code.0 == code)
}

/// Declares each rule once: a constant named after it, and its place in [`ALL`].
macro_rules! rules {
    ($(
        $name:ident {
            code: $code:literal,
            stage: $stage:ident,
            severity: $severity:ident,
            waiver: $waiver:expr,
            what: $what:literal,
            why: $why:literal,
            fix: $fix:literal $(,)?
        }
    )*) => {
        $(
            #[doc = concat!("`", $code, "`: ", $what)]
            pub const $name: &Rule = &Rule {
                code: Code($code),
                stage: Stage::$stage,
                severity: Severity::$severity,
                waiver: $waiver,
                what: $what,
                why: $why,
                fix: $fix,
            };
        )*
        /// Every rule, in the order of the README's tables.
        pub const ALL: &[&Rule] = &[$($name),*];
    };
}

rules! {
    // ── Catalog validation ──────────────────────────────────────────────────────────────────
    SYNTAX {
        code: "catalog::syntax",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "The file is not valid HCL or YAML, or uses what a plain-data catalog rejects: several labels on a block or a label where none belongs, a bare word, an expression, interpolation or function call, a non-string key, an unknown YAML alias.",
        why: "Nothing in the file can be trusted; glidepath stops there rather than report every declaration the file hides as missing.",
        fix: "Correct the text at the caret and write values as literals: quoted strings, no `${…}`, no functions.",
    }
    UNREADABLE_FILE {
        code: "catalog::unreadable-file",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "A catalog or modules/ file that cannot be read: a dangling or looping symlink, a file without read permission, text that is not UTF-8.",
        why: "Skipping it would drop everything it declares, and the next plan would delete all of it.",
        fix: "Point the symlink at an existing file, make the file readable, or save it as UTF-8; remove it if it is not part of the catalog.",
    }
    WRONG_TYPE {
        code: "catalog::wrong-type",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "A value of the wrong type (a string where a number is expected, a list where a block is expected, …), or group entries that are not named blocks.",
        why: "glidepath never coerces a value: a guess at what was meant would deploy something nobody wrote.",
        fix: "Write the type the catalog reference gives for the field.",
    }
    UNKNOWN_FIELD {
        code: "catalog::unknown-field",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "A field that does not exist in this block.",
        why: "A misspelt field would be ignored and its default used: `replica = 12` would deploy 2 pods.",
        fix: "Use the suggested spelling, or remove the field.",
    }
    DUPLICATE {
        code: "catalog::duplicate",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "The same field is set twice in one block.",
        why: "Only one value can win, and which one was meant is a guess.",
        fix: "Keep one of them.",
    }
    DUPLICATE_NAME {
        code: "catalog::duplicate-name",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "Two services, environments, clusters or notifications with the same name, or a profile declared twice in the catalog.",
        why: "Names become Kubernetes objects, AWS resources and state addresses: two with one name would overwrite each other.",
        fix: "Rename or remove one; the help line says where the other is.",
    }
    MISSING_FIELD {
        code: "catalog::missing-field",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "Something required is missing: the `platform` block, any environment, a required field, an `image_tag` for a deployed environment, a limit in a `pdb` block, `max_replicas` of an `hpa` for an environment, or the platform's `codestar_connection` or `pipeline_image` a CodePipeline service needs.",
        why: "It cannot be rendered without it, and glidepath does not invent values that decide what runs where.",
        fix: "Add the field the message names.",
    }
    INVALID_NAME {
        code: "catalog::invalid-name",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "A name that is not a DNS-1123 label, a catalog name over 20 characters, a service name not starting with a letter, or a bad namespace, secret or env var name.",
        why: "Names end up in Kubernetes objects, namespaces and AWS resource names, which would reject them halfway through an apply.",
        fix: "Use lowercase letters, digits and `-`, starting with a letter.",
    }
    NAME_TOO_LONG {
        code: "catalog::name-too-long",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "A name glidepath derives is over its limit: an IAM role or EventBridge rule name over 64 characters, or `SERVICE-preview` over 63.",
        why: "AWS or Kubernetes would reject it at apply time, after other resources were already created.",
        fix: "Shorten the platform or service name.",
    }
    INVALID_ECR_NAME {
        code: "catalog::invalid-ecr-name",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "`ecr_repository` is not a valid ECR repository name.",
        why: "ECR would refuse to create the repository the service's CI pushes to.",
        fix: "Use lowercase `/`-separated segments of letters, digits, `.`, `_` and `-`, such as `shop/cart`.",
    }
    MALFORMED_VALUE {
        code: "catalog::malformed-value",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "A value of the right type in the wrong form: an account id, region, URL, email, event, duration, percentage, quantity, probe path, repo, image tag, strategy, max_surge, pdb value, branch or ARN; an empty migration or test command; an unknown `ci.system` or `ci.source`, a `ci.path` outside the repository, or a `ci` setting the chosen CI system cannot use.",
        why: "AWS, Kubernetes or Argo Rollouts would reject or misread it later, far from the line that caused it.",
        fix: "Write the value in the form the help line shows.",
    }
    CONTROL_CHARACTER {
        code: "catalog::control-character",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "A string holds a newline, tab or other control character (C0/C1, DEL, U+2028/U+2029, BOM), or a map key does.",
        why: "Catalog strings end up in YAML, labels, CODEOWNERS lines, shell variables and URLs: a line break there adds a key, a rule or a command nobody wrote.",
        fix: "Write the value on one line without control characters.",
    }
    CATALOG_PLAINTEXT_SECRET {
        code: "catalog::secret-in-catalog",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "A secret written in the catalog: an env var whose name says secret (PASSWORD, SECRET, TOKEN, KEY, …) with a literal value, or any value that looks like one (`sk_live_…`, an AWS key id, a Slack or GitHub token, a private key, a URL with `user:password@` or a `token=` query).",
        why: "The catalog, the rendered files, plans, state and CI logs are read by many people and kept for years; a secret there is leaked.",
        fix: "Keep the value in a Kubernetes Secret (`env = { DB_PASSWORD = { secret = \"NAME\", key = \"KEY\" } }`, `migrations.secret`) or, for webhooks, `$key` from the notification secret.",
    }
    OUT_OF_RANGE {
        code: "catalog::out-of-range",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "A number outside its range: a tier outside 1–3, a port outside 1–65535, replicas below 1, `analysis_from_step` outside the steps, `cpu_target` outside 1–100, `max_replicas` below replicas, a negative `failure_limit`, an int that must be at least 1, a `log_retention_days` that is not one of the retention periods CloudWatch Logs accepts.",
        why: "The rendered rollout, autoscaler or analysis could not run as written, or AWS would refuse the value at apply time.",
        fix: "Use a value in the range the message gives.",
    }
    MUTABLE_TAG {
        code: "catalog::mutable-tag",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "`image_tag` is `latest`.",
        why: "ECR repositories are IMMUTABLE and a rollout starts only when the pod template changes: `latest` can be neither pushed again nor rolled out, and nobody can tell which version runs.",
        fix: "Tag each release with a version or a commit SHA.",
    }
    MISSING_READINESS {
        code: "catalog::missing-readiness",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "A service has no `probes` block, or no `readiness` probe in it.",
        why: "Without a readiness probe, traffic and canary weight reach pods before they can serve, and check's timings mean nothing.",
        fix: "Add `probes { readiness = \"/ready\" }` with the service's readiness path.",
    }
    CANARY_STEPS {
        code: "catalog::canary-steps",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "Canary steps are empty, a weight is outside 1–100, the weights do not strictly increase, or the last is not 100.",
        why: "The rollout would never reach full traffic, or would step back.",
        fix: "List increasing weights that end at 100, such as `[10, 50, 100]`.",
    }
    CANARY_PAUSES {
        code: "catalog::canary-pauses",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "The number of canary pauses is not the number of steps minus one.",
        why: "Each pause sits between two steps: with a different count, which step waits how long is a guess.",
        fix: "Give one pause per gap between steps, or leave `pauses` unset for 2m each.",
    }
    PDB_CONFLICT {
        code: "catalog::pdb-conflict",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "A `pdb` block sets both `min_available` and `max_unavailable`.",
        why: "A PodDisruptionBudget takes only one of them; Kubernetes would reject it.",
        fix: "Keep one of the two.",
    }
    UNKNOWN_CLUSTER {
        code: "catalog::unknown-cluster",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "An environment names a cluster no `cluster` block declares.",
        why: "glidepath would not know where to deploy the environment or which EKS cluster its CI may reach.",
        fix: "Declare the cluster, or use the name of a declared one.",
    }
    UNKNOWN_ENVIRONMENT {
        code: "catalog::unknown-environment",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "`environments`, a per-env map key or an `hpa.max_replicas` key names an environment the catalog does not declare.",
        why: "A setting for an environment that does not exist does nothing; it is usually a typo for one that does.",
        fix: "Use the name of a declared environment (or `default` in a per-env map).",
    }
    UNKNOWN_PROFILE {
        code: "catalog::unknown-profile",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "`use` names no built-in, `modules/` or catalog profile.",
        why: "The service would lose the canary, SLO and tier limits it meant to take from the profile.",
        fix: "Use `critical`, `standard`, `internal` or a declared profile.",
    }
    UNKNOWN_ROUTE {
        code: "catalog::unknown-route",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "`notify` names a notification route the catalog does not declare.",
        why: "Rollback and failed-analysis notifications would go nowhere.",
        fix: "Declare the `notification` route, or use the name of a declared one.",
    }
    NAMESPACE_CLASH {
        code: "catalog::namespace-clash",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "Two environments use the same namespace on the same cluster.",
        why: "Their objects would have the same names: deploying to one environment would overwrite the other.",
        fix: "Give one of them its own `namespace`.",
    }
    EMPTY_ROUTE {
        code: "catalog::empty-route",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "A notification route with no destination: no `slack`, `webhook`, `email` or `https`.",
        why: "Services that notify the route look covered, but nobody hears of their rollbacks.",
        fix: "Set at least one of `slack`, `webhook`, `email` or `https`.",
    }
    PROFILE_CHAIN {
        code: "catalog::profile-chain",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "A profile contains `use`.",
        why: "Profiles do not stack; a chain would hide where a service's settings come from.",
        fix: "Copy the settings you need into this profile and remove `use`.",
    }
    MODULE_CONTENT {
        code: "catalog::module-content",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "A file in `modules/` declares something other than profiles.",
        why: "`modules/` holds shared profiles only; a service or environment there would look declared but belong to no catalog.",
        fix: "Move it into the catalog files.",
    }
    LIMITS_IN_SERVICE {
        code: "catalog::limits-in-service",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "A service sets its own `limits`.",
        why: "Tier limits come from the profile so that a team cannot loosen its own tier; an exception is a waiver, which gives a reason.",
        fix: "Remove `limits` from the service; to accept a breach, add a reasoned `waivers { … }` entry.",
    }
    UNKNOWN_WAIVER {
        code: "catalog::unknown-waiver",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "A `waivers` key that is not a waivable limit (`rollback`, `exposure`, `pdb`, `deploy_time`, `detectability`, `drain`).",
        why: "A misspelt waiver waives nothing: the breach still fails check, or the waiver outlives what it meant to accept.",
        fix: "Use the suggested key, or remove the entry.",
    }
    UNREASONED_WAIVER {
        code: "catalog::unreasoned-waiver",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "A waiver whose reason is shorter than 15 characters.",
        why: "A waiver accepts a risk on purpose: its reason is what reviewers read and what says when it can go.",
        fix: "Say why the breach is acceptable and until when, e.g. \"12 replicas until the ALB router lands (PLAT-142)\".",
    }
    QUARANTINED_IMAGE {
        code: "catalog::quarantined-image",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "A service's `image_tag` names, for an environment, an image a `quarantine` entry in force forbids there (one `glidepath rollback` took out of a GitOps environment, or one put there by hand).",
        why: "In GitOps mode Argo CD deploys whatever the rendered tree names: a rolled-back version the catalog names again is deployed again by the next sync.",
        fix: "Name another version; or, once the image is known good, clear the entry with a reason: `glidepath quarantine clear IMAGE --service SERVICE --reason \"…\"` (it writes `cleared = \"…\"`).",
    }
    UNKNOWN_RELAXATION {
        code: "catalog::unknown-relaxation",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "A `security.relax` key that is not a hardening setting (`run_as_root`, `privilege_escalation`, `capabilities`, `seccomp`, `writable_root_filesystem`, `service_account_token`).",
        why: "A misspelt relaxation relaxes nothing: the pod stays hardened and fails in a way its team did not expect.",
        fix: "Use the suggested key, or remove the entry.",
    }
    UNREASONED_RELAXATION {
        code: "catalog::unreasoned-relaxation",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "A `security.relax` entry whose reason is shorter than 15 characters.",
        why: "A relaxation weakens a pod's isolation on purpose: its reason is what reviewers read and what says when it can go.",
        fix: "Say why the pod needs it and until when, e.g. \"the image runs nginx as root until PLAT-311 rebuilds it\".",
    }
    POD_SECURITY_CONFLICT {
        code: "catalog::pod-security-conflict",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "A service relaxes `run_as_root`, `privilege_escalation`, `capabilities` or `seccomp` and is deployed to an environment whose namespace enforces the restricted Pod Security Standard (`pod_security`, default `restricted`).",
        why: "The apiserver's PodSecurity admission refuses every pod of the service there, so the rollout never starts.",
        fix: "Set `pod_security = \"baseline\"` on those environments (or the platform), or drop the relaxation.",
    }
    ROUTER_SETTINGS {
        code: "catalog::router-settings",
        stage: Validation,
        severity: Error,
        waiver: None,
        what: "`traffic` settings that do not fit the router in force: a setting of another router (`gateway` without istio or gateway-api; `ingress_class`, `scheme` or `certificate` without alb), a gateway-api router without a `gateway`, an Istio gateway route without hosts, or a `header_route` or `mirror` on a service none of whose environments routes with istio.",
        why: "The router would ignore the setting or refuse the route, so the canary would get traffic in a way nobody reviewed — or none at all.",
        fix: "Choose the router that has the feature, or remove the setting; the message names which routers support it.",
    }

    // ── check: the safety report against tier limits ────────────────────────────────────────
    ANALYSIS_ERRORS_BEFORE_DATA {
        code: "check::analysis-errors-before-data",
        stage: Limits,
        severity: Error,
        waiver: None,
        what: "More than `consecutiveErrorLimit` measurements come before the new version's metrics can be rated: an `slo.initial_delay` shorter than `warmup + 5s + 2 × scrape_interval`. Reported in every environment and not waivable.",
        why: "Argo Rollouts counts each no-data measurement as an error and aborts every version, good ones too.",
        fix: "Raise `slo.initial_delay`, or leave it unset so glidepath computes it.",
    }
    ROLLBACK_OVER_LIMIT {
        code: "check::rollback-over-limit",
        stage: Limits,
        severity: Error,
        waiver: Some("rollback"),
        what: "The rollback bound is over the tier's `max_rollback`, or there is none (analysis ends before a breach can be seen, or a manual pause comes first).",
        why: "A bad deploy hurts users for longer than the tier allows.",
        fix: "Start analysis earlier (`analysis_from_step`), measure more often (`slo.interval`) or tolerate fewer failures (`slo.failure_limit`).",
    }
    EXPOSURE_OVER_LIMIT {
        code: "check::exposure-over-limit",
        stage: Limits,
        severity: Error,
        waiver: Some("exposure"),
        what: "A bad version gets more traffic than the tier's `max_exposure` before analysis can fail it.",
        why: "Too many users see a bad version before it can be stopped.",
        fix: "Lower the first canary weight and add replicas so one pod carries less (without a traffic router a weight is carried by whole pods).",
    }
    PDB_BELOW_LIMIT {
        code: "check::pdb-below-limit",
        stage: Limits,
        severity: Error,
        waiver: Some("pdb"),
        what: "The PodDisruptionBudget keeps less than the tier's `min_pdb` of the pods.",
        why: "A node drain can take too much capacity at once.",
        fix: "Raise `pdb.min_available` or lower `pdb.max_unavailable`.",
    }
    DEPLOY_TIME_OVER_BUDGET {
        code: "check::deploy-time-over-budget",
        stage: Limits,
        severity: Error,
        waiver: Some("deploy_time"),
        what: "Automated promotion takes longer than the tier's `max_deploy_time` (manual gates not counted).",
        why: "Slow pipelines get bypassed.",
        fix: "Shorten the canary pauses or use fewer steps.",
    }
    DRAIN_DEADLOCK {
        code: "check::drain-deadlock",
        stage: Limits,
        severity: Error,
        waiver: Some("drain"),
        what: "The PodDisruptionBudget allows no voluntary eviction at the environment's replica count, e.g. `minAvailable: 80%` of 4 replicas (rounded up: all 4). Reported in every environment: an error where the environment enforces limits, a warning elsewhere.",
        why: "Node drains, and with them cluster upgrades, hang.",
        fix: "Run the replica count the message names, or set `pdb { max_unavailable = \"N%\" }`, which Kubernetes rounds up so one pod may always go.",
    }
    MIGRATION_NOT_COMPATIBLE {
        code: "check::migration-not-compatible",
        stage: Limits,
        severity: Error,
        waiver: None,
        what: "A canary or blue/green service with `migrations` that are not declared `backward_compatible = true`. The migration Job runs before the new version takes traffic, while the old version's pods keep serving through the whole canary (or until the blue/green switch), and an aborted rollout returns traffic to them.",
        why: "If the old version cannot run against the migrated schema, the rollout breaks production before analysis can judge the new version, and rolling back does not undo the migration.",
        fix: "Make the migration additive (expand now, contract in a later version once no running version needs the old schema) and declare it: `migrations { backward_compatible = true }`.",
    }
    WEIGHT_UNREACHABLE {
        code: "check::weight-unreachable",
        stage: Limits,
        severity: Warning,
        waiver: Some("exposure"),
        what: "A canary `setWeight` the replica count cannot carry: without a traffic router a weight is whole pods.",
        why: "The step exposes more users than it says.",
        fix: "Choose weights that are multiples of one pod's share, or add replicas.",
    }
    ANALYSIS_ENDS_EARLY {
        code: "check::analysis-ends-early",
        stage: Limits,
        severity: Warning,
        waiver: Some("rollback"),
        what: "A counted analysis (`slo.count`) ends before full promotion.",
        why: "The later, larger steps are not watched: a breach there is never rolled back.",
        fix: "Leave `slo.count` unset so the canary's analysis runs until the rollout ends, or raise it.",
    }
    BLIND_ANALYSIS {
        code: "check::blind-analysis",
        stage: Limits,
        severity: Warning,
        waiver: Some("detectability"),
        what: "An analysis window sees too few requests of the new version to tell the max error rate from zero (under 3 expected errors).",
        why: "A broken version passes analysis.",
        fix: "Lengthen `slo.interval`, raise the first canary weight, or check `expected_rps`.",
    }
    ANALYSIS_NO_DATA {
        code: "check::analysis-no-data",
        stage: Limits,
        severity: Warning,
        waiver: Some("detectability"),
        what: "An analysis window sees under one request of the new version.",
        why: "Measurements return no data and error instead of judging the version.",
        fix: "Lengthen `slo.interval`, raise the first canary weight, or check `expected_rps`.",
    }

    // ── check: policies of the rendered artifacts ───────────────────────────────────────────
    CI_TRUST_MISMATCH {
        code: "policy::ci-trust-mismatch",
        stage: Policy,
        severity: Error,
        waiver: None,
        what: "The CI role trusts other subjects than the service's CI presents; as a warning, a tier-1 service trusting a branch while it deploys to an environment with approval.",
        why: "Mismatches are how teams end up widening trust to `repo:*`; a branch can assume the role without the environment's reviewers.",
        fix: "Do not edit rendered roles; for a tier-1 service use `ci { trust = \"environment\" }`.",
    }
    WILDCARD_TRUST {
        code: "policy::wildcard-trust",
        stage: Policy,
        severity: Error,
        waiver: None,
        what: "A wildcard or `StringLike` in a CI role's trust condition.",
        why: "Any repository or branch could assume the role.",
        fix: "Name the repository and branch or environment exactly: render the role again instead of editing it.",
    }
    CI_IDENTITY_REJECTED {
        code: "policy::ci-identity-rejected",
        stage: Policy,
        severity: Error,
        waiver: None,
        what: "A rendered GitHub Actions job whose OIDC token the role it assumes would refuse: the subject GitHub issues the job (its GitHub environment, else the branch, tag or pull request it runs for) and the audience, evaluated against the role's trust conditions (StringEquals, StringLike).",
        why: "The job fails at `configure-aws-credentials` on its first run, after the merge, with an STS error that does not say which claim was refused.",
        fix: "Render the workflow and the role from the same catalog and do not edit either; a service with `ci { trust = \"environment\" }` needs at least one environment for its build job to run in, or use `trust = \"branch\"`.",
    }
    CATALOG_REPO_UNWRITABLE {
        code: "policy::catalog-repo-unwritable",
        stage: Policy,
        severity: Error,
        waiver: None,
        what: "Deploy jobs that cannot commit their promotion to the catalog repository: services build from several repositories and `platform.catalog_repo` is unset, or a service builds from another repository than the catalog's and no `platform.promotion_token_secret` is named (a job's GITHUB_TOKEN writes only its own repository), or a CodePipeline service's source is not the catalog repository (CodeCommit, or another GitHub repository) and no `platform.pipeline_promotion_token_secret` is named (CodeBuild holds a credential for its source only).",
        why: "The promotion step fails on the first push, or each service commits to its own copy of the catalog, which neither `apply` nor Argo CD reads.",
        fix: "Set `platform { catalog_repo = \"ORG/REPO\" }` to the repository holding the catalog (and `gitops/`), `promotion_token_secret` to a GitHub secret holding a GitHub App or fine-grained token with contents and pull-requests write on it, and, for CodePipeline services building elsewhere, `pipeline_promotion_token_secret` to an AWS Secrets Manager secret holding a token with contents write on it.",
    }
    WILDCARD_ACTION {
        code: "policy::wildcard-action",
        stage: Policy,
        severity: Error,
        waiver: None,
        what: "`*` in the actions, or `Resource: \"*\"` for anything but `ecr:GetAuthorizationToken`, in a role the service's CI runs as.",
        why: "Least privilege: a leaked CI credential could do anything the wildcard allows.",
        fix: "List the actions the role needs: render the role again instead of editing it.",
    }
    RESOURCE_SCOPE {
        code: "policy::resource-scope",
        stage: Policy,
        severity: Error,
        waiver: None,
        what: "ECR, EKS or CodePipeline permissions beyond the service's own repository, clusters and pipeline, in a role its CI runs as.",
        why: "One service's CI could push another's images or start another's pipeline.",
        fix: "Scope the statement to the service's own resources: render the role again instead of editing it.",
    }
    MUTABLE_IMAGE {
        code: "policy::mutable-image",
        stage: Policy,
        severity: Error,
        waiver: None,
        what: "A container image outside the service's IMMUTABLE ECR repository.",
        why: "A tag could change under a running rollout.",
        fix: "Run images of the service's own repository by tag or digest.",
    }
    PROBE_PORT {
        code: "policy::probe-port",
        stage: Policy,
        severity: Error,
        waiver: None,
        what: "The app container has no readiness probe, or one on another port than the container's.",
        why: "Traffic reaches pods that are not ready.",
        fix: "Probe the container's port (`probes.port` defaults to the service `port`).",
    }
    PROMQL_SELECTOR {
        code: "policy::promql-selector",
        stage: Policy,
        severity: Error,
        waiver: None,
        what: "An analysis query that does not select the service and its namespace.",
        why: "Analysis judges the wrong workload.",
        fix: "Select `service=\"NAME\"` and `namespace=\"NS\"`: render the template again instead of editing it.",
    }
    TIER1_ROLLBACK_ROUTE {
        code: "policy::tier1-rollback-route",
        stage: Policy,
        severity: Error,
        waiver: None,
        what: "A tier-1 service has no notification route with a Slack channel or webhook for `rollout-aborted`.",
        why: "Nobody learns of the rollback of a business-critical service.",
        fix: "`notify` a route with `slack` or `webhook` that sends `rollout-aborted` (the default events do).",
    }
    PLAINTEXT_SECRET {
        code: "policy::plaintext-secret",
        stage: Policy,
        severity: Error,
        waiver: None,
        what: "A secret-looking value in the catalog or the rendered output: a value under a secret's name, an AWS access key id, a Slack token or webhook URL, a GitHub token, a private key.",
        why: "The catalog and rendered files live in Git and CI logs; secrets belong in Kubernetes Secrets.",
        fix: "Reference a Secret instead: `$key` for webhooks, `migrations.secret` for the migration's env.",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::catalog::model::WAIVABLE;

    #[test]
    fn codes_are_unique_and_prefixed_by_their_stage() {
        // Names are unique without their prefix too: `glidepath explain NAME` finds the rule.
        let mut seen = BTreeSet::new();
        for rule in ALL {
            let name = rule.code.as_str().strip_prefix(rule.stage.prefix());
            let name = name.unwrap_or_else(|| panic!("{} does not start with {}", rule.code, rule.stage.prefix()));
            assert!(seen.insert(name), "{} is declared twice", rule.code);
            assert!(
                !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{} is not kebab-case",
                rule.code
            );
            for text in [rule.what, rule.why, rule.fix] {
                assert!(!text.trim().is_empty() && text.ends_with('.'), "{}: {text:?} is not a sentence", rule.code);
            }
        }
    }

    #[test]
    fn validation_problems_are_errors_and_waivers_name_waivable_limits() {
        for rule in ALL {
            if rule.stage == Stage::Validation {
                assert_eq!(rule.severity, Severity::Error, "{}", rule.code);
            }
            if let Some(key) = rule.waiver {
                assert_eq!(rule.stage, Stage::Limits, "{}: only limits are waived", rule.code);
                assert!(WAIVABLE.contains(&key), "{}: `{key}` is not waivable", rule.code);
            }
        }
        for key in WAIVABLE {
            assert!(ALL.iter().any(|r| r.waiver == Some(key)), "waiver `{key}` accepts no rule");
        }
    }

    #[test]
    fn lookup_finds_each_rule_by_its_code() {
        for rule in ALL {
            assert_eq!(lookup(rule.code.as_str()).map(|r| r.code), Some(rule.code));
            assert_eq!(rule.code.rule().what, rule.what);
        }
        assert!(lookup("catalog::no-such-rule").is_none());
    }
}
