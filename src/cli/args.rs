//! Command-line arguments. Names follow Terraform where the idea is the same.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::kinds::ProviderId;
use crate::plan::Selection;

/// The version and the commit it was built from.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("GLIDEPATH_COMMIT"), ")");

#[derive(Debug, Parser)]
#[command(
    name = "glidepath",
    version = VERSION,
    about = "Service catalog → zero-downtime delivery on AWS EKS: validate, render, plan, apply"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the catalog and report every problem, located, with its fix
    Validate(ValidateArgs),
    /// Rewrite the catalog's HCL and YAML files (and modules/) in canonical layout, like `terraform fmt`
    ///
    /// HCL: two spaces per block level, one space around `=`, `=` aligned across consecutive
    /// single-line attributes of a block, no trailing whitespace, at most one blank line in a
    /// row, one final newline. Comments and values are kept exactly; multi-line values move with
    /// their attribute, and heredocs are kept byte for byte.
    ///
    /// YAML: never re-indented or reordered. Trailing whitespace and extra blank lines are removed
    /// only when the file still loads to the same values; otherwise it is left as it is.
    ///
    /// A file that does not parse is reported (file:line:col) and not touched. Lists the files
    /// it rewrote. Exit codes: 0 done (with --check: all formatted), 1 with --check when a file
    /// needs formatting (it is listed), or on an error.
    Fmt(FmtArgs),
    /// Write the rendered desired state, the GitOps layout and CI workflows into DIR
    Render(RenderArgs),
    /// Show what apply would change
    Plan(PlanArgs),
    /// Make the changes a plan shows
    Apply(ApplyArgs),
    /// Adopt an existing AWS resource the catalog declares (tag it as owned)
    Import(ImportArgs),
    /// Safety report and policy checks: how bad a bad deploy can get
    Check(CheckArgs),
    /// Live state that differs from the last apply, and images an environment runs that the previous one never ran
    Drift(DriftArgs),
    /// The audit trail of applies
    History(HistoryArgs),
    /// Release a state lock left by an apply that crashed
    ForceUnlock(ForceUnlockArgs),
    /// Abort a rollout in flight, or return to the previous revision (Argo Rollouts abort/undo)
    Rollback(RollbackArgs),
    /// Live rollout progress per service: phase, step, weight, analysis results
    Status(StatusArgs),
    /// Move an image to an environment by editing the catalog (ready for a pull request)
    Promote(PromoteArgs),
    /// Replay a recorded metric series through a service's analysis
    ///
    /// Exit codes: 0 the analysis would let the rollout go on (it passes, or the series ends with
    /// no verdict), 3 it would ABORT the rollout, 4 it would PAUSE it for a manual decision,
    /// 1 error.
    Simulate(SimulateArgs),
    /// What a problem or finding code means, why it matters and the fix; every code without one
    Explain(ExplainArgs),
    /// Read the state file: the addresses it records, or one resource as last applied
    #[command(subcommand)]
    State(StateCommand),
    /// Quarantined images (written by `rollback` in GitOps environments): clear one with a reason
    #[command(subcommand)]
    Quarantine(QuarantineCommand),
    /// Print a shell completion script: `glidepath completion bash > /etc/bash_completion.d/glidepath`
    Completion(CompletionArgs),
    /// Print the manual page (roff): `glidepath man > /usr/local/share/man/man1/glidepath.1`
    Man,
    /// Print the catalog's JSON Schema, for editors and CI validators of YAML catalogs
    ///
    /// Generated from the field table the decoder reads catalogs by. Reference it from a YAML
    /// catalog file with a first line `# yaml-language-server: $schema=PATH/catalog.schema.json`
    /// (`glidepath schema > catalog.schema.json`). It checks one file on its own: references
    /// between files (environments, profiles, routes) are `glidepath validate`'s job.
    Schema,
    /// The version and the commit it was built from
    Version,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Every address the state records, one per line (optionally those at or under PREFIX)
    List(StateListArgs),
    /// One recorded resource: its body as last applied, and its digest
    Show(StateShowArgs),
}

