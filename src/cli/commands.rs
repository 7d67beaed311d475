//! The commands: each loads the catalog, runs the pipeline as far as it needs, and returns an
//! exit code. Printing is delegated to `views`.

use std::io::{BufRead, IsTerminal};

use super::args::{
    CatalogArg, Command, ForceUnlockArgs, Format, HistoryArgs, ImportArgs, PlanArgs, RenderArgs, SelectArgs,
    ValidateArgs, ValidateFormat,
};
use super::drift;
use super::views::{self, PlanContext};
use super::{Cli, CliError, EXIT_CHANGES, EXIT_ERROR, EXIT_OK};
use crate::catalog::{self, Model};
use crate::check::{self, CheckResult};
use crate::kinds::ProviderId;
use crate::plan::file::SavedPlan;
use crate::plan::{self, Plan, Recorded, Selection};
use crate::providers::aws::{self, AwsProvider};
use crate::providers::kube::{Access as KubeAccess, KubeProvider};
use crate::providers::Provider;
use crate::render::{self, output, Address, DesiredSet};
use crate::state::audit::AuditRecord;
use crate::state::store::Store;
use crate::state::State;

pub fn dispatch(cli: Cli) -> Result<u8, CliError> {
    match cli.command {
        Command::Validate(args) => validate(&args),
        Command::Fmt(args) => super::fmt::fmt(&args),
        Command::Render(args) => render_to_dir(&args),
        Command::Plan(args) => plan_command(&args),
        Command::Apply(args) => super::apply::apply(&args),
        Command::Import(args) => import(&args),
        Command::Check(args) => super::checks::check_command(&args),
        Command::Drift(args) => drift::drift(&args),
        Command::History(args) => history(&args),
        Command::ForceUnlock(args) => force_unlock(&args),
        Command::Rollback(args) => super::rollback::rollback(&args),
        Command::Status(args) => super::status::status(&args),
        Command::Promote(args) => super::promote::promote(&args),
        Command::Simulate(args) => super::checks::simulate(&args),
        Command::Explain(args) => super::checks::explain(&args),
        Command::State(command) => super::state::state(&command),
        Command::Quarantine(command) => super::quarantine::quarantine(&command),
        Command::Completion(args) => completion(&args),
        Command::Man => man_page(),
        Command::Schema => {
            let schema = crate::catalog::schema::catalog_schema();
            outln!("{}", serde_json::to_string_pretty(&schema).expect("a JSON value serializes"));
            Ok(EXIT_OK)
        }
        Command::Version => {
            outln!("glidepath {}", super::args::VERSION);
            Ok(EXIT_OK)
        }
    }
}

pub(super) fn load(args: &CatalogArg) -> Result<(Model, DesiredSet), CliError> {
    let model = catalog::load(&args.catalog)?;
    let desired = render::render(&model)?;
    Ok((model, desired))
}

/// The catalog and how many resources it renders, rendered one environment at a time: `validate`
/// keeps nothing it renders, so it need not hold the fleet's objects together.
fn load_counted(args: &CatalogArg) -> Result<(Model, usize), CliError> {
    let model = catalog::load(&args.catalog)?;
    let (mut aws, mut objects) = (0, 0);
    render::render_by_environment(&model, |stage| match stage {
        render::Stage::Global(desired) => aws = desired.len(),
        render::Stage::Environment(_, desired) => objects += desired.len() - aws,
    })?;
    Ok((model, aws + objects))
}

fn validate(args: &ValidateArgs) -> Result<u8, CliError> {
    if args.format == ValidateFormat::Json {
        let (document, valid) = views::validate::json(&args.catalog.catalog, load_counted(&args.catalog));
        outln!("{document}");
        return Ok(if valid { EXIT_OK } else { EXIT_ERROR });
    }
    let (model, resources) = load_counted(&args.catalog)?;
    let envs: Vec<&str> = model.environments.iter().map(|e| e.name.as_str()).collect();
    outln!(
        "{} is valid: {} services, {} environments ({}), {} notification routes; renders {} resources",
        args.catalog.catalog.display(),
        model.services.len(),
        envs.len(),
        envs.join(", "),
        model.notifications.len(),
        resources
    );
    Ok(EXIT_OK)
}

