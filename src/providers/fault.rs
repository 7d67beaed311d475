//! Crash injection for the crash-window tests: with `GLIDEPATH_FAULT_AFTER=CALL` the process ends
//! right after the call `CALL` succeeded, named as `--stats` counts it (`s3:CreateBucket`,
//! `iam:CreateRole`, `cloudwatchlogs:CreateLogGroup`; Kubernetes applies as `apply jobs`,
//! `apply rollouts`), before glidepath acts on the answer, as if it were killed there: no
//! destructor runs, so the state lock stays and nothing after the call is recorded. Always
//! compiled in, so the tests exercise the binary users run; inert unless the variable is set
//! (one environment lookup per call).

/// The variable that arms it.
pub const VARIABLE: &str = "GLIDEPATH_FAULT_AFTER";

/// The exit code of an injected crash (128 + SIGKILL, as a shell reports a killed process).
pub const EXIT_CODE: i32 = 137;

/// Ends the process if `GLIDEPATH_FAULT_AFTER` names `call`, which has just succeeded.
pub fn after(call: &str) {
    if std::env::var(VARIABLE).is_ok_and(|armed| armed == call) {
        eprintln!("glidepath: {VARIABLE}={call}: ending the process after this call, as a crash would");
        // `exit` runs no destructors: the lock file and the journal stay as a kill leaves them.
        std::process::exit(EXIT_CODE);
    }
}
