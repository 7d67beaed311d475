//! The commands: each loads the catalog, runs the pipeline as far as it needs, and returns an
//! exit code. Printing is delegated to `views`.

use std::io::{BufRead, IsTerminal, Write};

use super::args::{ApplyArgs, CatalogArg, Command, Format, PlanArgs, RenderArgs, SelectArgs};
use super::views::{self, PlanContext};
use super::{Cli, CliError, EXIT_CHANGES, EXIT_OK};
use crate::catalog::{self, Model};
use crate::plan::{self, Plan};
use crate::render::{self, output, DesiredSet};
use crate::state::{self, State};

pub fn dispatch(cli: Cli) -> Result<u8, CliError> {
    match cli.command {
        Command::Validate(args) => validate(&args),
        Command::Render(args) => render_to_dir(&args),
        Command::Plan(args) => plan_command(&args),
        Command::Apply(args) => apply(&args),
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

/// Loads everything a plan needs and plans against the recorded state.
fn prepare(select: &SelectArgs) -> Result<(State, Plan), CliError> {
    let (model, desired) = load(&select.catalog)?;
    for env in &select.envs {
        if model.environment(env).is_none() {
            let known: Vec<&str> = model.environments.iter().map(|e| e.name.as_str()).collect();
            return Err(CliError::Usage(format!(
                "--env {env}: the catalog has no such environment (known: {})",
                known.join(", ")
            )));
        }
    }
    let state = state::load(&select.state, &model.platform.name)?;
    let plan = plan::plan(&desired, &state.bodies(), &select.selection());
    Ok((state, plan))
}

fn context<'a>(select: &'a SelectArgs, state: &State) -> PlanContext<'a> {
    PlanContext { state_path: &select.state, state_serial: state.serial }
}

fn plan_command(args: &PlanArgs) -> Result<u8, CliError> {
    let (state, plan) = prepare(&args.select)?;
    let ctx = context(&args.select, &state);
    let text = match args.format {
        Format::Human => views::human::plan(&plan, &ctx),
        Format::Json => views::json::plan(&plan, &ctx),
        Format::Markdown => views::markdown::plan(&plan, &ctx),
    };
    print!("{text}");
    Ok(if args.detailed_exitcode && plan.has_changes() { EXIT_CHANGES } else { EXIT_OK })
}

fn apply(args: &ApplyArgs) -> Result<u8, CliError> {
    let (mut state, plan) = prepare(&args.select)?;
    let ctx = context(&args.select, &state);
    print!("{}", views::human::plan(&plan, &ctx));
    if !plan.has_changes() {
        return Ok(EXIT_OK);
    }
    if plan.summary.delete > 0 && !args.allow_delete {
        println!("{} delete(s) will be skipped: pass --allow-delete to carry them out.", plan.summary.delete);
    }
    if !args.auto_approve {
        confirm()?;
    }
    let recorded = state.record(&plan, args.allow_delete);
    if recorded == 0 {
        println!("Nothing to record: the only changes are deletes, and --allow-delete was not given.");
        return Ok(EXIT_OK);
    }
    state::save(&args.select.state, &state)?;
    println!(
        "Recorded {recorded} change(s) in {} (serial {}). Offline mode: nothing was changed in AWS or the cluster.",
        args.select.state.display(),
        state.serial
    );
    Ok(EXIT_OK)
}

/// Asks on the terminal; anything but "yes" cancels. Without a terminal, refuses to guess.
fn confirm() -> Result<(), CliError> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(
            "apply needs confirmation but stdin is not a terminal: pass --auto-approve".into(),
        ));
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
