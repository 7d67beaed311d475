//! Command line: clap arguments, the commands, and the one place errors become exit codes.

/// Prints command output to stdout; use it (and `outln!`) instead of `print!`, which panics when
/// the reader has gone away (`glidepath plan | head`). See [`output::write`].
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::output::write(format_args!($($arg)*)) };
}

/// `out!` with a newline.
macro_rules! outln {
    () => { $crate::cli::output::write(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::cli::output::write(format_args!("{}\n", format_args!($($arg)*))) };
}

pub(crate) mod output;

mod apply;
mod args;
mod checks;
mod commands;
mod drift;
mod fmt;
mod promote;
mod quarantine;
mod report;
mod rollback;
mod state;
mod status;
pub mod views;

use std::process::ExitCode;

use clap::Parser;

pub use args::{Cli, Command, Format, Only};

/// Terraform-compatible exit codes: 0 success / no changes, 1 error (usage errors included),
/// 2 changes (with `--detailed-exitcode`), and `simulate`'s verdicts: 3 would abort, 4 would pause.
pub const EXIT_OK: u8 = 0;
pub const EXIT_ERROR: u8 = 1;
pub const EXIT_CHANGES: u8 = 2;
pub const EXIT_WOULD_ABORT: u8 = 3;
pub const EXIT_WOULD_PAUSE: u8 = 4;

/// Every way a command can fail; each becomes exit code 1 with its message on stderr.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
    #[error(transparent)]
    Render(#[from] crate::render::RenderError),
    #[error(transparent)]
    Output(#[from] crate::render::output::OutputError),
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    #[error("{0}")]
    Usage(String),
    /// Files `fmt` could not format because they do not parse; the others were handled.
    #[error("{} file(s) could not be read or do not parse, and were not formatted", .0.iter().map(|p| p.span.path()).collect::<std::collections::BTreeSet<_>>().len())]
    Unformattable(Vec<crate::catalog::Problem>),
    #[error(transparent)]
    Provider(#[from] crate::providers::ProviderError),
    #[error("{} name clash(es) with resources glidepath does not own:\n{}", .0.len(), .0.iter().map(|c| format!("  {c}")).collect::<Vec<_>>().join("\n"))]
    Conflicts(Vec<crate::providers::Conflict>),
    #[error("apply stopped at the first failure (see above)")]
    ApplyFailed,
    #[error("{0} check error(s) (see above): fix them or add a reasoned waiver; nothing was changed")]
    CheckFailed(usize),
    #[error(transparent)]
    PlanFile(#[from] crate::plan::file::PlanFileError),
    #[error(transparent)]
    GitopsOwned(#[from] crate::plan::GitopsOwned),
    #[error("the saved plan is stale: {0}; nothing was changed — run plan again")]
    StalePlan(String),
    #[error("apply cancelled: nothing was changed")]
    Cancelled,
}

pub fn run() -> ExitCode {
    init_logging();
    // Not `Cli::parse()`: clap exits 2 on a usage error, which `plan --detailed-exitcode` reads
    // as "changes present". A usage error (unknown flag, missing argument, bad value) is an error
    // like any other: exit 1, as terraform does, with clap's message on stderr. `--help` and
    // `--version` are not errors: printed on stdout, exit 0.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let is_error = error.use_stderr();
            // Only fails when the stream is gone; nothing more to say then.
            error.print().ok();
            return ExitCode::from(if is_error { EXIT_ERROR } else { EXIT_OK });
        }
    };
    let code = match commands::dispatch(cli) {
        Ok(code) => code,
        Err(error) => {
            report::print_error(&error);
            EXIT_ERROR
        }
    };
    if output::failed() {
        return ExitCode::from(EXIT_ERROR);
    }
    ExitCode::from(code)
}

/// `GLIDEPATH_LOG=debug` (or any tracing filter, e.g. `aws_smithy_runtime=debug,kube=info`)
/// prints the AWS SDK's and kube's own tracing on stderr: every request, retry and credential
/// lookup. Unset: nothing is logged.
fn init_logging() {
    let Some(filter) = std::env::var("GLIDEPATH_LOG").ok().filter(|f| !f.is_empty()) else { return };
    let filter = tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|e| {
        eprintln!("GLIDEPATH_LOG={filter}: {e}; logging at debug");
        tracing_subscriber::EnvFilter::new("debug")
    });
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}
