//! How long glidepath waits for a server: one limit for every network call, AWS and Kubernetes
//! alike (`GLIDEPATH_REQUEST_TIMEOUT`, default 30 s per attempt). A call whose attempt does not
//! answer in time is sent once more; a second silence fails it. So a server that stops answering
//! (a frozen API server, a hung emulator, a dropped network) is reported within about twice the
//! limit instead of holding the state lock for ever.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;

/// The limit per attempt when `GLIDEPATH_REQUEST_TIMEOUT` is not set: a healthy API server or AWS
/// answers in well under a second; 30 s leaves room for a loaded one.
pub const DEFAULT: Duration = Duration::from_secs(30);

/// The variable that changes it (`30s`, `2m`, `500ms`).
pub const VARIABLE: &str = "GLIDEPATH_REQUEST_TIMEOUT";

/// Attempts of one call that may time out before the call fails.
pub const ATTEMPTS: u32 = 2;

/// A connection is given at most this long (or the request limit, if shorter): a TCP connect to a
/// live host takes milliseconds.
const CONNECT: Duration = Duration::from_secs(5);

/// The limit per attempt: `GLIDEPATH_REQUEST_TIMEOUT`, else [`DEFAULT`]. A value that is not a
/// positive duration is an error naming the variable.
pub fn request() -> Result<Duration, String> {
    match std::env::var(VARIABLE) {
        Ok(text) if !text.trim().is_empty() => parse(&text),
        _ => Ok(DEFAULT),
    }
}

fn parse(text: &str) -> Result<Duration, String> {
    let parsed = crate::catalog::values::Duration::parse(text).map_err(|e| format!("{VARIABLE}: {e}"))?;
    if parsed.millis == 0 {
        return Err(format!("{VARIABLE}: `{}` would fail every request; give a positive duration", text.trim()));
    }
    Ok(Duration::from_millis(parsed.millis))
}

/// How long to wait for a connection under the request limit `limit`.
pub fn connect(limit: Duration) -> Duration {
    limit.min(CONNECT)
}

/// The AWS SDK's timeouts for the limit `limit`: each attempt (credentials resolution
/// included) gets `limit`, and the whole operation, retries and their backoff included,
/// [`ATTEMPTS`] times that, so a silent endpoint fails a call within `ATTEMPTS × limit`.
pub fn aws(limit: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(connect(limit))
        .operation_attempt_timeout(limit)
        .operation_timeout(limit * ATTEMPTS)
        .build()
}

/// `30s`, `1m30s`, `500ms`: a limit as messages show it.
pub fn shown(limit: Duration) -> String {
    crate::catalog::values::Duration { millis: limit.as_millis() as u64 }.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_as_durations_and_must_be_positive() {
        assert_eq!(parse("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse(" 1m30s "), Ok(Duration::from_secs(90)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse("0s").unwrap_err().contains("positive"));
        assert!(parse("30").unwrap_err().starts_with("GLIDEPATH_REQUEST_TIMEOUT: "));
    }

    #[test]
    fn the_aws_operation_bound_is_the_attempts_times_the_limit() {
        let config = aws(Duration::from_secs(10));
        assert_eq!(config.operation_attempt_timeout(), Some(Duration::from_secs(10)));
        assert_eq!(config.operation_timeout(), Some(Duration::from_secs(20)));
        assert_eq!(config.connect_timeout(), Some(Duration::from_secs(5)));
        assert_eq!(shown(Duration::from_secs(90)), "1m30s");
    }
}
