//! Work spread over the cores in contiguous runs, its results taken back in order, so a caller
//! gets what one pass in order would give (the same objects, the first error, findings in the
//! same order). Rendering and checking a fleet's catalog are most of what `check`, `validate`
//! and an offline plan spend, and each service's part is independent of the others'.

use std::thread::ScopedJoinHandle;

/// At most this many threads share one piece of work: beyond it, a machine's cores are better
/// left to the work beside it (the AWS resources render beside the first environment).
const MAX_THREADS: usize = 4;

/// How many threads share one piece of work here.
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_THREADS)
}

/// `work` of each contiguous run of `items`, in the runs' order. One run needs no thread.
pub fn runs<T: Sync, R: Send>(items: &[T], work: impl Fn(&[T]) -> R + Sync) -> Vec<R> {
    let run_length = items.len().div_ceil(threads()).max(1);
    if items.len() <= run_length {
        return vec![work(items)];
    }
    let work = &work;
    std::thread::scope(|scope| {
        let threads: Vec<_> = items.chunks(run_length).map(|run| scope.spawn(move || work(run))).collect();
        threads.into_iter().map(joined).collect()
    })
}

/// A thread's result; its panic, if it panicked, goes on in the caller.
pub fn joined<T>(thread: ScopedJoinHandle<'_, T>) -> T {
    thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_give_back_the_results_in_order() {
        let items: Vec<u32> = (0..1000).collect();
        let doubled: Vec<u32> = runs(&items, |run| run.iter().map(|i| i * 2).collect::<Vec<_>>()).concat();
        assert_eq!(doubled, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(runs(&[] as &[u32], |run| run.len()), vec![0]);
    }
}
