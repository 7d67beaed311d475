//! How many requests a plan or apply keeps in flight against one cluster, what it does when the
//! API server throttles them, and how long it waits for an answer.

use std::future::Future;
use std::time::Duration;

use crate::providers::timeout;

/// Requests in flight per cluster. Independent requests (lists, dry-runs, applies within one
/// rank) overlap so a plan is bound by the server, not by round trips; 16 stays well inside what
/// API Priority and Fairness gives an ordinary user by default (the `global-default` priority
/// level: 20 of 245 concurrency shares of the server's 600 seats, about 49), so one glidepath
/// never crowds out the controllers and people sharing the cluster.
pub const IN_FLIGHT: usize = 16;

/// Attempts of one request while the server answers 429 (throttled by APF or max-inflight).
const ATTEMPTS: u32 = 6;
/// The longest first wait after a 429; doubled each time (0.25 s … 4 s: at most 7.75 s in all,
/// at least half of it).
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// How long to wait at most before attempt `attempt` + 1 (`attempt` is 1-based) after a 429:
/// exponential, so a throttled plan eases off the server.
pub fn backoff(attempt: u32) -> Duration {
    FIRST_BACKOFF * 2u32.saturating_pow(attempt.saturating_sub(1))
}

/// A wait between half of `limit` and `limit`, at random: requests throttled together (they were
/// in flight together) come back spread out instead of all at once.
fn jittered(limit: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    // A fresh RandomState is randomly keyed: enough randomness for spreading retries.
    let random = std::collections::hash_map::RandomState::new().build_hasher().finish();
    limit / 2 + limit.mul_f64((random % 1000) as f64 / 2000.0)
}

/// How `--stats` counts a request the server answered 429 (sent again after a wait).
pub const THROTTLED: &str = "throttled (429)";

/// How `--stats` counts an attempt the server did not answer in time (sent again once).
pub const TIMED_OUT: &str = "timed out";

/// Why a request failed: the server's answer or the client's error, or no answer in time.
#[derive(Debug)]
pub enum RequestError {
    Kube(kube::Error),
    /// No answer within `limit`, `attempts` times.
    TimedOut {
        limit: Duration,
        attempts: u32,
    },
}

impl From<kube::Error> for RequestError {
    fn from(error: kube::Error) -> Self {
        RequestError::Kube(error)
    }
}

/// Sends `request` (made anew for each attempt) until the server answers something other than
/// 429, or ATTEMPTS times, calling `throttled` before each wait. Each attempt gets `limit`; one
/// that gets no answer in time is abandoned (its connection dropped) and sent once more, calling
/// `timed_out`, and a second silence fails the request (`providers::timeout`). So a request takes
/// at most `timeout::ATTEMPTS × limit` plus the 429 waits, whatever the server does. The last 429
/// is returned as it came (callers say "throttled").
pub async fn with_backoff<T, F, Fut>(
    limit: Duration,
    throttled: impl Fn(),
    timed_out: impl Fn(),
    mut request: F,
) -> Result<T, RequestError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let (mut attempt, mut silent) = (1, 0);
    loop {
        match tokio::time::timeout(limit, request()).await {
            Err(_) => {
                silent += 1;
                if silent >= timeout::ATTEMPTS {
                    return Err(RequestError::TimedOut { limit, attempts: silent });
                }
                timed_out();
            }
            Ok(Err(kube::Error::Api(status))) if status.code == 429 && attempt < ATTEMPTS => {
                throttled();
                tokio::time::sleep(jittered(backoff(attempt))).await;
                attempt += 1;
            }
            Ok(other) => return other.map_err(RequestError::Kube),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_a_quarter_second() {
        let waits: Vec<u128> = (1..ATTEMPTS).map(|a| backoff(a).as_millis()).collect();
        assert_eq!(waits, [250, 500, 1000, 2000, 4000]);
    }

    #[test]
    fn a_silent_server_fails_a_request_after_two_attempts() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (sent, retried) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
        let result: Result<(), RequestError> = runtime.block_on(with_backoff(
            Duration::from_millis(20),
            || panic!("not throttled"),
            || retried.set(retried.get() + 1),
            || {
                sent.set(sent.get() + 1);
                std::future::pending()
            },
        ));
        assert!(matches!(result, Err(RequestError::TimedOut { attempts: 2, .. })), "{result:?}");
        assert_eq!((sent.get(), retried.get()), (2, 1));
        // An answer in time is returned as it came.
        let answered: Result<u8, RequestError> =
            runtime.block_on(with_backoff(Duration::from_secs(5), || {}, || {}, || async { Ok(7) }));
        assert_eq!(answered.unwrap(), 7);
    }

    #[test]
    fn jitter_stays_between_half_and_all_of_the_limit() {
        let limit = Duration::from_millis(1000);
        let waits: Vec<Duration> = (0..200).map(|_| jittered(limit)).collect();
        assert!(waits.iter().all(|w| *w >= limit / 2 && *w <= limit), "{waits:?}");
        assert!(waits.iter().any(|w| *w != waits[0]), "not all the same");
    }
}