pub(super) fn render_to_dir(args: &RenderArgs) -> Result<u8, CliError> {
    let (model, desired) = load(&args.catalog)?;
    let written = output::write_tree(&model, &desired, &args.out)?;
    outln!("wrote {written} files for {} resources to {}", desired.len(), args.out.display());
    Ok(EXIT_OK)
}

/// Everything a plan was made from, kept for apply.
pub(super) struct Planned {
    pub(super) store: Store,
    pub(super) state: State,
    pub(super) plan: Plan,
    /// The live AWS provider, when AWS is configured and selected.
    pub(super) aws: Option<AwsProvider>,
    /// The live cluster provider, when a kubeconfig is available and the cluster is selected.
    pub(super) cluster: Option<KubeProvider>,
    /// The contexts read, for the plan's header.
    cluster_contexts: Option<String>,
    /// The safety report and policy findings of the rendered catalog.
    pub(super) check: CheckResult,
    catalog_name: String,
    /// What the live providers said exists (where none read, the plan compared with the state
    /// file's records, which are not copied here), but for `as_desired`.
    live: std::collections::BTreeMap<Address, serde_json::Value>,
    /// What a live provider found as the catalog wants it: its live body is the plan's `after`.
    as_desired: std::collections::BTreeSet<Address>,
}

impl Planned {
    /// Whether anything was read live (AWS or a cluster).
    pub(super) fn any_live(&self) -> bool {
        self.aws.is_some() || self.cluster.is_some()
    }

    /// Every body the live providers read, by address: those they found as the catalog wants
    /// them are the plan's `after` of their (no-op) change.
    pub(super) fn live_bodies(&self) -> std::collections::BTreeMap<&Address, &serde_json::Value> {
        let mut bodies: std::collections::BTreeMap<&Address, &serde_json::Value> = self.live.iter().collect();
        for change in self.plan.changes.iter().filter(|c| self.as_desired.contains(&c.address)) {
            if let Some(after) = &change.after {
                bodies.insert(&change.address, after);
            }
        }
        bodies
    }

    /// Whether a live provider read `address` (rather than the state file standing in).
    pub(super) fn read_live(&self, address: &Address) -> bool {
        self.aws.as_ref().is_some_and(|p| p.manages(address))
            || self.cluster.as_ref().is_some_and(|p| p.manages(address))
    }
}

/// A completion script for `args.shell`, generated from the same clap definitions as the CLI.
fn completion(args: &super::args::CompletionArgs) -> Result<u8, CliError> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut <Cli as clap::CommandFactory>::command(), "glidepath", &mut script);
    out!("{}", String::from_utf8_lossy(&script));
    Ok(EXIT_OK)
}

/// The manual page, generated from the same clap definitions as the CLI.
fn man_page() -> Result<u8, CliError> {
    let mut page = Vec::new();
    clap_mangen::Man::new(<Cli as clap::CommandFactory>::command())
        .render(&mut page)
        .map_err(|e| CliError::Usage(format!("rendering the manual page: {e}")))?;
    out!("{}", String::from_utf8_lossy(&page));
    Ok(EXIT_OK)
}

/// Loads the catalog, reads live state where configured (the recorded state elsewhere) and plans.
pub(super) fn prepare(select: &SelectArgs, selection: &Selection, store: Store) -> Result<Planned, CliError> {
    let model = catalog::load(&select.catalog.catalog)?;
    if reads_live(select, selection, &model) {
        let desired = render::render(&model)?;
        return prepare_loaded(select, selection, store, (model, desired));
    }
    prepare_recorded(select, selection, store, model)
}

/// Whether a live provider reads for this selection: AWS where the catalog configures it, a
/// cluster where a kubeconfig is found; neither `--offline`.
fn reads_live(select: &SelectArgs, selection: &Selection, model: &Model) -> bool {
    let cluster = || KubeAccess::from_env(select.kube_context.clone(), select.force_conflicts).is_some();
    !select.offline
        && ((selection.includes_provider(ProviderId::AWS) && aws::is_configured(model))
            || (selection.includes_provider(ProviderId::KUBE) && cluster()))
}

