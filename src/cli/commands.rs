//! The commands: each loads the catalog, runs the pipeline as far as it needs, and returns an
//! exit code. Printing is delegated to `views`.

use std::io::{BufRead, IsTerminal, Write};

use super::args::{
    ApplyArgs, CatalogArg, CheckArgs, Command, ForceUnlockArgs, Format, HistoryArgs, ImportArgs, PlanArgs, RenderArgs,
    RollbackArgs, SelectArgs, SimulateArgs,
};
use super::drift;
use super::views::{self, PlanContext};
use super::{Cli, CliError, EXIT_CHANGES, EXIT_OK};
use crate::catalog::{self, Model};
use crate::check::{self, simulate, CheckResult};
use crate::plan::file::SavedPlan;
use crate::plan::{self, Plan, Selection};
use crate::providers::aws::{self, AwsProvider};
use crate::providers::kube::{Access as KubeAccess, KubeProvider, RolledBack};
use crate::providers::Provider;
use crate::render::{self, output, Address, DesiredSet};
use crate::state::audit::{self, AuditRecord, ChangeOutcome};
use crate::state::store::Store;
use crate::state::{self, State};

pub fn dispatch(cli: Cli) -> Result<u8, CliError> {
    match cli.command {
        Command::Validate(args) => validate(&args),
        Command::Render(args) => render_to_dir(&args),
        Command::Plan(args) => plan_command(&args),
        Command::Apply(args) => apply(&args),
        Command::Import(args) => import(&args),
        Command::Check(args) => check_command(&args),
        Command::Drift(args) => drift::drift(&args),
        Command::History(args) => history(&args),
        Command::ForceUnlock(args) => force_unlock(&args),
        Command::Rollback(args) => rollback(&args),
        Command::Promote(args) => super::promote::promote(&args),
        Command::Simulate(args) => simulate(&args),
    }
}

fn load(args: &CatalogArg) -> Result<(Model, DesiredSet), CliError> {
    let model = catalog::load(&args.catalog)?;
    let desired = render::render(&model)?;
    Ok((model, desired))
}

fn validate(args: &CatalogArg) -> Result<u8, CliError> {
    let (model, desired) = load(args)?;
    let envs: Vec<&str> = model.environments.iter().map(|e| e.name.as_str()).collect();
    println!(
        "{} is valid: {} services, {} environments ({}), {} notification routes; renders {} resources",
        args.catalog.display(),
        model.services.len(),
        envs.len(),
        envs.join(", "),
        model.notifications.len(),
        desired.len()
    );
    Ok(EXIT_OK)
}

fn render_to_dir(args: &RenderArgs) -> Result<u8, CliError> {
    let (model, desired) = load(&args.catalog)?;
    let written = output::write_tree(&model, &desired, &args.out)?;
    println!("wrote {written} files for {} resources to {}", desired.len(), args.out.display());
    Ok(EXIT_OK)
}

/// Everything a plan was made from, kept for apply.
pub(super) struct Planned {
    pub(super) store: Store,
    pub(super) state: State,
    plan: Plan,
    /// The live AWS provider, when AWS is configured and selected.
    aws: Option<AwsProvider>,
    /// The live cluster provider, when a kubeconfig is available and the cluster is selected.
    cluster: Option<KubeProvider>,
    /// The contexts read, for the plan's header.
    cluster_contexts: Option<String>,
    /// The safety report and policy findings of the rendered catalog.
    check: CheckResult,
    catalog_name: String,
    /// What the live providers (and, elsewhere, the state file) said exists.
    pub(super) live: std::collections::BTreeMap<Address, serde_json::Value>,
}

impl Planned {
    /// Whether anything was read live (AWS or a cluster).
    pub(super) fn any_live(&self) -> bool {
        self.aws.is_some() || self.cluster.is_some()
    }

    /// Whether a live provider read `address` (rather than the state file standing in).
    pub(super) fn read_live(&self, address: &Address) -> bool {
        self.aws.as_ref().is_some_and(|p| p.manages(address))
            || self.cluster.as_ref().is_some_and(|p| p.manages(address))
    }

