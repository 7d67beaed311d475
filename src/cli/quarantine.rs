//! `glidepath quarantine list|clear`: the images a GitOps rollback quarantined (checked-in
//! `quarantine "IMAGE" { … }` entries), and clearing one with a reason so it may run again.

use std::path::PathBuf;

use super::args::{QuarantineClearArgs, QuarantineCommand, QuarantineListArgs};
use super::promote::write_validated;
use super::{CliError, EXIT_OK};
use crate::catalog::{self, edit, MIN_REASON_CHARS};

pub fn quarantine(command: &QuarantineCommand) -> Result<u8, CliError> {
    match command {
        QuarantineCommand::List(args) => list(args),
        QuarantineCommand::Clear(args) => clear(args),
    }
}

fn list(args: &QuarantineListArgs) -> Result<u8, CliError> {
    let model = catalog::load(&args.catalog.catalog)?;
    if model.quarantines.is_empty() {
        outln!("No quarantined images.");
    }
    for q in &model.quarantines {
        let envs = if q.environments.is_empty() { "every environment".to_string() } else { q.environments.join(", ") };
        match &q.cleared {
            None => outln!("{} {} in {envs}: {} ({})", q.service, q.image, q.reason, q.location),
            Some(cleared) => outln!("{} {} cleared: {cleared} (was: {}; {})", q.service, q.image, q.reason, q.location),
        }
    }
    Ok(EXIT_OK)
}

fn clear(args: &QuarantineClearArgs) -> Result<u8, CliError> {
    if args.reason.trim().chars().count() < MIN_REASON_CHARS {
        return Err(CliError::Usage(format!(
            "--reason: say why {} may run again, in at least {MIN_REASON_CHARS} characters (it stays in the catalog as the record)",
            args.image
        )));
    }
    let model = catalog::load(&args.catalog.catalog)?;
    let entry =
        model.quarantines.iter().find(|q| q.image == args.image && q.service == args.service).ok_or_else(|| {
            CliError::Usage(format!("the catalog quarantines no image {} of {}", args.image, args.service))
        })?;
    if let Some(cleared) = &entry.cleared {
        outln!("{} of {} is already cleared: {cleared}", args.image, args.service);
        return Ok(EXIT_OK);
    }
    // `FILE:LINE:COL` → FILE.
    let path = PathBuf::from(entry.location.rsplitn(3, ':').last().unwrap_or_default());
    let original =
        std::fs::read_to_string(&path).map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
    let edited = edit::clear_quarantine(&original, &args.image, &args.service, &args.reason).map_err(|e| {
        CliError::Usage(format!("{}: {e}; write cleared = \"REASON\" into the entry by hand", path.display()))
    })?;
    write_validated(&args.catalog.catalog, &path, &original, &edited)?;
    outln!(
        "{} of {} may run again: cleared in {} ({}). Review with `git diff`, commit, and open a pull request.",
        args.image,
        args.service,
        path.display(),
        args.reason.trim()
    );
    Ok(EXIT_OK)
}