#[derive(Debug, Subcommand)]
pub enum QuarantineCommand {
    /// Every quarantine entry of the catalog, in force or cleared
    List(QuarantineListArgs),
    /// Let a quarantined image run again: writes `cleared = "REASON"` into its entry
    Clear(QuarantineClearArgs),
}

#[derive(Debug, Args)]
pub struct QuarantineListArgs {
    #[command(flatten)]
    pub catalog: CatalogArg,
}

#[derive(Debug, Args)]
pub struct QuarantineClearArgs {
    /// The image as the entry names it: a tag or sha256:DIGEST
    pub image: String,
    /// The service the image belongs to
    #[arg(long)]
    pub service: String,
    /// Why it may run again (at least 15 characters)
    #[arg(long)]
    pub reason: String,
    #[command(flatten)]
    pub catalog: CatalogArg,
}

#[derive(Debug, Args)]
pub struct StateListArgs {
    #[arg(long, default_value = crate::state::DEFAULT_PATH, env = "GLIDEPATH_STATE")]
    pub state: PathBuf,
    /// Only addresses at or under this one, as `--target` takes them
    pub prefix: Option<String>,
}

#[derive(Debug, Args)]
pub struct StateShowArgs {
    #[arg(long, default_value = crate::state::DEFAULT_PATH, env = "GLIDEPATH_STATE")]
    pub state: PathBuf,
    /// The address, as `state list` prints it
    pub address: String,
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Clone, Args)]
pub struct CatalogArg {
    /// Catalog file or directory
    #[arg(short = 'c', long, default_value = "catalog", env = "GLIDEPATH_CATALOG")]
    pub catalog: PathBuf,
}

#[derive(Debug, Args)]
pub struct FmtArgs {
    #[command(flatten)]
    pub catalog: CatalogArg,
    /// Write nothing: list the files that are not formatted and exit 1 if there are any
    #[arg(long)]
    pub check: bool,
    /// Also print what changes in each file
    #[arg(long)]
    pub diff: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub catalog: CatalogArg,
    /// Problems for people (with source excerpts), or one JSON document for editors and CI
    #[arg(long, value_enum, default_value_t = ValidateFormat::Human)]
    pub format: ValidateFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ValidateFormat {
    Human,
    Json,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub catalog: CatalogArg,
    /// Output directory (replaced whole on each render)
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Only {
    Aws,
    Cluster,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
    Markdown,
}

#[derive(Debug, Clone, Args)]
pub struct SelectArgs {
    #[command(flatten)]
    pub catalog: CatalogArg,
    /// Environment(s) to include (repeatable); default all
    #[arg(long = "env", value_name = "ENV")]
    pub envs: Vec<String>,
    /// Only one half: AWS resources or cluster objects
    #[arg(long, value_enum)]
    pub only: Option<Only>,
    /// Only resources at this address or under it (repeatable), e.g. `prod/payment-service` or
    /// `aws/iam_role/shop-payment-service-ci`
    #[arg(long = "target", value_name = "ADDRESS")]
    pub targets: Vec<String>,
    /// State file recording what was applied
    #[arg(long, default_value = crate::state::DEFAULT_PATH, env = "GLIDEPATH_STATE")]
    pub state: PathBuf,
    /// Compare with the state file only, even when AWS is configured
    #[arg(long)]
    pub offline: bool,
    /// Print the number of API calls made (to stderr)
    #[arg(long)]
    pub stats: bool,
    /// kubeconfig context for every environment (default: each cluster's kube_context)
    #[arg(long, env = "GLIDEPATH_KUBE_CONTEXT")]
    pub kube_context: Option<String>,
    /// Take over fields another field manager owns on the cluster
    #[arg(long)]
    pub force_conflicts: bool,
}

impl SelectArgs {
    pub fn selection(&self) -> Selection {
        let providers = match self.only {
            None => Vec::new(),
            Some(Only::Aws) => vec![ProviderId::AWS],
            Some(Only::Cluster) => vec![ProviderId::KUBE],
        };
        Selection { envs: self.envs.clone(), providers, targets: self.targets.clone() }
    }
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Save the complete plan to FILE, for `apply FILE`
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Exit 0 without drift, 2 with drift, 1 on error
    #[arg(long)]
    pub detailed_exitcode: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["from", "image", "tag"])))]
