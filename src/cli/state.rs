//! `glidepath state list|show`: what the state file records, without reading its JSON by hand.

use super::args::{StateCommand, StateListArgs, StateShowArgs};
use super::{CliError, EXIT_OK};
use crate::plan::Selection;
use crate::render::Address;
use crate::state::store::Store;
use crate::state::State;

pub fn state(command: &StateCommand) -> Result<u8, CliError> {
    match command {
        StateCommand::List(args) => list(args),
        StateCommand::Show(args) => show(args),
    }
}

fn read(location: &std::path::Path) -> Result<Option<State>, CliError> {
    Ok(Store::open(location)?.peek()?)
}

fn list(args: &StateListArgs) -> Result<u8, CliError> {
    let Some(state) = read(&args.state)? else {
        eprintln!("no state at {}: nothing has been applied", args.state.display());
        return Ok(EXIT_OK);
    };
    let only = Selection { targets: args.prefix.iter().cloned().collect(), ..Selection::all() };
    for address in state.resources.keys().filter(|a| only.includes(a)) {
        outln!("{address}");
    }
    Ok(EXIT_OK)
}

fn show(args: &StateShowArgs) -> Result<u8, CliError> {
    let state = read(&args.state)?;
    let address: Address = args.address.parse().map_err(|e| {
        CliError::Usage(format!("{}: not an address ({e}); `glidepath state list` prints them", args.address))
    })?;
    let entry = state.as_ref().and_then(|s| s.resources.get(&address)).ok_or_else(|| {
        CliError::Usage(format!(
            "{address} is not in the state at {}; `glidepath state list` prints what is",
            args.state.display()
        ))
    })?;
    outln!("# {address}");
    outln!("# digest: {}", entry.digest);
    outln!("{}", serde_json::to_string_pretty(&entry.body.value()).expect("bodies serialize"));
    Ok(EXIT_OK)
}