    fn provider_for(&mut self, address: &Address) -> Option<&mut dyn Provider> {
        if let Some(aws) = self.aws.as_mut().filter(|p| p.manages(address)) {
            return Some(aws);
        }
        self.cluster.as_mut().filter(|p| p.manages(address)).map(|p| p as &mut dyn Provider)
    }
}

/// Loads the catalog, reads live state where configured (the recorded state elsewhere) and plans.
pub(super) fn prepare(select: &SelectArgs, selection: &Selection, store: Store) -> Result<Planned, CliError> {
    let (model, mut desired) = load(&select.catalog)?;
    // Checked as rendered, before providers replace bodies with what servers would store.
    let check = check::check(&model, &desired);
    for env in &select.envs {
        if model.environment(env).is_none() {
            let known: Vec<&str> = model.environments.iter().map(|e| e.name.as_str()).collect();
            return Err(CliError::Usage(format!(
                "--env {env}: the catalog has no such environment (known: {})",
                known.join(", ")
            )));
        }
    }
    let state = store.load(&model.platform.name)?;
    let mut live = state.bodies();
    let mut conflicts = Vec::new();
    let mut notes = std::collections::BTreeMap::new();

    let mut aws = None;
    if selection.aws && !select.offline && aws::is_configured(&model) {
        let mut provider = AwsProvider::connect(&model)?;
        read_live(&mut provider, &mut desired, &state, &mut live, &mut conflicts, &mut notes)?;
        aws = Some(provider);
    }
    let mut cluster = None;
    let mut cluster_contexts = None;
    let access = KubeAccess::from_env(select.kube_context.clone(), select.force_conflicts);
    if let (true, false, Some(access)) = (selection.cluster, select.offline, access) {
        let mut provider = KubeProvider::connect(&model, selection, &access)?;
        read_live(&mut provider, &mut desired, &state, &mut live, &mut conflicts, &mut notes)?;
        cluster_contexts = Some(provider.describe());
        cluster = Some(provider);
    }
    if !conflicts.is_empty() {
        return Err(CliError::Conflicts(conflicts));
    }
    let mut plan = plan::plan(&desired, &live, selection);
    plan.annotate(&notes);
    Ok(Planned {
        store,
        state,
        plan,
        aws,
        cluster,
        cluster_contexts,
        check,
        catalog_name: model.platform.name.clone(),
        live,
    })
}

/// Lets a provider fill in the desired side, then replaces what the state file remembers of its
/// half by what it reads live.
fn read_live(
    provider: &mut dyn Provider,
    desired: &mut DesiredSet,
    state: &State,
    live: &mut std::collections::BTreeMap<Address, serde_json::Value>,
    conflicts: &mut Vec<crate::providers::Conflict>,
    notes: &mut std::collections::BTreeMap<Address, String>,
) -> Result<(), CliError> {
    provider.resolve(desired)?;
    let found = provider.read(desired, state)?;
    live.retain(|address, _| !provider.manages(address));
    live.extend(found.bodies);
    conflicts.extend(found.conflicts);
    notes.extend(found.notes);
    Ok(())
}

fn context<'a>(select: &'a SelectArgs, planned: &Planned) -> PlanContext<'a> {
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
        aws_selected: select.selection().aws,
        cluster_selected: select.selection().cluster,
        safety: views::check::plan_lines(&planned.check, &changed_services(&planned.plan)),
        check_fails: planned.check.fails(),
    }
}

/// (service, environment) pairs the plan changes.
fn changed_services(plan: &Plan) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = plan
        .pending()
        .filter_map(|c| match &c.address {
            Address::Kube { env, owner, .. } => Some((owner.clone(), env.clone())),
            Address::Aws { .. } => None,
        })
        .collect();
    pairs.dedup();
    pairs
}

fn print_stats(select: &SelectArgs, planned: &Planned) {
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
    print!("{text}");
    print_stats(&args.select, &planned);
    if planned.check.fails() {
        return Err(CliError::CheckFailed(planned.check.findings.iter().filter(|f| f.fails()).count()));
    }
    Ok(if args.detailed_exitcode && planned.plan.has_changes() { EXIT_CHANGES } else { EXIT_OK })
}