pub struct PromoteArgs {
    /// The service to promote
    pub service: String,
    /// The environment that receives the image
    #[arg(long)]
    pub to: String,
    /// Copy the image the catalog gives this environment
    #[arg(long)]
    pub from: Option<String>,
    /// An image of the service's repository: REPO@sha256:DIGEST or REPO:TAG (as CI built it)
    #[arg(long)]
    pub image: Option<String>,
    /// A tag of the service's repository
    #[arg(long)]
    pub tag: Option<String>,
    #[command(flatten)]
    pub catalog: CatalogArg,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The service to roll back
    pub service: String,
    #[arg(long)]
    pub env: String,
    #[command(flatten)]
    pub catalog: CatalogArg,
    #[arg(long, default_value = crate::state::DEFAULT_PATH, env = "GLIDEPATH_STATE")]
    pub state: std::path::PathBuf,
    #[arg(long, env = "GLIDEPATH_KUBE_CONTEXT")]
    pub kube_context: Option<String>,
    /// GitOps environments: render the restored catalog into this directory too (as `render --out`)
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The environment to show
    #[arg(long)]
    pub env: String,
    #[command(flatten)]
    pub catalog: CatalogArg,
    #[arg(long, env = "GLIDEPATH_KUBE_CONTEXT")]
    pub kube_context: Option<String>,
    /// Human (default), json or markdown
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[arg(long, default_value = crate::state::DEFAULT_PATH, env = "GLIDEPATH_STATE")]
    pub state: std::path::PathBuf,
    /// Show the last N applies
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ForceUnlockArgs {
    /// The lock id the error message names
    pub id: String,
    #[arg(long, default_value = crate::state::DEFAULT_PATH, env = "GLIDEPATH_STATE")]
    pub state: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub catalog: CatalogArg,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    #[command(flatten)]
    pub catalog: CatalogArg,
    #[arg(long)]
    pub service: String,
    #[arg(long)]
    pub env: String,
    /// Recorded series: CSV (timestamp,value) or a Prometheus range-query JSON
    #[arg(long)]
    pub metrics: std::path::PathBuf,
    /// Which metric of the analysis (default: the first, error-rate)
    #[arg(long)]
    pub metric: Option<String>,
    /// Seconds into the series at which the analysis starts
    #[arg(long, default_value_t = 0.0)]
    pub start: f64,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A code such as `catalog::empty-route`, or its name alone (`empty-route`)
    pub code: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub catalog: CatalogArg,
    /// Address of the resource, e.g. aws/iam_role/shop-cart-ci
    pub address: String,
    /// Import without asking
    #[arg(long)]
    pub auto_approve: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved with `plan --out FILE`: applied as saved, refused if it is stale
    #[arg(value_name = "PLAN_FILE")]
    pub plan_file: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Apply without asking (for CI)
    #[arg(long)]
    pub auto_approve: bool,
    /// Also carry out the deletes the plan lists
    #[arg(long)]
    pub allow_delete: bool,
    /// Apply cluster objects of GitOps environments too (an emergency: pause the Application's
    /// automated sync first, or Argo CD reverts the change)
    #[arg(long)]
    pub force_gitops: bool,
    /// Progress as lines for people, or one JSON object per line (plan, each change, done) for CI
    #[arg(long, value_enum, default_value_t = ApplyFormat::Human)]
    pub format: ApplyFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApplyFormat {
    Human,
    Json,
}