/// `prepare` where nothing is read live: the plan compares with the state file. The catalog
/// renders one environment at a time, and each resource the state records exactly as rendered
/// is settled as it renders (`plan::gather`): only new and changed bodies are held, where a
/// whole render held the fleet's (938 MiB at 3,000 services). The plan is that of
/// `prepare_loaded` over the same catalog and state, its unchanged resources without bodies.
fn prepare_recorded(select: &SelectArgs, selection: &Selection, store: Store, model: Model) -> Result<Planned, CliError> {
    // Read before rendering, so each resource is compared with its record as it renders; an
    // error reading it is reported where `prepare_loaded` reports it, after the catalog's own.
    let state = store.load(&model.platform.name);
    let recorded = |address: &Address, digest: &str| state.as_ref().is_ok_and(|s| s.records(address, digest));
    let mut gathered = plan::Gathered::default();
    let check = check::check_catalog_and(&model, |stage| gathered.take_stage(stage, selection, recorded))?;
    known_environments(select, &model)?;
    let state = state?;
    known_targets(select, gathered.addresses().chain(state.resources.keys()))?;
    aws_credentials(select, selection)?;
    let live = state.bodies_against(&gathered, |_| false);
    let mut plan = plan::plan_gathered(gathered, &live, selection, &std::collections::BTreeMap::new());
    drop(live);
    plan.permissions.force_conflicts = select.force_conflicts;
    Ok(Planned {
        store,
        state,
        plan,
        aws: None,
        cluster: None,
        cluster_contexts: None,
        check,
        catalog_name: model.platform.name.clone(),
        live: std::collections::BTreeMap::new(),
        as_desired: std::collections::BTreeSet::new(),
    })
}

/// `--env` names environments of the catalog.
fn known_environments(select: &SelectArgs, model: &Model) -> Result<(), CliError> {
    for env in &select.envs {
        if model.environment(env).is_none() {
            let known: Vec<&str> = model.environments.iter().map(|e| e.name.as_str()).collect();
            return Err(CliError::Usage(format!(
                "--env {env}: the catalog has no such environment (known: {})",
                known.join(", ")
            )));
        }
    }
    Ok(())
}

/// Each `--target` is at or above an address of the catalog or the state: a mistyped target
/// would plan nothing and look like "no changes".
fn known_targets<'a>(select: &SelectArgs, addresses: impl Iterator<Item = &'a Address> + Clone) -> Result<(), CliError> {
    for target in &select.targets {
        let one = Selection { targets: vec![target.clone()], ..Selection::all() };
        if !addresses.clone().any(|a| one.includes(a)) {
            return Err(CliError::Usage(format!(
                "--target {target}: no resource of the catalog or the state is at or under this address \
                 (addresses look like ENV/SERVICE/k8s/KIND/NAME or aws/KIND/NAME; `glidepath plan` lists them)"
            )));
        }
    }
    Ok(())
}

/// A profile asked for but missing is the user's mistake to fix, not a reason to go offline.
fn aws_credentials(select: &SelectArgs, selection: &Selection) -> Result<(), CliError> {
    if selection.includes_provider(ProviderId::AWS) && !select.offline {
        if let Some(problem) = aws::credentials::problem() {
            return Err(CliError::Usage(problem));
        }
    }
    Ok(())
}