/// Carries out the plan in order, holding the state lock. After every change that succeeds the
/// state file is written, so an apply that fails midway keeps what it did, and running it again
/// converges. Every apply is appended to the audit trail.
fn apply(args: &ApplyArgs) -> Result<u8, CliError> {
    let saved = args.plan_file.as_deref().map(SavedPlan::load).transpose()?;
    let mut select = args.select.clone();
    let selection = match &saved {
        Some(saved) => {
            select.catalog.catalog = saved.catalog.clone();
            saved.selection()
        }
        None => args.select.selection(),
    };
    let store = Store::open(&select.state)?;
    let _lock = store.lock("apply")?;
    let mut planned = prepare(&select, &selection, store)?;
    if let Some(saved) = &saved {
        if let Some(reason) = saved.staleness(&planned.plan) {
            return Err(CliError::StalePlan(reason));
        }
    }
    let ctx = context(&select, &planned);
    print!("{}", views::human::plan(&planned.plan, &ctx));
    if planned.check.fails() {
        return Err(CliError::CheckFailed(planned.check.findings.iter().filter(|f| f.fails()).count()));
    }
    if !planned.plan.has_changes() {
        print_stats(&select, &planned);
        return Ok(EXIT_OK);
    }
    let destructive = planned.plan.pending().filter(|c| c.action.destroys()).count();
    if destructive > 0 && !args.allow_delete {
        println!("{destructive} delete(s)/replacement(s) will be skipped: pass --allow-delete to carry them out.");
    }
    // A saved plan was reviewed when it was made; applying it asks no second time.
    if !args.auto_approve && saved.is_none() {
        confirm()?;
    }
    let mut audit = AuditRecord {
        time: state::lock::now(),
        who: audit::who(&select.catalog.catalog),
        host: state::lock::host(),
        aws: planned
            .aws
            .as_ref()
            .map(|p| format!("{} ({})", p.target().caller, ctx.aws_live.clone().unwrap_or_default())),
        revision: audit::revision(&select.catalog.catalog),
        plan_digest: planned.plan.desired_fingerprint.clone(),
        result: "applied".into(),
        changes: Vec::new(),
    };
    let result = carry_out(args, &select, &mut planned, &mut audit);
    if let Err(e) = &result {
        audit.result = format!("failed: {e}");
    }
    planned.store.append_audit(&audit)?;
    print_stats(&select, &planned);
    result
}

fn carry_out(
    args: &ApplyArgs,
    select: &SelectArgs,
    planned: &mut Planned,
    audit: &mut AuditRecord,
) -> Result<u8, CliError> {
    let changes: Vec<_> = planned.plan.pending().cloned().collect();
    let total = changes.iter().filter(|c| args.allow_delete || !c.action.destroys()).count();
    let (mut applied, mut recorded_only) = (0, 0);
    let state_path = &select.state;
    for change in &changes {
        let mut outcome = ChangeOutcome {
            address: change.address.to_string(),
            action: change.action.verb().into(),
            outcome: "skipped".into(),
            error: None,
            image: rollout_image(change),
        };
        if change.action.destroys() && !args.allow_delete {
            audit.changes.push(outcome);
            continue;
        }
        match planned.provider_for(&change.address) {
            Some(provider) => {
                let stored = match provider.apply(change) {
                    Ok(stored) => stored,
                    Err(error) => {
                        if recorded_only > 0 {
                            save(&planned.store, &mut planned.state)?;
                        }
                        outcome.outcome = "failed".into();
                        outcome.error = Some(error.to_string());
                        audit.changes.push(outcome);
                        eprintln!(
                        "error: {error}\n{applied} of {total} change(s) were carried out and recorded in {}; fix the cause and run apply again to continue.",
                        state_path.display()
                    );
                        return Err(CliError::ApplyFailed);
                    }
                };
                println!("  {} {}: {} done", change.action.symbol(), change.address, change.action.verb());
                applied += 1;
                planned.state.record_change(change, stored);
                // Written after every live change, so a failure later loses nothing done so far.
                save(&planned.store, &mut planned.state)?;
                outcome.outcome = "applied".into();
            }
            None => {
                planned.state.record_change(change, None);
                recorded_only += 1;
                outcome.outcome = "recorded".into();
            }
        }
        audit.changes.push(outcome);
    }
    if recorded_only > 0 {
        save(&planned.store, &mut planned.state)?;
    }
    if total == 0 {
        println!("Nothing to do: the only changes are deletes or replacements, and --allow-delete was not given.");
    } else {
        if applied > 0 {
            println!("Applied {applied} change(s).");
        }
        if recorded_only > 0 {
            println!(
                "Recorded {recorded_only} change(s) in {} (serial {}). Offline for these: nothing was changed in AWS or the cluster for them.",
                state_path.display(),
                planned.state.serial
            );
        }
    }
    Ok(EXIT_OK)
}

