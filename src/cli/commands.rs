//! The commands: each loads the catalog, runs the pipeline as far as it needs, and returns an
//! exit code. Printing is delegated to `views`.

use std::io::{BufRead, IsTerminal, Write};

use super::args::{ApplyArgs, CatalogArg, Command, Format, ImportArgs, PlanArgs, RenderArgs, SelectArgs};
use super::views::{self, PlanContext};
use super::{Cli, CliError, EXIT_CHANGES, EXIT_OK};
use crate::catalog::{self, Model};
use crate::plan::{self, Plan};
use crate::providers::aws::{self, AwsProvider};
use crate::providers::Provider;
use crate::render::{self, output, Address, DesiredSet};
use crate::state::{self, State};

pub fn dispatch(cli: Cli) -> Result<u8, CliError> {
    match cli.command {
        Command::Validate(args) => validate(&args),
        Command::Render(args) => render_to_dir(&args),
        Command::Plan(args) => plan_command(&args),
        Command::Apply(args) => apply(&args),
        Command::Import(args) => import(&args),
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
    let (_, desired) = load(&args.catalog)?;
    let written = output::write_tree(&desired, &args.out)?;
    println!("wrote {written} files for {} resources to {}", desired.len(), args.out.display());
    Ok(EXIT_OK)
}

/// Everything a plan was made from, kept for apply.
struct Planned {
    state: State,
    plan: Plan,
    /// The live AWS provider, when AWS is configured and selected.
    aws: Option<AwsProvider>,
}

/// Loads the catalog, reads live AWS state where configured (the recorded state elsewhere) and plans.
fn prepare(select: &SelectArgs) -> Result<Planned, CliError> {
    let (model, mut desired) = load(&select.catalog)?;
    for env in &select.envs {
        if model.environment(env).is_none() {
            let known: Vec<&str> = model.environments.iter().map(|e| e.name.as_str()).collect();
            return Err(CliError::Usage(format!(
                "--env {env}: the catalog has no such environment (known: {})",
                known.join(", ")
            )));
        }
    }
    let selection = select.selection();
    let state = state::load(&select.state, &model.platform.name)?;
    let mut live = state.bodies();
    let mut provider = None;
    if selection.aws && !select.offline && aws::is_configured(&model) {
        let mut aws = AwsProvider::connect(&model)?;
        aws.resolve(&mut desired)?;
        let found = aws.read(&desired, &state)?;
        if !found.conflicts.is_empty() {
            return Err(CliError::Conflicts(found.conflicts));
        }
        // Live AWS replaces what the state file remembers of AWS.
        live.retain(|address, _| !aws.manages(address));
        live.extend(found.bodies);
        provider = Some(aws);
    }
    let plan = plan::plan(&desired, &live, &selection);
    Ok(Planned { state, plan, aws: provider })
}

fn context<'a>(select: &'a SelectArgs, planned: &Planned) -> PlanContext<'a> {
    let aws_live = planned.aws.as_ref().map(|p| {
        let target = p.target();
        match &target.endpoint {
            Some(endpoint) => format!("account {}, {}, endpoint {endpoint}", target.account_id, target.region),
            None => format!("account {}, {}", target.account_id, target.region),
        }
    });
    PlanContext { state_path: &select.state, state_serial: planned.state.serial, aws_live }
}

fn print_stats(select: &SelectArgs, planned: &Planned) {
    if select.stats {
        match &planned.aws {
            Some(provider) => eprintln!("AWS API calls: {}", provider.stats()),
            None => eprintln!("AWS API calls: 0 (offline)"),
        }
    }
}

fn plan_command(args: &PlanArgs) -> Result<u8, CliError> {
    let planned = prepare(&args.select)?;
    let ctx = context(&args.select, &planned);
    let text = match args.format {
        Format::Human => views::human::plan(&planned.plan, &ctx),
        Format::Json => views::json::plan(&planned.plan, &ctx),
        Format::Markdown => views::markdown::plan(&planned.plan, &ctx),
    };
    print!("{text}");
    print_stats(&args.select, &planned);
    Ok(if args.detailed_exitcode && planned.plan.has_changes() { EXIT_CHANGES } else { EXIT_OK })
}

/// Carries out the plan in order. After every change that succeeds the state file is written,
/// so an apply that fails midway keeps what it did, and running it again converges.
fn apply(args: &ApplyArgs) -> Result<u8, CliError> {
    let mut planned = prepare(&args.select)?;
    let ctx = context(&args.select, &planned);
    print!("{}", views::human::plan(&planned.plan, &ctx));
    if !planned.plan.has_changes() {
        print_stats(&args.select, &planned);
        return Ok(EXIT_OK);
    }
    let destructive = planned.plan.pending().filter(|c| c.action.destroys()).count();
    if destructive > 0 && !args.allow_delete {
        println!("{destructive} delete(s)/replacement(s) will be skipped: pass --allow-delete to carry them out.");
    }
    if !args.auto_approve {
        confirm()?;
    }
    let changes: Vec<_> =
        planned.plan.pending().filter(|c| args.allow_delete || !c.action.destroys()).cloned().collect();
    let total = changes.len();
    let (mut applied, mut recorded_only) = (0, 0);
    let state_path = &args.select.state;
    for change in &changes {
        match planned.aws.as_mut().filter(|p| p.manages(&change.address)) {
            Some(provider) => {
                if let Err(error) = provider.apply(change) {
                    if recorded_only > 0 {
                        save(state_path, &mut planned.state)?;
                    }
                    eprintln!(
                        "error: {error}\n{applied} of {total} change(s) were carried out and recorded in {}; fix the cause and run apply again to continue.",
                        state_path.display()
                    );
                    print_stats(&args.select, &planned);
                    return Err(CliError::ApplyFailed);
                }
                println!("  {} {}: {} done", change.action.symbol(), change.address, change.action.verb());
                applied += 1;
                planned.state.record_change(change);
                // Written after every live change, so a failure later loses nothing done so far.
                save(state_path, &mut planned.state)?;
            }
            None => {
                planned.state.record_change(change);
                recorded_only += 1;
            }
        }
    }
    if recorded_only > 0 {
        save(state_path, &mut planned.state)?;
    }
    if total == 0 {
        println!("Nothing to do: the only changes are deletes or replacements, and --allow-delete was not given.");
    } else {
        if applied > 0 {
            println!("Applied {applied} change(s) to AWS.");
        }
        if recorded_only > 0 {
            println!(
                "Recorded {recorded_only} change(s) in {} (serial {}). Offline for these: nothing was changed in AWS or the cluster for them.",
                args.select.state.display(),
                planned.state.serial
            );
        }
    }
    print_stats(&args.select, &planned);
    Ok(EXIT_OK)
}

/// Writes the state with the next serial.
fn save(path: &std::path::Path, state: &mut State) -> Result<(), CliError> {
    state.serial += 1;
    state::save(path, state)?;
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