/// `prepare` for a catalog already loaded (apply loads it before taking the lock, so an invalid
/// catalog writes nothing).
pub(super) fn prepare_loaded(
    select: &SelectArgs,
    selection: &Selection,
    store: Store,
    (model, mut desired): (Model, DesiredSet),
) -> Result<Planned, CliError> {
    // Checked as rendered, before providers replace bodies with what servers would store.
    let check = check::check(&model, &desired);
    known_environments(select, &model)?;
    let state = store.load(&model.platform.name)?;
    known_targets(select, desired.resources.keys().chain(state.resources.keys()))?;
    // What the live providers read, in place of what the state file records of their half.
    let mut read = std::collections::BTreeMap::new();
    // What the live providers said besides the bodies (conflicts, notes, contested fields,
    // unfinished resources), gathered across them.
    let mut found = crate::providers::LiveSet::default();

    aws_credentials(select, selection)?;
    let mut aws = None;
    if selection.includes_provider(ProviderId::AWS) && !select.offline && aws::is_configured(&model) {
        let mut provider = AwsProvider::connect(&model)?;
        read_live(&mut provider, &mut desired, &state, &mut read, &mut found)?;
        aws = Some(provider);
    }
    let mut cluster = None;
    let mut cluster_contexts = None;
    let access = KubeAccess::from_env(select.kube_context.clone(), select.force_conflicts);
    if let (true, false, Some(access)) = (selection.includes_provider(ProviderId::KUBE), select.offline, access) {
        let mut provider = KubeProvider::connect(&model, selection, &access)?;
        read_live(&mut provider, &mut desired, &state, &mut read, &mut found)?;
        cluster_contexts = Some(provider.describe());
        cluster = Some(provider);
    }
    if !found.conflicts.is_empty() {
        return Err(CliError::Conflicts(found.conflicts));
    }
    // What the plan leaves out (`--target`) it does not carry either: drift still reads those.
    for address in found.as_desired.iter().filter(|a| !selection.includes(a)) {
        if let Some(resource) = desired.resources.get(address) {
            read.insert(address.clone(), resource.body());
        }
    }
    // The live side of the plan: what the state file records of what no live provider read
    // (parsed only where it is not the desired body), and what they read, lent.
    let read_by = |address: &Address| {
        aws.as_ref().is_some_and(|p: &AwsProvider| p.manages(address))
            || cluster.as_ref().is_some_and(|p: &KubeProvider| p.manages(address))
    };
    let desired = plan::Gathered::whole(desired);
    let mut live = state.bodies_against(&desired, read_by);
    live.extend(read.iter().map(|(address, body)| (address.clone(), Recorded::Body(std::borrow::Cow::Borrowed(body)))));
    live.extend(found.as_desired.iter().map(|address| (address.clone(), Recorded::AsDesired)));
    // The desired set is not needed after this: its bodies move into the plan.
    let mut plan = plan::plan_gathered(desired, &live, selection, &found.unfinished);
    drop(live);
    plan.annotate(&found.notes, &found.contested);
    plan.wait_for(&found.unfinished);
    plan.permissions.force_conflicts = select.force_conflicts;
    Ok(Planned {
        store,
        state,
        plan,
        aws,
        cluster,
        cluster_contexts,
        check,
        catalog_name: model.platform.name.clone(),
        live: read,
        as_desired: found.as_desired,
    })
}

/// Lets a provider fill in the desired side and adds what it read to `read` (the plan takes it
/// in place of what the state file remembers of its half); the rest of what it found is added to
/// `found`.
fn read_live(
    provider: &mut dyn Provider,
    desired: &mut DesiredSet,
    state: &State,
    read: &mut std::collections::BTreeMap<Address, serde_json::Value>,
    found: &mut crate::providers::LiveSet,
) -> Result<(), CliError> {
    let answer = provider.read(desired, state)?;
    read.extend(answer.bodies);
    found.conflicts.extend(answer.conflicts);
    found.notes.extend(answer.notes);
    found.contested.extend(answer.contested);
    found.unfinished.extend(answer.unfinished);
    found.as_desired.extend(answer.as_desired);
    Ok(())
}

pub(super) fn context<'a>(select: &'a SelectArgs, planned: &Planned) -> PlanContext<'a> {
    let aws_live = planned.aws.as_ref().map(|p| {
        let target = p.target();
        match &target.endpoint {
            Some(endpoint) => format!("account {}, {}, endpoint {endpoint}", target.account_id, target.region),
            None => format!("account {}, {}", target.account_id, target.region),
        }
    });
    PlanContext {
        state_path: &select.state,
        state_serial: planned.state.serial,
        aws_live,
        cluster_live: planned.cluster_contexts.clone(),
        aws_selected: select.selection().includes_provider(ProviderId::AWS),
        cluster_selected: select.selection().includes_provider(ProviderId::KUBE),
        safety: views::check::plan_lines(&planned.check, &changed_services(&planned.plan)),
        check_fails: planned.check.fails(),
    }
}