/// The image a Rollout change deploys, for the audit trail (and staging-drift checks).
fn rollout_image(change: &plan::Change) -> Option<String> {
    if change.address.kind() != "Rollout" {
        return None;
    }
    let containers = change.after.as_ref()?["spec"]["template"]["spec"]["containers"].as_array()?.clone();
    containers.iter().find(|c| c["name"] == "app").and_then(|c| c["image"].as_str()).map(str::to_string)
}

/// Rolls a service back in one environment and records it in the audit trail.
fn rollback(args: &RollbackArgs) -> Result<u8, CliError> {
    let model = catalog::load(&args.catalog.catalog)?;
    if model.environment(&args.env).is_none() {
        return Err(CliError::Usage(format!("--env {}: the catalog has no such environment", args.env)));
    }
    let service = model
        .services
        .iter()
        .find(|s| s.name == args.service)
        .ok_or_else(|| CliError::Usage(format!("{}: no such service in the catalog", args.service)))?;
    let access = KubeAccess::from_env(args.kube_context.clone(), false)
        .ok_or_else(|| CliError::Usage("rollback needs a cluster: set KUBECONFIG".into()))?;
    let selection = Selection { envs: vec![args.env.clone()], aws: false, cluster: true };
    let mut provider = KubeProvider::connect(&model, &selection, &access)?;
    let store = Store::open(&args.state)?;
    let _lock = store.lock("rollback")?;
    let address = Address::kube(&args.env, &service.name, "Rollout", service.name.clone());
    let outcome = match provider.rollback(&args.env, &service.name) {
        Ok(done) => done,
        Err(e) => {
            let record = rollback_record(&args.catalog.catalog, &address, "failed", Some(e.to_string()));
            store.append_audit(&record)?;
            return Err(e.into());
        }
    };
    let what = match &outcome {
        RolledBack::Aborted => "aborted the update in flight: the stable version takes all traffic again".to_string(),
        RolledBack::Undone { from_revision, to_revision } => {
            format!("returned from revision {from_revision} to revision {to_revision}")
        }
    };
    store.append_audit(&rollback_record(&args.catalog.catalog, &address, "rolled back", None))?;
    println!("{} in {}: {what}.", service.name, args.env);
    println!(
        "Argo Rollouts notifies the service's routes (on-rollout-aborted / on-rollout-updated). The catalog still names the new version: fix it before the next apply, or glidepath will roll forward again."
    );
    Ok(EXIT_OK)
}

fn rollback_record(catalog: &std::path::Path, address: &Address, result: &str, error: Option<String>) -> AuditRecord {
    AuditRecord {
        time: state::lock::now(),
        who: audit::who(catalog),
        host: state::lock::host(),
        aws: None,
        revision: audit::revision(catalog),
        plan_digest: String::new(),
        result: format!("rollback: {result}"),
        changes: vec![ChangeOutcome {
            address: address.to_string(),
            action: "rollback".into(),
            outcome: if error.is_some() { "failed".into() } else { "applied".into() },
            error,
            image: None,
        }],
    }
}

