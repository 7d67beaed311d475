//! The one place command output is written to stdout.
//!
//! `print!` panics ("failed printing to stdout: Broken pipe", exit 101) when the reader has
//! gone, as in `glidepath plan | head`. Rust ignores SIGPIPE, so the write fails with EPIPE
//! instead of killing the process. Two fixes were possible: resetting SIGPIPE to its default at
//! the start of `main`, or writing through here and treating EPIPE as the quiet end of the
//! output. This is the second, because a signal would kill the process wherever it is: an
//! `apply | head` would stop between two changes, before the state and the audit trail record
//! what was done, and exit 141 by signal rather than with the command's own code. Here the
//! output simply ends (nobody reads it any more), the command finishes what it was doing and
//! exits with its own code. Any other write error (a full disk) is reported once on stderr and
//! makes the exit code 1.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once stdout's reader has gone: later output is dropped.
static CLOSED: AtomicBool = AtomicBool::new(false);
/// Set when writing failed for another reason than a closed pipe.
static FAILED: AtomicBool = AtomicBool::new(false);

/// Writes command output (through the `out!`/`outln!` macros).
pub fn write(args: std::fmt::Arguments<'_>) {
    if !CLOSED.load(Ordering::Relaxed) {
        settle(std::io::stdout().lock().write_fmt(args));
    }
}

/// Flushes what is buffered (before a prompt), with the same handling of errors.
pub fn flush() {
    if !CLOSED.load(Ordering::Relaxed) {
        settle(std::io::stdout().lock().flush());
    }
}

fn settle(result: std::io::Result<()>) {
    if let Err(error) = result {
        CLOSED.store(true, Ordering::Relaxed);
        if error.kind() != std::io::ErrorKind::BrokenPipe {
            FAILED.store(true, Ordering::Relaxed);
            eprintln!("error: cannot write the output: {error}");
        }
    }
}

/// Whether some output could not be written for another reason than a closed pipe.
pub fn failed() -> bool {
    FAILED.load(Ordering::Relaxed)
}
