//! Bounded concurrency for the per-resource reads of a plan: a catalog of 300 services has ~600
//! tag and policy reads that each wait on a round trip, so they are sent up to [`IN_FLIGHT`] at a
//! time on the provider's runtime and handed back in the order they were asked for, whatever
//! order the answers come in: the plan (and which error is reported first) does not depend on
//! timing. Throttling is left to the SDK's retry configuration (adaptive mode, see `connect`):
//! a throttled call is retried with backoff and the client slows its request rate.

use std::future::Future;
use std::sync::OnceLock;

use futures::stream::{self, StreamExt, TryStreamExt};
use tokio::runtime::Runtime;

/// Calls in flight at once for one read: enough to hide the round trip, few enough to stay well
/// under the API rate limits of IAM, ECR and SNS for one account.
pub const IN_FLIGHT: usize = 16;

/// The bound in use: [`IN_FLIGHT`], or `GLIDEPATH_AWS_IN_FLIGHT` (at least 1) for an account whose
/// rate limits other tools already use up, and for scripts/bench, which times `=1` (serial reads,
/// as before this bound existed) next to the default.
pub fn limit() -> usize {
    static LIMIT: OnceLock<usize> = OnceLock::new();
    *LIMIT.get_or_init(|| {
        std::env::var("GLIDEPATH_AWS_IN_FLIGHT").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(IN_FLIGHT).max(1)
    })
}

/// `each(item)` for every item, up to [`limit`] at a time; the results in the items' order, or
/// the first error in that order (calls already in flight finish, no new ones start).
pub fn in_order<T, R, E, Fut>(runtime: &Runtime, items: Vec<T>, each: impl FnMut(T) -> Fut) -> Result<Vec<R>, E>
where
    Fut: Future<Output = Result<R, E>>,
{
    runtime.block_on(stream::iter(items).map(each).buffered(limit()).try_collect())
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::time::Duration;

    use super::*;

    fn runtime() -> Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
    }

    /// Later items answer first, yet results come back in the order asked, and never more than
    /// the limit of calls run at once (but exactly that many do, when there are enough items).
    #[test]
    fn results_keep_the_items_order_and_the_bound_holds() {
        let running = Cell::new(0usize);
        let most = Cell::new(0usize);
        let items: Vec<u64> = (0..40).collect();
        let got: Result<Vec<u64>, ()> = in_order(&runtime(), items.clone(), |i| {
            let (running, most) = (&running, &most);
            async move {
                running.set(running.get() + 1);
                most.set(most.get().max(running.get()));
                tokio::time::sleep(Duration::from_millis(40 - i)).await;
                running.set(running.get() - 1);
                Ok(i * 10)
            }
        });
        assert_eq!(got, Ok(items.iter().map(|i| i * 10).collect::<Vec<_>>()));
        assert_eq!(most.get(), limit().min(40));
    }

    /// With several failures, the error reported is the first in the items' order, not the first
    /// to arrive.
    #[test]
    fn the_first_error_in_order_wins() {
        let got: Result<Vec<u64>, String> = in_order(&runtime(), (0..10).collect(), |i| async move {
            tokio::time::sleep(Duration::from_millis(10 - i)).await;
            if i == 3 || i == 7 {
                Err(format!("item {i}"))
            } else {
                Ok(i)
            }
        });
        assert_eq!(got, Err("item 3".to_string()));
    }
}