fn force_unlock(args: &ForceUnlockArgs) -> Result<u8, CliError> {
    let info = Store::open(&args.state)?.force_unlock(&args.id)?;
    println!("Released the lock {} ({}).", info.id, info.describe());
    Ok(EXIT_OK)
}

fn history(args: &HistoryArgs) -> Result<u8, CliError> {
    let records = Store::open(&args.state)?.read_audit()?;
    let shown: Vec<&AuditRecord> = records.iter().rev().take(args.limit).collect();
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&shown).expect("audit serializes")),
        _ => print!("{}", views::history::human(&shown)),
    }
    Ok(EXIT_OK)
}

/// The safety report and policy findings; exit 1 when an unwaived error remains.
fn check_command(args: &CheckArgs) -> Result<u8, CliError> {
    let (model, desired) = load(&args.catalog)?;
    let result = check::check(&model, &desired);
    let text = match args.format {
        Format::Human => views::check::human(&result),
        Format::Json => views::check::json(&result),
        Format::Markdown => views::check::markdown(&result),
    };
    print!("{text}");
    if result.fails() {
        return Err(CliError::CheckFailed(result.findings.iter().filter(|f| f.fails()).count()));
    }
    Ok(EXIT_OK)
}

/// Replays a recorded series through one metric of the service's SLO analysis in one environment.
fn simulate(args: &SimulateArgs) -> Result<u8, CliError> {
    let (model, desired) = load(&args.catalog)?;
    let service = model
        .services
        .iter()
        .find(|s| s.name == args.service)
        .ok_or_else(|| CliError::Usage(format!("--service {}: no such service in the catalog", args.service)))?;
    let address =
        Address::kube(&args.env, &service.name, "AnalysisTemplate", crate::catalog::names::slo_template(&service.name));
    let template = desired
        .resources
        .get(&address)
        .map(|r| r.body())
        .ok_or_else(|| CliError::Usage(format!("{} is not deployed to environment {}", service.name, args.env)))?;
    let specs = simulate::metric_specs(&template).map_err(|e| CliError::Usage(e.to_string()))?;
    let spec = match &args.metric {
        Some(name) => specs.iter().find(|m| &m.name == name).ok_or_else(|| {
            let known: Vec<&str> = specs.iter().map(|m| m.name.as_str()).collect();
            CliError::Usage(format!("--metric {name}: the analysis has {}", known.join(", ")))
        })?,
        None => specs.first().ok_or_else(|| CliError::Usage("the analysis has no metrics".into()))?,
    };
    let text = std::fs::read_to_string(&args.metrics)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", args.metrics.display())))?;
    let series =
        simulate::parse_series(&text).map_err(|e| CliError::Usage(format!("{}: {e}", args.metrics.display())))?;
    let result = simulate::simulate(spec, &series, args.start).map_err(|e| CliError::Usage(e.to_string()))?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&result).expect("simulation serializes")),
        _ => print!("{}", simulate::render_human(&result)),
    }
    Ok(EXIT_OK)
}

/// Writes the state with the next serial.
fn save(store: &Store, state: &mut State) -> Result<(), CliError> {
    state.serial += 1;
    store.save(state)?;
    Ok(())
}

/// Adopts an existing AWS resource the catalog declares: tags it as this catalog's.
fn import(args: &ImportArgs) -> Result<u8, CliError> {
    let (model, desired) = load(&args.catalog)?;
    let address: Address = args.address.parse().map_err(CliError::Usage)?;
    if !address.is_aws() {
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
        println!("{address} will be tagged as owned by glidepath catalog `{}`.", model.platform.name);
        confirm()?;
    }
    provider.import(&address)?;
    println!("Imported {address}. Run `glidepath plan` to see how it differs from the catalog.");
    Ok(EXIT_OK)
}

/// Asks on the terminal; anything but "yes" cancels. Without a terminal, refuses to guess.
fn confirm() -> Result<(), CliError> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage("confirmation needed but stdin is not a terminal: pass --auto-approve".into()));
    }
    print!("Do you want to perform these actions? Only 'yes' will be accepted: ");
    std::io::stdout().flush().ok();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).ok();
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(CliError::Cancelled)
    }
}