/// (service, environment) pairs the plan changes.
fn changed_services(plan: &Plan) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = plan
        .pending()
        .filter_map(|c| match &c.address {
            Address { scope: Some(scope), .. } => Some((scope.owner.clone(), scope.env.clone())),
            Address { scope: None, .. } => None,
        })
        .collect();
    pairs.dedup();
    pairs
}

pub(super) fn print_stats(select: &SelectArgs, planned: &Planned) {
    if select.stats {
        match &planned.aws {
            Some(provider) => eprintln!("AWS API calls: {}", provider.stats()),
            None => eprintln!("AWS API calls: 0 (offline)"),
        }
        match &planned.cluster {
            Some(provider) => eprintln!("Kubernetes API requests: {}", provider.stats()),
            None => eprintln!("Kubernetes API requests: 0 (offline)"),
        }
    }
}

fn plan_command(args: &PlanArgs) -> Result<u8, CliError> {
    let selection = args.select.selection();
    let planned = prepare(&args.select, &selection, Store::open(&args.select.state)?)?;
    if let Some(out) = &args.out {
        SavedPlan::new(&planned.plan, &args.select.catalog.catalog, &planned.catalog_name, &selection).save(out)?;
        eprintln!("Saved the plan to {}: apply it with `glidepath apply {}`.", out.display(), out.display());
    }
    let ctx = context(&args.select, &planned);
    let text = match args.format {
        Format::Human => views::human::plan(&planned.plan, &ctx),
        Format::Json => views::json::plan(&planned.plan, &ctx),
        Format::Markdown => views::markdown::plan(&planned.plan, &ctx),
    };
    out!("{text}");
    print_stats(&args.select, &planned);
    if planned.check.fails() {
        return Err(CliError::CheckFailed(planned.check.findings.iter().filter(|f| f.fails()).count()));
    }
    Ok(if args.detailed_exitcode && planned.plan.has_changes() { EXIT_CHANGES } else { EXIT_OK })
}

fn force_unlock(args: &ForceUnlockArgs) -> Result<u8, CliError> {
    let info = Store::open(&args.state)?.force_unlock(&args.id)?;
    outln!("Released the lock {} ({}).", info.id, info.describe());
    Ok(EXIT_OK)
}

fn history(args: &HistoryArgs) -> Result<u8, CliError> {
    let records = Store::open(&args.state)?.read_audit()?;
    let shown: Vec<&AuditRecord> = records.iter().rev().take(args.limit).collect();
    match args.format {
        Format::Json => outln!("{}", serde_json::to_string_pretty(&shown).expect("audit serializes")),
        Format::Markdown => out!("{}", views::history::markdown(&shown)),
        Format::Human => out!("{}", views::history::human(&shown)),
    }
    Ok(EXIT_OK)
}

/// Adopts an existing AWS resource the catalog declares: tags it as this catalog's.
fn import(args: &ImportArgs) -> Result<u8, CliError> {
    let (model, desired) = load(&args.catalog)?;
    let address: Address = args.address.parse().map_err(CliError::Usage)?;
    if address.provider() != ProviderId::AWS {
        return Err(CliError::Usage(format!("{address}: only AWS resources can be imported")));
    }
    if !desired.resources.contains_key(&address) {
        return Err(CliError::Usage(format!(
            "{address} is not in the catalog; import adopts resources the catalog declares (see `glidepath plan`)"
        )));
    }
    if !aws::is_configured(&model) {
        return Err(CliError::Usage("import needs live AWS: configure credentials or AWS_ENDPOINT_URL".into()));
    }
    let mut provider = AwsProvider::connect(&model)?;
    if !args.auto_approve {
        outln!("{address} will be tagged as owned by glidepath catalog `{}`.", model.platform.name);
        confirm()?;
    }
    provider.import(&address)?;
    outln!("Imported {address}. Run `glidepath plan` to see how it differs from the catalog.");
    Ok(EXIT_OK)
}

/// Asks on the terminal; anything but "yes" cancels. Without a terminal, refuses to guess.
pub(super) fn confirm() -> Result<(), CliError> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage("confirmation needed but stdin is not a terminal: pass --auto-approve".into()));
    }
    out!("Do you want to perform these actions? Only 'yes' will be accepted: ");
    super::output::flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).ok();
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(CliError::Cancelled)
    }
}
